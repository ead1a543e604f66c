package plugins

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
)

func score(plugin framework.ScorePlugin, p *corev1.Pod, nodes ...*framework.NodeInfo) []int64 {
	return plugin.Score(framework.NewPodInfo(p), nodes, snapshot(nodes...))
}

func TestTaintTolerationScorePrefersFewerIntolerablePreferNoScheduleTaints(t *testing.T) {
	prefer := func(key string) corev1.Taint {
		return corev1.Taint{Key: key, Effect: corev1.TaintEffectPreferNoSchedule}
	}
	nodes := []*framework.NodeInfo{
		nodeInfo(node("clean")),
		nodeInfo(node("one", withTaints(prefer("a")))),
		nodeInfo(node("two", withTaints(prefer("a"), prefer("b")))),
		nodeInfo(node("hard", withTaints(controlPlaneTaint(), prefer("a")))),
	}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want []int64
	}{
		{"no tolerations", pod("p"), []int64{100, 50, 0, 50}},
		{"a tolerated taint does not count", pod("p", tolerations(corev1.Toleration{Key: "a", Operator: corev1.TolerationOpExists})), []int64{100, 100, 0, 100}},
		{"a NoSchedule toleration does not help", pod("p", tolerations(corev1.Toleration{Key: "a", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})), []int64{100, 50, 0, 50}},
		{"nothing intolerable anywhere", pod("p", tolerations(corev1.Toleration{Operator: corev1.TolerationOpExists})), []int64{100, 100, 100, 100}},
	}
	for _, tt := range tests {
		if got := score(TaintTolerationScore(3), tt.pod, nodes...); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: scores %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestNodeAffinityScoreSumsTheWeightsOfMatchingPreferredTerms(t *testing.T) {
	preferred := func(weight int32, key, value string) corev1.PreferredSchedulingTerm {
		return corev1.PreferredSchedulingTerm{Weight: weight, Preference: corev1.NodeSelectorTerm{
			MatchExpressions: []corev1.NodeSelectorRequirement{expr(key, corev1.NodeSelectorOpIn, value)}}}
	}
	nodes := []*framework.NodeInfo{
		nodeInfo(node("both", withLabels("disk", "ssd", "zone", "a"))),
		nodeInfo(node("ssd", withLabels("disk", "ssd"))),
		nodeInfo(node("zone", withLabels("zone", "a"))),
		nodeInfo(node("none")),
	}
	p := pod("p", affinity(&corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{preferred(8, "disk", "ssd"), preferred(2, "zone", "a")},
	}}))
	if got, want := score(NodeAffinityScore(2), p, nodes...), []int64{100, 80, 20, 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("scores %v, want %v", got, want)
	}
	if got := score(NodeAffinityScore(2), pod("plain"), nodes...); got != nil {
		t.Errorf("a pod without preferences got scores %v, want no opinion", got)
	}
}

func TestLeastAllocatedScorePrefersTheEmptiestNode(t *testing.T) {
	alloc := withAllocatable(corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("110"),
	})
	half := pod("half", requests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("2Gi")}))
	nodes := []*framework.NodeInfo{nodeInfo(node("empty", alloc)), nodeInfo(node("half", alloc), half)}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want []int64
	}{
		// (2-1)/2 of the cpu and (4-2)/4 of the memory stay free on "half".
		{"a pod requesting nothing is counted at the defaults", pod("p"), []int64{(95 + 95) / 2, (45 + 45) / 2}},
		{"requests count", pod("p", requests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")})), []int64{75, 25}},
		{"a node it would overfill scores 0 for that resource", pod("p", requests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("1Gi")})), []int64{(25 + 75) / 2, (0 + 25) / 2}},
	}
	for _, tt := range tests {
		if got := score(LeastAllocatedScore(1), tt.pod, nodes...); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: scores %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBalancedAllocationScorePrefersEvenCPUAndMemoryUse(t *testing.T) {
	alloc := withAllocatable(corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("110"),
	})
	cpuHeavy := pod("cpu-heavy", requests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}))
	memHeavy := pod("mem-heavy", requests(corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}))
	nodes := []*framework.NodeInfo{nodeInfo(node("cpu-used", alloc), cpuHeavy), nodeInfo(node("mem-used", alloc), memHeavy)}
	// The pod asks for memory: on "cpu-used" it brings the use closer
	// (1/2 cpu, 1/4 memory: 87), on "mem-used" it skews it (0 and 3/4: 62).
	p := pod("p", requests(corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}))
	if got, want := score(BalancedAllocationScore(1), p, nodes...), []int64{87, 62}; !reflect.DeepEqual(got, want) {
		t.Errorf("scores %v, want %v", got, want)
	}
	if got := score(BalancedAllocationScore(1), pod("best-effort"), nodes...); got != nil {
		t.Errorf("a pod requesting nothing got scores %v, want none, as upstream", got)
	}
}

// services is Objects with one service selector for every pod.
type services struct{ selector labels.Selector }

func (s services) NamespaceLabels(string) labels.Set               { return nil }
func (s services) ServiceSelector(pod *corev1.Pod) labels.Selector { return s.selector }

func TestPodTopologySpreadScorePrefersNodesWithFewerPeers(t *testing.T) {
	peer := func(name string) *corev1.Pod {
		return pod(name, podLabels("app", "web"), ownedBy("ReplicaSet", "rs-1"))
	}
	stranger := pod("stranger", podLabels("app", "web"), ownedBy("ReplicaSet", "rs-2"))
	nodes := []*framework.NodeInfo{
		nodeInfo(node("none")),
		nodeInfo(node("one"), peer("a"), stranger),
		nodeInfo(node("two"), peer("b"), peer("c")),
	}
	incoming := peer("new")
	got := PodTopologySpreadScore(2).Score(framework.NewPodInfo(incoming), nodes, snapshot(nodes...))
	if len(got) != 3 || !(got[0] > got[1] && got[1] > got[2]) || got[0] != framework.MaxNodeScore {
		t.Fatalf("scores %v: want the node without peers best (100), then one, then two (pods of another owner do not count)", got)
	}

	// Without an owner, the services that select the pod name its peers.
	served := pod("served", podLabels("app", "web"))
	nodes = []*framework.NodeInfo{nodeInfo(node("busy"), pod("s1", podLabels("app", "web")), pod("s2", podLabels("app", "web"))), nodeInfo(node("quiet"), pod("x", podLabels("app", "db")))}
	cluster := framework.NewSnapshot(nodes, services{labels.SelectorFromSet(labels.Set{"app": "web"})})
	if got := PodTopologySpreadScore(2).Score(framework.NewPodInfo(served), nodes, cluster); len(got) != 2 || got[1] <= got[0] {
		t.Fatalf("scores %v: want the node without pods of the service better", got)
	}
	if got := PodTopologySpreadScore(2).Score(framework.NewPodInfo(served), nodes, snapshot(nodes...)); got != nil {
		t.Fatalf("a pod with no owner and no service got scores %v, want no opinion", got)
	}
}
