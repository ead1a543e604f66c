package kuberuntime

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kindish/kindish/nodeagent/kubelet/crifake"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

var epoch = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// event is one recorded event.
type event struct {
	Type, Reason, Message, FieldPath string
}

func (e event) String() string { return e.Type + " " + e.Reason + " " + e.Message }

// recorder keeps events in order.
type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) Event(obj runtime.Object, eventType, reason, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := event{Type: eventType, Reason: reason, Message: message}
	if ref, ok := obj.(*corev1.ObjectReference); ok {
		e.FieldPath = ref.FieldPath
	}
	r.events = append(r.events, e)
}

func (r *recorder) Eventf(obj runtime.Object, eventType, reason, format string, args ...any) {
	r.Event(obj, eventType, reason, fmt.Sprintf(format, args...))
}

func (r *recorder) AnnotatedEventf(obj runtime.Object, _ map[string]string, eventType, reason, format string, args ...any) {
	r.Eventf(obj, eventType, reason, format, args...)
}

// take returns the events recorded since the last take.
func (r *recorder) take() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

func hasEvent(events []event, text string) bool {
	for _, e := range events {
		if e.String() == text {
			return true
		}
	}
	return false
}

func eventStrings(events []event) string {
	var lines []string
	for _, e := range events {
		lines = append(lines, e.String())
	}
	return strings.Join(lines, "\n")
}

// liveness is a LivenessResults whose failures tests set.
type liveness struct {
	mu     sync.Mutex
	failed map[string]bool
}

func (l *liveness) LivenessFailed(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.failed[id]
}

func (l *liveness) fail(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed == nil {
		l.failed = map[string]bool{}
	}
	l.failed[id] = true
}

// env is an EnvSource with a fixed answer.
type env struct {
	vars map[string]string
	err  error
}

func (e env) Env(_ context.Context, _ *corev1.Pod, c *corev1.Container, podIPs []string, hostIP string) ([]*runtimeapi.KeyValue, error) {
	if e.err != nil {
		return nil, e.err
	}
	var out []*runtimeapi.KeyValue
	for _, v := range c.Env {
		out = append(out, &runtimeapi.KeyValue{Key: v.Name, Value: []byte(v.Value)})
	}
	for k, v := range e.vars {
		out = append(out, &runtimeapi.KeyValue{Key: k, Value: []byte(v)})
	}
	if len(podIPs) > 0 {
		out = append(out, &runtimeapi.KeyValue{Key: "POD_IP", Value: []byte(podIPs[0])})
	}
	return out, nil
}

// mounts is a MountSource that mounts a termination-message file per
// container under dir.
type mounts struct {
	dir      string
	etcHosts [][]string
	mu       sync.Mutex
}

func (m *mounts) Mounts(pod *corev1.Pod, c *corev1.Container) ([]*runtimeapi.Mount, error) {
	return []*runtimeapi.Mount{{
		ContainerPath: c.TerminationMessagePath,
		HostPath:      fmt.Sprintf("%s/%s-%s", m.dir, pod.UID, c.Name),
	}}, nil
}

func (m *mounts) WriteEtcHosts(_ *corev1.Pod, podIPs []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.etcHosts = append(m.etcHosts, podIPs)
	return nil
}

type harness struct {
	m        *Manager
	cri      *crifake.Runtime
	clock    *clocktesting.FakeClock
	rec      *recorder
	liveness *liveness
	logs     string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	clk := clocktesting.NewFakeClock(epoch)
	h := &harness{
		cri:      crifake.New(clk),
		clock:    clk,
		rec:      &recorder{},
		liveness: &liveness{},
		logs:     t.TempDir(),
	}
	h.cri.AddImage(crifake.Image{RepoTags: []string{"busybox:1.36"}})
	h.m = New(Config{
		Runtime:    h.cri,
		Images:     h.cri,
		Recorder:   h.rec,
		Liveness:   h.liveness,
		NodeIP:     "172.18.0.2",
		PodLogsDir: h.logs,
		Clock:      clk,
		DNSConfig: func(*corev1.Pod) (*runtimeapi.DNSConfig, error) {
			return &runtimeapi.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"default.svc.cluster.local"}}, nil
		},
	})
	return h
}

// status reads the pod's runtime state.
func (h *harness) status(t *testing.T, pod *corev1.Pod) *PodStatus {
	t.Helper()
	ps, err := h.m.PodStatus(context.Background(), pod.UID, pod.Name, pod.Namespace)
	if err != nil {
		t.Fatalf("PodStatus: %v", err)
	}
	return ps
}

// sync runs one SyncPod over the pod's current runtime state.
func (h *harness) sync(t *testing.T, pod *corev1.Pod) SyncResult {
	t.Helper()
	return h.m.SyncPod(context.Background(), pod, h.status(t, pod))
}

func ptr[T any](v T) *T { return &v }

// testPod is a pod with one container "app" from busybox:1.36.
func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: "default",
			UID:       types.UID(name + "-uid"),
			Labels:    map[string]string{"app": name},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: ptr(int64(30)),
			Containers: []corev1.Container{{
				Name:                     "app",
				Image:                    "busybox:1.36",
				ImagePullPolicy:          corev1.PullIfNotPresent,
				TerminationMessagePath:   corev1.TerminationMessagePathDefault,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			}},
		},
	}
}

func resources(reqCPU, reqMem, limCPU, limMem string) corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	set := func(l corev1.ResourceList, name corev1.ResourceName, v string) {
		if v != "" {
			l[name] = resource.MustParse(v)
		}
	}
	set(r.Requests, corev1.ResourceCPU, reqCPU)
	set(r.Requests, corev1.ResourceMemory, reqMem)
	set(r.Limits, corev1.ResourceCPU, limCPU)
	set(r.Limits, corev1.ResourceMemory, limMem)
	return r
}
