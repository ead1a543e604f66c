package plugins

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
)

func TestNodeUnschedulableKeepsPodsOffCordonedNodes(t *testing.T) {
	tolerateCordon := corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	tests := []struct {
		name string
		node *corev1.Node
		pod  *corev1.Pod
		want *framework.Status
	}{
		{"schedulable node", node("n"), pod("p"), nil},
		{"cordoned node", node("n", cordoned), pod("p"), unresolvable("node(s) were unschedulable")},
		{"cordoned node, cordon tolerated", node("n", cordoned), pod("p", tolerations(tolerateCordon)), nil},
		{"cordoned node, everything tolerated", node("n", cordoned), pod("p", tolerations(corev1.Toleration{Operator: corev1.TolerationOpExists})), nil},
		{"cordoned node, only NoExecute tolerated", node("n", cordoned), pod("p", tolerations(corev1.Toleration{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute})), unresolvable("node(s) were unschedulable")},
	}
	for _, tt := range tests {
		wantStatus(t, tt.name, checkFilter(NodeUnschedulable(), tt.pod, snapshot(nodeInfo(tt.node)), "n"), tt.want)
	}
}

func TestNodeNameKeepsAPodToTheNodeItNames(t *testing.T) {
	tests := []struct {
		name     string
		nodeName string
		want     *framework.Status
	}{
		{"no node named", "", nil},
		{"this node named", "n", nil},
		{"another node named", "other", unresolvable("node(s) didn't match the requested node name")},
	}
	for _, tt := range tests {
		p := pod("p")
		p.Spec.NodeName = tt.nodeName
		wantStatus(t, tt.name, checkFilter(NodeName(), p, snapshot(nodeInfo(node("n"))), "n"), tt.want)
	}
}

func TestTaintTolerationRequiresNoScheduleAndNoExecuteTaintsTolerated(t *testing.T) {
	taint := func(effect corev1.TaintEffect) corev1.Taint {
		return corev1.Taint{Key: "dedicated", Value: "gpu", Effect: effect}
	}
	untolerated := unresolvable("node(s) had untolerated taint(s)")
	tests := []struct {
		name        string
		taints      []corev1.Taint
		tolerations []corev1.Toleration
		want        *framework.Status
	}{
		{"no taints", nil, nil, nil},
		{"NoSchedule not tolerated", []corev1.Taint{taint(corev1.TaintEffectNoSchedule)}, nil, untolerated},
		{"NoExecute not tolerated", []corev1.Taint{taint(corev1.TaintEffectNoExecute)}, nil, untolerated},
		{"PreferNoSchedule only scores", []corev1.Taint{taint(corev1.TaintEffectPreferNoSchedule)}, nil, nil},
		{"tolerated by key, value and effect", []corev1.Taint{taint(corev1.TaintEffectNoSchedule)},
			[]corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}, nil},
		{"Equal is the default operator", []corev1.Taint{taint(corev1.TaintEffectNoSchedule)},
			[]corev1.Toleration{{Key: "dedicated", Value: "gpu"}}, nil},
		{"tolerated by Exists on the key", []corev1.Taint{taint(corev1.TaintEffectNoExecute)},
			[]corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}, nil},
		{"other value not tolerated", []corev1.Taint{taint(corev1.TaintEffectNoSchedule)},
			[]corev1.Toleration{{Key: "dedicated", Value: "cpu"}}, untolerated},
		{"other effect not tolerated", []corev1.Taint{taint(corev1.TaintEffectNoSchedule)},
			[]corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}, untolerated},
		{"one of two taints not tolerated", []corev1.Taint{taint(corev1.TaintEffectNoSchedule), controlPlaneTaint()},
			[]corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}, untolerated},
		{"empty key with Exists tolerates everything", []corev1.Taint{taint(corev1.TaintEffectNoSchedule), controlPlaneTaint()},
			[]corev1.Toleration{{Operator: corev1.TolerationOpExists}}, nil},
	}
	for _, tt := range tests {
		n := node("n", withTaints(tt.taints...))
		wantStatus(t, tt.name, checkFilter(TaintToleration(), pod("p", tolerations(tt.tolerations...)), snapshot(nodeInfo(n)), "n"), tt.want)
	}
}

func required(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
	}}
}

func expr(key string, op corev1.NodeSelectorOperator, values ...string) corev1.NodeSelectorRequirement {
	return corev1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func TestNodeAffinityFollowsNodeSelectorAndRequiredTerms(t *testing.T) {
	mismatch := unresolvable("node(s) didn't match Pod's node affinity/selector")
	ssd := node("n", withLabels("disk", "ssd", "cores", "16"))
	tests := []struct {
		name string
		pod  *corev1.Pod
		want *framework.Status
	}{
		{"no selector, no affinity", pod("p"), nil},
		{"nodeSelector matches", pod("p", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }), nil},
		{"nodeSelector does not match", pod("p", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "hdd"} }), mismatch},
		{"In matches", pod("p", affinity(required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("disk", corev1.NodeSelectorOpIn, "ssd", "nvme")}}))), nil},
		{"NotIn excludes", pod("p", affinity(required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("disk", corev1.NodeSelectorOpNotIn, "ssd")}}))), mismatch},
		{"DoesNotExist excludes", pod("p", affinity(required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("disk", corev1.NodeSelectorOpDoesNotExist)}}))), mismatch},
		{"Gt compares numbers", pod("p", affinity(required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("cores", corev1.NodeSelectorOpGt, "8")}}))), nil},
		{"expressions of a term are ANDed", pod("p", affinity(required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			expr("disk", corev1.NodeSelectorOpExists), expr("zone", corev1.NodeSelectorOpExists)}}))), mismatch},
		{"terms are ORed", pod("p", affinity(required(
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("zone", corev1.NodeSelectorOpExists)}},
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("disk", corev1.NodeSelectorOpIn, "ssd")}}))), nil},
		{"an empty term matches nothing", pod("p", affinity(required(corev1.NodeSelectorTerm{}))), mismatch},
		{"an invalid requirement matches nothing", pod("p", affinity(required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("cores", corev1.NodeSelectorOpGt, "many")}}))), mismatch},
		{"matchFields on metadata.name", pod("p", affinity(required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{expr(metav1.ObjectNameField, corev1.NodeSelectorOpNotIn, "other")}}))), nil},
		{"nodeSelector and affinity must both match", pod("p", func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"disk": "hdd"}
			p.Spec.Affinity = required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{expr("disk", corev1.NodeSelectorOpExists)}})
		}), mismatch},
	}
	for _, tt := range tests {
		wantStatus(t, tt.name, checkFilter(NodeAffinity(), tt.pod, snapshot(nodeInfo(ssd)), "n"), tt.want)
	}
}

func TestNodeAffinityNarrowsToNodesPinnedByName(t *testing.T) {
	byName := func(names ...string) corev1.NodeSelectorTerm {
		return corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{expr(metav1.ObjectNameField, corev1.NodeSelectorOpIn, names...)}}
	}
	tests := []struct {
		name       string
		terms      []corev1.NodeSelectorTerm
		wantOnly   sets.Set[string]
		wantReject *framework.Status
	}{
		{"one node, as DaemonSet pods pin", []corev1.NodeSelectorTerm{byName("a")}, sets.New("a"), nil},
		{"ORed terms add up", []corev1.NodeSelectorTerm{byName("a"), byName("b")}, sets.New("a", "b"), nil},
		{"a term without a name lets every node in", []corev1.NodeSelectorTerm{byName("a"), {MatchExpressions: []corev1.NodeSelectorRequirement{expr("disk", corev1.NodeSelectorOpExists)}}}, nil, nil},
		{"ANDed names that exclude each other", []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
			expr(metav1.ObjectNameField, corev1.NodeSelectorOpIn, "a"), expr(metav1.ObjectNameField, corev1.NodeSelectorOpIn, "b")}}},
			nil, unresolvable("pod affinity terms conflict")},
	}
	for _, tt := range tests {
		plan := NodeAffinity().Prepare(framework.NewPodInfo(pod("p", affinity(required(tt.terms...)))), snapshot())
		if !tt.wantOnly.Equal(plan.OnlyNodes) || (tt.wantOnly == nil) != (plan.OnlyNodes == nil) {
			t.Errorf("%s: OnlyNodes %v, want %v", tt.name, sets.List(plan.OnlyNodes), sets.List(tt.wantOnly))
		}
		if tt.wantReject != nil {
			wantStatus(t, tt.name, plan.Reject, tt.wantReject)
		} else if plan.Reject != nil {
			t.Errorf("%s: rejected with %q", tt.name, plan.Reject.Reasons)
		}
	}
}

func TestNodePortsRejectsATakenHostPort(t *testing.T) {
	taken := unschedulable("node(s) didn't have free ports for the requested pod ports")
	existing := pod("existing", hostPort(corev1.ProtocolTCP, "", 80), hostPort(corev1.ProtocolUDP, "10.0.0.1", 53))
	tests := []struct {
		name string
		pod  *corev1.Pod
		want *framework.Status
	}{
		{"no host ports", pod("p"), nil},
		{"same port and protocol on all addresses", pod("p", hostPort(corev1.ProtocolTCP, "", 80)), taken},
		{"same port on one address clashes with all addresses", pod("p", hostPort(corev1.ProtocolTCP, "10.0.0.2", 80)), taken},
		{"TCP is the default protocol", pod("p", hostPort("", "", 80)), taken},
		{"same port, other protocol", pod("p", hostPort(corev1.ProtocolUDP, "", 80)), nil},
		{"all addresses clash with one address", pod("p", hostPort(corev1.ProtocolUDP, "0.0.0.0", 53)), taken},
		{"same port on another address", pod("p", hostPort(corev1.ProtocolUDP, "10.0.0.2", 53)), nil},
		{"free port", pod("p", hostPort(corev1.ProtocolTCP, "", 8080)), nil},
	}
	for _, tt := range tests {
		wantStatus(t, tt.name, checkFilter(NodePorts(), tt.pod, snapshot(nodeInfo(node("n"), existing)), "n"), tt.want)
	}
}

func TestNodeResourcesFitListsEveryShortage(t *testing.T) {
	gpu := corev1.ResourceName("example.com/gpu")
	small := node("n", withAllocatable(corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse("2"),
		corev1.ResourceMemory:           resource.MustParse("4Gi"),
		corev1.ResourceEphemeralStorage: resource.MustParse("10Gi"),
		corev1.ResourcePods:             resource.MustParse("2"),
		gpu:                             resource.MustParse("1"),
	}))
	busy := pod("busy", requests(corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m"), corev1.ResourceMemory: resource.MustParse("3Gi")}))
	tests := []struct {
		name     string
		existing []*corev1.Pod
		pod      *corev1.Pod
		want     *framework.Status
	}{
		{"fits", []*corev1.Pod{busy}, pod("p", requests(cpu("500m"))), nil},
		{"cpu used by others: preemption could help", []*corev1.Pod{busy}, pod("p", requests(cpu("600m"))), unschedulable("Insufficient cpu")},
		{"more cpu than the node has: it cannot", nil, pod("p", requests(cpu("3"))), unresolvable("Insufficient cpu")},
		{"every shortage, in upstream's order", []*corev1.Pod{busy, pod("other")}, pod("p", requests(corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("2Gi"),
			corev1.ResourceEphemeralStorage: resource.MustParse("20Gi"), gpu: resource.MustParse("2")})),
			unresolvable("Too many pods", "Insufficient cpu", "Insufficient memory", "Insufficient ephemeral-storage", "Insufficient example.com/gpu")},
		{"a request-less pod only needs a pod slot", []*corev1.Pod{busy, pod("other")}, pod("p"), unschedulable("Too many pods")},
		{"init containers count at their peak, not summed", []*corev1.Pod{busy}, pod("p", requests(cpu("200m")), func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i1", Resources: corev1.ResourceRequirements{Requests: cpu("400m")}}, {Name: "i2", Resources: corev1.ResourceRequirements{Requests: cpu("500m")}}}
		}), nil},
		{"an init container larger than the containers sets the need", []*corev1.Pod{busy}, pod("p", requests(cpu("200m")), func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i", Resources: corev1.ResourceRequirements{Requests: cpu("600m")}}}
		}), unschedulable("Insufficient cpu")},
		{"overhead counts", []*corev1.Pod{busy}, pod("p", requests(cpu("400m")), func(p *corev1.Pod) { p.Spec.Overhead = cpu("200m") }), unschedulable("Insufficient cpu")},
	}
	for _, tt := range tests {
		wantStatus(t, tt.name, checkFilter(NodeResourcesFit(), tt.pod, snapshot(nodeInfo(small, tt.existing...)), "n"), tt.want)
	}
}

func podAffinityTerm(topologyKey string, kv ...string) corev1.PodAffinityTerm {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return corev1.PodAffinityTerm{TopologyKey: topologyKey, LabelSelector: &metav1.LabelSelector{MatchLabels: m}}
}

func antiAffinity(terms ...corev1.PodAffinityTerm) *corev1.Affinity {
	return &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}}
}

func podAffinity(terms ...corev1.PodAffinityTerm) *corev1.Affinity {
	return &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: terms}}
}

func TestInterPodAffinityOnTheHostnameTopology(t *testing.T) {
	const hostname = corev1.LabelHostname
	web := podLabels("app", "web")
	db := pod("db", podLabels("app", "db"))
	otherNamespaceWeb := pod("web-elsewhere", podLabels("app", "web"), func(p *corev1.Pod) { p.Namespace = "other" })
	loner := pod("loner", podLabels("app", "loner"), affinity(antiAffinity(podAffinityTerm(hostname, "app", "web"))))
	tests := []struct {
		name   string
		onNode []*corev1.Pod
		pod    *corev1.Pod
		want   *framework.Status
	}{
		{"no affinity anywhere", []*corev1.Pod{db}, pod("p", web), nil},
		{"anti-affinity to a pod on the node", []*corev1.Pod{pod("web-0", web)}, pod("web-1", web, affinity(antiAffinity(podAffinityTerm(hostname, "app", "web")))),
			unschedulable("node(s) didn't match pod anti-affinity rules")},
		{"anti-affinity to a pod elsewhere", []*corev1.Pod{db}, pod("web-1", web, affinity(antiAffinity(podAffinityTerm(hostname, "app", "web")))), nil},
		{"anti-affinity selects only its own namespace", []*corev1.Pod{otherNamespaceWeb}, pod("web-1", web, affinity(antiAffinity(podAffinityTerm(hostname, "app", "web")))), nil},
		{"an existing pod's anti-affinity refuses the newcomer", []*corev1.Pod{loner}, pod("web-1", web),
			unschedulable("node(s) didn't satisfy existing pods anti-affinity rules")},
		{"an existing pod's anti-affinity lets others in", []*corev1.Pod{loner}, pod("db-1", podLabels("app", "db")), nil},
		{"affinity to a pod on the node", []*corev1.Pod{db}, pod("p", web, affinity(podAffinity(podAffinityTerm(hostname, "app", "db")))), nil},
		{"affinity to a pod on another node", nil, pod("p", web, affinity(podAffinity(podAffinityTerm(hostname, "app", "db")))),
			unresolvable("node(s) didn't match pod affinity rules")},
		{"the first of a group with affinity to itself", nil, pod("web-0", web, affinity(podAffinity(podAffinityTerm(hostname, "app", "web")))), nil},
	}
	for _, tt := range tests {
		here := nodeInfo(node("here"), tt.onNode...)
		// The db pod runs on another node in every case but the first ones.
		there := nodeInfo(node("there"), pod("db-there", podLabels("app", "db")))
		wantStatus(t, tt.name, checkFilter(InterPodAffinity(), tt.pod, snapshot(here, there), "here"), tt.want)
	}
}

func TestInterPodAffinityOnAWiderTopology(t *testing.T) {
	zone := corev1.LabelTopologyZone
	a1 := nodeInfo(node("a1", withLabels(zone, "a")), pod("web-0", podLabels("app", "web")))
	a2 := nodeInfo(node("a2", withLabels(zone, "a")))
	b1 := nodeInfo(node("b1", withLabels(zone, "b")))
	noZone := nodeInfo(node("nozone"))
	cluster := snapshot(a1, a2, b1, noZone)
	spread := pod("web-1", podLabels("app", "web"), affinity(antiAffinity(podAffinityTerm(zone, "app", "web"))))
	together := pod("cache", affinity(podAffinity(podAffinityTerm(zone, "app", "web"))))
	for _, tt := range []struct {
		name string
		pod  *corev1.Pod
		node string
		want *framework.Status
	}{
		{"anti-affinity covers the whole zone", spread, "a2", unschedulable("node(s) didn't match pod anti-affinity rules")},
		{"anti-affinity allows another zone", spread, "b1", nil},
		{"anti-affinity allows a node without the label", spread, "nozone", nil},
		{"affinity reaches the whole zone", together, "a2", nil},
		{"affinity excludes another zone", together, "b1", unresolvable("node(s) didn't match pod affinity rules")},
		{"affinity needs the topology label", together, "nozone", unresolvable("node(s) didn't match pod affinity rules")},
	} {
		wantStatus(t, tt.name, checkFilter(InterPodAffinity(), tt.pod, cluster, tt.node), tt.want)
	}
}
