package replicaset

import (
	"context"
	"fmt"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
)

// Reasons of the ReplicaFailure condition and of pod events, upstream's.
const (
	ReasonFailedCreate     = "FailedCreate"
	ReasonFailedDelete     = "FailedDelete"
	ReasonSuccessfulCreate = "SuccessfulCreate"
	ReasonSuccessfulDelete = "SuccessfulDelete"
)

// calculateStatus is the status rs's pods make, upstream's: counts of
// the active pods it owns, of those fully labeled as its template, ready,
// and available; its terminating pods when the kind reports them; and a
// ReplicaFailure condition while creating or deleting pods fails.
func calculateStatus(rs *appsv1.ReplicaSet, active, terminating []*corev1.Pod, countTerminating bool, manageErr error, now time.Time) appsv1.ReplicaSetStatus {
	status := *rs.Status.DeepCopy()
	templateLabels := labels.Set(rs.Spec.Template.Labels).AsSelectorPreValidated()
	var fullyLabeled, ready, available int32
	for _, pod := range active {
		if templateLabels.Matches(labels.Set(pod.Labels)) {
			fullyLabeled++
		}
		if isPodReady(pod) {
			ready++
			if isPodAvailable(pod, rs.Spec.MinReadySeconds, now) {
				available++
			}
		}
	}
	failure := replicaFailure(status)
	switch {
	case manageErr != nil && failure == nil:
		reason := ""
		if diff := len(active) - int(ptr.Deref(rs.Spec.Replicas, 1)); diff < 0 {
			reason = ReasonFailedCreate
		} else if diff > 0 {
			reason = ReasonFailedDelete
		}
		status.Conditions = append(status.Conditions, appsv1.ReplicaSetCondition{
			Type:               appsv1.ReplicaSetReplicaFailure,
			Status:             corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now),
			Reason:             reason,
			Message:            manageErr.Error(),
		})
	case manageErr == nil && failure != nil:
		var kept []appsv1.ReplicaSetCondition
		for _, c := range status.Conditions {
			if c.Type != appsv1.ReplicaSetReplicaFailure {
				kept = append(kept, c)
			}
		}
		status.Conditions = kept
	}
	status.Replicas = int32(len(active))
	status.FullyLabeledReplicas = fullyLabeled
	status.ReadyReplicas = ready
	status.AvailableReplicas = available
	status.TerminatingReplicas = nil
	if countTerminating {
		status.TerminatingReplicas = ptr.To(int32(len(terminating)))
	}
	return status
}

func replicaFailure(status appsv1.ReplicaSetStatus) *appsv1.ReplicaSetCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == appsv1.ReplicaSetReplicaFailure {
			return &status.Conditions[i]
		}
	}
	return nil
}

// statusUnchanged reports whether writing status would change nothing,
// observedGeneration included.
func statusUnchanged(rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) bool {
	cur := rs.Status
	return cur.Replicas == status.Replicas &&
		cur.FullyLabeledReplicas == status.FullyLabeledReplicas &&
		cur.ReadyReplicas == status.ReadyReplicas &&
		cur.AvailableReplicas == status.AvailableReplicas &&
		ptr.Equal(cur.TerminatingReplicas, status.TerminatingReplicas) &&
		rs.Generation == cur.ObservedGeneration &&
		reflect.DeepEqual(cur.Conditions, status.Conditions)
}

// updateStatus writes status with the generation it was computed for,
// retrying once on a fresh read as upstream's updateReplicaSetStatus.
func (c *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if statusUnchanged(rs, status) {
		return rs, nil
	}
	status.ObservedGeneration = rs.Generation
	cur := rs.DeepCopy()
	for attempt := 0; ; attempt++ {
		cur.Status = status
		updated, err := c.kind.updateStatus(ctx, cur)
		if err == nil {
			return updated, nil
		}
		if attempt >= 1 {
			return nil, fmt.Errorf("update status of %s %s/%s: %w", c.kind.gvk().Kind, rs.Namespace, rs.Name, err)
		}
		if cur, err = c.kind.getFresh(ctx, rs.Namespace, rs.Name); err != nil {
			return nil, fmt.Errorf("get %s %s/%s: %w", c.kind.gvk().Kind, rs.Namespace, rs.Name, err)
		}
	}
}
