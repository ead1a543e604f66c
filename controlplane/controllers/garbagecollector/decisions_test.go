package garbagecollector

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	kubefake "k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	"k8s.io/client-go/tools/record"
)

func ref(uid string) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: "owner-" + uid, UID: types.UID(uid)}
}

func TestDecideFollowsUpstreamAttemptToDelete(t *testing.T) {
	tests := []struct {
		name          string
		owners        ownerStates
		hasDependents bool
		want          verdict
	}{
		{"a solid owner alone keeps the object", ownerStates{solid: []metav1.OwnerReference{ref("a")}}, false, keep},
		{"a solid owner and a dangling one drop the dangling reference", ownerStates{solid: []metav1.OwnerReference{ref("a")}, dangling: []metav1.OwnerReference{ref("b")}}, false, dropReferences},
		{"a solid owner and a waiting one drop the reference to the waiting owner", ownerStates{solid: []metav1.OwnerReference{ref("a")}, waiting: []metav1.OwnerReference{ref("b")}}, true, dropReferences},
		{"only dangling owners delete the object", ownerStates{dangling: []metav1.OwnerReference{ref("a"), ref("b")}}, true, deleteObject},
		{"a waiting owner deletes a dependent without dependents normally", ownerStates{waiting: []metav1.OwnerReference{ref("a")}}, false, deleteObject},
		{"a waiting owner deletes a dependent with dependents in the foreground", ownerStates{waiting: []metav1.OwnerReference{ref("a")}, dangling: []metav1.OwnerReference{ref("b")}}, true, deleteForeground},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decide(tt.owners, tt.hasDependents); got != tt.want {
				t.Errorf("decide = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPropagationHonoursTheObjectsOwnFinalizers(t *testing.T) {
	tests := []struct {
		name       string
		finalizers []string
		want       metav1.DeletionPropagation
	}{
		{"no finalizer deletes in the background", nil, metav1.DeletePropagationBackground},
		{"an unrelated finalizer deletes in the background", []string{"example.com/x"}, metav1.DeletePropagationBackground},
		{"the orphan finalizer orphans", []string{metav1.FinalizerOrphanDependents}, metav1.DeletePropagationOrphan},
		{"the foregroundDeletion finalizer deletes in the foreground", []string{metav1.FinalizerDeleteDependents}, metav1.DeletePropagationForeground},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &metav1.ObjectMeta{Finalizers: tt.finalizers}
			if got := propagationFor(o); got != tt.want {
				t.Errorf("propagationFor = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNeedsCollector(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name string
		meta metav1.ObjectMeta
		want bool
	}{
		{"an object without owners or deletion is ignored", metav1.ObjectMeta{}, false},
		{"an object with an owner is looked at", metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{ref("a")}}, true},
		{"a foreground deletion is looked at", metav1.ObjectMeta{DeletionTimestamp: &now, Finalizers: []string{metav1.FinalizerDeleteDependents}}, true},
		{"an orphan deletion is looked at", metav1.ObjectMeta{DeletionTimestamp: &now, Finalizers: []string{metav1.FinalizerOrphanDependents}}, true},
		{"a deletion held by another finalizer is ignored", metav1.ObjectMeta{DeletionTimestamp: &now, Finalizers: []string{"example.com/x"}}, false},
		{"a GC finalizer without a deletion is ignored", metav1.ObjectMeta{Finalizers: []string{metav1.FinalizerOrphanDependents}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := needsCollector(&tt.meta); got != tt.want {
				t.Errorf("needsCollector = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUnblockedOwners(t *testing.T) {
	yes, no := true, false
	blocking := func(uid string, block *bool) metav1.OwnerReference {
		r := ref(uid)
		r.BlockOwnerDeletion = block
		return r
	}
	tests := []struct {
		name     string
		old, new []metav1.OwnerReference
		want     []types.UID
	}{
		{"an unchanged blocking reference unblocks nothing", []metav1.OwnerReference{blocking("a", &yes)}, []metav1.OwnerReference{blocking("a", &yes)}, nil},
		{"a removed blocking reference unblocks its owner", []metav1.OwnerReference{blocking("a", &yes), blocking("b", &yes)}, []metav1.OwnerReference{blocking("b", &yes)}, []types.UID{"a"}},
		{"a cleared blockOwnerDeletion unblocks its owner", []metav1.OwnerReference{blocking("a", &yes)}, []metav1.OwnerReference{blocking("a", &no)}, []types.UID{"a"}},
		{"a removed non-blocking reference unblocks nothing", []metav1.OwnerReference{blocking("a", nil)}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := unblockedOwners(&metav1.ObjectMeta{OwnerReferences: tt.old}, &metav1.ObjectMeta{OwnerReferences: tt.new})
			if len(got) != len(tt.want) {
				t.Fatalf("unblockedOwners = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("unblockedOwners = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestPatchesAreCompareAndSwap(t *testing.T) {
	o := &metav1.ObjectMeta{UID: "u1", ResourceVersion: "42"}
	tests := []struct {
		name  string
		patch func() ([]byte, error)
		want  string
	}{
		{"the last owner reference removed is null, which a merge patch deletes",
			func() ([]byte, error) {
				return ownerReferencesPatch(o, withoutOwners([]metav1.OwnerReference{ref("a")}, []types.UID{"a"}))
			},
			`{"metadata":{"uid":"u1","resourceVersion":"42","ownerReferences":null}}`},
		{"the remaining owner references are written whole",
			func() ([]byte, error) {
				return ownerReferencesPatch(o, withoutOwners([]metav1.OwnerReference{ref("a"), ref("b")}, []types.UID{"a"}))
			},
			`{"metadata":{"uid":"u1","resourceVersion":"42","ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner-b","uid":"b"}]}}`},
		{"the remaining finalizers are written whole",
			func() ([]byte, error) { return finalizersPatch(o, []string{"example.com/x"}) },
			`{"metadata":{"uid":"u1","resourceVersion":"42","finalizers":["example.com/x"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.patch()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("patch = %s, want %s", got, tt.want)
			}
			var decoded map[string]any
			if err := json.Unmarshal(got, &decoded); err != nil {
				t.Errorf("patch is not JSON: %v", err)
			}
		})
	}
}

func TestAbsentOwnersForgetsTheOldestWhenFull(t *testing.T) {
	a := newAbsentOwners(2)
	k := func(uid string) ownerKey { return ownerKey{kind: "ConfigMap", name: "n", uid: types.UID(uid)} }
	a.add(k("1"))
	a.add(k("2"))
	a.add(k("2")) // already known: does not push anything out
	a.add(k("3"))
	for uid, want := range map[string]bool{"1": false, "2": true, "3": true} {
		if got := a.has(k(uid)); got != want {
			t.Errorf("has(%s) = %v, want %v", uid, got, want)
		}
	}
}

func TestServedResources(t *testing.T) {
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Kind: "Pod", Namespaced: true, Verbs: []string{"create", "delete", "get", "list", "watch"}},
			{Name: "pods/status", Kind: "Pod", Namespaced: true, Verbs: []string{"get", "patch"}},
			{Name: "bindings", Kind: "Binding", Namespaced: true, Verbs: []string{"create"}},
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: []string{"delete", "list", "watch"}},
			{Name: "nodes", Kind: "Node", Verbs: []string{"delete", "get", "list", "watch"}},
		}},
		{GroupVersion: "events.k8s.io/v1", APIResources: []metav1.APIResource{
			{Name: "events", Kind: "Event", Namespaced: true, Verbs: []string{"delete", "list", "watch"}},
		}},
	}
	byKind, watchable := servedResources(lists)
	wantWatched := []schema.GroupVersionResource{{Version: "v1", Resource: "pods"}, {Version: "v1", Resource: "nodes"}}
	if len(watchable) != len(wantWatched) {
		t.Errorf("watched resources = %v, want %v (no subresources, no create-only ones, no events)", watchable, wantWatched)
	}
	for _, gvr := range wantWatched {
		if _, ok := watchable[gvr]; !ok {
			t.Errorf("%s is not watched", gvr)
		}
	}
	if r, ok := byKind[schema.GroupKind{Kind: "Node"}]; !ok || r.namespaced || r.gvr.Resource != "nodes" {
		t.Errorf("kind Node resolves to %+v, %v; want cluster-scoped nodes", r, ok)
	}
	if r, ok := byKind[schema.GroupKind{Kind: "Binding"}]; !ok || !r.namespaced {
		t.Errorf("kind Binding resolves to %+v, %v; want the namespaced bindings, for owner lookups", r, ok)
	}
}

// TestCollectsTypesTheSharedFactoryDoesNotKnow runs the collector on a
// resource only discovery knows: it is watched through a metadata-only
// informer, and its orphans are deleted through the metadata client.
func TestCollectsTypesTheSharedFactoryDoesNotKnow(t *testing.T) {
	widgets := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	widget := func(name, uid string, owners ...metav1.OwnerReference) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{APIVersion: "example.com/v1", Kind: "Widget"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(uid), ResourceVersion: "1", OwnerReferences: owners},
		}
	}
	widgetRef := func(name, uid string) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "Widget", Name: name, UID: types.UID(uid)}
	}
	scheme := runtime.NewScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	metadataClient := metadatafake.NewSimpleMetadataClient(scheme,
		widget("parent", "u-parent"),
		widget("child", "u-child", widgetRef("parent", "u-parent")),
		widget("orphan", "u-orphan", widgetRef("gone", "u-gone")),
	)
	client := kubefake.NewClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	gc := New(client, factory, metadataClient, record.NewFakeRecorder(10), nil)
	gc.discover = func() ([]*metav1.APIResourceList, error) {
		return []*metav1.APIResourceList{{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{
			{Name: "widgets", Kind: "Widget", Namespaced: true, Verbs: []string{"delete", "get", "list", "patch", "watch"}},
		}}}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		gc.Run(ctx, 1)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	widgetClient := metadataClient.Resource(widgets).Namespace("default")
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := widgetClient.Get(ctx, "orphan", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("the widget whose owner is gone was not collected: %v", err)
	}
	if _, err := widgetClient.Get(context.Background(), "child", metav1.GetOptions{}); err != nil {
		t.Errorf("the widget whose owner exists: %v", err)
	}
	if m := gc.monitorFor(widgets); m == nil || !m.own {
		t.Errorf("widgets monitor = %+v, want one the collector runs itself", m)
	}
}
