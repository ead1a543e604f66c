package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/util/retry"
)

// errClusterScopedDependent is upstream's verdict on a cluster-scoped
// object whose owner reference names a namespaced kind: no owner can be
// found for it, and retrying does not change that.
var errClusterScopedDependent = errors.New("cluster-scoped objects cannot refer to namespaced owners")

// errNotSynced holds back finishing an owner's deletion until every
// watched resource's cache has synced: before that, dependents may exist
// that the collector has not seen.
var errNotSynced = errors.New("the caches of the watched resources have not synced")

// sync makes one step for one object: finish its Orphan or Foreground
// deletion, or delete it when its owners are gone.
func (c *Controller) sync(ctx context.Context, ref objectRef) error {
	m := c.monitorFor(ref.resource)
	if m == nil {
		return nil // the resource is no longer served
	}
	item, ok := m.cached(ref.namespace, ref.name)
	if !ok || item.GetUID() != ref.uid {
		return nil // gone; its dependents were queued when it went
	}
	if item.GetDeletionTimestamp() != nil {
		switch {
		case hasFinalizer(item, metav1.FinalizerOrphanDependents):
			return c.orphanDependents(ctx, m, item)
		case hasFinalizer(item, metav1.FinalizerDeleteDependents):
			return c.finishForegroundDeletion(ctx, m, item)
		}
		// Already on its way out; its dependents are looked at once it
		// is gone.
		return nil
	}
	if len(item.GetOwnerReferences()) == 0 {
		return nil
	}
	return c.collect(ctx, m, item)
}

// ownerStates sorts an object's owner references as upstream's
// classifyReferences does.
type ownerStates struct {
	// solid owners exist and are not deleting their dependents.
	solid []metav1.OwnerReference
	// dangling owners are gone, never existed, or cannot own the object.
	dangling []metav1.OwnerReference
	// waiting owners are in a Foreground deletion.
	waiting []metav1.OwnerReference
}

// verdict is what the collector does with an object that has owners.
type verdict int

const (
	// keep: a solid owner remains and no reference needs removing.
	keep verdict = iota
	// dropReferences: a solid owner remains; the dangling references,
	// and those to owners waiting for their dependents (which would wait
	// forever), are removed.
	dropReferences
	// deleteForeground: an owner waits for its dependents and the object
	// has dependents of its own, which must go first.
	deleteForeground
	// deleteObject: no solid owner remains.
	deleteObject
)

// decide is upstream's attemptToDeleteItem decision.
func decide(owners ownerStates, hasDependents bool) verdict {
	switch {
	case len(owners.solid) > 0:
		if len(owners.dangling) == 0 && len(owners.waiting) == 0 {
			return keep
		}
		return dropReferences
	case len(owners.waiting) > 0 && hasDependents:
		return deleteForeground
	default:
		return deleteObject
	}
}

// propagationFor honours a deletion the object already asked for, as
// upstream: its own orphan or foregroundDeletion finalizer.
func propagationFor(o metav1.Object) metav1.DeletionPropagation {
	switch {
	case hasFinalizer(o, metav1.FinalizerOrphanDependents):
		return metav1.DeletePropagationOrphan
	case hasFinalizer(o, metav1.FinalizerDeleteDependents):
		return metav1.DeletePropagationForeground
	default:
		return metav1.DeletePropagationBackground
	}
}

// collect deletes an object none of whose owners is left, or removes its
// references to owners that are gone.
func (c *Controller) collect(ctx context.Context, m *monitor, item metav1.Object) error {
	owners, err := c.classifyOwners(ctx, m, item)
	if err != nil {
		return err
	}
	deps := c.dependents(item.GetUID())
	switch decide(owners, len(deps) > 0) {
	case dropReferences:
		var uids []types.UID
		for _, ref := range slices.Concat(owners.dangling, owners.waiting) {
			uids = append(uids, ref.UID)
		}
		err := c.removeOwnerReferences(ctx, m, item, uids)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	case deleteForeground:
		// An owner and a dependent both deleting in the foreground may be
		// a cycle; upstream breaks it by making this object's references
		// non-blocking first.
		for _, d := range deps {
			if waitsForDependents(d.object) {
				if err := c.unblockOwnerReferences(ctx, m, item); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
				break
			}
		}
		return c.deleteObject(ctx, m, item, metav1.DeletePropagationForeground)
	case deleteObject:
		return c.deleteObject(ctx, m, item, propagationFor(item))
	}
	return nil
}

func (c *Controller) classifyOwners(ctx context.Context, m *monitor, item metav1.Object) (ownerStates, error) {
	var owners ownerStates
	for _, ref := range item.GetOwnerReferences() {
		state, err := c.ownerState(ctx, m, item, ref)
		if err != nil {
			return ownerStates{}, err
		}
		switch state {
		case ownerSolid:
			owners.solid = append(owners.solid, ref)
		case ownerDangling:
			owners.dangling = append(owners.dangling, ref)
		case ownerWaiting:
			owners.waiting = append(owners.waiting, ref)
		}
	}
	return owners, nil
}

type ownerState int

const (
	ownerSolid ownerState = iota
	ownerDangling
	ownerWaiting
)

func stateOf(owner metav1.Object) ownerState {
	if waitsForDependents(owner) {
		return ownerWaiting
	}
	return ownerSolid
}

// ownerState finds the owner a reference names. The reference's uid must
// match the object of that kind and name, in the dependent's namespace for
// a namespaced kind: a namespaced object can only be owned from its own
// namespace or by a cluster-scoped object, as upstream.
func (c *Controller) ownerState(ctx context.Context, m *monitor, item metav1.Object, ref metav1.OwnerReference) (ownerState, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return 0, fmt.Errorf("owner reference %s of %s: %w", describeOwner(ref, item.GetNamespace()), describeObject(m, item), err)
	}
	owner, ok := c.resourceFor(schema.GroupKind{Group: gv.Group, Kind: ref.Kind})
	if !ok {
		// Perhaps a type that discovery will report later; retry.
		return 0, fmt.Errorf("owner reference %s of %s: no served resource has kind %s", describeOwner(ref, item.GetNamespace()), describeObject(m, item), gv.WithKind(ref.Kind))
	}
	// The uid belongs to an object of another namespace: from here the
	// reference can never reach it.
	crossesNamespaces := c.observedInOtherNamespace(ref.UID, item.GetNamespace())
	if crossesNamespaces {
		c.recordInvalidNamespace(m, item, ref)
	}
	if owner.namespaced && item.GetNamespace() == "" {
		return 0, errClusterScopedDependent
	}
	if crossesNamespaces {
		return ownerDangling, nil
	}
	namespace := ""
	if owner.namespaced {
		namespace = item.GetNamespace()
	}
	key := ownerKey{namespace: namespace, group: gv.Group, kind: ref.Kind, name: ref.Name, uid: ref.UID}
	if c.absent.has(key) {
		return ownerDangling, nil
	}
	if om := c.monitorFor(owner.gvr); om != nil && om.hasSynced() {
		if cached, ok := om.cached(namespace, ref.Name); ok && cached.GetUID() == ref.UID {
			return stateOf(cached), nil
		}
	}
	// Not in the cache: the cache may be behind, so only the API server
	// can say the owner is gone.
	live, err := c.metadata.Resource(owner.gvr).Namespace(namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		c.absent.add(key)
		return ownerDangling, nil
	case err != nil:
		return 0, fmt.Errorf("get owner %s of %s: %w", describeOwner(ref, namespace), describeObject(m, item), err)
	case live.GetUID() != ref.UID:
		c.absent.add(key)
		return ownerDangling, nil
	}
	return stateOf(live), nil
}

// observedInOtherNamespace reports whether the object with that uid has
// been seen in a namespace other than the dependent's.
func (c *Controller) observedInOtherNamespace(uid types.UID, namespace string) bool {
	_, o, ok := c.observed(uid)
	return ok && o.GetNamespace() != "" && o.GetNamespace() != namespace
}

// recordInvalidNamespace is upstream's warning for an owner reference
// that crosses namespaces.
func (c *Controller) recordInvalidNamespace(m *monitor, item metav1.Object, ref metav1.OwnerReference) {
	involved := &corev1.ObjectReference{
		Kind:       m.kind,
		APIVersion: m.gvr.GroupVersion().String(),
		Namespace:  item.GetNamespace(),
		Name:       item.GetName(),
		UID:        item.GetUID(),
	}
	c.recorder.Eventf(involved, corev1.EventTypeWarning, "OwnerRefInvalidNamespace",
		"ownerRef %s does not exist in namespace %q", describeOwner(ref, item.GetNamespace()), item.GetNamespace())
}

func describeObject(m *monitor, o metav1.Object) string {
	gr := m.gvr.GroupResource().String()
	if o.GetNamespace() == "" {
		return fmt.Sprintf("%s %q", gr, o.GetName())
	}
	return fmt.Sprintf("%s %q", gr, o.GetNamespace()+"/"+o.GetName())
}

func (c *Controller) resourceClient(m *monitor, o metav1.Object) metadata.ResourceInterface {
	return c.metadata.Resource(m.gvr).Namespace(o.GetNamespace())
}

// deleteObject deletes item as the cache showed it. The resourceVersion
// precondition keeps a stale cache from deleting an object that has just
// been adopted; when only other fields changed, the deletion is retried
// against the current version.
func (c *Controller) deleteObject(ctx context.Context, m *monitor, item metav1.Object, policy metav1.DeletionPropagation) error {
	client := c.resourceClient(m, item)
	uid, rv := item.GetUID(), item.GetResourceVersion()
	opts := metav1.DeleteOptions{
		PropagationPolicy: &policy,
		Preconditions:     &metav1.Preconditions{UID: &uid, ResourceVersion: &rv},
	}
	err := client.Delete(ctx, item.GetName(), opts)
	if apierrors.IsConflict(err) {
		latest, getErr := client.Get(ctx, item.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(getErr):
			return nil
		case getErr != nil:
			return fmt.Errorf("get %s: %w", describeObject(m, item), getErr)
		case latest.GetUID() != uid:
			return nil
		case !equality.Semantic.DeepEqual(latest.GetOwnerReferences(), item.GetOwnerReferences()):
			// Its owners changed: the update event queues it again.
			return nil
		}
		latestRV := latest.GetResourceVersion()
		opts.Preconditions.ResourceVersion = &latestRV
		err = client.Delete(ctx, item.GetName(), opts)
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", describeObject(m, item), err)
	}
	return nil
}

// metadataPatch is a JSON merge patch of metadata. uid and
// resourceVersion make it a compare-and-swap: a conflict if the object
// changed since it was read.
type metadataPatch struct {
	Metadata patchedMetadata `json:"metadata"`
}

type patchedMetadata struct {
	UID             types.UID `json:"uid"`
	ResourceVersion string    `json:"resourceVersion"`
	// null removes the field, as a merge patch does.
	OwnerReferences *[]metav1.OwnerReference `json:"ownerReferences,omitempty"`
	Finalizers      *[]string                `json:"finalizers,omitempty"`
}

func ownerReferencesPatch(o metav1.Object, refs []metav1.OwnerReference) ([]byte, error) {
	return json.Marshal(metadataPatch{Metadata: patchedMetadata{UID: o.GetUID(), ResourceVersion: o.GetResourceVersion(), OwnerReferences: &refs}})
}

func finalizersPatch(o metav1.Object, finalizers []string) ([]byte, error) {
	return json.Marshal(metadataPatch{Metadata: patchedMetadata{UID: o.GetUID(), ResourceVersion: o.GetResourceVersion(), Finalizers: &finalizers}})
}

// patchMetadata applies the patch change computes from the object, first
// as the cache showed it, then, after a conflict, as the API server has
// it. change returns nil when there is nothing left to do.
func (c *Controller) patchMetadata(ctx context.Context, m *monitor, item metav1.Object, change func(metav1.Object) ([]byte, error)) error {
	client := c.resourceClient(m, item)
	current := item
	first := true
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !first {
			latest, err := client.Get(ctx, item.GetName(), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if latest.GetUID() != item.GetUID() {
				return nil
			}
			current = latest
		}
		first = false
		patch, err := change(current)
		if err != nil || patch == nil {
			return err
		}
		_, err = client.Patch(ctx, item.GetName(), types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
}

// removeOwnerReferences drops item's references to the owners with the
// given uids.
func (c *Controller) removeOwnerReferences(ctx context.Context, m *monitor, item metav1.Object, uids []types.UID) error {
	err := c.patchMetadata(ctx, m, item, func(o metav1.Object) ([]byte, error) {
		refs := withoutOwners(o.GetOwnerReferences(), uids)
		if len(refs) == len(o.GetOwnerReferences()) {
			return nil, nil
		}
		return ownerReferencesPatch(o, refs)
	})
	if err != nil {
		return fmt.Errorf("remove owner references of %s: %w", describeObject(m, item), err)
	}
	return nil
}

// unblockOwnerReferences clears blockOwnerDeletion on item's references.
func (c *Controller) unblockOwnerReferences(ctx context.Context, m *monitor, item metav1.Object) error {
	err := c.patchMetadata(ctx, m, item, func(o metav1.Object) ([]byte, error) {
		refs := slices.Clone(o.GetOwnerReferences())
		changed := false
		for i := range refs {
			if refs[i].BlockOwnerDeletion != nil && *refs[i].BlockOwnerDeletion {
				unblocked := false
				refs[i].BlockOwnerDeletion = &unblocked
				changed = true
			}
		}
		if !changed {
			return nil, nil
		}
		return ownerReferencesPatch(o, refs)
	})
	if err != nil {
		return fmt.Errorf("unblock owner references of %s: %w", describeObject(m, item), err)
	}
	return nil
}

// removeFinalizer takes finalizer off obj; when it was the last one, the
// API server then deletes obj. It reads the object first, as upstream:
// the finalizers must not be written from a stale copy.
func (c *Controller) removeFinalizer(ctx context.Context, m *monitor, obj metav1.Object, finalizer string) error {
	latest, err := c.resourceClient(m, obj).Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", describeObject(m, obj), err)
	}
	if latest.GetUID() != obj.GetUID() {
		return nil
	}
	err = c.patchMetadata(ctx, m, latest, func(o metav1.Object) ([]byte, error) {
		if !hasFinalizer(o, finalizer) {
			return nil, nil
		}
		return finalizersPatch(o, slices.DeleteFunc(slices.Clone(o.GetFinalizers()), func(f string) bool { return f == finalizer }))
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove finalizer %s of %s: %w", finalizer, describeObject(m, obj), err)
	}
	return nil
}

// finishForegroundDeletion drives an owner deleted with propagationPolicy
// Foreground: its dependents are deleted, and once none blocks it any
// more (blockOwnerDeletion: true), the foregroundDeletion finalizer goes
// and with it the owner.
func (c *Controller) finishForegroundDeletion(ctx context.Context, m *monitor, owner metav1.Object) error {
	if !c.synced() {
		return errNotSynced
	}
	blocking := 0
	for _, d := range c.dependents(owner.GetUID()) {
		if blocksOwner(d.object, owner.GetUID()) {
			blocking++
		}
		if d.object.GetDeletionTimestamp() == nil {
			c.enqueue(d.monitor, d.object)
		}
	}
	if blocking > 0 {
		// Each blocking dependent's deletion queues the owner again.
		return nil
	}
	return c.removeFinalizer(ctx, m, owner, metav1.FinalizerDeleteDependents)
}

// orphanDependents drives an owner deleted with propagationPolicy Orphan:
// its dependents lose their reference to it, then the orphan finalizer
// goes and with it the owner.
func (c *Controller) orphanDependents(ctx context.Context, m *monitor, owner metav1.Object) error {
	if !c.synced() {
		return errNotSynced
	}
	var errs []error
	for _, d := range c.dependents(owner.GetUID()) {
		err := c.removeOwnerReferences(ctx, d.monitor, d.object, []types.UID{owner.GetUID()})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("orphan dependents of %s: %w", describeObject(m, owner), errors.Join(errs...))
	}
	return c.removeFinalizer(ctx, m, owner, metav1.FinalizerOrphanDependents)
}
