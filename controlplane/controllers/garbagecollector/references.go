package garbagecollector

import (
	"fmt"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func hasFinalizer(o metav1.Object, finalizer string) bool {
	return slices.Contains(o.GetFinalizers(), finalizer)
}

// waitsForDependents reports an owner in a Foreground deletion.
func waitsForDependents(o metav1.Object) bool {
	return o.GetDeletionTimestamp() != nil && hasFinalizer(o, metav1.FinalizerDeleteDependents)
}

// needsCollector reports an object the collector has something to decide
// about: one with owners, or one whose deletion waits for the collector.
func needsCollector(o metav1.Object) bool {
	if len(o.GetOwnerReferences()) > 0 {
		return true
	}
	return o.GetDeletionTimestamp() != nil &&
		(hasFinalizer(o, metav1.FinalizerDeleteDependents) || hasFinalizer(o, metav1.FinalizerOrphanDependents))
}

func ownersChanged(old, o metav1.Object) bool {
	return !equality.Semantic.DeepEqual(old.GetOwnerReferences(), o.GetOwnerReferences())
}

func deletionChanged(old, o metav1.Object) bool {
	return (old.GetDeletionTimestamp() == nil) != (o.GetDeletionTimestamp() == nil) ||
		!slices.Equal(old.GetFinalizers(), o.GetFinalizers())
}

// blocksOwner reports whether o holds back the Foreground deletion of the
// owner with that uid (blockOwnerDeletion: true).
func blocksOwner(o metav1.Object, owner types.UID) bool {
	for _, ref := range o.GetOwnerReferences() {
		if ref.UID == owner && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion {
			return true
		}
	}
	return false
}

// unblockedOwners are the owners old blocked and o no longer does: the
// reference went, or its blockOwnerDeletion was cleared.
func unblockedOwners(old, o metav1.Object) []types.UID {
	var out []types.UID
	for _, ref := range old.GetOwnerReferences() {
		if blocksOwner(old, ref.UID) && !blocksOwner(o, ref.UID) && !slices.Contains(out, ref.UID) {
			out = append(out, ref.UID)
		}
	}
	return out
}

// withoutOwners returns refs less the ones to the given uids.
func withoutOwners(refs []metav1.OwnerReference, uids []types.UID) []metav1.OwnerReference {
	var out []metav1.OwnerReference
	for _, ref := range refs {
		if !slices.Contains(uids, ref.UID) {
			out = append(out, ref)
		}
	}
	return out
}

// describeOwner renders an owner reference as upstream's objectReference
// does in events: "[v1/ConfigMap, namespace: ns, name: n, uid: u]".
func describeOwner(ref metav1.OwnerReference, namespace string) string {
	return fmt.Sprintf("[%s/%s, namespace: %s, name: %s, uid: %s]", ref.APIVersion, ref.Kind, namespace, ref.Name, ref.UID)
}

// absentOwnersLimit is upstream's size for its cache of absent owners.
const absentOwnersLimit = 500

// ownerKey names an owner as a reference does: the namespace is empty for
// a cluster-scoped kind.
type ownerKey struct {
	namespace string
	group     string
	kind      string
	name      string
	uid       types.UID
}

// absentOwners remembers owners known to be gone, so that the many
// dependents of a deleted owner do not each ask the API server about it.
// A uid is never reused, so an entry never turns stale; the oldest go
// when the cache is full.
type absentOwners struct {
	mu    sync.Mutex
	keys  map[ownerKey]struct{}
	ring  []ownerKey
	next  int
	limit int
}

func newAbsentOwners(limit int) *absentOwners {
	return &absentOwners{keys: map[ownerKey]struct{}{}, ring: make([]ownerKey, 0, limit), limit: limit}
}

func (a *absentOwners) add(k ownerKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.keys[k]; ok {
		return
	}
	if len(a.ring) < a.limit {
		a.ring = append(a.ring, k)
	} else {
		delete(a.keys, a.ring[a.next])
		a.ring[a.next] = k
		a.next = (a.next + 1) % a.limit
	}
	a.keys[k] = struct{}{}
}

func (a *absentOwners) has(k ownerKey) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.keys[k]
	return ok
}
