package statefulset

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// Verbs of the pod and claim events; upstream builds the reasons from
// them (SuccessfulCreate, FailedDelete...).
const (
	verbCreate = "create"
	verbUpdate = "update"
	verbDelete = "delete"
)

// recordPodEvent records upstream's event for a pod operation, e.g.
// SuccessfulCreate "create Pod web-0 in StatefulSet web successful".
func (c *Controller) recordPodEvent(verb string, set *appsv1.StatefulSet, pod *corev1.Pod, err error) {
	if err == nil {
		c.recorder.Event(set, corev1.EventTypeNormal, "Successful"+title(verb),
			fmt.Sprintf("%s Pod %s in StatefulSet %s successful", verb, pod.Name, set.Name))
		return
	}
	c.recorder.Event(set, corev1.EventTypeWarning, "Failed"+title(verb),
		fmt.Sprintf("%s Pod %s in StatefulSet %s failed error: %s", verb, pod.Name, set.Name, err))
}

// recordClaimEvent records upstream's event for a claim operation, e.g.
// SuccessfulCreate "create Claim www-web-0 Pod web-0 in StatefulSet web
// success".
func (c *Controller) recordClaimEvent(verb string, set *appsv1.StatefulSet, pod *corev1.Pod, claim *corev1.PersistentVolumeClaim, err error) {
	if err == nil {
		c.recorder.Event(set, corev1.EventTypeNormal, "Successful"+title(verb),
			fmt.Sprintf("%s Claim %s Pod %s in StatefulSet %s success", verb, claim.Name, pod.Name, set.Name))
		return
	}
	c.recorder.Event(set, corev1.EventTypeWarning, "Failed"+title(verb),
		fmt.Sprintf("%s Claim %s for Pod %s in StatefulSet %s failed error: %s", verb, claim.Name, pod.Name, set.Name, err))
}

func title(verb string) string { return strings.ToUpper(verb[:1]) + verb[1:] }

// createStatefulPod creates pod's claims, then pod. A pod that already
// exists is returned as AlreadyExists, without an event: the cache was
// behind, and the next sync sees it.
func (c *Controller) createStatefulPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	if err := c.createPersistentVolumeClaims(ctx, set, pod); err != nil {
		c.recordPodEvent(verbCreate, set, pod, err)
		return err
	}
	_, err := c.client.CoreV1().Pods(set.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return err
	}
	c.recordPodEvent(verbCreate, set, pod, err)
	if err != nil {
		return fmt.Errorf("create pod %s/%s: %w", set.Namespace, pod.Name, err)
	}
	return nil
}

// createPersistentVolumeClaims creates those of pod's claims that do not
// exist. Nothing provisions volumes in kindish: a claim stays Pending
// and nothing here waits for it to bind.
func (c *Controller) createPersistentVolumeClaims(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	var errs []error
	claims := persistentVolumeClaims(set, pod)
	for i := range set.Spec.VolumeClaimTemplates {
		claim := claims[set.Spec.VolumeClaimTemplates[i].Name]
		existing, err := c.pvcLister.PersistentVolumeClaims(claim.Namespace).Get(claim.Name)
		switch {
		case apierrors.IsNotFound(err):
			_, err := c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Create(ctx, &claim, metav1.CreateOptions{})
			if err != nil {
				errs = append(errs, fmt.Errorf("failed to create PVC %s: %w", claim.Name, err))
			}
			if err == nil || !apierrors.IsAlreadyExists(err) {
				c.recordClaimEvent(verbCreate, set, pod, &claim, err)
			}
		case err != nil:
			errs = append(errs, fmt.Errorf("failed to retrieve PVC %s: %w", claim.Name, err))
			c.recordClaimEvent(verbCreate, set, pod, &claim, err)
		case existing.DeletionTimestamp != nil:
			errs = append(errs, fmt.Errorf("pvc %s is being deleted", claim.Name))
		}
	}
	return errors.Join(errs...)
}

// updateStatefulPod gives pod back its identity and storage, retrying
// conflicts on the cache's newer copy. pod is a copy the caller owns.
func (c *Controller) updateStatefulPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	attempted := false
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		consistent := true
		if !identityMatches(set, pod) {
			updateIdentity(set, pod)
			consistent = false
		}
		if !storageMatches(set, pod) {
			updateStorage(set, pod)
			consistent = false
			if err := c.createPersistentVolumeClaims(ctx, set, pod); err != nil {
				c.recordPodEvent(verbUpdate, set, pod, err)
				return err
			}
		}
		if consistent {
			return nil
		}
		attempted = true
		_, err := c.client.CoreV1().Pods(set.Namespace).Update(ctx, pod, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		if cached, getErr := c.podLister.Pods(set.Namespace).Get(pod.Name); getErr == nil {
			pod = cached.DeepCopy()
		}
		return err
	})
	if attempted {
		c.recordPodEvent(verbUpdate, set, pod, err)
	}
	if err != nil {
		return fmt.Errorf("update pod %s/%s: %w", set.Namespace, pod.Name, err)
	}
	return nil
}

// deleteStatefulPod deletes pod, with upstream's event.
func (c *Controller) deleteStatefulPod(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	err := c.client.CoreV1().Pods(set.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	c.recordPodEvent(verbDelete, set, pod, err)
	if err != nil {
		return fmt.Errorf("delete pod %s/%s: %w", set.Namespace, pod.Name, err)
	}
	return nil
}
