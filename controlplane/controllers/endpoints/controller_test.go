package endpoints

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
)

// fixture is a controller whose informer caches the test fills by hand,
// so that sync runs on exactly the state given.
type fixture struct {
	c        *Controller
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	recorder *record.FakeRecorder
}

func newFixture(t *testing.T, objects ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	recorder := record.NewFakeRecorder(10)
	f := &fixture{c: New(client, factory, recorder, Config{}), client: client, factory: factory, recorder: recorder}
	for _, obj := range objects {
		f.cache(t, obj)
		// Endpoints also exist in the API, to be updated or deleted.
		if ep, ok := obj.(*corev1.Endpoints); ok {
			if err := client.Tracker().Add(ep); err != nil {
				t.Fatal(err)
			}
		}
	}
	client.ClearActions()
	return f
}

func (f *fixture) cache(t *testing.T, obj runtime.Object) {
	t.Helper()
	var err error
	switch o := obj.(type) {
	case *corev1.Service:
		err = f.factory.Core().V1().Services().Informer().GetIndexer().Add(o)
	case *corev1.Pod:
		err = f.factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
	case *corev1.Endpoints:
		err = f.factory.Core().V1().Endpoints().Informer().GetIndexer().Add(o)
	default:
		t.Fatalf("cannot cache %T", obj)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) sync(t *testing.T) error {
	t.Helper()
	return f.c.sync(context.Background(), "ns/web")
}

func (f *fixture) stored(t *testing.T) *corev1.Endpoints {
	t.Helper()
	ep, err := f.client.CoreV1().Endpoints("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func (f *fixture) verbs() []string {
	var out []string
	for _, a := range f.client.Actions() {
		out = append(out, a.GetVerb())
	}
	return out
}

func TestSyncCreatesEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name         string
		svc          *corev1.Service
		wantHeadless bool
	}{
		{"service with a cluster IP", testService(), false},
		{"headless service", testService(func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.svc, testPod("a"), testPod("b", notReady))
			if err := f.sync(t); err != nil {
				t.Fatal(err)
			}
			ep := f.stored(t)
			if ep == nil {
				t.Fatal("no endpoints created")
			}
			if got, want := describe(ep.Subsets), []string{"http:8080/TCP: a | b"}; !slices.Equal(got, want) {
				t.Errorf("subsets %q, want %q", got, want)
			}
			if ep.Labels["tier"] != "web" {
				t.Errorf("labels %v, want the service's", ep.Labels)
			}
			if _, headless := ep.Labels[corev1.IsHeadlessService]; headless != tc.wantHeadless {
				t.Errorf("labels %v, headless label %v, want %v", ep.Labels, headless, tc.wantHeadless)
			}
			// A Service seen for the first time has its creation as trigger time.
			want := tc.svc.CreationTimestamp.UTC().Format(time.RFC3339Nano)
			if got := ep.Annotations[corev1.EndpointsLastChangeTriggerTime]; got != want {
				t.Errorf("trigger time %q, want the service's creation %q", got, want)
			}
		})
	}
}

func TestSyncWritesOnlyChanges(t *testing.T) {
	svc := testService()
	pods := []*corev1.Pod{testPod("a"), testPod("b")}
	current := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", ResourceVersion: "5", Labels: map[string]string{"tier": "web"}},
		Subsets:    desiredSubsets(svc, pods),
	}
	// Written by an older controller, with pods' resource versions.
	for i := range current.Subsets[0].Addresses {
		current.Subsets[0].Addresses[i].TargetRef.ResourceVersion = "42"
	}
	for _, tc := range []struct {
		name      string
		endpoints *corev1.Endpoints
		wantVerbs []string
	}{
		{"up to date: nothing", current, nil},
		{
			"service labels changed: update",
			func() *corev1.Endpoints {
				e := current.DeepCopy()
				e.Labels = map[string]string{"tier": "old"}
				return e
			}(),
			[]string{"update"},
		},
		{
			"stale over-capacity annotation: update",
			func() *corev1.Endpoints {
				e := current.DeepCopy()
				e.Annotations = map[string]string{corev1.EndpointsOverCapacity: overCapacityTruncated}
				return e
			}(),
			[]string{"update"},
		},
		{
			"a pod missing: update",
			func() *corev1.Endpoints {
				e := current.DeepCopy()
				e.Subsets[0].Addresses = e.Subsets[0].Addresses[:1]
				return e
			}(),
			[]string{"update"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, svc, pods[0], pods[1], tc.endpoints)
			if err := f.sync(t); err != nil {
				t.Fatal(err)
			}
			if got := f.verbs(); !slices.Equal(got, tc.wantVerbs) {
				t.Errorf("calls %v, want %v", got, tc.wantVerbs)
			}
			if len(tc.wantVerbs) > 0 {
				ep := f.stored(t)
				if _, ok := ep.Annotations[corev1.EndpointsOverCapacity]; ok || ep.Labels["tier"] != "web" || len(ep.Subsets[0].Addresses) != 2 {
					t.Errorf("endpoints after update: labels %v annotations %v subsets %q", ep.Labels, ep.Annotations, describe(ep.Subsets))
				}
			}
		})
	}
}

func TestSyncOverCapacity(t *testing.T) {
	objects := []runtime.Object{testService()}
	for i := range MaxCapacity + 5 {
		objects = append(objects, testPod(fmt.Sprintf("p%04d", i)))
	}
	f := newFixture(t, objects...)
	if err := f.sync(t); err != nil {
		t.Fatal(err)
	}
	ep := f.stored(t)
	ready, notReady := addressCount(ep.Subsets)
	if ready+notReady != MaxCapacity || ep.Annotations[corev1.EndpointsOverCapacity] != "truncated" {
		t.Errorf("%d addresses, annotations %v; want %d and over-capacity truncated", ready+notReady, ep.Annotations, MaxCapacity)
	}
}

func TestSyncLeavesAlone(t *testing.T) {
	mine := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", ResourceVersion: "1"}}
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
	}{
		{"a Service without a selector", testService(func(s *corev1.Service) { s.Spec.Selector = nil })},
		{"an ExternalName Service", testService(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.svc, testPod("a"), mine)
			if err := f.sync(t); err != nil {
				t.Fatal(err)
			}
			if got := f.verbs(); len(got) != 0 {
				t.Errorf("calls %v, want none", got)
			}
		})
	}
}

func TestSyncDeletesEndpointsOfDeletedService(t *testing.T) {
	f := newFixture(t, &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", ResourceVersion: "1"}})
	if err := f.sync(t); err != nil {
		t.Fatal(err)
	}
	if f.stored(t) != nil {
		t.Error("endpoints of a deleted service left")
	}
	// Already gone is fine.
	if err := f.sync(t); err != nil {
		t.Errorf("second sync: %v", err)
	}
}

func TestSyncFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		existing   bool
		err        error
		wantErr    bool
		wantReason string
	}{
		{"create refused", false, apierrors.NewInternalError(errors.New("etcd is down")), true, ReasonFailedToCreateEndpoint},
		{"update conflict is retried", true, apierrors.NewConflict(corev1.Resource("endpoints"), "web", errors.New("changed")), true, ReasonFailedToUpdateEndpoint},
		{
			"terminating namespace is dropped", false,
			&apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden,
				Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}},
			}},
			false, "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objects := []runtime.Object{testService(), testPod("a")}
			if tc.existing {
				objects = append(objects, &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", ResourceVersion: "1"}})
			}
			f := newFixture(t, objects...)
			f.client.PrependReactor("*", "endpoints", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, tc.err })
			err := f.sync(t)
			if (err != nil) != tc.wantErr {
				t.Errorf("sync error %v, want error %v", err, tc.wantErr)
			}
			select {
			case e := <-f.recorder.Events:
				if tc.wantReason == "" || !strings.HasPrefix(e, "Warning "+tc.wantReason+" ") {
					t.Errorf("event %q, want reason %q", e, tc.wantReason)
				}
			default:
				if tc.wantReason != "" {
					t.Errorf("no event, want %s", tc.wantReason)
				}
			}
		})
	}
}

func TestSyncWaitsForItsOwnWrites(t *testing.T) {
	old := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", ResourceVersion: "1"}}
	f := newFixture(t, testService(), testPod("a"), old)
	f.client.PrependReactor("update", "endpoints", func(a k8stesting.Action) (bool, runtime.Object, error) {
		ep := a.(k8stesting.UpdateAction).GetObject().(*corev1.Endpoints).DeepCopy()
		ep.ResourceVersion = "2"
		return true, ep, nil
	})
	if err := f.sync(t); err != nil {
		t.Fatal(err)
	}
	f.client.ClearActions()
	// The cache still shows version 1, which the update replaced: a sync
	// from it would act on outdated endpoints.
	if err := f.sync(t); !errors.Is(err, errStaleCache) {
		t.Fatalf("sync from a stale cache: %v, want errStaleCache", err)
	}
	if got := f.verbs(); len(got) != 0 {
		t.Errorf("calls %v from a stale cache", got)
	}
}

func TestQueueLeftoverEndpoints(t *testing.T) {
	lock := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{
		Namespace: "kube-system", Name: "old-lock",
		Annotations: map[string]string{resourcelock.LeaderElectionRecordAnnotationKey: "{}"},
	}}
	orphan := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "orphan"}}
	f := newFixture(t, lock, orphan)
	f.c.queueLeftoverEndpoints()
	if f.c.queue.Len() != 1 {
		t.Fatalf("%d keys queued, want the orphan only", f.c.queue.Len())
	}
	if key, _ := f.c.queue.Get(); key != "ns/orphan" {
		t.Errorf("queued %q, want ns/orphan", key)
	}
}
