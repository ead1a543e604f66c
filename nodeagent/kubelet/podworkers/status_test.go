package podworkers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kindish/kindish/nodeagent/kubelet/kuberuntime"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
}

func exited(code int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}
}

func waitingState(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func cstatus(name string, state corev1.ContainerState, last *corev1.ContainerStateTerminated) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: state, LastTerminationState: corev1.ContainerState{Terminated: last}}
}

func TestGetPhase(t *testing.T) {
	twoApps := func(policy corev1.RestartPolicy, inits ...string) *corev1.Pod {
		p := &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: policy, Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}}
		for _, n := range inits {
			p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n})
		}
		return p
	}
	failed := &corev1.ContainerStateTerminated{ExitCode: 1}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		statuses []corev1.ContainerStatus
		terminal bool
		want     corev1.PodPhase
	}{
		{"nothing known is Pending", twoApps(corev1.RestartPolicyAlways), nil, false, corev1.PodPending},
		{"one waiting is Pending", twoApps(corev1.RestartPolicyAlways), []corev1.ContainerStatus{cstatus("a", running(), nil), cstatus("b", waitingState("ContainerCreating"), nil)}, false, corev1.PodPending},
		{"all running is Running", twoApps(corev1.RestartPolicyAlways), []corev1.ContainerStatus{cstatus("a", running(), nil), cstatus("b", running(), nil)}, false, corev1.PodRunning},
		{"crash looping counts as stopped: Running", twoApps(corev1.RestartPolicyAlways), []corev1.ContainerStatus{cstatus("a", running(), nil), cstatus("b", waitingState("CrashLoopBackOff"), failed)}, false, corev1.PodRunning},
		{"all exited under Always is Running", twoApps(corev1.RestartPolicyAlways), []corev1.ContainerStatus{cstatus("a", exited(0), nil), cstatus("b", exited(1), nil)}, false, corev1.PodRunning},
		{"all exited 0 under OnFailure is Succeeded", twoApps(corev1.RestartPolicyOnFailure), []corev1.ContainerStatus{cstatus("a", exited(0), nil), cstatus("b", exited(0), nil)}, false, corev1.PodSucceeded},
		{"a failure under OnFailure is Running", twoApps(corev1.RestartPolicyOnFailure), []corev1.ContainerStatus{cstatus("a", exited(0), nil), cstatus("b", exited(1), nil)}, false, corev1.PodRunning},
		{"a failure under Never is Failed", twoApps(corev1.RestartPolicyNever), []corev1.ContainerStatus{cstatus("a", exited(0), nil), cstatus("b", exited(1), nil)}, false, corev1.PodFailed},
		{"killed for good with a failure is Failed even under Always", twoApps(corev1.RestartPolicyAlways), []corev1.ContainerStatus{cstatus("a", exited(0), nil), cstatus("b", exited(143), nil)}, true, corev1.PodFailed},
		{"killed for good, all 0, is Succeeded", twoApps(corev1.RestartPolicyAlways), []corev1.ContainerStatus{cstatus("a", exited(0), nil), cstatus("b", exited(0), nil)}, true, corev1.PodSucceeded},
		{"init running is Pending", twoApps(corev1.RestartPolicyAlways, "i"), []corev1.ContainerStatus{cstatus("i", running(), nil), cstatus("a", waitingState("PodInitializing"), nil), cstatus("b", waitingState("PodInitializing"), nil)}, false, corev1.PodPending},
		{"init failed under Never is Failed", twoApps(corev1.RestartPolicyNever, "i"), []corev1.ContainerStatus{cstatus("i", exited(1), nil), cstatus("a", waitingState("PodInitializing"), nil), cstatus("b", waitingState("PodInitializing"), nil)}, false, corev1.PodFailed},
		{"init crash looping under Always is Pending", twoApps(corev1.RestartPolicyAlways, "i"), []corev1.ContainerStatus{cstatus("i", waitingState("CrashLoopBackOff"), failed), cstatus("a", waitingState("PodInitializing"), nil), cstatus("b", waitingState("PodInitializing"), nil)}, false, corev1.PodPending},
		{"inits done, apps running", twoApps(corev1.RestartPolicyAlways, "i"), []corev1.ContainerStatus{cstatus("i", exited(0), nil), cstatus("a", running(), nil), cstatus("b", running(), nil)}, false, corev1.PodRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := getPhase(tt.pod, tt.statuses, tt.terminal); got != tt.want {
				t.Errorf("phase = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init"}},
		Containers:     []corev1.Container{{Name: "app"}, {Name: "side"}},
		ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}},
	}}
	ready := func(name string, r bool) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, Ready: r, State: running()}
	}
	tests := []struct {
		name      string
		statuses  []corev1.ContainerStatus
		gate      *corev1.PodCondition
		phase     corev1.PodPhase
		wantInit  string
		wantCR    string
		wantReady string
	}{
		{"init incomplete", []corev1.ContainerStatus{{Name: "init", State: running()}, {Name: "app", State: waitingState("PodInitializing")}, {Name: "side", State: waitingState("PodInitializing")}}, nil, corev1.PodPending,
			"False ContainersNotInitialized containers with incomplete status: [init]",
			"False ContainersNotReady containers with unready status: [app side]",
			"False ContainersNotReady containers with unready status: [app side]"},
		{"unknown and unready", []corev1.ContainerStatus{{Name: "init", Ready: true, State: exited(0)}, ready("app", false)}, nil, corev1.PodRunning,
			"True  ",
			"False ContainersNotReady containers with unknown status: [side], containers with unready status: [app]",
			"False ContainersNotReady containers with unknown status: [side], containers with unready status: [app]"},
		{"ready but gate missing", []corev1.ContainerStatus{{Name: "init", Ready: true, State: exited(0)}, ready("app", true), ready("side", true)}, nil, corev1.PodRunning,
			"True  ", "True  ",
			`False ReadinessGatesNotReady corresponding condition of pod readiness gate "example.com/lb" does not exist.`},
		{"ready and gate true", []corev1.ContainerStatus{{Name: "init", Ready: true, State: exited(0)}, ready("app", true), ready("side", true)},
			&corev1.PodCondition{Type: "example.com/lb", Status: corev1.ConditionTrue}, corev1.PodRunning, "True  ", "True  ", "True  "},
		{"succeeded", []corev1.ContainerStatus{{Name: "init", Ready: true, State: exited(0)}, {Name: "app", State: exited(0)}, {Name: "side", State: exited(0)}}, nil, corev1.PodSucceeded,
			"True PodCompleted ", "False PodCompleted ", "False PodCompleted "},
	}
	str := func(c corev1.PodCondition) string { return fmt.Sprintf("%s %s %s", c.Status, c.Reason, c.Message) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var conds []corev1.PodCondition
			if tt.gate != nil {
				conds = append(conds, *tt.gate)
			}
			if got := str(initializedCondition(pod, tt.statuses, tt.phase)); got != tt.wantInit {
				t.Errorf("Initialized = %q, want %q", got, tt.wantInit)
			}
			if got := str(containersReadyCondition(pod, tt.statuses, tt.phase)); got != tt.wantCR {
				t.Errorf("ContainersReady = %q, want %q", got, tt.wantCR)
			}
			if got := str(podReadyCondition(pod, conds, tt.statuses, tt.phase)); got != tt.wantReady {
				t.Errorf("Ready = %q, want %q", got, tt.wantReady)
			}
		})
	}
}

func TestSortPodIPs(t *testing.T) {
	tests := []struct {
		node string
		ips  []string
		want string
	}{
		{"172.18.0.2", []string{"fd00::5", "10.244.0.5", "10.244.0.6"}, "[10.244.0.5 fd00::5]"},
		{"fd00::1", []string{"10.244.0.5", "fd00::5"}, "[fd00::5 10.244.0.5]"},
		{"", []string{"10.244.0.5"}, "[10.244.0.5]"},
		{"172.18.0.2", []string{"bogus"}, "[]"},
	}
	for _, tt := range tests {
		w := &Workers{nodeIP: tt.node}
		if got := fmt.Sprint(w.sortPodIPs(tt.ips)); got != tt.want {
			t.Errorf("node %s ips %v: got %s, want %s", tt.node, tt.ips, got, tt.want)
		}
	}
}

func TestVanishedRunningContainerIsReportedTerminated(t *testing.T) {
	w := New(Config{NodeIP: nodeIP})
	pod := newPod("lost")
	old := []corev1.ContainerStatus{{Name: "app", State: running(), RestartCount: 2, ContainerID: "containerd://x"}}
	got := w.convertContainerStatuses(pod, &kuberuntime.PodStatus{}, old, pod.Spec.Containers, false, false)
	cs := got[0]
	if cs.State.Waiting == nil || cs.State.Waiting.Reason != "ContainerCreating" || cs.RestartCount != 3 {
		t.Fatalf("status = %+v", cs)
	}
	if last := cs.LastTerminationState.Terminated; last == nil || last.Reason != "ContainerStatusUnknown" || last.ExitCode != 137 {
		t.Errorf("last termination = %+v", cs.LastTerminationState)
	}
}

func TestStatusManagerSetKeepsTransitionAndStartTimes(t *testing.T) {
	clk := clocktesting.NewFakeClock(epoch.Add(500 * time.Millisecond))
	m := newStatusManager(nil, nil, clk)
	pod := newPod("times")
	s1 := corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionFalse},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
		{Type: "example.com/lb", Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(epoch.Add(-time.Hour))},
	}}
	got := m.set(pod, *s1.DeepCopy())
	if !got.StartTime.Time.Equal(epoch) || !got.Conditions[0].LastTransitionTime.Time.Equal(epoch) {
		t.Errorf("first set: start %v ready since %v, want both %v (cut to seconds)", got.StartTime, got.Conditions[0].LastTransitionTime, epoch)
	}
	if !got.Conditions[2].LastTransitionTime.Time.Equal(epoch.Add(-time.Hour)) {
		t.Errorf("a condition the kubelet does not own was changed: %v", got.Conditions[2])
	}
	clk.Step(time.Minute)
	s2 := s1.DeepCopy()
	s2.Conditions[0].Status = corev1.ConditionTrue
	got = m.set(pod, *s2)
	if !got.StartTime.Time.Equal(epoch) {
		t.Errorf("start time moved to %v", got.StartTime)
	}
	if want := epoch.Add(time.Minute); !got.Conditions[0].LastTransitionTime.Time.Equal(want) {
		t.Errorf("Ready transition = %v, want %v", got.Conditions[0].LastTransitionTime, want)
	}
	if !got.Conditions[1].LastTransitionTime.Time.Equal(epoch) {
		t.Errorf("Initialized moved without a transition: %v", got.Conditions[1].LastTransitionTime)
	}
}

func TestStatusManagerWritesPatchesOnlyWhenChanged(t *testing.T) {
	pod := newPod("patch")
	client := fake.NewClientset(pod)
	m := newStatusManager(client, nil, clocktesting.NewFakeClock(epoch))
	ctx := context.Background()
	s := corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.7", Conditions: pod.Status.Conditions}
	m.set(pod, s)
	if err := m.write(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if err := m.write(ctx, pod); err != nil {
		t.Fatal(err)
	}
	var patches []k8stesting.PatchAction
	for _, a := range client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok {
			patches = append(patches, p)
		}
	}
	if len(patches) != 1 {
		t.Fatalf("patches = %d, want 1 (the second write changes nothing)", len(patches))
	}
	p := patches[0]
	if p.GetSubresource() != "status" || string(p.GetPatchType()) != "application/strategic-merge-patch+json" {
		t.Errorf("patch %s of %s", p.GetPatchType(), p.GetSubresource())
	}
	var body map[string]any
	if err := json.Unmarshal(p.GetPatch(), &body); err != nil {
		t.Fatal(err)
	}
	if body["metadata"].(map[string]any)["uid"] != string(pod.UID) {
		t.Errorf("patch carries no UID precondition: %s", p.GetPatch())
	}
	if strings.Contains(string(p.GetPatch()), "PodScheduled") {
		t.Errorf("patch rewrites an unchanged condition: %s", p.GetPatch())
	}
	got, _ := client.CoreV1().Pods("default").Get(ctx, "patch", metav1.GetOptions{})
	if got.Status.Phase != corev1.PodRunning || got.Status.PodIP != "10.244.0.7" {
		t.Errorf("API status = %+v", got.Status)
	}
}

// The node lifecycle controller marks the pods of a node it found not
// Ready as not Ready. Once the kubelet syncs the pod again, its own status
// goes back, and conditions others own stay.
func TestStatusManagerPutsBackWhatOthersChanged(t *testing.T) {
	pod := newPod("reconcile")
	client := fake.NewClientset(pod)
	m := newStatusManager(client, nil, clocktesting.NewFakeClock(epoch))
	ctx := context.Background()
	ready := append(append([]corev1.PodCondition(nil), pod.Status.Conditions...),
		corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue})
	m.set(pod, corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready})
	if err := m.write(ctx, pod); err != nil {
		t.Fatal(err)
	}

	// What the informer delivers after the controller's write: a newer
	// object whose Ready is False, with a condition of the controller's.
	marked, err := client.CoreV1().Pods("default").Get(ctx, "reconcile", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	marked.ResourceVersion = "42"
	for i := range marked.Status.Conditions {
		if marked.Status.Conditions[i].Type == corev1.PodReady {
			marked.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	marked.Status.Conditions = append(marked.Status.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue})
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, marked, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	// The kubelet's view has not changed; its next write puts it back.
	if err := m.write(ctx, marked); err != nil {
		t.Fatal(err)
	}
	got, err := client.CoreV1().Pods("default").Get(ctx, "reconcile", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := findCondition(got.Status.Conditions, corev1.PodReady); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("Ready = %+v, want True again", c)
	}
	if c := findCondition(got.Status.Conditions, corev1.DisruptionTarget); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("DisruptionTarget = %+v, want the controller's condition kept", c)
	}
}

// An informer copy older than the kubelet's last write is no base for a
// patch: the kubelet wrote not Ready while the copy still says Ready, and
// a patch from that copy to Ready again would carry no Ready at all.
func TestStatusManagerPatchesAgainstTheAPIWhenItsCopyLags(t *testing.T) {
	pod := newPod("lag")
	client := fake.NewClientset(pod)
	m := newStatusManager(client, nil, clocktesting.NewFakeClock(epoch))
	ctx := context.Background()
	withReady := func(s corev1.ConditionStatus) []corev1.PodCondition {
		return append(append([]corev1.PodCondition(nil), pod.Status.Conditions...), corev1.PodCondition{Type: corev1.PodReady, Status: s})
	}
	stale := pod.DeepCopy()
	stale.ResourceVersion = "7"
	stale.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: withReady(corev1.ConditionTrue)}

	m.set(pod, corev1.PodStatus{Phase: corev1.PodRunning, Conditions: withReady(corev1.ConditionFalse)})
	if err := m.write(ctx, pod); err != nil {
		t.Fatal(err)
	}
	m.set(pod, corev1.PodStatus{Phase: corev1.PodRunning, Conditions: withReady(corev1.ConditionTrue)})
	if err := m.write(ctx, stale); err != nil {
		t.Fatal(err)
	}
	got, err := client.CoreV1().Pods("default").Get(ctx, "lag", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := findCondition(got.Status.Conditions, corev1.PodReady); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("Ready = %+v, want True", c)
	}
}

func TestStatusManagerReportsAGonePod(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("patch", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "gone")
	})
	m := newStatusManager(client, nil, clocktesting.NewFakeClock(epoch))
	pod := newPod("gone")
	m.set(pod, corev1.PodStatus{Phase: corev1.PodRunning})
	if err := m.write(context.Background(), pod); err == nil || !strings.Contains(err.Error(), errPodGone.Error()) {
		t.Errorf("err = %v, want errPodGone", err)
	}
}
