package plugins

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
)

// node builds a node with allocatable cpu, memory and pods, and labels
// that include its hostname, as a kubelet registers it.
func node(name string, opts ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("2"),
			corev1.ResourceMemory: resource.MustParse("4Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
		}},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withLabels(kv ...string) func(*corev1.Node) {
	return func(n *corev1.Node) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withTaints(taints ...corev1.Taint) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Spec.Taints = taints }
}

func withAllocatable(list corev1.ResourceList) func(*corev1.Node) {
	return func(n *corev1.Node) { n.Status.Allocatable = list }
}

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

// pod builds a pod in namespace default with one container.
func pod(name string, opts ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func requests(list corev1.ResourceList) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests = list }
}

func cpu(q string) corev1.ResourceList {
	return corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(q)}
}

func podLabels(kv ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

func tolerations(t ...corev1.Toleration) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.Tolerations = t }
}

func hostPort(protocol corev1.Protocol, ip string, port int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: port, HostPort: port, HostIP: ip, Protocol: protocol})
	}
}

func affinity(a *corev1.Affinity) func(*corev1.Pod) {
	return func(p *corev1.Pod) { p.Spec.Affinity = a }
}

func ownedBy(kind string, uid types.UID) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: "owner", UID: uid, Controller: &yes}}
	}
}

// nodeInfo is n holding pods.
func nodeInfo(n *corev1.Node, pods ...*corev1.Pod) *framework.NodeInfo {
	ni := framework.NewNodeInfo(n)
	for _, p := range pods {
		p = p.DeepCopy()
		p.Spec.NodeName = n.Name
		ni.AddPod(framework.NewPodInfo(p))
	}
	return ni
}

// checkFilter runs one filter plugin for pod against each node of the
// cluster, as the framework would.
func checkFilter(plugin framework.FilterPlugin, p *corev1.Pod, cluster *framework.Snapshot, nodeName string) *framework.Status {
	plan := plugin.Prepare(framework.NewPodInfo(p), cluster)
	if plan.Reject != nil {
		return plan.Reject
	}
	if plan.OnlyNodes != nil && !plan.OnlyNodes.Has(nodeName) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, "not in OnlyNodes")
	}
	if plan.Check == nil {
		return nil
	}
	return plan.Check(cluster.Get(nodeName))
}

// wantStatus compares a verdict with the code and reasons expected; a nil
// want is success.
func wantStatus(t *testing.T, name string, got, want *framework.Status) {
	t.Helper()
	if want == nil {
		if !got.IsSuccess() {
			t.Errorf("%s: got %v %q, want success", name, got.Code, got.Reasons)
		}
		return
	}
	if got.IsSuccess() || got.Code != want.Code || !reflect.DeepEqual(got.Reasons, want.Reasons) {
		if got == nil {
			t.Errorf("%s: got success, want %v %q", name, want.Code, want.Reasons)
			return
		}
		t.Errorf("%s: got %v %q, want %v %q", name, got.Code, got.Reasons, want.Code, want.Reasons)
	}
}

func snapshot(nodes ...*framework.NodeInfo) *framework.Snapshot {
	return framework.NewSnapshot(nodes, nil)
}

func unschedulable(reasons ...string) *framework.Status {
	return framework.NewStatus(framework.Unschedulable, reasons...)
}

func unresolvable(reasons ...string) *framework.Status {
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, reasons...)
}

func controlPlaneTaint() corev1.Taint {
	return corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}
}
