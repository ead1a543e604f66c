package kuberuntime

import (
	"fmt"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func readySandbox(attempt uint32, mode runtimeapi.NamespaceMode, ip string) *runtimeapi.PodSandboxStatus {
	return &runtimeapi.PodSandboxStatus{
		Id:       fmt.Sprintf("sb%d", attempt),
		Metadata: &runtimeapi.PodSandboxMetadata{Attempt: attempt},
		State:    runtimeapi.PodSandboxState_SANDBOX_READY,
		Network:  &runtimeapi.PodSandboxNetworkStatus{Ip: ip},
		Linux:    &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: &runtimeapi.NamespaceOption{Network: mode}}},
	}
}

func TestSandboxChanged(t *testing.T) {
	pod := testPod("s")
	notReady := readySandbox(2, runtimeapi.NamespaceMode_POD, "10.0.0.1")
	notReady.State = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	tests := []struct {
		name        string
		sandboxes   []*runtimeapi.PodSandboxStatus
		hostNet     bool
		wantChanged bool
		wantAttempt uint32
		wantID      string
	}{
		{"no sandbox", nil, false, true, 0, ""},
		{"ready sandbox is kept", []*runtimeapi.PodSandboxStatus{readySandbox(1, runtimeapi.NamespaceMode_POD, "10.0.0.1")}, false, false, 1, "sb1"},
		{"not ready is replaced", []*runtimeapi.PodSandboxStatus{notReady}, false, true, 3, "sb2"},
		{"two ready are replaced", []*runtimeapi.PodSandboxStatus{readySandbox(1, runtimeapi.NamespaceMode_POD, "a"), readySandbox(0, runtimeapi.NamespaceMode_POD, "b")}, false, true, 2, "sb1"},
		{"network mode changed", []*runtimeapi.PodSandboxStatus{readySandbox(0, runtimeapi.NamespaceMode_POD, "10.0.0.1")}, true, true, 1, ""},
		{"pod network without an IP", []*runtimeapi.PodSandboxStatus{readySandbox(0, runtimeapi.NamespaceMode_POD, "")}, false, true, 1, "sb0"},
		{"host network needs no IP", []*runtimeapi.PodSandboxStatus{readySandbox(0, runtimeapi.NamespaceMode_NODE, "")}, true, false, 0, "sb0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod.Spec.HostNetwork = tt.hostNet
			changed, attempt, id := SandboxChanged(pod, &PodStatus{Sandboxes: tt.sandboxes})
			if changed != tt.wantChanged || attempt != tt.wantAttempt || id != tt.wantID {
				t.Errorf("got (%v, %d, %q), want (%v, %d, %q)", changed, attempt, id, tt.wantChanged, tt.wantAttempt, tt.wantID)
			}
		})
	}
}

func TestComputePodActions(t *testing.T) {
	running := func(name string) *ContainerStatus {
		return &ContainerStatus{ID: name + "-id", Name: name, State: ContainerStateRunning, Hash: HashContainer(&corev1.Container{Name: name, Image: "busybox:1.36"})}
	}
	exited := func(name string, code int) *ContainerStatus {
		cs := running(name)
		cs.State, cs.ExitCode = ContainerStateExited, code
		return cs
	}
	withInit := func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "i1", Image: "busybox:1.36"}, {Name: "i2", Image: "busybox:1.36"}}
	}
	sandbox := []*runtimeapi.PodSandboxStatus{readySandbox(0, runtimeapi.NamespaceMode_POD, "10.0.0.1")}
	type want struct {
		killPod, createSandbox bool
		nextInit               string
		start                  []int
		kill                   []string
	}
	tests := []struct {
		name       string
		modify     func(*corev1.Pod)
		sandboxes  []*runtimeapi.PodSandboxStatus
		containers []*ContainerStatus
		liveFailed string
		want       want
	}{
		{"new pod: sandbox and all containers", nil, nil, nil, "", want{killPod: true, createSandbox: true, start: []int{0, 1}}},
		{"new pod with init containers: the first init only", withInit, nil, nil, "", want{killPod: true, createSandbox: true, nextInit: "i1"}},
		{"all running: nothing", nil, sandbox, []*ContainerStatus{running("app"), running("two")}, "", want{}},
		{"one exited under Always: restart it", nil, sandbox, []*ContainerStatus{running("app"), exited("two", 0)}, "", want{start: []int{1}}},
		{"all exited under Never: kill the pod", func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever },
			sandbox, []*ContainerStatus{exited("app", 0), exited("two", 1)}, "", want{killPod: true}},
		{"OnFailure restarts only the failed", func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			sandbox, []*ContainerStatus{exited("app", 0), exited("two", 1)}, "", want{start: []int{1}}},
		{"liveness failure kills and restarts", nil, sandbox, []*ContainerStatus{running("app"), running("two")}, "two-id", want{start: []int{1}, kill: []string{"two-id"}}},
		{"liveness failure under Never kills without restart", func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever },
			sandbox, []*ContainerStatus{running("app"), running("two")}, "two-id", want{kill: []string{"two-id"}}},
		{"changed image restarts", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "busybox:2" },
			sandbox, []*ContainerStatus{running("app"), running("two")}, "", want{start: []int{0}, kill: []string{"app-id"}}},
		{"running init blocks", withInit, sandbox, []*ContainerStatus{running("i1")}, "", want{}},
		{"first init done: the second", withInit, sandbox, []*ContainerStatus{exited("i1", 0)}, "", want{nextInit: "i2"}},
		{"init failed under Always: retry it", withInit, sandbox, []*ContainerStatus{exited("i2", 1), exited("i1", 0)}, "", want{nextInit: "i2"}},
		{"init failed under Never: kill the pod", func(p *corev1.Pod) { withInit(p); p.Spec.RestartPolicy = corev1.RestartPolicyNever },
			sandbox, []*ContainerStatus{exited("i1", 1)}, "", want{killPod: true}},
		{"inits done: app containers", withInit, sandbox, []*ContainerStatus{exited("i2", 0), exited("i1", 0)}, "", want{start: []int{0, 1}}},
		{"running app means initialized even without init records", withInit, sandbox, []*ContainerStatus{running("app"), running("two")}, "", want{}},
		{"dead sandbox of a finished Never pod is not recreated", func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]*runtimeapi.PodSandboxStatus{{Id: "sb0", Metadata: &runtimeapi.PodSandboxMetadata{}, State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}},
			[]*ContainerStatus{exited("app", 0), exited("two", 0)}, "", want{killPod: true}},
		{"dead sandbox of an OnFailure pod restarts the failed only", func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			[]*runtimeapi.PodSandboxStatus{{Id: "sb0", Metadata: &runtimeapi.PodSandboxMetadata{}, State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY}},
			[]*ContainerStatus{exited("app", 0), exited("two", 1)}, "", want{killPod: true, createSandbox: true, start: []int{1}}},
		{"deleted pod restarts nothing", func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} },
			sandbox, []*ContainerStatus{running("app"), exited("two", 1)}, "", want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			pod := testPod("a")
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "two", Image: "busybox:1.36"})
			if tt.modify != nil {
				tt.modify(pod)
			}
			if tt.liveFailed != "" {
				h.liveness.fail("containerd://" + tt.liveFailed)
			}
			got := h.m.computePodActions(pod, &PodStatus{Sandboxes: tt.sandboxes, Containers: tt.containers})
			var kill []string
			for id := range got.ContainersToKill {
				kill = append(kill, id)
			}
			sort.Strings(kill)
			next := ""
			if got.NextInitContainer != nil {
				next = got.NextInitContainer.Name
			}
			if got.KillPod != tt.want.killPod || got.CreateSandbox != tt.want.createSandbox || next != tt.want.nextInit ||
				fmt.Sprint(got.ContainersToStart) != fmt.Sprint(tt.want.start) && !(len(got.ContainersToStart) == 0 && len(tt.want.start) == 0) ||
				fmt.Sprint(kill) != fmt.Sprint(tt.want.kill) && !(len(kill) == 0 && len(tt.want.kill) == 0) {
				t.Errorf("got kill=%v create=%v next=%q start=%v kill=%v; want %+v",
					got.KillPod, got.CreateSandbox, next, got.ContainersToStart, kill, tt.want)
			}
		})
	}
}
