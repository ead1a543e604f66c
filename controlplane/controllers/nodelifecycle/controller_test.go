package nodelifecycle

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

const unreachableNoExecuteKey = "node.kubernetes.io/unreachable:NoExecute"

func TestHeartbeatsWithinGracePeriodKeepNodeReady(t *testing.T) {
	tests := []struct {
		name string
		// beat is what the kubelet does every 5 s.
		beat        func(h *harness)
		seconds     int
		wantUnknown bool
	}{
		{name: "renewed lease", beat: func(h *harness) { h.renew("n1") }, seconds: 120},
		{name: "posted status", beat: func(h *harness) { h.postReady("n1", corev1.ConditionTrue) }, seconds: 120},
		{name: "silence up to the grace period", beat: func(*harness) {}, seconds: 40},
		{name: "silence past the grace period", beat: func(*harness) {}, seconds: 45, wantUnknown: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node, lease := newNode("n1", corev1.ConditionTrue)
			h := newHarness(t, node, lease)
			h.pass()
			for s := 5; s <= tt.seconds; s += 5 {
				h.clock.Step(5 * time.Second)
				tt.beat(h)
				h.pass()
			}
			ready := nodeCondition(&h.node("n1").Status, corev1.NodeReady)
			if got := ready.Status == corev1.ConditionUnknown; got != tt.wantUnknown {
				t.Fatalf("Ready is %s after %d s, want Unknown: %v", ready.Status, tt.seconds, tt.wantUnknown)
			}
		})
	}
}

func TestSilentNodeGoesUnknownWithUpstreamReasons(t *testing.T) {
	node, lease := newNode("n1", corev1.ConditionTrue)
	node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse})
	h := newHarness(t, node, lease)
	h.pass()
	h.clock.Step(41 * time.Second)
	h.pass()
	for _, cond := range h.node("n1").Status.Conditions {
		if cond.Type == corev1.NodeNetworkUnavailable {
			if cond.Status != corev1.ConditionFalse {
				t.Errorf("NetworkUnavailable became %s; the controller must leave it alone", cond.Status)
			}
			continue
		}
		if cond.Status != corev1.ConditionUnknown || cond.Reason != "NodeStatusUnknown" || cond.Message != "Kubelet stopped posting node status." {
			t.Errorf("%s = %s (%s: %q), want Unknown (NodeStatusUnknown: \"Kubelet stopped posting node status.\")", cond.Type, cond.Status, cond.Reason, cond.Message)
		}
		if !cond.LastTransitionTime.Time.Equal(h.clock.Now()) {
			t.Errorf("%s lastTransitionTime %v, want now %v", cond.Type, cond.LastTransitionTime, h.clock.Now())
		}
	}
}

func TestNodeThatNeverPostedStatusGetsStartupGrace(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "fresh", CreationTimestamp: metav1.NewTime(t0)}}
	h := newHarness(t, node)
	h.pass()
	h.clock.Step(59 * time.Second)
	h.pass()
	if conds := h.node("fresh").Status.Conditions; len(conds) != 0 {
		t.Fatalf("conditions set within the startup grace period: %v", conds)
	}
	h.clock.Step(2 * time.Second)
	h.pass()
	conds := h.node("fresh").Status.Conditions
	var got []corev1.NodeConditionType
	for _, c := range conds {
		got = append(got, c.Type)
		if c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusNeverUpdated" || c.Message != "Kubelet never posted node status." {
			t.Errorf("%s = %s (%s: %q), want Unknown (NodeStatusNeverUpdated)", c.Type, c.Status, c.Reason, c.Message)
		}
	}
	want := []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure}
	if !slices.Equal(got, want) {
		t.Fatalf("conditions %v, want %v", got, want)
	}
}

func TestUnreachableNodeIsTaintedAndItsPodsMarkedNotReady(t *testing.T) {
	healthy, healthyLease := newNode("n1", corev1.ConditionTrue)
	silent, silentLease := newNode("n2", corev1.ConditionTrue)
	h := newHarness(t, healthy, healthyLease, silent, silentLease, readyPod("web", "n2"), readyPod("db", "n1"))
	h.pass()
	if got := h.events(); !slices.Contains(got, "Normal RegisteredNode Node n2 event: Registered Node n2 in Controller") {
		t.Fatalf("events %q, want RegisteredNode for n2", got)
	}

	for range 9 {
		h.clock.Step(5 * time.Second)
		h.renew("n1")
		h.pass()
	}
	if s := nodeCondition(&h.node("n2").Status, corev1.NodeReady).Status; s != corev1.ConditionUnknown {
		t.Fatalf("n2 Ready is %s after 45 s of silence", s)
	}
	if s := podReady(h.pod("default", "web")); s != corev1.ConditionFalse {
		t.Fatalf("pod on the unreachable node is Ready=%s, want False", s)
	}
	if s := podReady(h.pod("default", "db")); s != corev1.ConditionTrue {
		t.Fatalf("pod on the healthy node is Ready=%s, want True", s)
	}
	events := h.events()
	for _, want := range []string{"Normal NodeNotReady Node n2 status is now: NodeNotReady", "Warning NodeNotReady Node is not ready"} {
		if !slices.Contains(events, want) {
			t.Errorf("events %q, want %q", events, want)
		}
	}

	// The taint follows the status the node last posted, so it comes
	// one pass after the status turned Unknown.
	h.clock.Step(5 * time.Second)
	h.renew("n1")
	h.pass()
	n2 := h.node("n2")
	if got := taintsOf(n2); !slices.Equal(got, []string{unreachableNoExecuteKey}) {
		t.Fatalf("n2 taints %v, want the unreachable NoExecute taint", got)
	}
	if added := n2.Spec.Taints[0].TimeAdded; added == nil || !added.Time.Equal(h.clock.Now().Truncate(time.Second)) {
		t.Errorf("taint timeAdded %v, want now", added)
	}
	h.syncNode("n2")
	if got := taintsOf(h.node("n2")); !slices.Equal(got, []string{"node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"}) {
		t.Fatalf("n2 taints %v, want unreachable NoExecute and NoSchedule", got)
	}
	if got := taintsOf(h.node("n1")); len(got) != 0 {
		t.Fatalf("healthy n1 tainted %v", got)
	}

	// The kubelet comes back.
	h.clock.Step(5 * time.Second)
	h.renew("n1")
	h.renew("n2")
	h.postReady("n2", corev1.ConditionTrue)
	h.pass()
	h.syncNode("n2")
	if got := taintsOf(h.node("n2")); len(got) != 0 {
		t.Fatalf("n2 is Ready again but keeps taints %v", got)
	}
}

func TestNotReadyNodeIsTaintedNotReadyAndSwappedWhenUnreachable(t *testing.T) {
	healthy, healthyLease := newNode("n1", corev1.ConditionTrue)
	sick, sickLease := newNode("n2", corev1.ConditionFalse)
	h := newHarness(t, healthy, healthyLease, sick, sickLease)
	h.pass()
	if got := taintsOf(h.node("n2")); !slices.Equal(got, []string{"node.kubernetes.io/not-ready:NoExecute"}) {
		t.Fatalf("n2 taints %v, want not-ready NoExecute", got)
	}
	h.syncNode("n2")
	if got := taintsOf(h.node("n2")); !slices.Equal(got, []string{"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/not-ready:NoSchedule"}) {
		t.Fatalf("n2 taints %v, want not-ready NoExecute and NoSchedule", got)
	}

	// It then falls silent: the swap to unreachable is immediate.
	for range 10 {
		h.clock.Step(5 * time.Second)
		h.renew("n1")
		h.pass()
	}
	h.syncNode("n2")
	if got := taintsOf(h.node("n2")); !slices.Equal(got, []string{"node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"}) {
		t.Fatalf("n2 taints %v, want unreachable NoExecute and NoSchedule", got)
	}
}

func TestEvictionTaintingByZoneState(t *testing.T) {
	tests := []struct {
		name      string
		ready     int
		notReady  int
		passes    int // 5 s apart
		wantTaint int
	}{
		{name: "one node per pass at most, one per 10 s", ready: 2, notReady: 2, passes: 1, wantTaint: 1},
		{name: "the next after 10 s", ready: 2, notReady: 2, passes: 3, wantTaint: 2},
		{name: "no node ready anywhere stops tainting", ready: 0, notReady: 1, passes: 3, wantTaint: 0},
		{name: "small zone mostly not ready stops tainting", ready: 1, notReady: 3, passes: 3, wantTaint: 0},
		{name: "small zone with two of three not ready keeps tainting", ready: 1, notReady: 2, passes: 3, wantTaint: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []runtime.Object
			var names []string
			for i := range tt.ready + tt.notReady {
				status := corev1.ConditionTrue
				if i >= tt.ready {
					status = corev1.ConditionFalse
				}
				name := string(rune('a' + i))
				node, lease := newNode(name, status)
				objs = append(objs, node, lease)
				names = append(names, name)
			}
			h := newHarness(t, objs...)
			for i := range tt.passes {
				if i > 0 {
					h.clock.Step(5 * time.Second)
				}
				for _, n := range names {
					h.renew(n)
				}
				h.pass()
			}
			tainted := 0
			for _, n := range names {
				if hasTaint(h.node(n).Spec.Taints, notReadyNoExecute) {
					tainted++
				}
			}
			if tainted != tt.wantTaint {
				t.Fatalf("%d nodes tainted not-ready NoExecute, want %d", tainted, tt.wantTaint)
			}
		})
	}
}

func TestAllNodesNotReadyLosesEvictionTaints(t *testing.T) {
	node, lease := newNode("solo", corev1.ConditionFalse)
	node.Spec.Taints = []corev1.Taint{notReadyNoExecute, {Key: "team", Value: "a", Effect: corev1.TaintEffectNoSchedule}}
	h := newHarness(t, node, lease)
	for range 3 {
		h.renew("solo")
		h.pass()
		h.clock.Step(5 * time.Second)
	}
	h.syncNode("solo")
	if got := taintsOf(h.node("solo")); !slices.Equal(got, []string{"node.kubernetes.io/not-ready:NoSchedule", "team:NoSchedule"}) {
		t.Fatalf("taints %v, want not-ready NoSchedule and the foreign taint only", got)
	}
}

func TestNoScheduleTaintsFollowConditionsAndUnschedulable(t *testing.T) {
	cond := func(t corev1.NodeConditionType, s corev1.ConditionStatus) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s}
	}
	tests := []struct {
		name          string
		conditions    []corev1.NodeCondition
		unschedulable bool
		taints        []corev1.Taint
		want          []string
	}{
		{name: "ready node has none", conditions: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)}},
		{
			name:       "pressure and network conditions",
			conditions: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue), cond(corev1.NodeMemoryPressure, corev1.ConditionTrue), cond(corev1.NodeDiskPressure, corev1.ConditionTrue), cond(corev1.NodePIDPressure, corev1.ConditionTrue), cond(corev1.NodeNetworkUnavailable, corev1.ConditionTrue)},
			want:       []string{"node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule", "node.kubernetes.io/network-unavailable:NoSchedule", "node.kubernetes.io/pid-pressure:NoSchedule"},
		},
		{name: "cordoned node", conditions: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)}, unschedulable: true, want: []string{"node.kubernetes.io/unschedulable:NoSchedule"}},
		{
			name:       "uncordoned node loses the taint, keeps foreign ones",
			conditions: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)},
			taints:     []corev1.Taint{{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}, {Key: "gpu", Effect: corev1.TaintEffectNoSchedule}},
			want:       []string{"gpu:NoSchedule"},
		},
		{
			name:       "NoExecute taints are not this pass's business",
			conditions: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionTrue)},
			taints:     []corev1.Taint{unreachableNoExecute},
			want:       []string{unreachableNoExecuteKey},
		},
		{name: "not ready", conditions: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionFalse)}, want: []string{"node.kubernetes.io/not-ready:NoSchedule"}},
		{name: "unknown", conditions: []corev1.NodeCondition{cond(corev1.NodeReady, corev1.ConditionUnknown)}, want: []string{"node.kubernetes.io/unreachable:NoSchedule"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &corev1.Node{
				ObjectMeta: metav1.ObjectMeta{Name: "n1"},
				Spec:       corev1.NodeSpec{Unschedulable: tt.unschedulable, Taints: tt.taints},
				Status:     corev1.NodeStatus{Conditions: tt.conditions},
			}
			h := newHarness(t, node)
			h.syncNode("n1")
			if got := taintsOf(h.node("n1")); !slices.Equal(got, tt.want) {
				t.Fatalf("taints %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBetaLabelsFollowStableOnes(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{
		corev1.LabelOSStable: "linux", corev1.LabelArchStable: "arm64", "beta.kubernetes.io/arch": "amd64",
	}}}
	h := newHarness(t, node)
	h.syncNode("n1")
	labels := h.node("n1").Labels
	if labels["beta.kubernetes.io/os"] != "linux" || labels["beta.kubernetes.io/arch"] != "arm64" {
		t.Fatalf("labels %v, want beta os=linux and arch=arm64", labels)
	}
}

func TestPodBoundToNotReadyNodeIsMarkedNotReady(t *testing.T) {
	healthy, healthyLease := newNode("n1", corev1.ConditionTrue)
	sick, sickLease := newNode("n2", corev1.ConditionFalse)
	h := newHarness(t, healthy, healthyLease, sick, sickLease)
	h.pass()
	for _, p := range []*corev1.Pod{readyPod("late", "n2"), readyPod("fine", "n1")} {
		if _, err := h.client.CoreV1().Pods("default").Create(h.ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h.refresh()
	for _, name := range []string{"late", "fine"} {
		if err := h.c.syncPod(h.ctx, types.NamespacedName{Namespace: "default", Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if s := podReady(h.pod("default", "late")); s != corev1.ConditionFalse {
		t.Errorf("pod bound to the not ready node is Ready=%s", s)
	}
	if s := podReady(h.pod("default", "fine")); s != corev1.ConditionTrue {
		t.Errorf("pod bound to the ready node is Ready=%s", s)
	}
}

func TestDeletedNodeIsForgotten(t *testing.T) {
	node, lease := newNode("n1", corev1.ConditionTrue)
	h := newHarness(t, node, lease)
	h.pass()
	if err := h.client.CoreV1().Nodes().Delete(h.ctx, "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.events()
	h.pass()
	if got := h.events(); !slices.Equal(got, []string{"Normal RemovingNode Node n1 event: Removing Node n1 from Controller"}) {
		t.Fatalf("events %q, want RemovingNode", got)
	}
	if h.c.health.get("n1") != nil {
		t.Fatal("health of the deleted node is still kept")
	}
}

func TestComputeZoneState(t *testing.T) {
	c := &Controller{cfg: Config{}.withDefaults()}
	ready := &corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	notReady := &corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse}
	tests := []struct {
		name       string
		conditions []*corev1.NodeCondition
		want       zoneState
	}{
		{name: "all ready", conditions: []*corev1.NodeCondition{ready, ready}, want: stateNormal},
		{name: "none ready", conditions: []*corev1.NodeCondition{notReady, nil}, want: stateFullDisruption},
		{name: "two not ready is never partial", conditions: []*corev1.NodeCondition{ready, notReady, notReady}, want: stateNormal},
		{name: "three of five not ready", conditions: []*corev1.NodeCondition{ready, ready, notReady, notReady, notReady}, want: statePartialDisruption},
		{name: "three of six not ready is under the threshold", conditions: []*corev1.NodeCondition{ready, ready, ready, notReady, notReady, notReady}, want: stateNormal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := c.computeZoneState(tt.conditions); got != tt.want {
				t.Fatalf("state %s, want %s", got, tt.want)
			}
		})
	}
}
