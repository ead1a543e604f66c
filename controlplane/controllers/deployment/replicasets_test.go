package deployment

import (
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestResolveFencepostsRoundsAsUpstream(t *testing.T) {
	tests := []struct {
		surge, unavailable string
		desired            int32
		wantSurge          int32
		wantUnavailable    int32
	}{
		// Surge rounds up, unavailability down.
		{surge: "25%", unavailable: "25%", desired: 10, wantSurge: 3, wantUnavailable: 2},
		{surge: "25%", unavailable: "25%", desired: 1, wantSurge: 1, wantUnavailable: 0},
		{surge: "25%", unavailable: "25%", desired: 4, wantSurge: 1, wantUnavailable: 1},
		{surge: "1", unavailable: "0", desired: 3, wantSurge: 1, wantUnavailable: 0},
		// Both zero would never move: one may be unavailable.
		{surge: "0%", unavailable: "0%", desired: 0, wantSurge: 0, wantUnavailable: 1},
		{surge: "0", unavailable: "10%", desired: 5, wantSurge: 0, wantUnavailable: 1},
		{surge: "50%", unavailable: "3", desired: 5, wantSurge: 3, wantUnavailable: 3},
	}
	for _, tt := range tests {
		t.Run(tt.surge+"/"+tt.unavailable+" of "+itoa(tt.desired), func(t *testing.T) {
			s, u := intstr.Parse(tt.surge), intstr.Parse(tt.unavailable)
			surge, unavailable, err := resolveFenceposts(&s, &u, tt.desired)
			if err != nil {
				t.Fatal(err)
			}
			if surge != tt.wantSurge || unavailable != tt.wantUnavailable {
				t.Errorf("surge %d unavailable %d, want %d and %d", surge, unavailable, tt.wantSurge, tt.wantUnavailable)
			}
		})
	}
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func rollingDeployment(replicas int32, surge, unavailable string) *appsv1.Deployment {
	s, u := intstr.Parse(surge), intstr.Parse(unavailable)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "d-uid"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template("nginx:1"),
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &s, MaxUnavailable: &u},
			},
		},
	}
}

func template(image string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
	}
}

func replicaSet(name string, replicas, available int32, annotations map[string]string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Annotations: annotations},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas), Template: template(name)},
		Status:     appsv1.ReplicaSetStatus{Replicas: replicas, AvailableReplicas: available},
	}
}

func TestNewRSNewReplicasStaysWithinSurge(t *testing.T) {
	tests := []struct {
		name     string
		d        *appsv1.Deployment
		newSize  int32
		oldSizes []int32
		want     int32
	}{
		{name: "room for the whole surge", d: rollingDeployment(10, "3", "2"), newSize: 0, oldSizes: []int32{10}, want: 3},
		{name: "no room", d: rollingDeployment(10, "3", "2"), newSize: 3, oldSizes: []int32{10}, want: 3},
		{name: "never above desired", d: rollingDeployment(4, "50%", "0"), newSize: 3, oldSizes: []int32{0}, want: 4},
		{name: "room made by old ones going", d: rollingDeployment(10, "3", "2"), newSize: 3, oldSizes: []int32{6}, want: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newRS := replicaSet("new", tt.newSize, 0, nil)
			all := []*appsv1.ReplicaSet{newRS}
			for i, n := range tt.oldSizes {
				all = append(all, replicaSet("old"+itoa(int32(i)), n, n, nil))
			}
			got, err := newRSNewReplicas(tt.d, all, newRS)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("new size %d, want %d", got, tt.want)
			}
		})
	}
	recreate := rollingDeployment(5, "1", "1")
	recreate.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if got, _ := newRSNewReplicas(recreate, nil, replicaSet("new", 0, 0, nil)); got != 5 {
		t.Errorf("Recreate new size %d, want all 5", got)
	}
}

func TestComputeHashIsStableAndCollisionAware(t *testing.T) {
	a, b := template("nginx:1"), template("nginx:1")
	if ComputeHash(&a, nil) != ComputeHash(&b, nil) {
		t.Error("equal templates hash differently")
	}
	other := template("nginx:2")
	if ComputeHash(&a, nil) == ComputeHash(&other, nil) {
		t.Error("different templates hash the same")
	}
	if ComputeHash(&a, nil) == ComputeHash(&a, ptr.To(int32(1))) || ComputeHash(&a, ptr.To(int32(1))) == ComputeHash(&a, ptr.To(int32(2))) {
		t.Error("collision count does not change the hash")
	}
	for _, r := range ComputeHash(&a, nil) {
		// rand.SafeEncodeString's alphabet: no vowels, no look-alikes.
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", r) {
			t.Errorf("hash %q has unsafe %q", ComputeHash(&a, nil), r)
		}
	}
}

func TestEqualIgnoreHashIgnoresOnlyTheHashLabel(t *testing.T) {
	d := template("nginx:1")
	rs := template("nginx:1")
	rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey] = "abc"
	if !equalIgnoreHash(&d, &rs) {
		t.Error("hash label made templates differ")
	}
	rs.Labels["extra"] = "x"
	if equalIgnoreHash(&d, &rs) {
		t.Error("another label was ignored")
	}
}

func TestSetNewReplicaSetAnnotationsTracksRevisions(t *testing.T) {
	d := rollingDeployment(3, "1", "0")
	d.Annotations = map[string]string{
		"kubernetes.io/change-cause":       "kubectl set image",
		RevisionAnnotation:                 "9",
		corev1.LastAppliedConfigAnnotation: "{}",
	}
	rs := replicaSet("web-1", 0, 0, map[string]string{RevisionAnnotation: "1"})
	if !setNewReplicaSetAnnotations(d, rs, "3", true) {
		t.Fatal("no change reported")
	}
	want := map[string]string{RevisionAnnotation: "3", RevisionHistoryAnnotation: "1", "kubernetes.io/change-cause": "kubectl set image"}
	for k, v := range want {
		if rs.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, rs.Annotations[k], v)
		}
	}
	if _, ok := rs.Annotations[corev1.LastAppliedConfigAnnotation]; ok {
		t.Error("last-applied configuration copied to the replica set")
	}
	setNewReplicaSetAnnotations(d, rs, "5", true)
	if rs.Annotations[RevisionHistoryAnnotation] != "1,3" {
		t.Errorf("history %q, want 1,3", rs.Annotations[RevisionHistoryAnnotation])
	}
	if setNewReplicaSetAnnotations(d, rs, "4", true) {
		t.Error("a lower revision replaced a higher one")
	}
	fresh := replicaSet("web-2", 0, 0, nil)
	setNewReplicaSetAnnotations(d, fresh, "1", false)
	if fresh.Annotations[DesiredReplicasAnnotation] != "3" || fresh.Annotations[MaxReplicasAnnotation] != "4" {
		t.Errorf("new replica set annotations %v, want desired 3 and max 4", fresh.Annotations)
	}
}

func TestLastRevisionIsTheSecondHighest(t *testing.T) {
	rss := []*appsv1.ReplicaSet{
		replicaSet("a", 0, 0, map[string]string{RevisionAnnotation: "4"}),
		replicaSet("b", 0, 0, map[string]string{RevisionAnnotation: "7"}),
		replicaSet("c", 0, 0, map[string]string{RevisionAnnotation: "2"}),
		replicaSet("d", 0, 0, map[string]string{RevisionAnnotation: "junk"}),
	}
	if got := maxRevision(rss); got != 7 {
		t.Errorf("max revision %d, want 7", got)
	}
	if got := lastRevision(rss); got != 4 {
		t.Errorf("last revision %d, want 4", got)
	}
}
