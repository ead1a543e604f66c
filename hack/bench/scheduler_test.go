package main

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

func TestRecordBindsCountsEachPodOnce(t *testing.T) {
	pod := func(name, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node}}
	}
	w := watch.NewFakeWithChanSize(10, false)
	w.Add(pod("a", ""))
	w.Add(pod("b", ""))
	w.Modify(pod("a", "n1"))
	// A second update of a bound pod is not a second bind.
	w.Modify(pod("a", "n1"))
	w.Modify(pod("b", "n2"))
	got, err := recordBinds(w, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got.lastCreated.IsZero() || got.firstBound.IsZero() || got.lastBound.Before(got.firstBound) {
		t.Errorf("times = %+v, want all set, in order", got)
	}
}

func TestRecordBindsReportsAnEndedWatch(t *testing.T) {
	w := watch.NewFakeWithChanSize(10, false)
	w.Add(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.PodSpec{NodeName: "n1"}})
	w.Stop()
	if _, err := recordBinds(w, 2); err == nil {
		t.Fatal("recordBinds returned no error for a watch that ended with 1 of 2 pods bound")
	}
}
