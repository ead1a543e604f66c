package history

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

func parent() *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", UID: "set-uid"}}
}

func setKind() schema.GroupVersionKind { return appsv1.SchemeGroupVersion.WithKind("StatefulSet") }

func raw(s string) runtime.RawExtension { return runtime.RawExtension{Raw: []byte(s)} }

func TestControllerRevisionNameKeepsNamesWithin253Bytes(t *testing.T) {
	tests := []struct {
		name, prefix, want string
	}{
		{name: "short prefix is kept", prefix: "web", want: "web-abc"},
		{name: "prefix of 223 bytes is kept", prefix: strings.Repeat("a", 223), want: strings.Repeat("a", 223) + "-abc"},
		{name: "longer prefix is cut to 223 bytes", prefix: strings.Repeat("a", 300), want: strings.Repeat("a", 223) + "-abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ControllerRevisionName(tt.prefix, "abc"); got != tt.want {
				t.Fatalf("got %q (%d bytes)", got, len(got))
			}
		})
	}
}

func TestNewControllerRevisionIsOwnedNamedAndLabelledByItsHash(t *testing.T) {
	p := parent()
	cr := NewControllerRevision(p, setKind(), map[string]string{"app": "web"}, raw(`{"a":1}`), 3, new(int32))
	hash := HashControllerRevision(cr, new(int32))
	if cr.Name != "web-"+hash {
		t.Errorf("name %q, want web-%s", cr.Name, hash)
	}
	if cr.Labels["app"] != "web" || cr.Labels[ControllerRevisionHashLabel] != hash {
		t.Errorf("labels %v", cr.Labels)
	}
	if cr.Revision != 3 || string(cr.Data.Raw) != `{"a":1}` {
		t.Errorf("revision %d data %s", cr.Revision, cr.Data.Raw)
	}
	ref := metav1.GetControllerOf(cr)
	if ref == nil || ref.UID != p.UID || ref.Kind != "StatefulSet" || ref.APIVersion != "apps/v1" || !*ref.BlockOwnerDeletion {
		t.Errorf("controller reference %+v", ref)
	}
}

func TestHashControllerRevision(t *testing.T) {
	rev := func(data string) *appsv1.ControllerRevision { return &appsv1.ControllerRevision{Data: raw(data)} }
	one := int32(1)
	base := HashControllerRevision(rev(`{"a":1}`), nil)
	tests := []struct {
		name     string
		other    string
		wantSame bool
	}{
		{name: "same data hashes the same", other: HashControllerRevision(rev(`{"a":1}`), nil), wantSame: true},
		{name: "other data hashes differently", other: HashControllerRevision(rev(`{"a":2}`), nil)},
		{name: "a collision count changes the hash", other: HashControllerRevision(rev(`{"a":1}`), &one)},
		{name: "a zero collision count is not no count", other: HashControllerRevision(rev(`{"a":1}`), new(int32))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.other == base) != tt.wantSame {
				t.Fatalf("%q vs %q", base, tt.other)
			}
		})
	}
	if strings.ContainsAny(base, "aeiou") {
		t.Errorf("hash %q spells with vowels", base)
	}
}

func TestEqualRevision(t *testing.T) {
	labelled := func(data, hash string) *appsv1.ControllerRevision {
		cr := &appsv1.ControllerRevision{Data: raw(data)}
		if hash != "" {
			cr.Labels = map[string]string{ControllerRevisionHashLabel: hash}
		}
		return cr
	}
	tests := []struct {
		name     string
		lhs, rhs *appsv1.ControllerRevision
		want     bool
	}{
		{name: "both nil are equal", want: true},
		{name: "nil and a revision differ", lhs: labelled("{}", "")},
		{name: "same data is equal", lhs: labelled(`{"a":1}`, ""), rhs: labelled(`{"a":1}`, ""), want: true},
		{name: "different data differ", lhs: labelled(`{"a":1}`, ""), rhs: labelled(`{"a":2}`, "")},
		{name: "different numeric hashes differ whatever the data", lhs: labelled(`{"a":1}`, "1"), rhs: labelled(`{"a":1}`, "2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EqualRevision(tt.lhs, tt.rhs); got != tt.want {
				t.Fatalf("EqualRevision = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSortControllerRevisionsByRevisionThenAgeThenName(t *testing.T) {
	now := time.Now()
	rev := func(name string, revision int64, created time.Time) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)}, Revision: revision}
	}
	revisions := []*appsv1.ControllerRevision{
		rev("c", 2, now), rev("b", 1, now), rev("a", 2, now), rev("d", 2, now.Add(-time.Hour)),
	}
	SortControllerRevisions(revisions)
	var got []string
	for _, r := range revisions {
		got = append(got, r.Name)
	}
	if strings.Join(got, ",") != "b,d,a,c" {
		t.Fatalf("order %v, want b,d,a,c", got)
	}
}

func TestCreate(t *testing.T) {
	p := parent()
	revision := NewControllerRevision(p, setKind(), map[string]string{"app": "web"}, raw(`{"a":1}`), 1, new(int32))
	tests := []struct {
		name string
		// existing is stored under the name the revision hashes to.
		existingData   string
		wantCollisions int32
		wantData       string
	}{
		{name: "free name is created", wantData: `{"a":1}`},
		{name: "same data under the name is the revision itself", existingData: `{"a":1}`, wantData: `{"a":1}`},
		{name: "other data under the name is a collision", existingData: `{"b":2}`, wantCollisions: 1, wantData: `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			if tt.existingData != "" {
				existing := revision.DeepCopy()
				existing.Namespace = "default"
				existing.Data = raw(tt.existingData)
				if _, err := client.AppsV1().ControllerRevisions("default").Create(context.Background(), existing, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			h := New(client, informers.NewSharedInformerFactory(client, 0).Apps().V1().ControllerRevisions().Lister())
			var collisions int32
			created, err := h.Create(context.Background(), p, revision, &collisions)
			if err != nil {
				t.Fatal(err)
			}
			if collisions != tt.wantCollisions || string(created.Data.Raw) != tt.wantData {
				t.Fatalf("collisions %d data %s, want %d %s", collisions, created.Data.Raw, tt.wantCollisions, tt.wantData)
			}
			if want := ControllerRevisionName("web", HashControllerRevision(revision, &collisions)); created.Name != want {
				t.Fatalf("name %s, want %s", created.Name, want)
			}
		})
	}
	if _, err := New(fake.NewClientset(), nil).Create(context.Background(), p, revision, nil); err == nil {
		t.Error("a nil collision count was accepted")
	}
}

func TestListReturnsRevisionsOwnedByTheParentOrNoOne(t *testing.T) {
	p := parent()
	mk := func(name string, app string, owner types.UID) *appsv1.ControllerRevision {
		cr := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{"app": app}}}
		if owner != "" {
			other := parent()
			other.UID = owner
			cr.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(other, setKind())}
		}
		return cr
	}
	client := fake.NewClientset()
	informer := informers.NewSharedInformerFactory(client, 0).Apps().V1().ControllerRevisions()
	for _, cr := range []*appsv1.ControllerRevision{
		mk("owned", "web", p.UID), mk("orphan", "web", ""), mk("others", "web", "other-uid"), mk("unselected", "db", p.UID),
	} {
		if err := informer.Informer().GetIndexer().Add(cr); err != nil {
			t.Fatal(err)
		}
	}
	got, err := New(client, informer.Lister()).List(p, labels.SelectorFromSet(labels.Set{"app": "web"}))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	if strings.Join(names, ",") != "orphan,owned" {
		t.Fatalf("listed %v, want orphan and owned", names)
	}
}

func TestAdoptReleaseAndRenumber(t *testing.T) {
	ctx := context.Background()
	p := parent()
	orphan := &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web-1", UID: "rev-uid"}, Revision: 1}
	client := fake.NewClientset(orphan)
	h := New(client, informers.NewSharedInformerFactory(client, 0).Apps().V1().ControllerRevisions().Lister())

	adopted, err := h.Adopt(ctx, p, setKind(), orphan)
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(adopted); ref == nil || ref.UID != p.UID || !*ref.BlockOwnerDeletion {
		t.Fatalf("adopted revision's controller %+v", ref)
	}
	if _, err := h.Adopt(ctx, p, setKind(), adopted); err == nil {
		t.Error("adopting an owned revision succeeded")
	}
	released, err := h.Release(ctx, p, adopted)
	if err != nil {
		t.Fatal(err)
	}
	if len(released.OwnerReferences) != 0 {
		t.Fatalf("released revision keeps %+v", released.OwnerReferences)
	}
	renumbered, err := h.UpdateRevision(ctx, released, 5)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := client.AppsV1().ControllerRevisions("default").Get(ctx, "web-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if renumbered.Revision != 5 || stored.Revision != 5 {
		t.Fatalf("revision %d, stored %d, want 5", renumbered.Revision, stored.Revision)
	}
	if err := h.Delete(ctx, stored); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Release(ctx, p, stored); err != nil {
		t.Errorf("releasing a deleted revision: %v, want no error", err)
	}
}
