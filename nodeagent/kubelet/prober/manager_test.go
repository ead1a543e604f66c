package prober

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestUpdatePodProbesRunningContainersAtOnce(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{Name: "app", ReadinessProbe: execProbe(0, 3, 1)}
	pod := testPod(c)

	// Not running yet: no worker, nothing known.
	h.m.UpdatePod(pod, &corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}}}}})
	if _, known := h.m.Readiness("c1"); known {
		t.Fatal("readiness known for a container that never ran")
	}

	h.m.UpdatePod(pod, runningStatus("app", "c1", h.clock.Now()))
	// Known at once, before any probe ran: not ready.
	if ready, known := h.m.Readiness("containerd://c1"); ready || !known {
		t.Fatalf("readiness = %v, %v right after start; want not ready, known", ready, known)
	}
	eventually(t, "the first probe", func() bool { ready, _ := h.m.Readiness("c1"); return ready })
	eventually(t, "OnChange", func() bool { return h.changes.count(testPodUID) == 1 })
	eventually(t, "the worker to wait", func() bool { return h.clock.Waiters() == 1 })

	// Each period probes again.
	h.stepAndSettle(t, time.Second, 1)
	h.stepAndSettle(t, time.Second, 1)
	if got := h.exec.callCount("c1"); got != 3 {
		t.Fatalf("%d probes after two periods, want 3", got)
	}
	if got := h.changes.count(testPodUID); got != 1 {
		t.Errorf("OnChange called %d times for one transition", got)
	}
}

func TestUpdatePodIgnoresPodsWithoutProbes(t *testing.T) {
	h := newHarness(t)
	h.m.UpdatePod(testPod(corev1.Container{Name: "app"}), runningStatus("app", "c1", h.clock.Now()))
	if _, ok := h.m.snapshot(testPodUID); ok {
		t.Error("kept a copy of a pod without probes")
	}
	if _, known := h.m.Readiness("c1"); known || h.m.LivenessFailed("c1") {
		t.Error("results for a container without probes")
	}
}

func TestRepeatedUpdatePodKeepsWorkers(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{Name: "app", LivenessProbe: execProbe(0, 3, 1)}
	pod := testPod(c)
	status := runningStatus("app", "c1", h.clock.Now())
	h.m.UpdatePod(pod, status)
	eventually(t, "the worker to wait", func() bool { return h.clock.Waiters() == 1 })
	for range 5 {
		h.m.UpdatePod(pod, status)
	}
	if got := h.clock.Waiters(); got != 1 {
		t.Fatalf("%d workers wait after repeated updates, want 1", got)
	}
	if got := h.exec.callCount("c1"); got != 1 {
		t.Fatalf("%d probes, want 1: repeated updates restarted the worker", got)
	}
}

func TestRestartedContainerStartsFromScratch(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{Name: "app", LivenessProbe: execProbe(5, 1, 1)}
	pod := testPod(c)
	h.exec.setExitCode("c1", 1)
	h.m.UpdatePod(pod, runningStatus("app", "c1", h.clock.Now()))
	eventually(t, "the worker to wait", func() bool { return h.clock.Waiters() == 1 })
	for range 4 {
		h.stepAndSettle(t, time.Second, 1)
	}
	if got := h.exec.callCount("c1"); got != 0 {
		t.Fatalf("probed %d times within the initial delay", got)
	}
	// At 5s the probe runs, fails, and the worker holds the verdict.
	h.clock.Step(time.Second)
	eventually(t, "liveness to fail", func() bool { return h.m.LivenessFailed("c1") })
	eventually(t, "the held worker to exit", func() bool { return h.clock.Waiters() == 0 })
	probesOfFirst := h.exec.callCount("c1")

	// The kubelet killed it and started c2.
	h.m.UpdatePod(pod, runningStatus("app", "c2", h.clock.Now()))
	if h.m.LivenessFailed("c1") || h.m.LivenessFailed("c2") {
		t.Fatal("the old container's failure outlived it or passed to the new one")
	}
	eventually(t, "the new worker to wait", func() bool { return h.clock.Waiters() == 1 })
	h.exec.setExitCode("c2", 1)
	for range 4 {
		h.stepAndSettle(t, time.Second, 1)
	}
	if got := h.exec.callCount("c2"); got != 0 {
		t.Fatalf("new container probed %d times within its initial delay", got)
	}
	h.clock.Step(time.Second)
	eventually(t, "the new container's liveness to fail", func() bool { return h.m.LivenessFailed("c2") })
	if got := h.exec.callCount("c1"); got != probesOfFirst {
		t.Errorf("the old container was probed after its replacement")
	}
}

func TestStoppedContainerLosesWorkersAndResults(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{Name: "app", ReadinessProbe: execProbe(0, 3, 1), LivenessProbe: execProbe(0, 3, 1)}
	pod := testPod(c)
	h.m.UpdatePod(pod, runningStatus("app", "c1", h.clock.Now()))
	eventually(t, "both workers to wait", func() bool { return h.clock.Waiters() == 2 })

	h.m.UpdatePod(pod, exitedStatus("app", "c1"))
	eventually(t, "workers to stop", func() bool { return h.clock.Waiters() == 0 })
	if _, known := h.m.Readiness("c1"); known {
		t.Error("readiness still known for a stopped container")
	}
	before := h.exec.callCount("c1")
	h.clock.Step(time.Minute)
	time.Sleep(20 * time.Millisecond)
	if got := h.exec.callCount("c1"); got != before {
		t.Errorf("stopped container probed %d more times", got-before)
	}
}

func TestRemovePodStopsProbing(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{Name: "app", ReadinessProbe: execProbe(0, 3, 1), LivenessProbe: execProbe(0, 3, 1)}
	h.m.UpdatePod(testPod(c), runningStatus("app", "c1", h.clock.Now()))
	eventually(t, "both workers to wait", func() bool { return h.clock.Waiters() == 2 })

	h.m.RemovePod(testPodUID)
	done := make(chan struct{})
	go func() { h.m.running.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("workers still running after RemovePod")
	}
	before := h.exec.callCount("c1")
	h.clock.Step(time.Minute)
	time.Sleep(20 * time.Millisecond)
	if got := h.exec.callCount("c1"); got != before {
		t.Errorf("removed pod probed %d more times", got-before)
	}
	if _, known := h.m.Readiness("c1"); known {
		t.Error("removed pod's results kept")
	}
}

func TestStopWaitsForWorkersAndIgnoresUpdates(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{Name: "app", LivenessProbe: execProbe(0, 3, 1)}
	h.m.UpdatePod(testPod(c), runningStatus("app", "c1", h.clock.Now()))
	eventually(t, "the worker to wait", func() bool { return h.clock.Waiters() == 1 })
	h.m.Stop()
	if got := h.clock.Waiters(); got != 0 {
		t.Fatalf("%d workers wait after Stop", got)
	}
	h.m.UpdatePod(testPod(c), runningStatus("app", "c2", h.clock.Now()))
	if _, known := h.m.Startup("c2"); known || h.clock.Waiters() != 0 {
		t.Fatal("a stopped manager started a worker")
	}
}

func TestOnChangeOnTransitionsOnly(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{Name: "app", LivenessProbe: execProbe(0, 2, 1)}
	h.m.UpdatePod(testPod(c), runningStatus("app", "c1", h.clock.Now()))
	eventually(t, "the worker to wait", func() bool { return h.clock.Waiters() == 1 })
	for range 3 {
		h.stepAndSettle(t, time.Second, 1)
	}
	if got := h.changes.count(testPodUID); got != 0 {
		t.Fatalf("OnChange called %d times while liveness stayed successful", got)
	}
	h.exec.setExitCode("c1", 1)
	h.stepAndSettle(t, time.Second, 1)
	if got := h.changes.count(testPodUID); got != 0 {
		t.Fatalf("OnChange called below the failure threshold")
	}
	h.clock.Step(time.Second)
	eventually(t, "OnChange for the failure", func() bool { return h.changes.count(testPodUID) == 1 })
}

func TestHTTPReadinessThroughTheManager(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()

	h := newHarness(t)
	c := corev1.Container{
		Name:  "web",
		Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(serverPort(t, srv.URL))}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http")}},
			PeriodSeconds: 2, FailureThreshold: 1, SuccessThreshold: 1,
		},
	}
	h.m.UpdatePod(testPod(c), runningStatus("web", "w1", h.clock.Now()))
	eventually(t, "the worker to wait", func() bool { return h.clock.Waiters() == 1 })
	if ready, _ := h.m.Readiness("w1"); ready {
		t.Fatal("ready while the server answers 500")
	}
	if ev := h.events(); !hasPrefixIn(ev, "Warning Unhealthy Readiness probe failed: HTTP probe failed with statuscode: 500") {
		t.Fatalf("events = %q", ev)
	}
	healthy.Store(true)
	h.stepAndSettle(t, 2*time.Second, 1)
	if ready, _ := h.m.Readiness("w1"); !ready {
		t.Fatal("not ready once the server answers 200")
	}
}

func TestSidecarProbesRun(t *testing.T) {
	h := newHarness(t)
	pod := testPod(corev1.Container{Name: "app"})
	pod.Spec.InitContainers = []corev1.Container{{
		Name:           "proxy",
		RestartPolicy:  ptr.To(corev1.ContainerRestartPolicyAlways),
		ReadinessProbe: execProbe(0, 3, 1),
	}}
	status := runningStatus("app", "a1", h.clock.Now())
	status.InitContainerStatuses = runningStatus("proxy", "p1", h.clock.Now()).ContainerStatuses
	h.m.UpdatePod(pod, status)
	eventually(t, "the sidecar's readiness", func() bool { ready, _ := h.m.Readiness("p1"); return ready })
	if _, known := h.m.Readiness("a1"); known {
		t.Error("readiness known for a container without a readiness probe")
	}
}

func TestUpdatePodStatusSetsStartedAndReady(t *testing.T) {
	h := newHarness(t)
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init"}},
		Containers: []corev1.Container{
			{Name: "plain"},
			{Name: "gated", StartupProbe: execProbe(0, 3, 1), ReadinessProbe: execProbe(0, 3, 1)},
			{Name: "ready", ReadinessProbe: execProbe(0, 3, 1)},
			{Name: "unseen", ReadinessProbe: execProbe(0, 3, 1)},
			{Name: "exited"},
		},
	}}
	pod.UID = types.UID("p")
	status := &corev1.PodStatus{}
	for _, name := range []string{"plain", "gated", "ready", "unseen"} {
		status.ContainerStatuses = append(status.ContainerStatuses, runningStatus(name, name+"-id", h.clock.Now()).ContainerStatuses[0])
	}
	status.ContainerStatuses = append(status.ContainerStatuses, exitedStatus("exited", "exited-id").ContainerStatuses[0])
	status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "init", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}}

	// Results as workers would have left them; "unseen" has no worker yet.
	h.m.mu.Lock()
	h.m.results[resultKey{"gated-id", startupProbe}] = unknown
	h.m.results[resultKey{"gated-id", readinessProbe}] = failure
	h.m.results[resultKey{"ready-id", readinessProbe}] = success
	h.m.mu.Unlock()

	h.m.UpdatePodStatus(pod, status)
	want := map[string][2]bool{ // started, ready
		"plain":  {true, true},
		"gated":  {false, false},
		"ready":  {true, true},
		"unseen": {true, false},
		"exited": {false, false},
	}
	for _, cs := range status.ContainerStatuses {
		got := [2]bool{cs.Started != nil && *cs.Started, cs.Ready}
		if got != want[cs.Name] {
			t.Errorf("%s: started, ready = %v, want %v", cs.Name, got, want[cs.Name])
		}
	}
	if !status.InitContainerStatuses[0].Ready {
		t.Error("init container that exited 0 is not ready")
	}

	h.m.mu.Lock()
	h.m.results[resultKey{"gated-id", startupProbe}] = success
	h.m.mu.Unlock()
	h.m.UpdatePodStatus(pod, status)
	if cs := status.ContainerStatuses[1]; !*cs.Started || cs.Ready {
		t.Errorf("gated after startup: started %v ready %v, want started, not ready", *cs.Started, cs.Ready)
	}
}

func TestBareContainerID(t *testing.T) {
	for in, want := range map[string]string{"containerd://abc": "abc", "abc": "abc", "docker://x": "x"} {
		if got := bareContainerID(in); got != want {
			t.Errorf("bareContainerID(%q) = %q, want %q", in, got, want)
		}
	}
}
