package podgc

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t       *testing.T
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	clock   *testingclock.FakeClock
	c       *Controller
}

// newHarness is the controller on a fake clientset holding server; the
// caches hold cached, which may differ (a cache that lags).
func newHarness(t *testing.T, cfg Config, server []runtime.Object, cached ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewClientset(server...)
	factory := informers.NewSharedInformerFactory(client, 0)
	clock := testingclock.NewFakeClock(t0)
	cfg.Clock = clock
	c := New(client, factory, cfg)
	t.Cleanup(c.nodeQueue.ShutDown)
	for _, obj := range cached {
		var err error
		switch o := obj.(type) {
		case *corev1.Pod:
			err = factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *corev1.Node:
			err = factory.Core().V1().Nodes().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return &harness{t: t, client: client, factory: factory, clock: clock, c: c}
}

// deleted are the pods force-deleted, in no particular order.
func (h *harness) deleted() []string {
	var names []string
	for _, a := range h.client.Actions() {
		if d, ok := a.(clienttesting.DeleteActionImpl); ok && d.GetResource().Resource == "pods" {
			if g := d.DeleteOptions.GracePeriodSeconds; g == nil || *g != 0 {
				h.t.Errorf("pod %s deleted with grace %v, want 0", d.Name, g)
			}
			names = append(names, d.Name)
		}
	}
	slices.Sort(names)
	return names
}

// statusPatches are the status patches sent, by pod name.
func (h *harness) statusPatches() map[string]corev1.Pod {
	out := map[string]corev1.Pod{}
	for _, a := range h.client.Actions() {
		if p, ok := a.(clienttesting.PatchActionImpl); ok && p.GetSubresource() == "status" {
			var pod corev1.Pod
			if err := json.Unmarshal(p.Patch, &pod); err != nil {
				h.t.Fatal(err)
			}
			out[p.Name] = pod
		}
	}
	return out
}

func pod(name, node string, phase corev1.PodPhase, created time.Duration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(t0.Add(created))},
		Spec:       corev1.PodSpec{NodeName: node},
		Status:     corev1.PodStatus{Phase: phase},
	}
}

func node(name string, ready bool, taints ...corev1.Taint) *corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}},
	}
}

func terminating(p *corev1.Pod) *corev1.Pod {
	p.DeletionTimestamp = &metav1.Time{Time: t0}
	return p
}

func TestTerminatedPodsBeyondTheThresholdGoEvictedFirstThenOldest(t *testing.T) {
	evictedNew := pod("evicted-new", "n", corev1.PodFailed, 3*time.Minute)
	evictedNew.Status.Reason = "Evicted"
	objs := []runtime.Object{
		node("n", true),
		pod("done-old", "n", corev1.PodSucceeded, 0),
		pod("failed-mid", "n", corev1.PodFailed, time.Minute),
		pod("done-new", "n", corev1.PodSucceeded, 2*time.Minute),
		evictedNew,
		pod("running", "n", corev1.PodRunning, -time.Hour),
	}
	h := newHarness(t, Config{TerminatedPodThreshold: 2}, objs, objs...)
	h.c.gc(context.Background())
	if got, want := h.deleted(), []string{"done-old", "evicted-new"}; !slices.Equal(got, want) {
		t.Errorf("deleted %v, want %v", got, want)
	}
	if n := len(h.statusPatches()); n != 0 {
		t.Errorf("%d status patches of pods already finished", n)
	}
}

func TestDefaultThresholdLeavesFewTerminatedPods(t *testing.T) {
	objs := []runtime.Object{node("n", true), pod("done", "n", corev1.PodSucceeded, 0)}
	h := newHarness(t, Config{}, objs, objs...)
	h.c.gc(context.Background())
	if got := h.deleted(); len(got) != 0 {
		t.Errorf("deleted %v under the 12500 threshold", got)
	}
}

// TestOrphanedPodsGoAfterQuarantine: a pod whose node is missing from
// the cache is deleted only after the quarantine, and only if the API
// server confirms the node is gone; it is marked Failed with
// DisruptionTarget first.
func TestOrphanedPodsGoAfterQuarantine(t *testing.T) {
	orphan := pod("orphan", "gone", corev1.PodRunning, 0)
	lagging := pod("on-new-node", "new", corev1.PodRunning, 0)
	healthy := pod("healthy", "n", corev1.PodRunning, 0)
	// The server knows node "new"; the cache has not seen it yet.
	server := []runtime.Object{node("n", true), node("new", true), orphan, lagging, healthy}
	h := newHarness(t, Config{}, server, node("n", true), orphan, lagging, healthy)

	h.c.gc(context.Background())
	if got := h.deleted(); len(got) != 0 {
		t.Fatalf("deleted %v before the quarantine ended", got)
	}
	h.clock.Step(DefaultQuarantineTime)
	deadline := time.Now().Add(5 * time.Second)
	for h.c.nodeQueue.Len() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	h.c.gc(context.Background())
	if got := h.deleted(); !slices.Equal(got, []string{"orphan"}) {
		t.Fatalf("deleted %v, want [orphan]", got)
	}
	patched, ok := h.statusPatches()["orphan"]
	if !ok {
		t.Fatal("orphan not marked failed before deletion")
	}
	if patched.Status.Phase != corev1.PodFailed || patched.UID != orphan.UID {
		t.Errorf("status patch phase %q uid %q", patched.Status.Phase, patched.UID)
	}
	if len(patched.Status.Conditions) != 1 {
		t.Fatalf("conditions %+v", patched.Status.Conditions)
	}
	c := patched.Status.Conditions[0]
	if c.Type != corev1.DisruptionTarget || c.Status != corev1.ConditionTrue || c.Reason != "DeletionByPodGC" || c.Message != "PodGC: node no longer exists" {
		t.Errorf("condition %+v", c)
	}
}

func TestTerminatingPods(t *testing.T) {
	outOfService := corev1.Taint{Key: corev1.TaintNodeOutOfService, Effect: corev1.TaintEffectNoExecute}
	for _, tc := range []struct {
		name        string
		pod         *corev1.Pod
		node        *corev1.Node
		wantDeleted bool
	}{
		{"unscheduled", terminating(pod("p", "", corev1.PodPending, 0)), node("n", true), true},
		{"on an out-of-service node", terminating(pod("p", "n", corev1.PodRunning, 0)), node("n", false, outOfService), true},
		{"on a not ready node", terminating(pod("p", "n", corev1.PodRunning, 0)), node("n", false), false},
		{"on a ready out-of-service node", terminating(pod("p", "n", corev1.PodRunning, 0)), node("n", true, outOfService), false},
		{"unscheduled, not being deleted", pod("p", "", corev1.PodPending, 0), node("n", true), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := []runtime.Object{tc.pod, tc.node}
			h := newHarness(t, Config{}, objs, objs...)
			h.c.gc(context.Background())
			if got := len(h.deleted()) == 1; got != tc.wantDeleted {
				t.Errorf("deleted %v, want %v", got, tc.wantDeleted)
			}
			if tc.wantDeleted {
				if p, ok := h.statusPatches()["p"]; !ok || p.Status.Phase != corev1.PodFailed {
					t.Errorf("not marked Failed first: %+v", p.Status)
				}
			}
		})
	}
}

// TestAgainstAPIServer: once a node is deleted, PodGC, as upstream's
// account, marks its pod Failed and deletes it; a pod on a live node
// stays.
func TestAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := env.Client
	for _, name := range []string{"control-plane", "worker"} {
		if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for name, nodeName := range map[string]string{"on-worker": "worker", "on-control-plane": "control-plane"} {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec:       corev1.PodSpec{NodeName: nodeName, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
		}
		p, err := admin.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = corev1.PodRunning
		if _, err := admin.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := admin.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=on-worker"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	informerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager"))
	controllerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t,
		"system:serviceaccount:kube-system:pod-garbage-collector", "system:serviceaccounts", "system:serviceaccounts:kube-system"))
	factory := informers.NewSharedInformerFactory(informerClient, 0)
	c := New(controllerClient, factory, Config{CheckPeriod: 100 * time.Millisecond, QuarantineTime: 200 * time.Millisecond})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 1) }()
	defer func() { cancel(); <-done; factory.Shutdown() }()

	if err := admin.CoreV1().Nodes().Delete(ctx, "worker", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	markedFailed := false
	timeout := time.After(30 * time.Second)
	for deleted := false; !deleted; {
		select {
		case ev := <-w.ResultChan():
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				t.Fatalf("watch event %v", ev)
			}
			switch ev.Type {
			case watch.Modified:
				if p.Status.Phase == corev1.PodFailed && slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
					return c.Type == corev1.DisruptionTarget && c.Reason == "DeletionByPodGC"
				}) {
					markedFailed = true
				}
			case watch.Deleted:
				deleted = true
			}
		case <-timeout:
			t.Fatal("the pod of the deleted node was not collected")
		}
	}
	if !markedFailed {
		t.Error("the pod was deleted without being marked Failed with DisruptionTarget first")
	}
	if _, err := admin.CoreV1().Pods("default").Get(ctx, "on-control-plane", metav1.GetOptions{}); err != nil {
		t.Errorf("pod on the live node: %v", err)
	}
}
