// Package managedslices is what a controller needs to manage the
// EndpointSlices it owns, shared by the EndpointSlice controller and the
// mirroring controller: a record of its own writes, to tell its informer
// cache lagging behind them, and the identity of endpoints across
// updates, to change slices in place.
package managedslices

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Tracker remembers the controller's own writes to each Service's
// slices, so that it can tell its informer cache lagging behind them
// (a sync from it would create duplicates or undo them) and ignore the
// informer events they cause.
//
// Upstream compares metadata.generation, which kindish's API server does
// not count for EndpointSlices; resource versions serve instead, compared
// only for equality as clients must.
type Tracker struct {
	mu          sync.Mutex
	byService   map[types.NamespacedName]map[types.UID]expectation
	serviceUIDs map[types.NamespacedName]types.UID
}

// expectation is what the cache should come to show of one slice.
type expectation struct {
	// written is the resource version of the controller's last write.
	written string
	// replaced is the version that write replaced: a cache still showing
	// it is stale. Empty for a create, or a write that changed nothing.
	replaced string
	// deleted means the controller deleted the slice.
	deleted bool
}

// NewTracker returns a tracker that knows of no writes.
func NewTracker() *Tracker {
	return &Tracker{
		byService:   map[types.NamespacedName]map[types.UID]expectation{},
		serviceUIDs: map[types.NamespacedName]types.UID{},
	}
}

func serviceOf(s *discoveryv1.EndpointSlice) types.NamespacedName {
	return types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
}

func (t *Tracker) set(s *discoveryv1.EndpointSlice, e expectation) {
	nn := serviceOf(s)
	m := t.byService[nn]
	if m == nil {
		m = map[types.UID]expectation{}
		t.byService[nn] = m
	}
	m[s.UID] = e
}

// Wrote records a create or update that returned s, replacing the
// resource version replaced ("" for a create).
func (t *Tracker) Wrote(s *discoveryv1.EndpointSlice, replaced string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if replaced == s.ResourceVersion {
		replaced = ""
	}
	t.set(s, expectation{written: s.ResourceVersion, replaced: replaced})
}

// ExpectDeletion records that the controller deleted s.
func (t *Tracker) ExpectDeletion(s *discoveryv1.EndpointSlice) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.set(s, expectation{deleted: true})
}

// Stale reports whether cached, the slices the cache has for svc, miss
// any of the controller's writes: a slice it deleted is still there, one
// it created is not yet, or one shows the version it replaced.
func (t *Tracker) Stale(svc *corev1.Service, cached []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	nn := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	// Writes for an older Service of the same name say nothing of this one.
	if uid, ok := t.serviceUIDs[nn]; ok && uid != svc.UID {
		delete(t.byService, nn)
	}
	t.serviceUIDs[nn] = svc.UID
	m := t.byService[nn]
	if len(m) == 0 {
		return false
	}
	seen := make(map[types.UID]bool, len(cached))
	for _, s := range cached {
		seen[s.UID] = true
		e, ok := m[s.UID]
		if ok && (e.deleted || (e.replaced != "" && s.ResourceVersion == e.replaced)) {
			return true
		}
	}
	for uid, e := range m {
		if !e.deleted && !seen[uid] {
			return true
		}
	}
	return false
}

// ShouldSync reports whether an informer event for s shows something
// other than the controller's own last write.
func (t *Tracker) ShouldSync(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.byService[serviceOf(s)][s.UID]
	return !ok || e.deleted || s.ResourceVersion != e.written
}

// Deleted forgets s, gone from the cache, and reports whether the
// controller deleted it itself.
func (t *Tracker) Deleted(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.byService[serviceOf(s)]
	e, ok := m[s.UID]
	delete(m, s.UID)
	return ok && e.deleted
}

// Forget drops what is known of a deleted Service.
func (t *Tracker) Forget(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	nn := types.NamespacedName{Namespace: namespace, Name: name}
	delete(t.byService, nn)
	delete(t.serviceUIDs, nn)
}
