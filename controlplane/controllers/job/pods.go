package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Event reasons of the pods a Job creates and deletes, upstream's.
const (
	reasonSuccessfulCreate = "SuccessfulCreate"
	reasonFailedCreate     = "FailedCreate"
	reasonSuccessfulDelete = "SuccessfulDelete"
	reasonFailedDelete     = "FailedDelete"
)

// controllerKind is what a Job's pods name as their controller.
var controllerKind = batchv1.SchemeGroupVersion.WithKind("Job")

func hasTrackingFinalizer(pod *corev1.Pod) bool {
	return slices.Contains(pod.Finalizers, batchv1.JobTrackingFinalizer)
}

// removeTrackingFinalizerPatch is upstream's strategic merge patch: it
// removes only the tracking finalizer, whatever else changed meanwhile.
func removeTrackingFinalizerPatch(pod *corev1.Pod) []byte {
	if !hasTrackingFinalizer(pod) {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{
			"$deleteFromPrimitiveList/finalizers": []string{batchv1.JobTrackingFinalizer},
		},
	})
	return patch
}

// newPod is a pod of the Job from template: the template's labels,
// annotations and finalizers, the Job as controller, and the name prefix
// <job>- unless generateName is given.
func newPod(job *batchv1.Job, template *corev1.PodTemplateSpec, generateName string) *corev1.Pod {
	if generateName == "" {
		generateName = job.Name + "-"
		// Upstream drops the dash when it would make the prefix invalid.
		if len(validation.IsDNS1123Subdomain(generateName+"x")) != 0 {
			generateName = job.Name
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       job.Namespace,
			GenerateName:    generateName,
			Labels:          copyMap(template.Labels),
			Annotations:     copyMap(template.Annotations),
			Finalizers:      slices.Clone(template.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, controllerKind)},
		},
		Spec: *template.Spec.DeepCopy(),
	}
	return pod
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// createPod creates a pod of the Job and records upstream's event.
func (c *Controller) createPod(ctx context.Context, job *batchv1.Job, pod *corev1.Pod) error {
	if len(pod.Labels) == 0 {
		return fmt.Errorf("create pod of job %s/%s: no labels", job.Namespace, job.Name)
	}
	created, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		// A namespace being deleted refuses every pod: no event for it.
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.recorder.Eventf(job, corev1.EventTypeWarning, reasonFailedCreate, "Error creating: %v", err)
		}
		return fmt.Errorf("create pod of job %s/%s: %w", job.Namespace, job.Name, err)
	}
	c.log.Debug("Created pod", "job", job.Namespace+"/"+job.Name, "pod", created.Name)
	c.recorder.Eventf(job, corev1.EventTypeNormal, reasonSuccessfulCreate, "Created pod: %v", created.Name)
	return nil
}

// deletePod deletes a pod of the Job, keeping its finalizers: the pod
// stays until it is counted. NotFound is returned as is, without event.
func (c *Controller) deletePod(ctx context.Context, job *batchv1.Job, name string) error {
	err := c.client.CoreV1().Pods(job.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return err
	case err != nil:
		c.recorder.Eventf(job, corev1.EventTypeWarning, reasonFailedDelete, "Error deleting: %v", err)
		return fmt.Errorf("delete pod %s/%s: %w", job.Namespace, name, err)
	}
	c.recorder.Eventf(job, corev1.EventTypeNormal, reasonSuccessfulDelete, "Deleted pod: %v", name)
	return nil
}

func (c *Controller) patchPod(ctx context.Context, namespace, name string, patch []byte) error {
	_, err := c.client.CoreV1().Pods(namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	return err
}

// isActive is a pod still running or about to: not finished, not being
// deleted.
func isActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

func activePods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if isActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// terminatingPods are being deleted and have not finished yet.
func terminatingPods(pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}

func podReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func isPodReady(p *corev1.Pod) bool {
	c := podReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

func countReady(pods []*corev1.Pod) int32 {
	var n int32
	for _, p := range pods {
		if isPodReady(p) {
			n++
		}
	}
	return n
}

var phaseOrdinal = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// sortForRemoval orders pods as upstream's ActivePods, the ones to delete
// first: unscheduled, pending, not ready, ready for the shortest time,
// most restarted, newest.
func sortForRemoval(pods []*corev1.Pod) {
	slices.SortStableFunc(pods, func(a, b *corev1.Pod) int {
		if less(a, b) {
			return -1
		}
		if less(b, a) {
			return 1
		}
		return 0
	})
}

func less(a, b *corev1.Pod) bool {
	if a.Spec.NodeName != b.Spec.NodeName && (a.Spec.NodeName == "" || b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if phaseOrdinal[a.Status.Phase] != phaseOrdinal[b.Status.Phase] {
		return phaseOrdinal[a.Status.Phase] < phaseOrdinal[b.Status.Phase]
	}
	if isPodReady(a) != isPodReady(b) {
		return !isPodReady(a)
	}
	if isPodReady(a) && isPodReady(b) {
		ra, rb := podReadyCondition(a).LastTransitionTime.Time, podReadyCondition(b).LastTransitionTime.Time
		if !ra.Equal(rb) {
			return afterOrZero(ra, rb)
		}
	}
	if ra, rb := maxRestarts(a), maxRestarts(b); ra != rb {
		return ra > rb
	}
	if ca, cb := a.CreationTimestamp.Time, b.CreationTimestamp.Time; !ca.Equal(cb) {
		return afterOrZero(ca, cb)
	}
	return false
}

// afterOrZero orders the zero time first, then later before earlier.
func afterOrZero(a, b time.Time) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero()
	}
	return a.After(b)
}

func maxRestarts(p *corev1.Pod) int32 {
	var n int32
	for _, s := range p.Status.ContainerStatuses {
		n = max(n, s.RestartCount)
	}
	return n
}

// claimPods returns the pods the Job controls, as upstream's
// PodControllerRefManager: its own pods that its selector still matches,
// plus orphans it matches, which it adopts (owner reference and tracking
// finalizer); its pods that no longer match are released.
func (c *Controller) claimPods(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("selector of job %s/%s: %w", job.Namespace, job.Name, err)
	}
	var claimed []*corev1.Pod
	var errs []error
	adoptable := adoptionCheck(func() error { return c.canAdopt(ctx, job) })
	for _, pod := range pods {
		ref := metav1.GetControllerOf(pod)
		switch {
		case ref != nil && ref.UID != job.UID:
			// Another controller's.
		case ref != nil && selector.Matches(labels.Set(pod.Labels)):
			claimed = append(claimed, pod)
		case ref != nil:
			if job.DeletionTimestamp != nil {
				continue
			}
			if err := c.release(ctx, job, pod); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		case job.DeletionTimestamp != nil || !selector.Matches(labels.Set(pod.Labels)) || pod.DeletionTimestamp != nil:
			// Not ours to take.
		default:
			if err := adoptable(); err != nil {
				errs = append(errs, err)
				continue
			}
			if err := c.adopt(ctx, job, pod); err != nil {
				if !apierrors.IsNotFound(err) {
					errs = append(errs, err)
				}
				continue
			}
			adopted := pod.DeepCopy()
			if !hasTrackingFinalizer(adopted) {
				adopted.Finalizers = append(adopted.Finalizers, batchv1.JobTrackingFinalizer)
			}
			claimed = append(claimed, adopted)
		}
	}
	return claimed, errors.Join(errs...)
}

// adoptionCheck runs check once, on the first adoption.
func adoptionCheck(check func() error) func() error {
	done := false
	var err error
	return func() error {
		if !done {
			err, done = check(), true
		}
		return err
	}
}

// canAdopt reads the Job from the API server before the first adoption:
// a Job deleted since the cache saw it must not take pods.
func (c *Controller) canAdopt(ctx context.Context, job *batchv1.Job) error {
	fresh, err := c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("recheck job %s/%s before adoption: %w", job.Namespace, job.Name, err)
	}
	if fresh.UID != job.UID {
		return fmt.Errorf("original job %s/%s is gone: got uid %s, wanted %s", job.Namespace, job.Name, fresh.UID, job.UID)
	}
	if fresh.DeletionTimestamp != nil {
		return fmt.Errorf("job %s/%s has just been deleted at %v", job.Namespace, job.Name, fresh.DeletionTimestamp)
	}
	return nil
}

func (c *Controller) adopt(ctx context.Context, job *batchv1.Job, pod *corev1.Pod) error {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{
			"uid": pod.UID,
			"ownerReferences": []metav1.OwnerReference{{
				APIVersion: controllerKind.GroupVersion().String(), Kind: controllerKind.Kind,
				Name: job.Name, UID: job.UID, Controller: new(true), BlockOwnerDeletion: new(true),
			}},
			"finalizers": []string{batchv1.JobTrackingFinalizer},
		},
	})
	if err != nil {
		return err
	}
	if err := c.patchPod(ctx, pod.Namespace, pod.Name, patch); err != nil {
		return fmt.Errorf("adopt pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// release drops the Job's owner reference and tracking finalizer from a
// pod the selector no longer matches.
func (c *Controller) release(ctx context.Context, job *batchv1.Job, pod *corev1.Pod) error {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{
			"uid":                                 pod.UID,
			"ownerReferences":                     []map[string]any{{"$patch": "delete", "uid": job.UID}},
			"$deleteFromPrimitiveList/finalizers": []string{batchv1.JobTrackingFinalizer},
		},
	})
	if err != nil {
		return err
	}
	if err := c.patchPod(ctx, pod.Namespace, pod.Name, patch); err != nil {
		return fmt.Errorf("release pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
