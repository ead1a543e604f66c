package podworkers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kindish/kindish/nodeagent/kubelet/crifake"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

var epoch = time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)

const nodeIP = "172.18.0.3"

type event struct{ Type, Reason, Message string }

func (e event) String() string { return e.Type + " " + e.Reason + " " + e.Message }

// recorder keeps events for tests.
type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) Event(_ runtime.Object, t, reason, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{t, reason, msg})
}

func (r *recorder) Eventf(o runtime.Object, t, reason, format string, args ...any) {
	r.Event(o, t, reason, fmt.Sprintf(format, args...))
}

func (r *recorder) AnnotatedEventf(o runtime.Object, _ map[string]string, t, reason, format string, args ...any) {
	r.Eventf(o, t, reason, format, args...)
}

func (r *recorder) has(text string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.String() == text {
			return true
		}
	}
	return false
}

func (r *recorder) count(text string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.String() == text {
			n++
		}
	}
	return n
}

func (r *recorder) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var lines []string
	for _, e := range r.events {
		lines = append(lines, e.String())
	}
	return strings.Join(lines, "\n")
}

// fakeVolumes counts set-ups and tear-downs and fails set-up on demand.
type fakeVolumes struct {
	mu       sync.Mutex
	setUpErr error
	setUps   map[types.UID]int
	tornDown map[types.UID]int
}

func newFakeVolumes() *fakeVolumes {
	return &fakeVolumes{setUps: map[types.UID]int{}, tornDown: map[types.UID]int{}}
}

func (v *fakeVolumes) SetUp(_ context.Context, pod *corev1.Pod) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.setUpErr != nil {
		return v.setUpErr
	}
	v.setUps[pod.UID]++
	return nil
}

func (v *fakeVolumes) TearDown(_ context.Context, uid types.UID) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.tornDown[uid]++
	return nil
}

func (v *fakeVolumes) Mounts(*corev1.Pod, *corev1.Container) ([]*runtimeapi.Mount, error) {
	return nil, nil
}

func (v *fakeVolumes) WriteEtcHosts(*corev1.Pod, []string) error { return nil }

func (v *fakeVolumes) setError(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.setUpErr = err
}

func (v *fakeVolumes) tornDownCount(uid types.UID) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.tornDown[uid]
}

// fakeProbes reports results tests set.
type fakeProbes struct {
	mu       sync.Mutex
	ready    map[string]bool
	failed   map[string]bool
	updates  map[types.UID]int
	removed  map[types.UID]bool
	lastSeen map[types.UID]*corev1.PodStatus
}

func newFakeProbes() *fakeProbes {
	return &fakeProbes{ready: map[string]bool{}, failed: map[string]bool{}, updates: map[types.UID]int{}, removed: map[types.UID]bool{}, lastSeen: map[types.UID]*corev1.PodStatus{}}
}

func (p *fakeProbes) UpdatePod(pod *corev1.Pod, s *corev1.PodStatus) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.updates[pod.UID]++
	p.lastSeen[pod.UID] = s
}

func (p *fakeProbes) RemovePod(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removed[uid] = true
}

func (p *fakeProbes) Readiness(id string) (bool, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.ready[id]
	return r, ok
}

func (p *fakeProbes) Startup(string) (bool, bool) { return false, false }

func (p *fakeProbes) LivenessFailed(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed[id]
}

func (p *fakeProbes) setReady(id string, ready bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ready[id] = ready
}

func (p *fakeProbes) fail(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failed[id] = true
}

func (p *fakeProbes) wasRemoved(uid types.UID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.removed[uid]
}

// testEnv is a node: fake runtime, fake API, fake clock, and the workers.
type testEnv struct {
	t       *testing.T
	cri     *crifake.Runtime
	clock   *clocktesting.FakeClock
	client  *fake.Clientset
	rec     *recorder
	volumes *fakeVolumes
	probes  *fakeProbes
	w       *Workers
	cfg     Config

	mu         sync.Mutex
	networkErr error
	cancel     context.CancelFunc
	done       chan struct{}
}

func newEnv(t *testing.T, modify ...func(*Config)) *testEnv {
	t.Helper()
	clk := clocktesting.NewFakeClock(epoch)
	e := &testEnv{
		t:       t,
		cri:     crifake.New(clk),
		clock:   clk,
		client:  fake.NewClientset(),
		rec:     &recorder{},
		volumes: newFakeVolumes(),
		probes:  newFakeProbes(),
	}
	e.cri.AddImage(crifake.Image{RepoTags: []string{"busybox:1.36"}})
	e.cfg = Config{
		Runtime:  e.cri,
		Images:   e.cri,
		Volumes:  e.volumes,
		Probes:   e.probes,
		Client:   e.client,
		Recorder: e.rec,
		NodeName: "kindish-worker",
		NodeIP:   nodeIP,
		DNSConfig: func(*corev1.Pod) (*runtimeapi.DNSConfig, error) {
			return &runtimeapi.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"default.svc.cluster.local", "svc.cluster.local", "cluster.local"}, Options: []string{"ndots:5"}}, nil
		},
		NetworkReady: func() error {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.networkErr
		},
		PodLogsDir: t.TempDir(),
		Clock:      clk,
	}
	for _, m := range modify {
		m(&e.cfg)
	}
	e.w = New(e.cfg)
	return e
}

// start runs the workers until the test ends.
func (e *testEnv) start() {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		e.w.Run(ctx)
	}()
	e.t.Cleanup(e.stop)
	e.waitFor("the relist ticker", e.clock.HasWaiters)
}

func (e *testEnv) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	<-e.done
	e.cancel = nil
}

func (e *testEnv) setNetworkErr(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.networkErr = err
}

// waitFor polls cond, in real time, until it holds.
func (e *testEnv) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s; events:\n%s", what, e.rec.dump())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stepUntil advances the fake clock by step, letting relists and resyncs
// fire, until cond holds.
func (e *testEnv) stepUntil(what string, step time.Duration, cond func() bool) {
	e.t.Helper()
	for i := 0; i < 100; i++ {
		if cond() {
			return
		}
		e.clock.Step(step)
		// Let the woken goroutines run before looking again.
		for j := 0; j < 25 && !cond(); j++ {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if !cond() {
		e.t.Fatalf("clock advanced 100 times without %s; events:\n%s", what, e.rec.dump())
	}
}

// create stores the pod in the API and hands it to the workers.
func (e *testEnv) create(pod *corev1.Pod) *corev1.Pod {
	e.t.Helper()
	created, err := e.client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("create pod: %v", err)
	}
	e.w.UpdatePod(created)
	return created
}

// api returns the pod as the API has it, nil when it is gone.
func (e *testEnv) api(pod *corev1.Pod) *corev1.Pod {
	got, err := e.client.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return got
}

func (e *testEnv) phase(pod *corev1.Pod) corev1.PodPhase {
	if p := e.api(pod); p != nil {
		return p.Status.Phase
	}
	return ""
}

// containerStatus returns the API status of the named container (init
// containers included).
func (e *testEnv) containerStatus(pod *corev1.Pod, name string) *corev1.ContainerStatus {
	p := e.api(pod)
	if p == nil {
		return nil
	}
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func (e *testEnv) waiting(pod *corev1.Pod, name, reason string) func() bool {
	return func() bool {
		cs := e.containerStatus(pod, name)
		return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Reason == reason
	}
}

func (e *testEnv) running(pod *corev1.Pod, name string) func() bool {
	return func() bool {
		cs := e.containerStatus(pod, name)
		return cs != nil && cs.State.Running != nil
	}
}

func (e *testEnv) statusPatches(pod *corev1.Pod) int {
	n := 0
	for _, a := range e.client.Actions() {
		if a.GetVerb() == "patch" && a.GetSubresource() == "status" && a.(k8stesting.PatchAction).GetName() == pod.Name {
			n++
		}
	}
	return n
}

func condition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	if p == nil {
		return nil
	}
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// newPod is a pod with one container "app" from busybox:1.36, scheduled.
func newPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid")},
		Spec: corev1.PodSpec{
			NodeName:                      "kindish-worker",
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
		Status: corev1.PodStatus{
			Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{{
				Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.NewTime(epoch.Add(-time.Minute)),
			}},
		},
	}
}
