package prober

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// step is one probe attempt in a threshold scenario: the container's exit
// code for it, and the result the manager should hold afterwards.
type step struct {
	exitCode   int32
	wantResult result
}

func TestWorkerThresholds(t *testing.T) {
	tests := []struct {
		name    string
		kind    probeKind
		probe   *corev1.Probe
		steps   []step
		changes int
	}{
		{
			name:  "readiness needs successThreshold successes in a row",
			kind:  readinessProbe,
			probe: execProbe(0, 3, 2),
			steps: []step{{0, failure}, {1, failure}, {0, failure}, {0, success}, {0, success}},
			// Failure -> Success only: the initial result is Failure.
			changes: 1,
		},
		{
			name:    "readiness drops after failureThreshold failures in a row",
			kind:    readinessProbe,
			probe:   execProbe(0, 2, 1),
			steps:   []step{{0, success}, {1, success}, {0, success}, {1, success}, {1, failure}, {0, success}},
			changes: 3,
		},
		{
			name:    "liveness fails after failureThreshold failures in a row",
			kind:    livenessProbe,
			probe:   execProbe(0, 3, 1),
			steps:   []step{{1, success}, {1, success}, {0, success}, {1, success}, {1, success}, {1, failure}},
			changes: 1,
		},
		{
			name:    "startup succeeds once",
			kind:    startupProbe,
			probe:   execProbe(0, 3, 1),
			steps:   []step{{1, unknown}, {0, success}},
			changes: 1,
		},
		{
			name:    "startup fails after failureThreshold failures",
			kind:    startupProbe,
			probe:   execProbe(0, 2, 1),
			steps:   []step{{1, unknown}, {1, failure}},
			changes: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			c := corev1.Container{Name: "app"}
			switch tt.kind {
			case readinessProbe:
				c.ReadinessProbe = tt.probe
			case livenessProbe:
				c.LivenessProbe = tt.probe
			case startupProbe:
				c.StartupProbe = tt.probe
			}
			w := h.addIdleWorkers(t, testPod(c), runningStatus("app", "c1", h.clock.Now()))[tt.kind]
			for i, s := range tt.steps {
				h.exec.setExitCode("c1", s.exitCode)
				keepGoing := w.doProbe()
				if got, _ := h.m.result("c1", tt.kind); got != s.wantResult {
					t.Fatalf("after attempt %d: result %v, want %v", i+1, got, s.wantResult)
				}
				last := i == len(tt.steps)-1
				held := (tt.kind == livenessProbe && s.wantResult == failure) || (tt.kind == startupProbe && s.wantResult != unknown)
				if keepGoing == held {
					t.Fatalf("after attempt %d: keepGoing = %v, want %v", i+1, keepGoing, !held)
				}
				if held && !last {
					t.Fatal("scenario continues past a held result")
				}
			}
			if got := h.exec.callCount("c1"); got != len(tt.steps) {
				t.Errorf("%d probes ran, want %d", got, len(tt.steps))
			}
			if got := h.changes.count(testPodUID); got != tt.changes {
				t.Errorf("OnChange called %d times, want %d", got, tt.changes)
			}
		})
	}
}

func TestWorkerWaitsForInitialDelayFromContainerStart(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{Name: "app", LivenessProbe: execProbe(10, 1, 1)}
	started := h.clock.Now()
	h.clock.Step(3 * time.Second) // the container has been running for 3s
	w := h.addIdleWorkers(t, testPod(c), runningStatus("app", "c1", started))[livenessProbe]

	if !w.doProbe() || h.exec.callCount("c1") != 0 {
		t.Fatal("probed 3s after start with a 10s initial delay")
	}
	h.clock.Step(6 * time.Second)
	if !w.doProbe() || h.exec.callCount("c1") != 0 {
		t.Fatal("probed 9s after start with a 10s initial delay")
	}
	h.clock.Step(time.Second)
	w.doProbe()
	if h.exec.callCount("c1") != 1 {
		t.Fatal("did not probe 10s after start")
	}
}

func TestReadinessAndLivenessWaitForStartup(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{
		Name:           "app",
		StartupProbe:   execProbe(0, 3, 1),
		ReadinessProbe: execProbe(0, 3, 1),
		LivenessProbe:  execProbe(0, 1, 1),
	}
	ws := h.addIdleWorkers(t, testPod(c), runningStatus("app", "c1", h.clock.Now()))
	h.exec.setExitCode("c1", 1)

	ws[readinessProbe].doProbe()
	ws[livenessProbe].doProbe()
	if n := h.exec.callCount("c1"); n != 0 {
		t.Fatalf("%d readiness/liveness probes ran before startup succeeded", n)
	}
	if h.m.LivenessFailed("c1") {
		t.Fatal("liveness failed before startup")
	}
	if ready, known := h.m.Readiness("containerd://c1"); ready || !known {
		t.Fatalf("readiness = %v, %v before startup; want not ready, known", ready, known)
	}

	h.exec.setExitCode("c1", 0)
	if ws[startupProbe].doProbe() {
		t.Fatal("startup worker goes on after success")
	}
	if started, known := h.m.Startup("c1"); !started || !known {
		t.Fatalf("startup = %v, %v; want started", started, known)
	}
	ws[readinessProbe].doProbe()
	if ready, _ := h.m.Readiness("c1"); !ready {
		t.Fatal("not ready after startup and a successful readiness probe")
	}
	h.exec.setExitCode("c1", 1)
	ws[livenessProbe].doProbe()
	if !h.m.LivenessFailed("containerd://c1") {
		t.Fatal("liveness did not fail after startup")
	}
}

func TestStartupFailureCountsAsLivenessFailure(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{Name: "app", StartupProbe: execProbe(0, 1, 1), LivenessProbe: execProbe(0, 1, 1)}
	ws := h.addIdleWorkers(t, testPod(c), runningStatus("app", "c1", h.clock.Now()))
	h.exec.setExitCode("c1", 1)
	ws[startupProbe].doProbe()
	if !h.m.LivenessFailed("c1") {
		t.Fatal("a failed startup probe does not kill the container")
	}
	if started, known := h.m.Startup("c1"); started || !known {
		t.Fatalf("startup = %v, %v; want failed and known", started, known)
	}
}

func TestDeletedPodStopsLivenessQuietly(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{Name: "app", LivenessProbe: execProbe(0, 1, 1), ReadinessProbe: execProbe(0, 1, 1)}
	pod := testPod(c)
	now := metav1.NewTime(h.clock.Now())
	pod.DeletionTimestamp = &now
	ws := h.addIdleWorkers(t, pod, runningStatus("app", "c1", h.clock.Now()))
	h.exec.setExitCode("c1", 1)
	if ws[livenessProbe].doProbe() {
		t.Fatal("liveness goes on probing a pod being deleted")
	}
	if h.m.LivenessFailed("c1") {
		t.Fatal("liveness failed for a pod being deleted")
	}
	// Readiness goes on: a terminating pod leaves its services when unready.
	if !ws[readinessProbe].doProbe() || h.exec.callCount("c1") != 1 {
		t.Fatal("readiness stopped for a pod being deleted")
	}
}

func TestProbeErrorsAreThrownAway(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{Name: "app", LivenessProbe: execProbe(0, 1, 1)}
	w := h.addIdleWorkers(t, testPod(c), runningStatus("app", "c1", h.clock.Now()))[livenessProbe]
	h.exec.err = errors.New("rpc error: code = Unavailable desc = runtime down")
	if !w.doProbe() {
		t.Fatal("worker gave up on an error")
	}
	if h.m.LivenessFailed("c1") || h.changes.count(testPodUID) != 0 {
		t.Fatal("an error counted as a failure")
	}
	want := "Warning Unhealthy Liveness probe errored and resulted in unknown state: rpc error: code = Unavailable desc = runtime down"
	if ev := h.events(); len(ev) != 1 || ev[0] != want {
		t.Fatalf("events = %q, want [%q]", ev, want)
	}
}

func TestFailureEventsAsUpstream(t *testing.T) {
	tests := []struct {
		kind probeKind
		want string
	}{
		{readinessProbe, "Warning Unhealthy Readiness probe failed: not ok"},
		{livenessProbe, "Warning Unhealthy Liveness probe failed: not ok"},
		{startupProbe, "Warning Unhealthy Startup probe failed: not ok"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			h := newHarness(t)
			c := corev1.Container{Name: "app"}
			switch tt.kind {
			case readinessProbe:
				c.ReadinessProbe = execProbe(0, 3, 1)
			case livenessProbe:
				c.LivenessProbe = execProbe(0, 3, 1)
			case startupProbe:
				c.StartupProbe = execProbe(0, 3, 1)
			}
			w := h.addIdleWorkers(t, testPod(c), runningStatus("app", "c1", h.clock.Now()))[tt.kind]
			h.exec.setExitCode("c1", 1)
			w.doProbe()
			h.exec.setExitCode("c1", 0)
			w.doProbe()
			// One event per failed attempt, none for a success.
			if ev := h.events(); len(ev) != 1 || ev[0] != tt.want {
				t.Fatalf("events = %q, want [%q]", ev, tt.want)
			}
		})
	}
}

func TestStoppedWorkerRecordsNothing(t *testing.T) {
	h := newHarness(t)
	c := corev1.Container{Name: "app", LivenessProbe: execProbe(0, 1, 1)}
	w := h.addIdleWorkers(t, testPod(c), runningStatus("app", "c1", h.clock.Now()))[livenessProbe]
	h.m.RemovePod(testPodUID)
	h.exec.setExitCode("c1", 1)
	if w.doProbe() {
		t.Fatal("stopped worker goes on")
	}
	if h.exec.callCount("c1") != 0 || len(h.events()) != 0 || h.changes.count(testPodUID) != 0 {
		t.Fatal("stopped worker probed or reported")
	}
}

func TestZeroSpecFieldsTakeAPIDefaults(t *testing.T) {
	got := withDefaults(corev1.Probe{})
	if got.PeriodSeconds != 10 || got.TimeoutSeconds != 1 || got.FailureThreshold != 3 || got.SuccessThreshold != 1 {
		t.Errorf("defaults = period %d timeout %d failure %d success %d", got.PeriodSeconds, got.TimeoutSeconds, got.FailureThreshold, got.SuccessThreshold)
	}
	set := corev1.Probe{PeriodSeconds: 5, TimeoutSeconds: 3, FailureThreshold: 1, SuccessThreshold: 2}
	if withDefaults(set) != set {
		t.Error("set fields were overridden")
	}
}

func TestForeignRedirectIsASuccessWithAWarningEvent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.invalid/", http.StatusFound)
	}))
	defer srv.Close()
	h := newHarness(t)
	c := corev1.Container{Name: "app", ReadinessProbe: httpProbe("/", intstr.FromInt32(int32(serverPort(t, srv.URL))))}
	w := h.addIdleWorkers(t, testPod(c), runningStatus("app", "c1", h.clock.Now()))[readinessProbe]
	w.doProbe()
	if ready, _ := h.m.Readiness("c1"); !ready {
		t.Fatal("a redirect to another host made the container unready")
	}
	want := "Warning ProbeWarning Readiness probe warning: Probe terminated redirects, Response body: "
	if ev := h.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], want) {
		t.Fatalf("events = %q, want one starting %q", ev, want)
	}
}
