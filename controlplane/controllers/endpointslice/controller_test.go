package endpointslice

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

// syncFixture is a controller whose informer caches the test fills by
// hand, so that sync runs on exactly the state given.
type syncFixture struct {
	c        *Controller
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	recorder *record.FakeRecorder
}

func newSyncFixture(t *testing.T, svc *corev1.Service, pods ...*corev1.Pod) *syncFixture {
	t.Helper()
	client := newFakeClient()
	factory := informers.NewSharedInformerFactory(client, 0)
	recorder := record.NewFakeRecorder(10)
	f := &syncFixture{c: New(client, factory, recorder, Config{}), client: client, factory: factory, recorder: recorder}
	if svc != nil {
		if err := factory.Core().V1().Services().Informer().GetIndexer().Add(svc); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods {
		if err := factory.Core().V1().Pods().Informer().GetIndexer().Add(p); err != nil {
			t.Fatal(err)
		}
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode}}
	if err := factory.Core().V1().Nodes().Informer().GetIndexer().Add(node); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *syncFixture) cacheSlice(t *testing.T, s *discoveryv1.EndpointSlice) {
	t.Helper()
	if err := f.factory.Discovery().V1().EndpointSlices().Informer().GetIndexer().Add(s); err != nil {
		t.Fatal(err)
	}
}

func TestSyncLeavesAlone(t *testing.T) {
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
	}{
		{"a Service without a selector", testService(func(s *corev1.Service) { s.Spec.Selector = nil })},
		{"an ExternalName Service", testService(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName })},
		{"a deleted Service (its slices are the garbage collector's)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSyncFixture(t, tc.svc, testPod(0))
			if err := f.c.sync(context.Background(), "ns/web"); err != nil {
				t.Fatal(err)
			}
			if c, u, d := writes(f.client); c+u+d != 0 {
				t.Errorf("wrote %d creates, %d updates, %d deletes; want none", c, u, d)
			}
		})
	}
}

func TestSyncPublishesSelectedPods(t *testing.T) {
	other := testPod(1, func(p *corev1.Pod) { p.Labels = map[string]string{"app": "other"} })
	f := newSyncFixture(t, testService(), testPod(0), other)
	if err := f.c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	got := storedSlices(t, f.client)
	if len(got) != 1 || len(got[0].Endpoints) != 1 || got[0].Endpoints[0].TargetRef.Name != "pod-0000" {
		t.Fatalf("slices %v, want one listing pod-0000 only", sizes(got))
	}
	// A Service seen for the first time has its creation as trigger time.
	if got[0].Annotations[corev1.EndpointsLastChangeTriggerTime] == "" {
		t.Error("no trigger time annotation on the first slice")
	}
}

func TestSyncWaitsForItsOwnWrites(t *testing.T) {
	f := newSyncFixture(t, testService(), testPod(0))
	if err := f.c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	f.client.ClearActions()
	// The created slice has not reached the cache: syncing again would
	// create a duplicate.
	err := f.c.sync(context.Background(), "ns/web")
	if !errors.Is(err, errStaleCache) {
		t.Fatalf("sync with a stale cache: %v, want errStaleCache", err)
	}
	if c, u, d := writes(f.client); c+u+d != 0 {
		t.Errorf("wrote %d creates, %d updates, %d deletes from a stale cache", c, u, d)
	}
	// Once it has, the sync is a no-op.
	for _, s := range storedSlices(t, f.client) {
		f.cacheSlice(t, s)
	}
	if err := f.c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatalf("sync once the cache caught up: %v", err)
	}
	if c, u, d := writes(f.client); c+u+d != 0 {
		t.Errorf("wrote %d creates, %d updates, %d deletes with nothing to change", c, u, d)
	}
}

func TestSyncFailureRecordsEvent(t *testing.T) {
	f := newSyncFixture(t, testService(), testPod(0))
	f.client.PrependReactor("create", "endpointslices", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd is down")
	})
	if err := f.c.sync(context.Background(), "ns/web"); err == nil {
		t.Fatal("sync succeeded with creates failing")
	}
	select {
	case e := <-f.recorder.Events:
		if !strings.HasPrefix(e, "Warning "+ReasonFailedToUpdateEndpointSlices+" Error updating Endpoint Slices for Service ns/web:") {
			t.Errorf("event %q, want upstream's FailedToUpdateEndpointSlices", e)
		}
	default:
		t.Error("no event for the failure")
	}
}
