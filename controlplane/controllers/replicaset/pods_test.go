package replicaset

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var testNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// podSpec describes a pod for ranking tests.
type podSpec struct {
	name     string
	node     string
	phase    corev1.PodPhase
	ready    bool
	readyAgo time.Duration
	age      time.Duration
	restarts int32
	cost     string
}

func (s podSpec) pod() *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: s.name, Namespace: "ns", UID: types.UID("uid-" + s.name),
			CreationTimestamp: metav1.NewTime(testNow.Add(-s.age)),
		},
		Spec:   corev1.PodSpec{NodeName: s.node},
		Status: corev1.PodStatus{Phase: s.phase},
	}
	if s.phase == "" {
		p.Status.Phase = corev1.PodRunning
	}
	if s.ready {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(testNow.Add(-s.readyAgo))}}
	}
	if s.restarts > 0 {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{RestartCount: s.restarts}}
	}
	if s.cost != "" {
		p.Annotations = map[string]string{PodDeletionCostAnnotation: s.cost}
	}
	return p
}

func TestPodsToDeleteRanksAsUpstream(t *testing.T) {
	tests := []struct {
		name string
		pods []podSpec
		// related adds pods of sibling ReplicaSets, for node crowding.
		related []podSpec
		diff    int
		want    []string
	}{
		{
			name: "unscheduled before scheduled",
			pods: []podSpec{{name: "scheduled", node: "n1", ready: true, readyAgo: time.Hour, age: time.Hour}, {name: "unscheduled", phase: corev1.PodPending}},
			diff: 1, want: []string{"unscheduled"},
		},
		{
			name: "pending before unknown before running",
			pods: []podSpec{{name: "running", node: "n1"}, {name: "unknown", node: "n1", phase: corev1.PodUnknown}, {name: "pending", node: "n1", phase: corev1.PodPending}},
			diff: 2, want: []string{"pending", "unknown"},
		},
		{
			name: "not ready before ready",
			pods: []podSpec{{name: "ready", node: "n1", ready: true, readyAgo: time.Minute}, {name: "unready", node: "n1"}},
			diff: 1, want: []string{"unready"},
		},
		{
			name: "lower deletion cost first",
			pods: []podSpec{{name: "dear", node: "n1", cost: "100"}, {name: "cheap", node: "n1", cost: "-5"}, {name: "default", node: "n1"}},
			diff: 2, want: []string{"cheap", "default"},
		},
		{
			name: "invalid deletion cost counts as zero",
			pods: []podSpec{{name: "dear", node: "n1", cost: "1"}, {name: "invalid", node: "n1", cost: "lots"}},
			diff: 1, want: []string{"invalid"},
		},
		{
			name:    "crowded node first",
			pods:    []podSpec{{name: "alone", node: "n1", age: time.Hour}, {name: "crowded", node: "n2", age: time.Hour}},
			related: []podSpec{{name: "alone", node: "n1"}, {name: "crowded", node: "n2"}, {name: "sibling", node: "n2"}},
			diff:    1, want: []string{"crowded"},
		},
		{
			name: "ready for less time first",
			pods: []podSpec{{name: "veteran", node: "n1", ready: true, readyAgo: 10 * time.Hour}, {name: "rookie", node: "n1", ready: true, readyAgo: time.Minute}},
			diff: 1, want: []string{"rookie"},
		},
		{
			name: "more restarts first",
			pods: []podSpec{{name: "steady", node: "n1", restarts: 1}, {name: "flaky", node: "n1", restarts: 7}},
			diff: 1, want: []string{"flaky"},
		},
		{
			name: "newer first on a log scale",
			pods: []podSpec{{name: "old", node: "n1", age: 48 * time.Hour}, {name: "new", node: "n1", age: time.Minute}},
			diff: 1, want: []string{"new"},
		},
		{
			name: "all deleted when diff covers them",
			pods: []podSpec{{name: "a", node: "n1"}, {name: "b", node: "n1"}},
			diff: 2, want: []string{"a", "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pods, related []*corev1.Pod
			for _, s := range tt.pods {
				pods = append(pods, s.pod())
			}
			for _, s := range tt.related {
				related = append(related, s.pod())
			}
			var got []string
			for _, p := range podsToDelete(pods, related, tt.diff, testNow) {
				got = append(got, p.Name)
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("deleted %v, want %v", got, want)
			}
		})
	}
}

func TestPodAvailabilityWaitsForMinReadySeconds(t *testing.T) {
	tests := []struct {
		name      string
		pod       podSpec
		minReady  int32
		available bool
		nextCheck time.Duration // 0: none
	}{
		{name: "not ready", pod: podSpec{}, minReady: 10},
		{name: "ready without minReadySeconds", pod: podSpec{ready: true}, available: true},
		{name: "ready for long enough", pod: podSpec{ready: true, readyAgo: 20 * time.Second}, minReady: 10, available: true},
		{name: "ready too recently", pod: podSpec{ready: true, readyAgo: 4 * time.Second}, minReady: 10, nextCheck: 6 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.pod.pod()
			if got := isPodAvailable(p, tt.minReady, testNow); got != tt.available {
				t.Errorf("available = %v, want %v", got, tt.available)
			}
			next := nextAvailabilityCheck([]*corev1.Pod{p}, tt.minReady, testNow)
			switch {
			case tt.nextCheck == 0 && next != nil:
				t.Errorf("next check in %v, want none", *next)
			case tt.nextCheck != 0 && (next == nil || *next != tt.nextCheck):
				t.Errorf("next check %v, want %v", next, tt.nextCheck)
			}
		})
	}
}

func TestPodFromTemplateNamesAfterController(t *testing.T) {
	template := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"a": "b"}, Finalizers: []string{"f"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
	ref := &metav1.OwnerReference{Kind: "ReplicaSet", Name: "web", UID: "u"}
	pod := podFromTemplate(template, "web", ref)
	if pod.GenerateName != "web-" || pod.Name != "" {
		t.Errorf("name %q generateName %q, want generateName web-", pod.Name, pod.GenerateName)
	}
	if pod.Labels["app"] != "web" || pod.Annotations["a"] != "b" || !slices.Equal(pod.Finalizers, []string{"f"}) {
		t.Errorf("metadata not copied from the template: %+v", pod.ObjectMeta)
	}
	if len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].UID != "u" {
		t.Errorf("owner references %+v", pod.OwnerReferences)
	}
	pod.Labels["app"] = "changed"
	if template.Labels["app"] != "web" {
		t.Error("pod shares its labels with the template")
	}
	// A name whose dash makes an invalid prefix is used bare.
	if got := generateNamePrefix("UPPER"); got != "UPPER" {
		t.Errorf("prefix of an invalid name = %q", got)
	}
}

func TestSlowStartBatchDoublesAndStopsAtFailure(t *testing.T) {
	tests := []struct {
		name          string
		count         int
		failFrom      int // calls from this one on fail; 0: none fail
		wantCalls     int
		wantSuccesses int
	}{
		{name: "all succeed", count: 10, wantCalls: 10, wantSuccesses: 10},
		// Batches 1, 2 succeed; the batch of 4 fails and nothing follows.
		{name: "failure in the third batch", count: 10, failFrom: 4, wantCalls: 7, wantSuccesses: 3},
		{name: "first call fails", count: 500, failFrom: 1, wantCalls: 1, wantSuccesses: 0},
		{name: "nothing to do", count: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			successes, err := slowStartBatch(tt.count, 1, func() error {
				if n := calls.Add(1); tt.failFrom > 0 && int(n) >= tt.failFrom {
					return errTest
				}
				return nil
			})
			if int(calls.Load()) != tt.wantCalls || successes != tt.wantSuccesses {
				t.Errorf("calls %d successes %d, want %d and %d", calls.Load(), successes, tt.wantCalls, tt.wantSuccesses)
			}
			if (err != nil) != (tt.failFrom > 0) {
				t.Errorf("err = %v", err)
			}
		})
	}
}
