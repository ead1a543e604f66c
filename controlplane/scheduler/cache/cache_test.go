package cache

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func testNode(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("10"),
	}}}
}

func boundPod(name, node, cpu string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)},
		}}}},
	}
}

// requested is the cpu requested on the named node in a fresh snapshot,
// and the number of pods there.
func requested(t *testing.T, c *Cache, node string) (int64, int) {
	t.Helper()
	n := c.Snapshot(nil).Get(node)
	if n == nil {
		t.Fatalf("node %s not in the snapshot", node)
	}
	return n.Requested.MilliCPU, len(n.Pods)
}

func TestAnAssumedPodCountsAtOnceAndIsConfirmedByTheInformer(t *testing.T) {
	c := New()
	c.AddNode(testNode("a"))
	p := boundPod("p", "a", "500m")
	if err := c.AssumePod(p); err != nil {
		t.Fatal(err)
	}
	if cpu, pods := requested(t, c, "a"); cpu != 500 || pods != 1 || !c.IsAssumed(p) {
		t.Fatalf("assumed pod: %dm on %d pods, assumed %v", cpu, pods, c.IsAssumed(p))
	}
	if err := c.AssumePod(p); err == nil {
		t.Fatal("assuming a pod twice succeeded")
	}
	// The informer sees the binding: the pod counts once, no longer assumed.
	c.AddPod(p)
	if cpu, pods := requested(t, c, "a"); cpu != 500 || pods != 1 || c.IsAssumed(p) {
		t.Fatalf("confirmed pod: %dm on %d pods, assumed %v", cpu, pods, c.IsAssumed(p))
	}
	// Forgetting only applies to assumed pods.
	c.ForgetPod(p)
	if cpu, _ := requested(t, c, "a"); cpu != 500 {
		t.Fatalf("a bound pod was forgotten")
	}
}

func TestAFailedBindingFreesTheAssumedRoom(t *testing.T) {
	c := New()
	c.AddNode(testNode("a"))
	p := boundPod("p", "a", "500m")
	if err := c.AssumePod(p); err != nil {
		t.Fatal(err)
	}
	c.ForgetPod(p)
	if cpu, pods := requested(t, c, "a"); cpu != 0 || pods != 0 || c.IsAssumed(p) {
		t.Fatalf("after ForgetPod: %dm on %d pods", cpu, pods)
	}
}

func TestSnapshotsAreCopiesThatDoNotChange(t *testing.T) {
	c := New()
	c.AddNode(testNode("a"))
	c.AddNode(testNode("b"))
	before := c.Snapshot(nil)
	c.AddPod(boundPod("p", "a", "1"))
	after := c.Snapshot(nil)
	if got := before.Get("a").Requested.MilliCPU; got != 0 {
		t.Fatalf("an earlier snapshot saw a later pod: %dm", got)
	}
	if got := after.Get("a").Requested.MilliCPU; got != 1000 {
		t.Fatalf("the later snapshot misses the pod: %dm", got)
	}
	if before.Get("b") != after.Get("b") {
		t.Fatal("an unchanged node was copied again")
	}
	if names := []string{after.Nodes()[0].Node.Name, after.Nodes()[1].Node.Name}; names[0] != "a" || names[1] != "b" {
		t.Fatalf("snapshot order %v, want sorted by name", names)
	}
}

func TestPodsOfADeletedNodeStayCounted(t *testing.T) {
	c := New()
	n := testNode("a")
	c.AddNode(n)
	p := boundPod("p", "a", "1")
	c.AddPod(p)
	c.RemoveNode(n)
	if got := len(c.Snapshot(nil).Nodes()); got != 0 {
		t.Fatalf("a deleted node is still schedulable: %d nodes", got)
	}
	c.AddNode(n)
	if cpu, pods := requested(t, c, "a"); cpu != 1000 || pods != 1 {
		t.Fatalf("re-created node lost its pod: %dm on %d pods", cpu, pods)
	}
	c.RemovePod(p)
	if nodes, pods, _ := c.Counts(); nodes != 1 || pods != 0 {
		t.Fatalf("counts %d nodes, %d pods", nodes, pods)
	}
}

func TestAPodMovedByAnUpdateLeavesItsOldNode(t *testing.T) {
	c := New()
	c.AddNode(testNode("a"))
	c.AddNode(testNode("b"))
	p := boundPod("p", "a", "1")
	if err := c.AssumePod(p); err != nil {
		t.Fatal(err)
	}
	// Bound elsewhere than assumed (another scheduler won the race).
	c.AddPod(boundPod("p", "b", "1"))
	if cpu, _ := requested(t, c, "a"); cpu != 0 {
		t.Fatalf("the assumed node still counts the pod: %dm", cpu)
	}
	if cpu, _ := requested(t, c, "b"); cpu != 1000 {
		t.Fatalf("the node it was bound to does not count it: %dm", cpu)
	}
}

func TestSnapshotsListTheNodesByNameAsTheyComeAndGo(t *testing.T) {
	c := New()
	names := func() []string {
		var out []string
		for _, n := range c.Snapshot(nil).Nodes() {
			out = append(out, n.Node.Name)
		}
		return out
	}
	check := func(step string, want ...string) {
		t.Helper()
		if got := names(); !slices.Equal(got, want) {
			t.Errorf("%s: nodes %v, want %v", step, got, want)
		}
	}
	c.AddNode(testNode("b"))
	c.AddNode(testNode("a"))
	check("added b, a", "a", "b")
	c.AddNode(testNode("a")) // an update
	check("updated a", "a", "b")
	c.AddPod(boundPod("p", "a", "1"))
	c.RemoveNode(testNode("a")) // its pod keeps an entry without a Node
	check("removed a", "b")
	c.AddNode(testNode("c"))
	check("added c", "b", "c")
	c.AddNode(testNode("a"))
	check("re-added a", "a", "b", "c")
	if _, pods := requested(t, c, "a"); pods != 1 {
		t.Errorf("re-added a holds %d pods, want its 1", pods)
	}
}
