package daemonset

import (
	"context"
	"errors"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kindish/kindish/controlplane/controllers/history"
)

// ownership adopts and releases objects of one kind for one owner.
type ownership[T metav1.Object] struct {
	owner    metav1.Object
	selector labels.Selector
	adopt    func(ctx context.Context, obj T) error
	release  func(ctx context.Context, obj T) error
	// canAdopt is asked once, before the first adoption, whether the
	// owner still exists and is not being deleted: the cache may be
	// stale, and adopting for a deleted owner would have the garbage
	// collector delete what was adopted.
	canAdopt func(ctx context.Context) error
}

// claim is upstream's ControllerRefManager: of objs, it returns those
// the owner controls and its selector matches, adopting matching
// orphans and releasing owned objects the selector no longer matches.
func (o ownership[T]) claim(ctx context.Context, objs []T) ([]T, error) {
	var claimed []T
	var errs []error
	var once sync.Once
	var adoptErr error
	ownerDeleting := o.owner.GetDeletionTimestamp() != nil
	for _, obj := range objs {
		matches := o.selector.Matches(labels.Set(obj.GetLabels()))
		if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
			if ref.UID != o.owner.GetUID() {
				continue
			}
			if matches {
				claimed = append(claimed, obj)
				continue
			}
			// An owner being deleted leaves its objects alone: the
			// garbage collector is handling them.
			if ownerDeleting {
				continue
			}
			if err := o.release(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		if ownerDeleting || !matches || obj.GetDeletionTimestamp() != nil || obj.GetNamespace() != o.owner.GetNamespace() {
			continue
		}
		once.Do(func() { adoptErr = o.canAdopt(ctx) })
		if adoptErr != nil {
			errs = append(errs, fmt.Errorf("adopt %s: %w", obj.GetName(), adoptErr))
			continue
		}
		if err := o.adopt(ctx, obj); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		claimed = append(claimed, obj)
	}
	return claimed, errors.Join(errs...)
}

// recheckDaemonSet is canAdopt for ds: an uncached read that the
// DaemonSet is still the same one and not being deleted.
func (c *Controller) recheckDaemonSet(ds *appsv1.DaemonSet) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
		}
		if fresh.UID != ds.UID {
			return fmt.Errorf("original DaemonSet %s/%s is gone: got uid %s, wanted %s", ds.Namespace, ds.Name, fresh.UID, ds.UID)
		}
		if fresh.DeletionTimestamp != nil {
			return fmt.Errorf("%s/%s has just been deleted at %v", ds.Namespace, ds.Name, fresh.DeletionTimestamp)
		}
		return nil
	}
}

func (c *Controller) podOwnership(ds *appsv1.DaemonSet, selector labels.Selector) ownership[*corev1.Pod] {
	pods := c.client.CoreV1().Pods(ds.Namespace)
	return ownership[*corev1.Pod]{
		owner:    ds,
		selector: selector,
		canAdopt: c.recheckDaemonSet(ds),
		adopt: func(ctx context.Context, pod *corev1.Pod) error {
			_, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, history.AdoptPatch(ds, controllerKind(), pod.UID), metav1.PatchOptions{})
			if err != nil {
				return fmt.Errorf("adopt pod %s/%s: %w", pod.Namespace, pod.Name, err)
			}
			return nil
		},
		release: func(ctx context.Context, pod *corev1.Pod) error {
			_, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, history.ReleasePatch(ds.UID, pod.UID), metav1.PatchOptions{})
			// The pod is gone or no longer ours: nothing to release.
			if err != nil && !apierrors.IsInvalid(err) && !apierrors.IsNotFound(err) {
				return fmt.Errorf("release pod %s/%s: %w", pod.Namespace, pod.Name, err)
			}
			return nil
		},
	}
}

func (c *Controller) revisionOwnership(ds *appsv1.DaemonSet, selector labels.Selector) ownership[*appsv1.ControllerRevision] {
	return ownership[*appsv1.ControllerRevision]{
		owner:    ds,
		selector: selector,
		canAdopt: c.recheckDaemonSet(ds),
		adopt: func(ctx context.Context, r *appsv1.ControllerRevision) error {
			_, err := c.history.Adopt(ctx, ds, controllerKind(), r)
			return err
		},
		release: func(ctx context.Context, r *appsv1.ControllerRevision) error {
			_, err := c.history.Release(ctx, ds, r)
			return err
		},
	}
}
