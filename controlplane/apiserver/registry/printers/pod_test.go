package printers

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

var podsGVR = registry.CoreV1.WithResource("pods")

// testPod is a pod created ten minutes ago with the named containers.
func testPod(phase corev1.PodPhase, containers ...string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(10 * time.Minute)},
		Status:     corev1.PodStatus{Phase: phase},
	}
	for _, name := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: name, Image: name + ":1"})
	}
	return pod
}

func running(name string, ready bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{
		Name: name, Ready: ready, Started: ptr(true),
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(9 * time.Minute)}},
	}
}

func waiting(name, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(name, reason string, exitCode, signal int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason: reason, ExitCode: exitCode, Signal: signal, FinishedAt: ago(time.Minute),
	}}}
}

// restarted gives a container restarts, the last ending d ago.
func restarted(cs corev1.ContainerStatus, count int32, d time.Duration) corev1.ContainerStatus {
	cs.RestartCount = count
	cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, FinishedAt: ago(d)}
	return cs
}

func withInit(pod *corev1.Pod, names ...string) *corev1.Pod {
	for _, name := range names {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{Name: name, Image: "busybox"})
	}
	return pod
}

func withCondition(pod *corev1.Pod, t corev1.PodConditionType, status corev1.ConditionStatus, reason string) *corev1.Pod {
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: t, Status: status, Reason: reason})
	return pod
}

func TestPodReadyStatusAndRestarts(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		pod                     func() *corev1.Pod
		ready, status, restarts string
	}{
		{"pending, not scheduled yet", func() *corev1.Pod {
			return withCondition(testPod(corev1.PodPending, "app"), corev1.PodScheduled, corev1.ConditionFalse, "Unschedulable")
		}, "0/1", "Pending", "0"},
		{"held by a scheduling gate", func() *corev1.Pod {
			return withCondition(testPod(corev1.PodPending, "app"), corev1.PodScheduled, corev1.ConditionFalse, corev1.PodReasonSchedulingGated)
		}, "0/1", "SchedulingGated", "0"},
		{"container being created", func() *corev1.Pod {
			p := testPod(corev1.PodPending, "app")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("app", "ContainerCreating")}
			return p
		}, "0/1", "ContainerCreating", "0"},
		{"running and ready", func() *corev1.Pod {
			p := testPod(corev1.PodRunning, "app")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("app", true)}
			return p
		}, "1/1", "Running", "0"},
		{"running, one of two ready", func() *corev1.Pod {
			p := testPod(corev1.PodRunning, "app", "proxy")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("app", true), running("proxy", false)}
			return p
		}, "1/2", "Running", "0"},
		{"completed", func() *corev1.Pod {
			p := testPod(corev1.PodSucceeded, "app")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("app", "Completed", 0, 0)}
			return p
		}, "0/1", "Completed", "0"},
		{"failed with an error", func() *corev1.Pod {
			p := testPod(corev1.PodFailed, "app")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("app", "Error", 1, 0)}
			return p
		}, "0/1", "Error", "0"},
		{"killed by a signal, no reason", func() *corev1.Pod {
			p := testPod(corev1.PodFailed, "app")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("app", "", 137, 9)}
			return p
		}, "0/1", "Signal:9", "0"},
		{"exited without a reason", func() *corev1.Pod {
			p := testPod(corev1.PodFailed, "app")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("app", "", 2, 0)}
			return p
		}, "0/1", "ExitCode:2", "0"},
		{"crash looping, last restart 5m ago", func() *corev1.Pod {
			p := testPod(corev1.PodRunning, "app")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{restarted(waiting("app", "CrashLoopBackOff"), 3, 5*time.Minute)}
			return p
		}, "0/1", "CrashLoopBackOff", "3 (5m ago)"},
		{"restarted, running again", func() *corev1.Pod {
			p := testPod(corev1.PodRunning, "app")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{restarted(running("app", true), 1, 90*time.Second)}
			return p
		}, "1/1", "Running", "1 (90s ago)"},
		{"restarts without a termination time", func() *corev1.Pod {
			p := testPod(corev1.PodRunning, "app")
			cs := running("app", true)
			cs.RestartCount = 2
			p.Status.ContainerStatuses = []corev1.ContainerStatus{cs}
			return p
		}, "1/1", "Running", "2"},
		{"image pull backing off", func() *corev1.Pod {
			p := testPod(corev1.PodPending, "app")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("app", "ImagePullBackOff")}
			return p
		}, "0/1", "ImagePullBackOff", "0"},
		{"image pull failed", func() *corev1.Pod {
			p := testPod(corev1.PodPending, "app")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("app", "ErrImagePull")}
			return p
		}, "0/1", "ErrImagePull", "0"},
		{"the first container has the last word", func() *corev1.Pod {
			p := testPod(corev1.PodPending, "app", "proxy")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("app", "ErrImagePull"), waiting("proxy", "ContainerCreating")}
			return p
		}, "0/2", "ErrImagePull", "0"},
		{"init container running", func() *corev1.Pod {
			p := withInit(testPod(corev1.PodPending, "app"), "setup")
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{running("setup", false)}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("app", "PodInitializing")}
			return p
		}, "0/1", "Init:0/1", "0"},
		{"second of two init containers", func() *corev1.Pod {
			p := withInit(testPod(corev1.PodPending, "app"), "setup", "migrate")
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{terminated("setup", "Completed", 0, 0), waiting("migrate", "PodInitializing")}
			return p
		}, "0/1", "Init:1/2", "0"},
		{"init container failed", func() *corev1.Pod {
			p := withInit(testPod(corev1.PodPending, "app"), "setup")
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{terminated("setup", "Error", 1, 0)}
			return p
		}, "0/1", "Init:Error", "0"},
		{"init container killed, no reason", func() *corev1.Pod {
			p := withInit(testPod(corev1.PodPending, "app"), "setup")
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{terminated("setup", "", 137, 9)}
			return p
		}, "0/1", "Init:Signal:9", "0"},
		{"init container exited, no reason", func() *corev1.Pod {
			p := withInit(testPod(corev1.PodPending, "app"), "setup")
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{terminated("setup", "", 3, 0)}
			return p
		}, "0/1", "Init:ExitCode:3", "0"},
		{"init container crash looping", func() *corev1.Pod {
			p := withInit(testPod(corev1.PodPending, "app"), "setup")
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{restarted(waiting("setup", "CrashLoopBackOff"), 4, 2*time.Minute)}
			return p
		}, "0/1", "Init:CrashLoopBackOff", "4 (2m ago)"},
		{"initialized, containers starting", func() *corev1.Pod {
			p := withInit(testPod(corev1.PodPending, "app"), "setup")
			withCondition(p, corev1.PodInitialized, corev1.ConditionTrue, "")
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{terminated("setup", "Completed", 0, 0)}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{waiting("app", "PodInitializing")}
			return p
		}, "0/1", "PodInitializing", "0"},
		{"init restarts stop counting once initialized", func() *corev1.Pod {
			p := withInit(testPod(corev1.PodRunning, "app"), "setup")
			withCondition(p, corev1.PodInitialized, corev1.ConditionTrue, "")
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{restarted(terminated("setup", "Completed", 0, 0), 2, time.Minute)}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("app", true)}
			return p
		}, "1/1", "Running", "0"},
		{"sidecar counts as a container, with its restarts", func() *corev1.Pod {
			p := testPod(corev1.PodRunning, "app")
			p.Spec.InitContainers = []corev1.Container{{Name: "mesh", RestartPolicy: ptr(corev1.ContainerRestartPolicyAlways)}}
			withCondition(p, corev1.PodInitialized, corev1.ConditionTrue, "")
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{restarted(running("mesh", true), 1, 3*time.Minute)}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("app", true)}
			return p
		}, "2/2", "Running", "1 (3m ago)"},
		{"a completed container beside a running one, pod ready", func() *corev1.Pod {
			p := withCondition(testPod(corev1.PodRunning, "app", "job"), corev1.PodReady, corev1.ConditionTrue, "")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("app", true), terminated("job", "Completed", 0, 0)}
			return p
		}, "1/2", "Running", "0"},
		{"a completed container beside a running one, pod not ready", func() *corev1.Pod {
			p := withCondition(testPod(corev1.PodRunning, "app", "job"), corev1.PodReady, corev1.ConditionFalse, "")
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("app", true), terminated("job", "Completed", 0, 0)}
			return p
		}, "1/2", "NotReady", "0"},
		{"evicted", func() *corev1.Pod {
			p := testPod(corev1.PodFailed, "app")
			p.Status.Reason = "Evicted"
			return p
		}, "0/1", "Evicted", "0"},
		{"being deleted", func() *corev1.Pod {
			p := testPod(corev1.PodRunning, "app")
			p.DeletionTimestamp = agoPtr(0)
			p.Status.ContainerStatuses = []corev1.ContainerStatus{running("app", true)}
			return p
		}, "1/1", "Terminating", "0"},
		{"deleted after finishing", func() *corev1.Pod {
			p := testPod(corev1.PodSucceeded, "app")
			p.DeletionTimestamp = agoPtr(0)
			p.Status.ContainerStatuses = []corev1.ContainerStatus{terminated("app", "Completed", 0, 0)}
			return p
		}, "0/1", "Completed", "0"},
		{"node lost", func() *corev1.Pod {
			p := testPod(corev1.PodRunning, "app")
			p.Status.Reason = "NodeLost"
			return p
		}, "0/1", "NodeLost", "0"},
		{"node lost and being deleted", func() *corev1.Pod {
			p := testPod(corev1.PodRunning, "app")
			p.Status.Reason = "NodeLost"
			p.DeletionTimestamp = agoPtr(0)
			return p
		}, "0/1", "Unknown", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cells := cellsOf(t, podsGVR, tc.pod())
			if cells[0] != tc.ready || cells[1] != tc.status || cells[2] != tc.restarts {
				t.Errorf("READY STATUS RESTARTS: got %q %q %q, want %q %q %q", cells[0], cells[1], cells[2], tc.ready, tc.status, tc.restarts)
			}
			if cells[3] != "10m" {
				t.Errorf("AGE: got %q, want 10m", cells[3])
			}
		})
	}
}

func TestPodWideCells(t *testing.T) {
	scheduled := testPod(corev1.PodRunning, "app")
	scheduled.Spec.NodeName = "kind-worker"
	scheduled.Status.PodIP = "10.244.1.5"
	scheduled.Status.PodIPs = []corev1.PodIP{{IP: "10.244.1.5"}, {IP: "fd00::5"}}
	scheduled.Status.ContainerStatuses = []corev1.ContainerStatus{running("app", true)}
	scheduled.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}}
	withCondition(scheduled, "example.com/lb", corev1.ConditionTrue, "")
	withCondition(scheduled, "example.com/dns", corev1.ConditionFalse, "")

	onlyIPs := testPod(corev1.PodRunning, "app")
	onlyIPs.Status.PodIPs = []corev1.PodIP{{IP: "fd00::7"}}

	nominated := testPod(corev1.PodPending, "app")
	nominated.Status.NominatedNodeName = "kind-worker2"

	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want []any
	}{
		{"scheduled with gates", scheduled, []any{"1/1", "Running", "0", "10m", "10.244.1.5", "kind-worker", "<none>", "1/2"}},
		{"only podIPs set", onlyIPs, []any{"0/1", "Running", "0", "10m", "fd00::7", "<none>", "<none>", "<none>"}},
		{"nominated", nominated, []any{"0/1", "Pending", "0", "10m", "<none>", "<none>", "kind-worker2", "<none>"}},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCells(t, podsGVR, tc.pod, tc.want) })
	}
}
