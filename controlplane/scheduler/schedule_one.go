package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
	"github.com/kindish/kindish/controlplane/scheduler/plugins"
	"github.com/kindish/kindish/controlplane/scheduler/queue"
)

// Upstream's event reasons and binder name.
const (
	reasonScheduled        = "Scheduled"
	reasonFailedScheduling = "FailedScheduling"
	defaultBinderName      = "DefaultBinder"
	// noteLengthLimit is the longest event message the API accepts.
	noteLengthLimit = 1024
)

// scheduleOne tries one pod: picks a node, assumes the pod there, and
// binds it in the background so that the next pod need not wait.
func (s *Scheduler) scheduleOne(ctx context.Context, qp *queue.QueuedPod) {
	pod := qp.Pod
	if pod.DeletionTimestamp != nil {
		s.recorder.Eventf(pod, corev1.EventTypeWarning, reasonFailedScheduling, "skip schedule deleting pod: %v/%v", pod.Namespace, pod.Name)
		s.queue.Done(pod)
		return
	}
	if s.cache.IsAssumed(pod) {
		// An update arrived while its binding is under way.
		s.queue.Done(pod)
		return
	}
	start := s.clock.Now()
	cycle := s.queue.SchedulingCycle()
	result, err := s.framework.Schedule(ctx, framework.NewPodInfo(pod), s.cache.Snapshot(s.objects))
	if err != nil {
		s.fail(ctx, qp, cycle, start, err)
		return
	}
	assumed := pod.DeepCopy()
	assumed.Spec.NodeName = result.SuggestedHost
	if err := s.cache.AssumePod(assumed); err != nil {
		s.fail(ctx, qp, cycle, start, err)
		return
	}
	s.binding.Add(1)
	go func() {
		defer s.binding.Done()
		s.bind(ctx, qp, assumed, cycle, start)
	}()
}

// bind posts the Binding; the API server sets spec.nodeName and the
// PodScheduled condition. A refused binding frees the assumed room.
func (s *Scheduler) bind(ctx context.Context, qp *queue.QueuedPod, assumed *corev1.Pod, cycle int64, start time.Time) {
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: assumed.Namespace, Name: assumed.Name, UID: assumed.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: assumed.Spec.NodeName},
	}
	if err := s.client.CoreV1().Pods(assumed.Namespace).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		s.cache.ForgetPod(assumed)
		// Others may fit in the room it held.
		s.queue.MoveAll(plugins.AssignedPodDeletePlugins()...)
		s.fail(ctx, qp, cycle, start, fmt.Errorf("running Bind plugin %q: %w", defaultBinderName, err))
		return
	}
	now := s.clock.Now()
	s.metrics.attempt(resultScheduled, now.Sub(start))
	s.metrics.scheduled(qp.Attempts, now.Sub(qp.InitialAttemptTimestamp))
	s.log.Debug("bound pod", "pod", assumed.Namespace+"/"+assumed.Name, "node", assumed.Spec.NodeName)
	s.recorder.Eventf(assumed, corev1.EventTypeNormal, reasonScheduled, "Successfully assigned %v/%v to %v", assumed.Namespace, assumed.Name, assumed.Spec.NodeName)
	s.queue.Done(assumed)
}

// fail reports a failed attempt as upstream: a FailedScheduling event, the
// PodScheduled condition set to False with the same message, and the pod
// back in the queue unless it is gone or bound meanwhile.
func (s *Scheduler) fail(ctx context.Context, qp *queue.QueuedPod, cycle int64, start time.Time, err error) {
	pod := qp.Pod
	reason, result := corev1.PodReasonSchedulerError, resultError
	var rejectedBy sets.Set[string]
	var fitErr *framework.FitError
	switch {
	case errors.As(err, &fitErr):
		reason, result = corev1.PodReasonUnschedulable, resultUnschedulable
		rejectedBy = fitErr.Diagnosis.UnschedulablePlugins
	case errors.Is(err, framework.ErrNoNodesAvailable):
		// Only a node's arrival can help.
		reason, result = corev1.PodReasonUnschedulable, resultUnschedulable
		rejectedBy = sets.New(plugins.NodeEventPlugins()...)
	}
	s.metrics.attempt(result, s.clock.Now().Sub(start))
	msg := err.Error()
	s.log.Info("unable to schedule pod", "pod", pod.Namespace+"/"+pod.Name, "reason", reason, "message", msg)

	current, getErr := s.pods.Pods(pod.Namespace).Get(pod.Name)
	switch {
	case getErr != nil, current.UID != pod.UID, current.Spec.NodeName != "":
		// Deleted, replaced, or bound meanwhile: nothing to retry.
		s.queue.Done(pod)
	default:
		pod = current
		qp.Pod = current
		qp.UnschedulablePlugins = rejectedBy
		s.queue.AddUnschedulable(qp, cycle)
	}
	s.recorder.Event(pod, corev1.EventTypeWarning, reasonFailedScheduling, truncateMessage(msg))
	if err := s.setPodScheduledFalse(ctx, pod, reason, msg); err != nil {
		s.log.Error("update pod condition", "pod", pod.Namespace+"/"+pod.Name, "error", err)
	}
}

func truncateMessage(msg string) string {
	if len(msg) <= noteLengthLimit {
		return msg
	}
	const suffix = " ..."
	return msg[:noteLengthLimit-len(suffix)] + suffix
}

// setPodScheduledFalse patches the pod's status with PodScheduled=False,
// as upstream's updatePod: only when the condition changes, by a
// strategic merge patch of the status.
func (s *Scheduler) setPodScheduledFalse(ctx context.Context, pod *corev1.Pod, reason, msg string) error {
	status := pod.Status.DeepCopy()
	changed := updatePodCondition(status, corev1.PodCondition{
		Type:               corev1.PodScheduled,
		Status:             corev1.ConditionFalse,
		Reason:             reason,
		Message:            msg,
		ObservedGeneration: pod.Generation,
	}, metav1.NewTime(s.clock.Now()))
	if !changed {
		return nil
	}
	oldData, err := json.Marshal(corev1.Pod{Status: pod.Status})
	if err != nil {
		return fmt.Errorf("patch status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	newData, err := json.Marshal(corev1.Pod{Status: *status})
	if err != nil {
		return fmt.Errorf("patch status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("patch status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if _, err := s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("patch status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// updatePodCondition is upstream's UpdatePodCondition: it sets c in place
// of the condition of its type, keeping the transition time while the
// status stays, and says whether anything changed.
func updatePodCondition(status *corev1.PodStatus, c corev1.PodCondition, now metav1.Time) bool {
	c.LastTransitionTime = now
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		same := old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message &&
			old.LastProbeTime.Equal(&c.LastProbeTime) && old.LastTransitionTime.Equal(&c.LastTransitionTime) &&
			old.ObservedGeneration == c.ObservedGeneration
		*old = c
		return !same
	}
	status.Conditions = append(status.Conditions, c)
	return true
}
