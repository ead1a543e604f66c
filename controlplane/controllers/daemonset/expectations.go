package daemonset

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// expectationsTimeout is how long a DaemonSet waits for the cache to show
// its own creations and deletions before it trusts the cache anyway, as
// upstream does: a watch event lost for good must not stall it forever.
const expectationsTimeout = 5 * time.Minute

// expectations count, per DaemonSet key, the pod creations and deletions
// the controller made and its informer has not shown yet. Until they are
// seen, the cache understates or overstates the pods, and acting on it
// would create a second pod on a node (names are generated, so the API
// server would not refuse it) or delete one twice.
type expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	byKey map[string]*expectation
}

type expectation struct {
	add, del int
	set      time.Time
}

func newExpectations(c clock.PassiveClock) *expectations {
	return &expectations{clock: c, byKey: map[string]*expectation{}}
}

// satisfied reports whether the cache can be trusted for key: nothing is
// outstanding, or it has been outstanding too long.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byKey[key]
	if !ok {
		return true
	}
	if x.add <= 0 && x.del <= 0 {
		return true
	}
	return e.clock.Since(x.set) > expectationsTimeout
}

// expect records that add creations and del deletions are about to be
// made for key, replacing what was expected before.
func (e *expectations) expect(key string, add, del int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byKey[key] = &expectation{add: add, del: del, set: e.clock.Now()}
}

// lower takes back expected creations and deletions: seen in the cache,
// failed, or never attempted.
func (e *expectations) lower(key string, add, del int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byKey[key]; ok {
		x.add -= add
		x.del -= del
	}
}

func (e *expectations) creationObserved(key string) { e.lower(key, 1, 0) }
func (e *expectations) deletionObserved(key string) { e.lower(key, 0, 1) }

// forget drops key, so that a DaemonSet recreated under its name starts
// afresh.
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byKey, key)
}
