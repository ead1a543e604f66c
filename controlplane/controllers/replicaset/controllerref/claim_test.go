package controllerref

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var ownerKind = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}

func owner(deleting bool) *metav1.ObjectMeta {
	m := &metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "owner-uid"}
	if deleting {
		now := metav1.Now()
		m.DeletionTimestamp = &now
	}
	return m
}

func pod(name string, lbls map[string]string, controller types.UID) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name + "-uid"), Labels: lbls}}
	if controller != "" {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: controller, Controller: new(true)}}
	}
	return p
}

// patches records the patches a Claimer sends.
type patches struct {
	sent []string
	err  error
}

func (p *patches) patch(_ context.Context, _, name string, patch []byte) error {
	p.sent = append(p.sent, name+" "+string(patch))
	return p.err
}

func TestClaimDecides(t *testing.T) {
	match := map[string]string{"app": "web"}
	other := map[string]string{"app": "db"}
	tests := []struct {
		name        string
		owner       *metav1.ObjectMeta
		obj         *corev1.Pod
		canAdoptErr error
		patchErr    error
		wantClaimed bool
		wantPatch   string // "adopt", "release" or ""
		wantErr     bool
	}{
		{name: "owned and matching is kept", owner: owner(false), obj: pod("p", match, "owner-uid"), wantClaimed: true},
		{name: "owned by another controller is left alone", owner: owner(false), obj: pod("p", match, "other-uid")},
		{name: "owned but no longer matching is released", owner: owner(false), obj: pod("p", other, "owner-uid"), wantPatch: "release"},
		{name: "release of a pod gone is no error", owner: owner(false), obj: pod("p", other, "owner-uid"), wantPatch: "release",
			patchErr: apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "p")},
		{name: "release of a recreated pod is no error", owner: owner(false), obj: pod("p", other, "owner-uid"), wantPatch: "release",
			patchErr: apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "p", field.ErrorList{field.Invalid(field.NewPath("metadata", "uid"), "x", "immutable")})},
		{name: "release failure is an error", owner: owner(false), obj: pod("p", other, "owner-uid"), wantPatch: "release", patchErr: errors.New("boom"), wantErr: true},
		{name: "deleting owner keeps what it has without releasing", owner: owner(true), obj: pod("p", other, "owner-uid")},
		{name: "matching orphan is adopted", owner: owner(false), obj: pod("p", match, ""), wantClaimed: true, wantPatch: "adopt"},
		{name: "orphan not matching is left alone", owner: owner(false), obj: pod("p", other, "")},
		{name: "deleting owner adopts nothing", owner: owner(true), obj: pod("p", match, "")},
		{name: "owner found deleted on recheck adopts nothing", owner: owner(false), obj: pod("p", match, ""), canAdoptErr: errors.New("deleted"), wantErr: true},
		{name: "adopting a pod gone is no error", owner: owner(false), obj: pod("p", match, ""), wantPatch: "adopt",
			patchErr: apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "p")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &patches{err: tt.patchErr}
			canAdopt := func(context.Context) error { return tt.canAdoptErr }
			c := NewClaimer(tt.owner, ownerKind, labels.SelectorFromSet(match), "Pod", p.patch, canAdopt)
			claimed, err := c.Claim(context.Background(), tt.obj)
			if claimed != tt.wantClaimed || (err != nil) != tt.wantErr {
				t.Errorf("claimed %v err %v, want %v and error %v", claimed, err, tt.wantClaimed, tt.wantErr)
			}
			var want []string
			switch tt.wantPatch {
			case "adopt":
				b, _ := AdoptPatch(tt.owner, ownerKind, tt.obj.UID)
				want = []string{"p " + string(b)}
			case "release":
				b, _ := ReleasePatch(tt.owner.UID, tt.obj.UID)
				want = []string{"p " + string(b)}
			}
			if !reflect.DeepEqual(p.sent, want) {
				t.Errorf("patches %q, want %q", p.sent, want)
			}
		})
	}
}

func TestClaimAllRechecksOwnerOnce(t *testing.T) {
	checks := 0
	canAdopt := func(context.Context) error { checks++; return nil }
	p := &patches{}
	c := NewClaimer(owner(false), ownerKind, labels.SelectorFromSet(map[string]string{"app": "web"}), "Pod", p.patch, canAdopt)
	pods := []*corev1.Pod{pod("a", map[string]string{"app": "web"}, ""), pod("b", map[string]string{"app": "web"}, ""), pod("c", map[string]string{"app": "db"}, "")}
	claimed, err := ClaimAll(context.Background(), c, pods)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 2 || claimed[0].Name != "a" || claimed[1].Name != "b" {
		t.Errorf("claimed %v", claimed)
	}
	if checks != 1 {
		t.Errorf("owner rechecked %d times, want once", checks)
	}
}

func TestPatchesCarryUIDPrecondition(t *testing.T) {
	adopt, err := AdoptPatch(owner(false), ownerKind, "pod-uid")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(adopt, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"metadata": map[string]any{
		"uid": "pod-uid",
		"ownerReferences": []any{map[string]any{
			"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "owner-uid",
			"controller": true, "blockOwnerDeletion": true,
		}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("adopt patch %s", adopt)
	}
	release, err := ReleasePatch("owner-uid", "pod-uid")
	if err != nil {
		t.Fatal(err)
	}
	if string(release) != `{"metadata":{"ownerReferences":[{"$patch":"delete","uid":"owner-uid"}],"uid":"pod-uid"}}` {
		t.Errorf("release patch %s", release)
	}
}

func TestRecheckDeletionRefusesDeletedOwner(t *testing.T) {
	check := RecheckDeletion(func(context.Context) (metav1.Object, error) { return owner(true), nil })
	if err := check(context.Background()); err == nil {
		t.Error("owner being deleted may adopt")
	}
	check = RecheckDeletion(func(context.Context) (metav1.Object, error) { return owner(false), nil })
	if err := check(context.Background()); err != nil {
		t.Errorf("live owner may not adopt: %v", err)
	}
	check = RecheckDeletion(func(context.Context) (metav1.Object, error) { return nil, errors.New("unreachable") })
	if err := check(context.Background()); err == nil {
		t.Error("owner that cannot be read may adopt")
	}
}
