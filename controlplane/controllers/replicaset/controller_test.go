package replicaset

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// fakeCluster is a fake clientset whose informers are never started: the
// test decides what the controller's caches hold, and so when it
// observes its own writes.
type fakeCluster struct {
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	creates atomic.Int32
	deletes atomic.Int32
}

func newFakeCluster(t *testing.T, rs *appsv1.ReplicaSet) *fakeCluster {
	f := &fakeCluster{client: fake.NewClientset(rs)}
	f.client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		pod := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		n := f.creates.Add(1)
		// The fake does not generate names.
		pod.Name = fmt.Sprintf("%s%d", pod.GenerateName, n)
		return false, nil, nil
	})
	f.client.PrependReactor("delete", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		f.deletes.Add(1)
		return false, nil, nil
	})
	f.factory = informers.NewSharedInformerFactory(f.client, 0)
	return f
}

func (f *fakeCluster) controller(t *testing.T, rs *appsv1.ReplicaSet, cfg Config) *Controller {
	cfg.Clock = testingclock.NewFakeClock(testNow)
	c := New(f.client, f.factory, &events{}, cfg)
	if err := f.factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(rs); err != nil {
		t.Fatal(err)
	}
	return c
}

// observe puts the client's pods into the controller's cache, as the
// informer would, and tells the controller.
func (f *fakeCluster) observe(t *testing.T, c *Controller) {
	pods, err := f.client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	indexer := f.factory.Core().V1().Pods().Informer().GetIndexer()
	for i := range pods.Items {
		p := &pods.Items[i]
		if _, exists, _ := indexer.Get(p); exists {
			continue
		}
		if err := indexer.Add(p); err != nil {
			t.Fatal(err)
		}
		c.podAdded(p)
	}
}

func testReplicaSet(replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "rs-uid"},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: webTemplate(),
		},
	}
}

func TestExpectationsKeepABurstOfSyncsFromCreatingTwice(t *testing.T) {
	rs := testReplicaSet(3)
	f := newFakeCluster(t, rs)
	c := f.controller(t, rs, Config{})
	ctx := context.Background()
	for range 3 {
		if err := c.sync(ctx, "ns/web"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.creates.Load(); n != 3 {
		t.Fatalf("created %d pods before observing any, want 3", n)
	}
	f.observe(t, c)
	if err := c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	if n := f.creates.Load(); n != 3 {
		t.Errorf("created %d pods after observing them, want 3", n)
	}
}

func TestBurstReplicasCapsOneSync(t *testing.T) {
	rs := testReplicaSet(10)
	f := newFakeCluster(t, rs)
	c := f.controller(t, rs, Config{BurstReplicas: 4})
	ctx := context.Background()
	if err := c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	if n := f.creates.Load(); n != 4 {
		t.Fatalf("first sync created %d pods, want the burst of 4", n)
	}
	f.observe(t, c)
	if err := c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	if n := f.creates.Load(); n != 8 {
		t.Errorf("second sync brought the total to %d, want 8", n)
	}
}

func TestDeletionsWaitForObservation(t *testing.T) {
	rs := testReplicaSet(3)
	f := newFakeCluster(t, rs)
	c := f.controller(t, rs, Config{})
	ctx := context.Background()
	if err := c.sync(ctx, "ns/web"); err != nil {
		t.Fatal(err)
	}
	f.observe(t, c)
	scaled := rs.DeepCopy()
	scaled.Spec.Replicas = ptr.To(int32(1))
	if err := f.factory.Apps().V1().ReplicaSets().Informer().GetIndexer().Update(scaled); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.sync(ctx, "ns/web"); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.deletes.Load(); n != 2 {
		t.Errorf("deleted %d pods in two syncs before observing deletions, want 2", n)
	}
}
