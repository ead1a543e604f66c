package prober

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

// fakeExec answers ExecSync with the exit code set for the container, and
// counts the calls.
type fakeExec struct {
	mu       sync.Mutex
	exitCode map[string]int32
	err      error
	calls    map[string]int
	last     *runtimeapi.ExecSyncRequest
}

func newFakeExec() *fakeExec {
	return &fakeExec{exitCode: make(map[string]int32), calls: make(map[string]int)}
}

func (f *fakeExec) ExecSync(_ context.Context, in *runtimeapi.ExecSyncRequest, _ ...grpc.CallOption) (*runtimeapi.ExecSyncResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[in.ContainerId]++
	f.last = in
	if f.err != nil {
		return nil, f.err
	}
	code := f.exitCode[in.ContainerId]
	resp := &runtimeapi.ExecSyncResponse{ExitCode: code}
	if code != 0 {
		resp.Stdout = []byte("not ok")
	}
	return resp, nil
}

func (f *fakeExec) setExitCode(containerID string, code int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exitCode[containerID] = code
}

func (f *fakeExec) callCount(containerID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[containerID]
}

// changeCounter counts OnChange calls per pod.
type changeCounter struct {
	mu sync.Mutex
	n  map[types.UID]int
}

func (c *changeCounter) onChange(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = make(map[types.UID]int)
	}
	c.n[uid]++
}

func (c *changeCounter) count(uid types.UID) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[uid]
}

// harness is a Manager on a fake clock, a fake runtime and a fake recorder.
type harness struct {
	m        *Manager
	clock    *clocktesting.FakeClock
	exec     *fakeExec
	recorder *record.FakeRecorder
	changes  *changeCounter
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		clock:    clocktesting.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)),
		exec:     newFakeExec(),
		recorder: record.NewFakeRecorder(100),
		changes:  &changeCounter{},
	}
	h.m = NewManager(Config{
		Exec:     h.exec,
		Recorder: h.recorder,
		OnChange: h.changes.onChange,
		Clock:    h.clock,
	})
	t.Cleanup(h.m.Stop)
	return h
}

// execProbe is an exec probe with the given thresholds, probing each second.
func execProbe(initialDelay, failure, success int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}},
		InitialDelaySeconds: initialDelay,
		PeriodSeconds:       1,
		TimeoutSeconds:      1,
		FailureThreshold:    failure,
		SuccessThreshold:    success,
	}
}

const testPodUID = types.UID("pod-uid-1")

func testPod(c corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: testPodUID},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{c}},
	}
}

// runningStatus is the pod's status with the container running as the given
// container ID since startedAt.
func runningStatus(name, containerID string, startedAt time.Time) *corev1.PodStatus {
	return &corev1.PodStatus{
		Phase: corev1.PodRunning,
		PodIP: "127.0.0.1",
		ContainerStatuses: []corev1.ContainerStatus{{
			Name:        name,
			ContainerID: "containerd://" + containerID,
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(startedAt)}},
		}},
	}
}

func exitedStatus(name, containerID string) *corev1.PodStatus {
	return &corev1.PodStatus{
		Phase: corev1.PodRunning,
		ContainerStatuses: []corev1.ContainerStatus{{
			Name:        name,
			ContainerID: "containerd://" + containerID,
			State:       corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}},
		}},
	}
}

// addIdleWorkers registers the pod's workers as UpdatePod does, without
// starting their goroutines, so that a test drives doProbe itself.
func (h *harness) addIdleWorkers(t *testing.T, pod *corev1.Pod, status *corev1.PodStatus) map[probeKind]*worker {
	t.Helper()
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	snap := &podSnapshot{pod: pod, status: status}
	h.m.pods[pod.UID] = snap
	out := make(map[probeKind]*worker)
	for _, target := range probedContainers(pod) {
		cs := findContainerStatus(status, target.container.Name, target.init)
		id := bareContainerID(cs.ContainerID)
		for kind := range probeKind(probeKindCount) {
			spec := kind.spec(&target.container)
			if spec == nil {
				continue
			}
			key := workerKey{podUID: pod.UID, containerName: target.container.Name, kind: kind}
			w := newWorker(h.m, key, pod, target, spec, id)
			h.m.workers[key] = w
			h.m.results[resultKey{containerID: id, kind: kind}] = kind.initialResult()
			out[kind] = w
		}
	}
	return out
}

// events drains the recorder.
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// eventually polls cond for up to 10s of real time: workers run on their own
// goroutines.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// stepAndSettle advances the fake clock by d and waits until the given
// number of workers wait on it again, that is, have finished their probe.
func (h *harness) stepAndSettle(t *testing.T, d time.Duration, waiting int) {
	t.Helper()
	h.clock.Step(d)
	eventually(t, "workers to wait on the clock", func() bool { return h.clock.Waiters() == waiting })
}

func hasPrefixIn(events []string, prefix string) bool {
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}
