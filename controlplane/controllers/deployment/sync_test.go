package deployment

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var testNow = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// events records what the controller reports, as "Type Reason Message".
type events struct {
	mu   sync.Mutex
	seen []string
}

func (e *events) Event(_ runtime.Object, eventtype, reason, message string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen = append(e.seen, eventtype+" "+reason+" "+message)
}

func (e *events) Eventf(obj runtime.Object, eventtype, reason, format string, args ...any) {
	e.Event(obj, eventtype, reason, fmt.Sprintf(format, args...))
}

func (e *events) AnnotatedEventf(obj runtime.Object, _ map[string]string, eventtype, reason, format string, args ...any) {
	e.Eventf(obj, eventtype, reason, format, args...)
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.seen)
}

func fakeController(objs ...runtime.Object) (*Controller, *fake.Clientset, *events, *testingclock.FakeClock) {
	client := fake.NewClientset(objs...)
	clock := testingclock.NewFakeClock(testNow)
	rec := &events{}
	c := New(client, informers.NewSharedInformerFactory(client, 0), rec, Config{Clock: clock})
	return c, client, rec, clock
}

func withMax(rs *appsv1.ReplicaSet, desired, maxReplicas int32) *appsv1.ReplicaSet {
	rs.Annotations = map[string]string{DesiredReplicasAnnotation: itoa(desired), MaxReplicasAnnotation: itoa(maxReplicas)}
	return rs
}

func TestScaleSplitsReplicasInProportion(t *testing.T) {
	tests := []struct {
		name       string
		d          *appsv1.Deployment
		newRS      *appsv1.ReplicaSet
		oldRSs     []*appsv1.ReplicaSet
		want       map[string]int32
		wantEvents []string
	}{
		{
			name:  "scaling up mid-rollout grows the larger set more",
			d:     rollingDeployment(10, "3", "2"),
			newRS: withMax(replicaSet("new", 2, 2, nil), 5, 8), oldRSs: []*appsv1.ReplicaSet{withMax(replicaSet("old", 6, 6, nil), 5, 8)},
			want:       map[string]int32{"new": 3, "old": 10},
			wantEvents: []string{"Normal ScalingReplicaSet Scaled up replica set old from 6 to 10", "Normal ScalingReplicaSet Scaled up replica set new from 2 to 3"},
		},
		{
			name:  "scaling down mid-rollout shrinks both",
			d:     rollingDeployment(5, "3", "2"),
			newRS: withMax(replicaSet("new", 4, 4, nil), 10, 13), oldRSs: []*appsv1.ReplicaSet{withMax(replicaSet("old", 9, 9, nil), 10, 13)},
			want:       map[string]int32{"new": 2, "old": 6},
			wantEvents: []string{"Normal ScalingReplicaSet Scaled down replica set old from 9 to 6", "Normal ScalingReplicaSet Scaled down replica set new from 4 to 2"},
		},
		{
			name:  "the only active set takes all",
			d:     rollingDeployment(5, "1", "1"),
			newRS: withMax(replicaSet("new", 3, 3, nil), 3, 4), oldRSs: []*appsv1.ReplicaSet{replicaSet("old", 0, 0, nil)},
			want:       map[string]int32{"new": 5, "old": 0},
			wantEvents: []string{"Normal ScalingReplicaSet Scaled up replica set new from 3 to 5"},
		},
		{
			name:  "a saturated new set leaves old ones nothing",
			d:     rollingDeployment(5, "1", "1"),
			newRS: withMax(replicaSet("new", 5, 5, nil), 5, 6), oldRSs: []*appsv1.ReplicaSet{withMax(replicaSet("old", 1, 1, nil), 5, 6)},
			want:       map[string]int32{"new": 5, "old": 0},
			wantEvents: []string{"Normal ScalingReplicaSet Scaled down replica set old from 1 to 0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []runtime.Object{tt.d, tt.newRS}
			for _, rs := range tt.oldRSs {
				objs = append(objs, rs)
			}
			c, client, rec, _ := fakeController(objs...)
			if err := c.scale(context.Background(), tt.d, tt.newRS, tt.oldRSs); err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				rs, err := client.AppsV1().ReplicaSets("ns").Get(context.Background(), name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if got := ptr.Deref(rs.Spec.Replicas, -1); got != want {
					t.Errorf("%s has %d replicas, want %d", name, got, want)
				}
			}
			if got := rec.all(); !slices.Equal(got, tt.wantEvents) {
				t.Errorf("events %q, want %q", got, tt.wantEvents)
			}
		})
	}
}

func progressing(reason string, status corev1.ConditionStatus, updated time.Time) appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: status, Reason: reason,
		LastUpdateTime: metav1.NewTime(updated), LastTransitionTime: metav1.NewTime(updated.Add(-time.Hour))}
}

func TestSyncRolloutStatusReportsProgress(t *testing.T) {
	tests := []struct {
		name        string
		prev        appsv1.DeploymentStatus
		newRS       *appsv1.ReplicaSet
		oldRS       *appsv1.ReplicaSet
		wantReason  string
		wantStatus  corev1.ConditionStatus
		wantMessage string
		wantAvail   corev1.ConditionStatus
		// wantRequeue is when the deployment is looked at again; 0: not.
		wantRequeue time.Duration
	}{
		{
			name:        "complete rollout",
			prev:        appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{progressing(ReasonReplicaSetUpdated, corev1.ConditionTrue, testNow)}},
			newRS:       replicaSet("web-new", 3, 3, nil),
			wantReason:  ReasonNewReplicaSetAvailable,
			wantStatus:  corev1.ConditionTrue,
			wantMessage: `ReplicaSet "web-new" has successfully progressed.`,
			wantAvail:   corev1.ConditionTrue,
		},
		{
			name:        "pods moved",
			prev:        appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, Conditions: []appsv1.DeploymentCondition{progressing(ReasonNewReplicaSetCreated, corev1.ConditionTrue, testNow.Add(-time.Minute))}},
			newRS:       replicaSet("web-new", 2, 1, nil),
			oldRS:       replicaSet("web-old", 2, 2, nil),
			wantReason:  ReasonReplicaSetUpdated,
			wantStatus:  corev1.ConditionTrue,
			wantMessage: `ReplicaSet "web-new" is progressing.`,
			wantAvail:   corev1.ConditionTrue,
		},
		{
			name: "stuck past the deadline",
			prev: appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, AvailableReplicas: 3,
				Conditions: []appsv1.DeploymentCondition{progressing(ReasonReplicaSetUpdated, corev1.ConditionTrue, testNow.Add(-11*time.Minute))}},
			newRS:       replicaSet("web-new", 1, 0, nil),
			oldRS:       replicaSet("web-old", 3, 3, nil),
			wantReason:  ReasonProgressDeadlineExceeded,
			wantStatus:  corev1.ConditionFalse,
			wantMessage: `ReplicaSet "web-new" has timed out progressing.`,
			wantAvail:   corev1.ConditionTrue,
		},
		{
			name: "stuck within the deadline is looked at again when it passes",
			prev: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 4, UpdatedReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 3, TerminatingReplicas: ptr.To(int32(0)),
				Conditions: []appsv1.DeploymentCondition{
					progressing(ReasonReplicaSetUpdated, corev1.ConditionTrue, testNow.Add(-4*time.Minute)),
					{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: ReasonMinimumReplicasUnavailable, Message: "Deployment does not have minimum availability.", LastUpdateTime: metav1.NewTime(testNow), LastTransitionTime: metav1.NewTime(testNow)},
				}},
			newRS:       replicaSet("web-new", 1, 0, nil),
			oldRS:       replicaSet("web-old", 3, 1, nil),
			wantReason:  ReasonReplicaSetUpdated,
			wantStatus:  corev1.ConditionTrue,
			wantAvail:   corev1.ConditionFalse,
			wantRequeue: 6*time.Minute + time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := rollingDeployment(3, "1", "1")
			d.Generation = 1
			d.Spec.ProgressDeadlineSeconds = ptr.To(int32(600))
			d.Status = tt.prev
			rss := []*appsv1.ReplicaSet{tt.newRS}
			if tt.oldRS != nil {
				rss = append(rss, tt.oldRS)
			}
			if tt.wantRequeue != 0 {
				d.Spec.Replicas = ptr.To(int32(4))
			}
			c, client, _, clock := fakeController(d)
			if err := c.syncRolloutStatus(context.Background(), rss, tt.newRS, d.DeepCopy()); err != nil {
				t.Fatal(err)
			}
			got, err := client.AppsV1().Deployments("ns").Get(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cond := getCondition(got.Status, appsv1.DeploymentProgressing)
			if cond == nil || cond.Reason != tt.wantReason || cond.Status != tt.wantStatus || (tt.wantMessage != "" && cond.Message != tt.wantMessage) {
				t.Errorf("Progressing %+v, want %s %s %q", cond, tt.wantStatus, tt.wantReason, tt.wantMessage)
			}
			if avail := getCondition(got.Status, appsv1.DeploymentAvailable); avail == nil || avail.Status != tt.wantAvail {
				t.Errorf("Available %+v, want %s", avail, tt.wantAvail)
			}
			if tt.wantReason == ReasonReplicaSetUpdated && tt.wantRequeue == 0 && !cond.LastTransitionTime.Equal(&tt.prev.Conditions[0].LastTransitionTime) {
				t.Errorf("progress moved the transition time to %v", cond.LastTransitionTime)
			}
			if tt.wantRequeue != 0 {
				clock.Step(tt.wantRequeue - 2*time.Second)
				if c.queue.Len() != 0 {
					t.Errorf("requeued before the deadline")
				}
				clock.Step(3 * time.Second)
				waitQueued(t, c)
			}
		})
	}
}

func waitQueued(t *testing.T, c *Controller) {
	t.Helper()
	for range 100 {
		if c.queue.Len() == 1 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("not requeued when the deadline passed")
}
