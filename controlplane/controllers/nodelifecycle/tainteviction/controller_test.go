package tainteviction

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

var unreachable = corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute}

func seconds(s int64) *int64 { return &s }

func tolerate(key string, secs *int64) corev1.Toleration {
	return corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs}
}

func podOn(node string, tolerations ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "uid-web"},
		Spec:       corev1.PodSpec{NodeName: node, Tolerations: tolerations},
	}
}

func nodeWith(taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{Taints: taints}}
}

// harness runs sync by hand on caches the test sets, with a fake clock.
type harness struct {
	t        *testing.T
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	clock    *testingclock.FakeClock
	recorder *record.FakeRecorder
	c        *Controller
}

func newHarness(t *testing.T, node *corev1.Node, pod *corev1.Pod) *harness {
	client := fake.NewClientset(node, pod)
	factory := informers.NewSharedInformerFactory(client, 0)
	clock := testingclock.NewFakeClock(t0)
	recorder := record.NewFakeRecorder(100)
	h := &harness{t: t, client: client, factory: factory, clock: clock, recorder: recorder}
	h.c = New(client, factory, recorder, Config{Clock: clock})
	h.setNode(node)
	if err := factory.Core().V1().Pods().Informer().GetIndexer().Add(pod); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) setNode(n *corev1.Node) {
	if err := h.factory.Core().V1().Nodes().Informer().GetIndexer().Update(n); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) sync() {
	h.t.Helper()
	if err := h.c.sync(context.Background(), types.NamespacedName{Namespace: "default", Name: "web"}); err != nil {
		h.t.Fatalf("sync: %v", err)
	}
}

// deleted reports whether the pod was deleted, and checks that it was
// marked a disruption target first.
func (h *harness) deleted() bool {
	h.t.Helper()
	var patched bool
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "patch" && a.GetSubresource() == "status" {
			patched = true
		}
		if a.GetVerb() == "delete" && a.GetResource().Resource == "pods" {
			if !patched {
				h.t.Fatal("pod deleted without the DisruptionTarget condition")
			}
			return true
		}
	}
	return false
}

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

const (
	marking    = "Normal TaintManagerEviction Marking for deletion Pod default/web"
	cancelling = "Normal TaintManagerEviction Cancelling deletion of Pod default/web"
)

func TestEvictionTiming(t *testing.T) {
	tests := []struct {
		name        string
		node        *corev1.Node
		pod         *corev1.Pod
		wait        time.Duration
		wantDeleted bool
	}{
		{name: "untolerated taint evicts at once", node: nodeWith(unreachable), pod: podOn("n1"), wantDeleted: true},
		{name: "tolerated for 300 s: not at 299 s", node: nodeWith(unreachable), pod: podOn("n1", tolerate(corev1.TaintNodeUnreachable, seconds(300))), wait: 299 * time.Second},
		{name: "tolerated for 300 s: evicted at 300 s", node: nodeWith(unreachable), pod: podOn("n1", tolerate(corev1.TaintNodeUnreachable, seconds(300))), wait: 300 * time.Second, wantDeleted: true},
		{name: "zero seconds evicts at once", node: nodeWith(unreachable), pod: podOn("n1", tolerate(corev1.TaintNodeUnreachable, seconds(0))), wantDeleted: true},
		{name: "tolerated forever", node: nodeWith(unreachable), pod: podOn("n1", tolerate("", nil)), wait: time.Hour},
		{
			name: "shortest of the used tolerations counts",
			node: nodeWith(unreachable, corev1.Taint{Key: "drain", Effect: corev1.TaintEffectNoExecute}),
			pod:  podOn("n1", tolerate(corev1.TaintNodeUnreachable, seconds(300)), tolerate("drain", seconds(30))),
			wait: 30 * time.Second, wantDeleted: true,
		},
		{
			name: "one untolerated taint among tolerated ones evicts at once",
			node: nodeWith(unreachable, corev1.Taint{Key: "drain", Effect: corev1.TaintEffectNoExecute}),
			pod:  podOn("n1", tolerate(corev1.TaintNodeUnreachable, nil)), wantDeleted: true,
		},
		{name: "NoSchedule taints do not evict", node: nodeWith(corev1.Taint{Key: "gpu", Effect: corev1.TaintEffectNoSchedule}), pod: podOn("n1")},
		{name: "pod on another node stays", node: nodeWith(unreachable), pod: podOn("n2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.node, tt.pod)
			h.sync()
			if tt.wait > 0 {
				h.clock.Step(tt.wait)
				// The delayed requeue runs sync again.
				h.sync()
			}
			if got := h.deleted(); got != tt.wantDeleted {
				t.Fatalf("deleted %v, want %v", got, tt.wantDeleted)
			}
			if events := h.events(); tt.wantDeleted != slices.Contains(events, marking) {
				t.Fatalf("events %q; want %q: %v", events, marking, tt.wantDeleted)
			}
		})
	}
}

func TestDeletedPodGetsDisruptionTargetCondition(t *testing.T) {
	h := newHarness(t, nodeWith(unreachable), podOn("n1"))
	h.client.PrependReactor("delete", "pods", func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, nil })
	h.sync()
	pod, err := h.client.CoreV1().Pods("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "DeletionByTaintManager" && c.Message == "Taint manager: deleting due to NoExecute taint" {
			return
		}
	}
	t.Fatalf("conditions %+v, want DisruptionTarget by the taint manager", pod.Status.Conditions)
}

func TestTaintRemovedInTimeCancelsEviction(t *testing.T) {
	h := newHarness(t, nodeWith(unreachable), podOn("n1", tolerate(corev1.TaintNodeUnreachable, seconds(300))))
	h.sync()
	h.clock.Step(100 * time.Second)
	h.setNode(nodeWith())
	h.sync()
	if got := h.events(); !slices.Equal(got, []string{cancelling}) {
		t.Fatalf("events %q, want the cancellation", got)
	}
	h.clock.Step(300 * time.Second)
	h.sync()
	if h.deleted() {
		t.Fatal("pod deleted although the taint went away in time")
	}
}

func TestEvictionKeepsItsStartWhenTheNodeChanges(t *testing.T) {
	h := newHarness(t, nodeWith(unreachable), podOn("n1", tolerate("", seconds(300))))
	h.sync()
	h.clock.Step(200 * time.Second)
	// Another tolerated taint arrives: the countdown does not restart.
	h.setNode(nodeWith(unreachable, corev1.Taint{Key: "drain", Effect: corev1.TaintEffectNoExecute}))
	h.sync()
	h.clock.Step(100 * time.Second)
	h.sync()
	if !h.deleted() {
		t.Fatal("pod not deleted 300 s after the first taint")
	}
}

func TestMinTolerationTime(t *testing.T) {
	tests := []struct {
		name        string
		tolerations []corev1.Toleration
		want        time.Duration
	}{
		{name: "none", want: 0},
		{name: "forever", tolerations: []corev1.Toleration{tolerate("a", nil)}, want: -1},
		{name: "shortest", tolerations: []corev1.Toleration{tolerate("a", seconds(60)), tolerate("b", nil), tolerate("c", seconds(30))}, want: 30 * time.Second},
		{name: "negative is zero", tolerations: []corev1.Toleration{tolerate("a", seconds(-5)), tolerate("b", seconds(30))}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := minTolerationTime(tt.tolerations); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTolerates(t *testing.T) {
	taint := corev1.Taint{Key: "k", Value: "v", Effect: corev1.TaintEffectNoExecute}
	tests := []struct {
		name string
		tol  corev1.Toleration
		want bool
	}{
		{name: "exists with empty key tolerates everything", tol: corev1.Toleration{Operator: corev1.TolerationOpExists}, want: true},
		{name: "equal value", tol: corev1.Toleration{Key: "k", Value: "v"}, want: true},
		{name: "other value", tol: corev1.Toleration{Key: "k", Value: "w"}},
		{name: "other effect", tol: corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}},
		{name: "other key", tol: corev1.Toleration{Key: "j", Operator: corev1.TolerationOpExists}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tolerates(tt.tol, taint); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
