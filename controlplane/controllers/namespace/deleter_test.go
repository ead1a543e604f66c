package namespace

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestConditionMessagesAreUpstreams(t *testing.T) {
	deployments := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	configmaps := corev1.SchemeGroupVersion.WithResource("configmaps")
	tests := []struct {
		name   string
		record func(u *conditionUpdater)
		want   corev1.NamespaceCondition
	}{
		{
			name:   "nothing wrong reports every condition false with upstream's ok reason",
			record: func(*conditionUpdater) {},
			want: corev1.NamespaceCondition{Type: corev1.NamespaceFinalizersRemaining, Status: corev1.ConditionFalse,
				Reason: "ContentHasNoFinalizers", Message: "All content-preserving finalizers finished"},
		},
		{
			name: "partial discovery counts the failing groups",
			record: func(u *conditionUpdater) {
				u.discoveryFailed(&discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
					{Group: "metrics.k8s.io", Version: "v1beta1"}: errors.New("stale GroupVersion discovery"),
				}})
			},
			want: corev1.NamespaceCondition{Type: corev1.NamespaceDeletionDiscoveryFailure, Status: corev1.ConditionTrue, Reason: "DiscoveryFailed",
				Message: "Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: metrics.k8s.io/v1beta1: stale GroupVersion discovery"},
		},
		{
			name: "remaining content is counted per resource, sorted",
			record: func(u *conditionUpdater) {
				totals := newContentTotals()
				totals.add(deployments, gvrLeft{count: 1})
				totals.add(configmaps, gvrLeft{count: 2})
				u.contentLeft(totals)
			},
			want: corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain",
				Message: "Some resources are remaining: configmaps. has 2 resource instances, deployments.apps has 1 resource instances"},
		},
		{
			name: "remaining finalizers are counted across resources, sorted",
			record: func(u *conditionUpdater) {
				totals := newContentTotals()
				totals.add(deployments, gvrLeft{count: 1, finalizers: map[string]int{"b.example.com/x": 1, "a.example.com/y": 1}})
				totals.add(configmaps, gvrLeft{count: 1, finalizers: map[string]int{"a.example.com/y": 1}})
				u.contentLeft(totals)
			},
			want: corev1.NamespaceCondition{Type: corev1.NamespaceFinalizersRemaining, Status: corev1.ConditionTrue, Reason: "SomeFinalizersRemain",
				Message: "Some content in the namespace has finalizers remaining: a.example.com/y in 2 resource instances, b.example.com/x in 1 resource instances"},
		},
		{
			name: "content deletion errors are sorted and counted",
			record: func(u *conditionUpdater) {
				u.contentDeletionFailed(errors.New("second"))
				u.contentDeletionFailed(errors.New("first"))
			},
			want: corev1.NamespaceCondition{Type: corev1.NamespaceDeletionContentFailure, Status: corev1.ConditionTrue, Reason: "ContentDeletionFailed",
				Message: "Failed to delete all resource types, 2 remaining: first, second"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u conditionUpdater
			tt.record(&u)
			var status corev1.NamespaceStatus
			if !u.apply(&status, metav1.Now()) {
				t.Fatal("apply on an empty status reported no change")
			}
			if len(status.Conditions) != len(conditionTypes) {
				t.Errorf("conditions = %d, want one of each of the %d types", len(status.Conditions), len(conditionTypes))
			}
			got := findCondition(status.Conditions, tt.want.Type)
			if got == nil || got.Status != tt.want.Status || got.Reason != tt.want.Reason || got.Message != tt.want.Message {
				t.Errorf("condition %s = %+v, want %+v", tt.want.Type, got, tt.want)
			}
		})
	}
}

func TestConditionTransitionTimeMovesOnlyWithStatus(t *testing.T) {
	earlier := metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	later := metav1.NewTime(earlier.Add(time.Hour))
	remaining := func(n int) *conditionUpdater {
		totals := newContentTotals()
		totals.add(corev1.SchemeGroupVersion.WithResource("pods"), gvrLeft{count: n})
		u := &conditionUpdater{}
		u.contentLeft(totals)
		return u
	}
	tests := []struct {
		name        string
		first, then *conditionUpdater
		wantChanged bool
		wantTime    metav1.Time
	}{
		{"the same conditions again change nothing", remaining(1), remaining(1), false, earlier},
		{"a new message keeps the transition time", remaining(2), remaining(1), true, earlier},
		{"a new status moves the transition time", remaining(1), &conditionUpdater{}, true, later},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var status corev1.NamespaceStatus
			tt.first.apply(&status, earlier)
			if changed := tt.then.apply(&status, later); changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			got := findCondition(status.Conditions, corev1.NamespaceContentRemaining)
			if !got.LastTransitionTime.Equal(&tt.wantTime) {
				t.Errorf("lastTransitionTime = %v, want %v", got.LastTransitionTime, tt.wantTime)
			}
		})
	}
}

// fakeNamespace is a namespace deleted a moment ago, waiting for the
// controller.
func fakeNamespace(name string) *corev1.Namespace {
	deleted := metav1.NewTime(time.Now().Add(-time.Second))
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: "ns-uid", DeletionTimestamp: &deleted},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
}

func configMapMetadata(namespace, name string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
	}
}

// configMapsOnly is discovery serving config maps without
// deletecollection, so that they are deleted one by one.
func configMapsOnly() []*metav1.APIResourceList {
	return []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: []string{"delete", "get", "list"}},
	}}}
}

type fakes struct {
	controller *Controller
	client     *kubefake.Clientset
	metadata   *metadatafake.FakeMetadataClient
}

func newFakes(t *testing.T, ns *corev1.Namespace, content ...runtime.Object) fakes {
	t.Helper()
	client := kubefake.NewClientset(ns)
	// The fake has no namespaces/finalize: answer as the API server does.
	client.PrependReactor("create", "namespaces", func(action clienttesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "finalize" {
			return false, nil, nil
		}
		return true, action.(clienttesting.CreateAction).GetObject(), nil
	})
	scheme := runtime.NewScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	metadataClient := metadatafake.NewSimpleMetadataClient(scheme, content...)
	c := New(client, informers.NewSharedInformerFactory(client, 0), metadataClient, nil)
	return fakes{controller: c, client: client, metadata: metadataClient}
}

func (f fakes) finalized() bool {
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "create" && a.GetSubresource() == "finalize" {
			return true
		}
	}
	return false
}

func (f fakes) namespace(t *testing.T, name string) *corev1.Namespace {
	t.Helper()
	ns, err := f.client.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func TestPartialDiscoveryDeletesWhatItCanButDoesNotFinalize(t *testing.T) {
	f := newFakes(t, fakeNamespace("team"), configMapMetadata("team", "settings"))
	f.controller.discover = func() ([]*metav1.APIResourceList, error) {
		return configMapsOnly(), &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{
			{Group: "metrics.k8s.io", Version: "v1beta1"}: errors.New("stale GroupVersion discovery"),
		}}
	}
	if err := f.controller.deleteNamespace(context.Background(), "team"); err == nil {
		t.Fatal("deleteNamespace succeeded although discovery failed")
	}
	_, err := f.metadata.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace("team").Get(context.Background(), "settings", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("config map after the pass: err = %v, want deleted one by one", err)
	}
	if f.finalized() {
		t.Error("namespace finalized although some groups could not be listed")
	}
	c := findCondition(f.namespace(t, "team").Status.Conditions, corev1.NamespaceDeletionDiscoveryFailure)
	if c == nil || c.Status != corev1.ConditionTrue || c.Reason != "DiscoveryFailed" {
		t.Errorf("discovery condition = %+v, want True/DiscoveryFailed", c)
	}
}

func TestContentLeftWithoutReasonIsAContentFailure(t *testing.T) {
	f := newFakes(t, fakeNamespace("team"), configMapMetadata("team", "stubborn"))
	f.controller.discover = func() ([]*metav1.APIResourceList, error) { return configMapsOnly(), nil }
	// A server that accepts the deletion but keeps the object.
	f.metadata.PrependReactor("delete", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil
	})
	err := f.controller.deleteNamespace(context.Background(), "team")
	want := "unexpected items still remain in namespace: team for gvr: /v1, Resource=configmaps"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("deleteNamespace error = %v, want one containing %q", err, want)
	}
	var remaining *contentRemainingError
	if errors.As(err, &remaining) {
		t.Errorf("an unexplained leftover was taken for content that goes by itself: %v", err)
	}
	c := findCondition(f.namespace(t, "team").Status.Conditions, corev1.NamespaceDeletionContentFailure)
	if c == nil || c.Status != corev1.ConditionTrue || c.Message != "Failed to delete all resource types, 1 remaining: "+want {
		t.Errorf("content failure condition = %+v", c)
	}
	if f.finalized() {
		t.Error("namespace finalized with content left")
	}
}

func TestEmptiedNamespaceIsFinalized(t *testing.T) {
	f := newFakes(t, fakeNamespace("team"), configMapMetadata("team", "settings"))
	f.controller.discover = func() ([]*metav1.APIResourceList, error) { return configMapsOnly(), nil }
	if err := f.controller.deleteNamespace(context.Background(), "team"); err != nil {
		t.Fatalf("deleteNamespace: %v", err)
	}
	var finalize *corev1.Namespace
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "create" && a.GetSubresource() == "finalize" {
			finalize = a.(clienttesting.CreateAction).GetObject().(*corev1.Namespace)
		}
	}
	if finalize == nil {
		t.Fatal("namespaces/finalize was not called")
	}
	if len(finalize.Spec.Finalizers) != 0 {
		t.Errorf("finalize sent spec.finalizers %v, want the %q finalizer removed", finalize.Spec.Finalizers, corev1.FinalizerKubernetes)
	}
}

func TestPodsInTheirGracePeriodAreWaitedFor(t *testing.T) {
	ns := fakeNamespace("team")
	grace := int64(30)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web"},
		Spec:       corev1.PodSpec{NodeName: "worker", TerminationGracePeriodSeconds: &grace},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	f := newFakes(t, ns, &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "web"},
	}, configMapMetadata("team", "settings"))
	if _, err := f.client.CoreV1().Pods("team").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.controller.discover = func() ([]*metav1.APIResourceList, error) {
		lists := configMapsOnly()
		lists[0].APIResources = append(lists[0].APIResources,
			metav1.APIResource{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: []string{"delete", "deletecollection", "get", "list"}})
		return lists, nil
	}
	// The pod's kubelet has not stopped it yet: the deletion only marks it.
	f.metadata.PrependReactor("delete-collection", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil
	})

	err := f.controller.deleteNamespace(context.Background(), "team")
	var remaining *contentRemainingError
	if !errors.As(err, &remaining) || remaining.estimate != grace {
		t.Fatalf("deleteNamespace error = %v, want content remaining for the pod's %d s grace period", err, grace)
	}
	if _, err := f.metadata.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace("team").Get(context.Background(), "settings", metav1.GetOptions{}); err != nil {
		t.Errorf("config map while a pod remains: %v; want it kept until the pods are gone", err)
	}
	c := findCondition(f.namespace(t, "team").Status.Conditions, corev1.NamespaceContentRemaining)
	if c == nil || c.Message != "Some resources are remaining: pods. has 1 resource instances" {
		t.Errorf("content remaining condition = %+v", c)
	}
}
