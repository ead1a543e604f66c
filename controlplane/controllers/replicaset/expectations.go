package replicaset

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// expectationsTimeout is upstream's ExpectationsTimeout: a controller
// that has not seen the pods it created or deleted within it stops
// waiting and looks at the world again.
const expectationsTimeout = 5 * time.Minute

// expectation is what one controller still waits to observe: adds pod
// creations and the keys of the pods it asked to delete.
type expectation struct {
	adds      int
	deletes   map[string]bool
	timestamp time.Time
}

// expectations is upstream's UIDTrackingControllerExpectations. After
// creating or deleting pods, a controller waits to see them in its
// informer before acting again, or a burst of syncs would create the
// same pods twice: the cache lags behind what the API server already
// holds.
type expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	byKey map[string]*expectation
}

func newExpectations(c clock.PassiveClock) *expectations {
	return &expectations{clock: c, byKey: map[string]*expectation{}}
}

// satisfied reports whether the controller of key may act: it waits for
// nothing, has never recorded anything, or has waited too long.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	exp, ok := e.byKey[key]
	if !ok {
		return true
	}
	if exp.adds <= 0 && len(exp.deletes) == 0 {
		return true
	}
	return e.clock.Since(exp.timestamp) > expectationsTimeout
}

// expectCreations replaces what key waits for with n creations.
func (e *expectations) expectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byKey[key] = &expectation{adds: n, timestamp: e.clock.Now()}
}

// expectDeletions replaces what key waits for with the deletion of the
// pods whose keys (namespace/name) are given.
func (e *expectations) expectDeletions(key string, podKeys []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	deletes := make(map[string]bool, len(podKeys))
	for _, k := range podKeys {
		deletes[k] = true
	}
	e.byKey[key] = &expectation{deletes: deletes, timestamp: e.clock.Now()}
}

// creationObserved counts one creation as seen, or as never to be seen
// because it was not made.
func (e *expectations) creationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if exp, ok := e.byKey[key]; ok && exp.adds > 0 {
		exp.adds--
	}
}

// deletionObserved counts the pod's deletion as seen, once: a pod is
// observed both when its deletionTimestamp is set and when it goes.
func (e *expectations) deletionObserved(key, podKey string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if exp, ok := e.byKey[key]; ok {
		delete(exp.deletes, podKey)
	}
}

// forget drops what key waits for: its controller is gone, and one
// recreated under the same name starts clean.
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byKey, key)
}
