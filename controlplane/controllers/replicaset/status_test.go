package replicaset

import (
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestCalculateStatusCountsPods(t *testing.T) {
	rs := &appsv1.ReplicaSet{
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        ptr.To(int32(4)),
			MinReadySeconds: 10,
			Template:        corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}}},
		},
	}
	labeled := func(p *corev1.Pod, l map[string]string) *corev1.Pod { p.Labels = l; return p }
	full := map[string]string{"app": "web", "tier": "front", "extra": "x"}
	active := []*corev1.Pod{
		labeled(podSpec{name: "available", ready: true, readyAgo: time.Minute}.pod(), full),
		labeled(podSpec{name: "just-ready", ready: true, readyAgo: time.Second}.pod(), full),
		labeled(podSpec{name: "unready"}.pod(), map[string]string{"app": "web"}),
	}
	terminating := []*corev1.Pod{podSpec{name: "going"}.pod()}

	got := calculateStatus(rs, active, terminating, true, nil, testNow)
	want := appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, TerminatingReplicas: ptr.To(int32(1))}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("status %+v, want %+v", got, want)
	}
	if got := calculateStatus(rs, active, terminating, false, nil, testNow); got.TerminatingReplicas != nil {
		t.Errorf("ReplicationController status got terminatingReplicas %d", *got.TerminatingReplicas)
	}
}

func TestCalculateStatusReplicaFailureCondition(t *testing.T) {
	tests := []struct {
		name       string
		existing   []appsv1.ReplicaSetCondition
		active     int
		err        error
		wantReason string // "": no condition
		keepsTime  bool
	}{
		{name: "creation failure", active: 1, err: errTest, wantReason: ReasonFailedCreate},
		{name: "deletion failure", active: 5, err: errTest, wantReason: ReasonFailedDelete},
		{name: "success clears it", active: 3, existing: []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: ReasonFailedCreate}}},
		{name: "an existing failure is kept as it was", active: 1, err: errTest,
			existing:   []appsv1.ReplicaSetCondition{{Type: appsv1.ReplicaSetReplicaFailure, Status: corev1.ConditionTrue, Reason: ReasonFailedCreate, Message: "first"}},
			wantReason: ReasonFailedCreate, keepsTime: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := &appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(int32(3))}, Status: appsv1.ReplicaSetStatus{Conditions: tt.existing}}
			var active []*corev1.Pod
			for range tt.active {
				active = append(active, podSpec{}.pod())
			}
			got := calculateStatus(rs, active, nil, true, tt.err, testNow)
			cond := replicaFailure(got)
			switch {
			case tt.wantReason == "" && cond != nil:
				t.Errorf("unexpected condition %+v", cond)
			case tt.wantReason != "" && (cond == nil || cond.Reason != tt.wantReason || cond.Status != corev1.ConditionTrue):
				t.Errorf("condition %+v, want reason %s", cond, tt.wantReason)
			case tt.keepsTime && cond.Message != "first":
				t.Errorf("existing condition replaced: %+v", cond)
			case tt.wantReason != "" && !tt.keepsTime && cond.Message != errTest.Error():
				t.Errorf("message %q, want the error's", cond.Message)
			}
		})
	}
}

func TestReplicationControllerRoundTripsThroughReplicaSet(t *testing.T) {
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "ns", UID: "u", ResourceVersion: "7", Generation: 3},
		Spec: corev1.ReplicationControllerSpec{
			Replicas:        ptr.To(int32(2)),
			MinReadySeconds: 5,
			Selector:        map[string]string{"app": "web"},
			Template:        &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}},
		},
		Status: corev1.ReplicationControllerStatus{
			Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, ObservedGeneration: 3,
			Conditions: []corev1.ReplicationControllerCondition{{Type: corev1.ReplicationControllerReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: "m"}},
		},
	}
	rs := rcToRS(rc)
	if rs.Spec.Selector.MatchLabels["app"] != "web" || rs.Spec.Template.Labels["app"] != "web" || rs.ResourceVersion != "7" {
		t.Errorf("converted ReplicaSet %+v", rs)
	}
	if back := rsToRC(rs); !reflect.DeepEqual(back, rc) {
		t.Errorf("round trip changed the ReplicationController:\n got %+v\nwant %+v", back, rc)
	}
	rs.Spec.Template.Labels["app"] = "changed"
	if rc.Spec.Template.Labels["app"] != "web" {
		t.Error("converted ReplicaSet shares its template with the ReplicationController")
	}
}
