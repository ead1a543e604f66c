package managedslices

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func trackedSlice(uid, rv string) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{
		Namespace: "ns", Name: uid, UID: types.UID(uid), ResourceVersion: rv,
		Labels: map[string]string{discoveryv1.LabelServiceName: "web"},
	}}
}

func TestTrackerStale(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "svc-1"}}
	for _, tc := range []struct {
		name   string
		record func(*Tracker)
		cached []*discoveryv1.EndpointSlice
		want   bool
	}{
		{"nothing written: never stale", func(*Tracker) {}, []*discoveryv1.EndpointSlice{trackedSlice("a", "1")}, false},
		{"created slice not cached yet", func(tr *Tracker) { tr.Wrote(trackedSlice("a", "5"), "") }, nil, true},
		{"created slice cached", func(tr *Tracker) { tr.Wrote(trackedSlice("a", "5"), "") }, []*discoveryv1.EndpointSlice{trackedSlice("a", "5")}, false},
		{"cache still shows the replaced version", func(tr *Tracker) { tr.Wrote(trackedSlice("a", "7"), "5") }, []*discoveryv1.EndpointSlice{trackedSlice("a", "5")}, true},
		{"cache shows a version newer than ours", func(tr *Tracker) { tr.Wrote(trackedSlice("a", "7"), "5") }, []*discoveryv1.EndpointSlice{trackedSlice("a", "9")}, false},
		{"an update that changed nothing is never stale", func(tr *Tracker) { tr.Wrote(trackedSlice("a", "5"), "5") }, []*discoveryv1.EndpointSlice{trackedSlice("a", "5")}, false},
		{"deleted slice still cached", func(tr *Tracker) { tr.ExpectDeletion(trackedSlice("a", "5")) }, []*discoveryv1.EndpointSlice{trackedSlice("a", "5")}, true},
		{"deleted slice gone", func(tr *Tracker) { tr.ExpectDeletion(trackedSlice("a", "5")) }, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker()
			tc.record(tr)
			if got := tr.Stale(svc, tc.cached); got != tc.want {
				t.Errorf("stale %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTrackerForgetsAnOlderServiceOfTheSameName(t *testing.T) {
	tr := NewTracker()
	old := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "svc-1"}}
	tr.Stale(old, nil)
	tr.Wrote(trackedSlice("a", "5"), "")
	if !tr.Stale(old, nil) {
		t.Fatal("created slice missing from the cache is not stale")
	}
	recreated := old.DeepCopy()
	recreated.UID = "svc-2"
	if tr.Stale(recreated, nil) {
		t.Error("writes for the older Service block the new one")
	}
}

func TestTrackerShouldSync(t *testing.T) {
	tr := NewTracker()
	if !tr.ShouldSync(trackedSlice("a", "1")) {
		t.Error("a slice the controller never wrote is not synced")
	}
	tr.Wrote(trackedSlice("a", "5"), "")
	if tr.ShouldSync(trackedSlice("a", "5")) {
		t.Error("the controller's own write triggers a sync")
	}
	if !tr.ShouldSync(trackedSlice("a", "6")) {
		t.Error("someone else's write does not trigger a sync")
	}
	tr.ExpectDeletion(trackedSlice("a", "6"))
	if !tr.Deleted(trackedSlice("a", "6")) {
		t.Error("an expected deletion is reported unexpected")
	}
	if tr.Deleted(trackedSlice("b", "1")) {
		t.Error("someone else's deletion is reported expected")
	}
}
