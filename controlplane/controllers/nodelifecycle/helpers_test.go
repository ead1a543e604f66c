package nodelifecycle

import (
	"context"
	"slices"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// harness is the controller on a fake clientset and a fake clock. The
// informers do not run: refresh copies the server's objects into their
// caches, so each pass sees exactly what the test wrote.
type harness struct {
	t        *testing.T
	ctx      context.Context
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	clock    *testingclock.FakeClock
	recorder *record.FakeRecorder
	c        *Controller
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	clock := testingclock.NewFakeClock(t0)
	recorder := record.NewFakeRecorder(100)
	h := &harness{t: t, ctx: context.Background(), client: client, factory: factory, clock: clock, recorder: recorder}
	h.c = New(client, factory, recorder, Config{Clock: clock})
	h.refresh()
	return h
}

// refresh makes the caches hold what the server holds.
func (h *harness) refresh() {
	h.t.Helper()
	nodes, err := h.client.CoreV1().Nodes().List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	pods, err := h.client.CoreV1().Pods("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	leases, err := h.client.CoordinationV1().Leases("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	replace(h.t, h.factory.Core().V1().Nodes().Informer().GetIndexer(), nodes.Items)
	replace(h.t, h.factory.Core().V1().Pods().Informer().GetIndexer(), pods.Items)
	replace(h.t, h.factory.Coordination().V1().Leases().Informer().GetIndexer(), leases.Items)
}

func replace[T any](t *testing.T, indexer cache.Indexer, items []T) {
	t.Helper()
	objs := make([]any, len(items))
	for i := range items {
		objs[i] = &items[i]
	}
	if err := indexer.Replace(objs, ""); err != nil {
		t.Fatal(err)
	}
}

// pass runs one monitor pass on fresh caches.
func (h *harness) pass() {
	h.t.Helper()
	h.refresh()
	if err := h.c.monitorNodeHealth(h.ctx); err != nil {
		h.t.Fatalf("monitor: %v", err)
	}
	h.refresh()
}

// syncNode runs the node worker's sync on fresh caches.
func (h *harness) syncNode(name string) {
	h.t.Helper()
	h.refresh()
	if err := h.c.syncNoScheduleTaints(h.ctx, name); err != nil {
		h.t.Fatalf("sync taints of %s: %v", name, err)
	}
	if err := h.c.reconcileNodeLabels(h.ctx, name); err != nil {
		h.t.Fatalf("reconcile labels of %s: %v", name, err)
	}
	h.refresh()
}

func (h *harness) node(name string) *corev1.Node {
	h.t.Helper()
	n, err := h.client.CoreV1().Nodes().Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) pod(ns, name string) *corev1.Pod {
	h.t.Helper()
	p, err := h.client.CoreV1().Pods(ns).Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// renew renews the node's Lease now, as its kubelet does.
func (h *harness) renew(name string) {
	h.t.Helper()
	lease, err := h.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	lease.Spec.RenewTime = &metav1.MicroTime{Time: h.clock.Now()}
	if _, err := h.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(h.ctx, lease, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// postReady posts the node's Ready condition now, as its kubelet does.
func (h *harness) postReady(name string, status corev1.ConditionStatus) {
	h.t.Helper()
	n := h.node(name)
	now := metav1.NewTime(h.clock.Now())
	cond := nodeCondition(&n.Status, corev1.NodeReady)
	if cond == nil {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeReady})
		cond = &n.Status.Conditions[len(n.Status.Conditions)-1]
	}
	if cond.Status != status {
		cond.LastTransitionTime = now
	}
	cond.Status, cond.LastHeartbeatTime, cond.Reason = status, now, "KubeletReady"
	if _, err := h.client.CoreV1().Nodes().UpdateStatus(h.ctx, n, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// events drains what was recorded so far.
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// newNode is a node whose kubelet posted Ready=status at t0, with its
// Lease renewed then.
func newNode(name string, status corev1.ConditionStatus) (*corev1.Node, *coordinationv1.Lease) {
	at := metav1.NewTime(t0)
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), CreationTimestamp: at},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: at, LastTransitionTime: at},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: at, LastTransitionTime: at},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: at, LastTransitionTime: at},
			{Type: corev1.NodeReady, Status: status, LastHeartbeatTime: at, LastTransitionTime: at},
		}},
	}
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: corev1.NamespaceNodeLease, Name: name},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &name, RenewTime: &metav1.MicroTime{Time: t0}},
	}
	return node, lease
}

// readyPod is a running pod on the node, Ready.
func readyPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		}},
	}
}

// taintsOf lists a node's taints as key:effect.
func taintsOf(n *corev1.Node) []string {
	var out []string
	for _, t := range n.Spec.Taints {
		out = append(out, t.Key+":"+string(t.Effect))
	}
	slices.Sort(out)
	return out
}

func podReady(p *corev1.Pod) corev1.ConditionStatus {
	if i := podReadyIndex(p); i >= 0 {
		return p.Status.Conditions[i].Status
	}
	return ""
}
