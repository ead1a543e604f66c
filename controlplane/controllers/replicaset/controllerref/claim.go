// Package controllerref is upstream's ControllerRefManager: a controller
// claims the objects its selector matches and that no other controller
// owns (adoption, by patching its controllerRef into them), and gives up
// those it owns that its selector no longer matches (release). The
// ReplicaSet and ReplicationController controllers claim pods with it,
// the Deployment controller claims ReplicaSets.
package controllerref

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Patcher applies a strategic merge patch to one dependent object.
type Patcher func(ctx context.Context, namespace, name string, patch []byte) error

// Claimer claims dependents for one controller object. It is built for
// one sync and thrown away: the adoption check runs at most once.
type Claimer struct {
	owner    metav1.Object
	kind     schema.GroupVersionKind
	selector labels.Selector
	// dependent names what is claimed in errors, as "Pod" or "ReplicaSet".
	dependent string
	patch     Patcher
	canAdopt  func(ctx context.Context) error

	adoptOnce sync.Once
	adoptErr  error
}

// NewClaimer returns a Claimer for owner, of kind, claiming the
// dependents selector matches. canAdopt is asked, once and only when an
// adoption is due, whether owner may still adopt: upstream rechecks with
// an uncached read that the owner is not being deleted, so that a
// deleted owner does not adopt what the garbage collector is orphaning.
func NewClaimer(owner metav1.Object, kind schema.GroupVersionKind, selector labels.Selector, dependent string, patch Patcher, canAdopt func(ctx context.Context) error) *Claimer {
	return &Claimer{owner: owner, kind: kind, selector: selector, dependent: dependent, patch: patch, canAdopt: canAdopt}
}

// Claim decides whether obj is owner's: already owned and matching,
// newly adopted, or neither (owned by another controller, not matching,
// or released now). Only a failed patch is an error; a dependent gone
// meanwhile is simply not claimed.
func (c *Claimer) Claim(ctx context.Context, obj metav1.Object) (bool, error) {
	matches := c.selector.Matches(labels.Set(obj.GetLabels()))
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
		if ref.UID != c.owner.GetUID() {
			return false, nil
		}
		if matches {
			return true, nil
		}
		// A controller being deleted keeps what it has: the garbage
		// collector decides what happens to it.
		if c.owner.GetDeletionTimestamp() != nil {
			return false, nil
		}
		if err := c.release(ctx, obj); err != nil {
			return false, err
		}
		return false, nil
	}
	if c.owner.GetDeletionTimestamp() != nil || !matches || obj.GetDeletionTimestamp() != nil {
		return false, nil
	}
	if ns := c.owner.GetNamespace(); ns != "" && ns != obj.GetNamespace() {
		return false, nil
	}
	if err := c.adopt(ctx, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (c *Claimer) adopt(ctx context.Context, obj metav1.Object) error {
	c.adoptOnce.Do(func() {
		if c.canAdopt != nil {
			c.adoptErr = c.canAdopt(ctx)
		}
	})
	if c.adoptErr != nil {
		return fmt.Errorf("can't adopt %s %s/%s (%s): %w", c.dependent, obj.GetNamespace(), obj.GetName(), obj.GetUID(), c.adoptErr)
	}
	patch, err := AdoptPatch(c.owner, c.kind, obj.GetUID())
	if err != nil {
		return err
	}
	if err := c.patch(ctx, obj.GetNamespace(), obj.GetName(), patch); err != nil {
		return fmt.Errorf("adopt %s %s/%s: %w", c.dependent, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

func (c *Claimer) release(ctx context.Context, obj metav1.Object) error {
	patch, err := ReleasePatch(c.owner.GetUID(), obj.GetUID())
	if err != nil {
		return err
	}
	err = c.patch(ctx, obj.GetNamespace(), obj.GetName(), patch)
	// Gone, or recreated under another UID (the patch's UID precondition
	// makes it invalid), or no longer ours: nothing left to release.
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil
	}
	return fmt.Errorf("release %s %s/%s: %w", c.dependent, obj.GetNamespace(), obj.GetName(), err)
}

// ClaimAll claims each of objs and returns those that are owner's. Errors
// do not stop the others' claims; they are all returned, joined.
func ClaimAll[T metav1.Object](ctx context.Context, c *Claimer, objs []T) ([]T, error) {
	var claimed []T
	var errs []error
	for _, obj := range objs {
		ok, err := c.Claim(ctx, obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			claimed = append(claimed, obj)
		}
	}
	return claimed, errors.Join(errs...)
}

// ownerRefPatch is the body of an adoption or release patch. The
// dependent's UID rides along as a precondition: a patch meant for an
// object that was deleted and recreated under the same name fails
// instead of changing the newcomer.
type ownerRefPatch struct {
	Metadata ownerRefPatchMeta `json:"metadata"`
}

type ownerRefPatchMeta struct {
	OwnerReferences []any     `json:"ownerReferences"`
	UID             types.UID `json:"uid"`
}

// AdoptPatch is the strategic merge patch that makes owner, of kind, the
// controller of the object whose UID is dependent, as upstream's
// ownerRefControllerPatch.
func AdoptPatch(owner metav1.Object, kind schema.GroupVersionKind, dependent types.UID) ([]byte, error) {
	ref := metav1.NewControllerRef(owner, kind)
	return json.Marshal(ownerRefPatch{Metadata: ownerRefPatchMeta{OwnerReferences: []any{ref}, UID: dependent}})
}

// ReleasePatch is the strategic merge patch that removes the owner
// reference to owner from the object whose UID is dependent.
func ReleasePatch(owner, dependent types.UID) ([]byte, error) {
	del := map[string]any{"$patch": "delete", "uid": owner}
	return json.Marshal(ownerRefPatch{Metadata: ownerRefPatchMeta{OwnerReferences: []any{del}, UID: dependent}})
}

// RecheckDeletion turns an uncached read of the owner into a canAdopt
// check: adoption is refused when the owner cannot be read or is being
// deleted.
func RecheckDeletion(get func(ctx context.Context) (metav1.Object, error)) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		obj, err := get(ctx)
		if err != nil {
			return fmt.Errorf("can't recheck DeletionTimestamp: %w", err)
		}
		if ts := obj.GetDeletionTimestamp(); ts != nil {
			return fmt.Errorf("%s/%s has just been deleted at %v", obj.GetNamespace(), obj.GetName(), ts)
		}
		return nil
	}
}
