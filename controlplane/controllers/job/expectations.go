package job

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
)

// expectationsTimeout is upstream's: expectations older than this are
// assumed lost (a watch event that never came) and no longer hold a Job
// back.
const expectationsTimeout = 5 * time.Minute

// expectations counts, per Job, the pod creations and deletions the
// controller made and has not seen in its cache yet. Until they are
// seen, the cache undercounts or overcounts the Job's pods, and acting on
// it would create or delete pods twice.
type expectations struct {
	mu    sync.Mutex
	now   func() time.Time
	byJob map[string]*expected
}

type expected struct {
	adds, dels int
	at         time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{now: now, byJob: map[string]*expected{}}
}

// satisfied reports whether the cache is trustworthy for the Job.
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.byJob[key]
	if !ok {
		return true
	}
	return x.adds <= 0 && x.dels <= 0 || e.now().Sub(x.at) > expectationsTimeout
}

func (e *expectations) expectCreations(key string, n int) { e.set(key, n, 0) }
func (e *expectations) expectDeletions(key string, n int) { e.set(key, 0, n) }

func (e *expectations) set(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byJob[key] = &expected{adds: adds, dels: dels, at: e.now()}
}

func (e *expectations) creationObserved(key string) { e.lower(key, 1, 0) }
func (e *expectations) deletionObserved(key string) { e.lower(key, 0, 1) }

func (e *expectations) lower(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.byJob[key]; ok {
		x.adds -= adds
		x.dels -= dels
	}
}

func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byJob, key)
}

// finalizerExpectations are, per Job, the pods whose tracking finalizer
// the controller removed and whose update the cache has not shown yet:
// they are counted already and must not be counted again.
type finalizerExpectations struct {
	mu    sync.Mutex
	byJob map[string]sets.Set[string]
}

func newFinalizerExpectations() *finalizerExpectations {
	return &finalizerExpectations{byJob: map[string]sets.Set[string]{}}
}

func (e *finalizerExpectations) expectRemoved(key string, uids []string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.byJob[key]
	if !ok {
		s = sets.New[string]()
		e.byJob[key] = s
	}
	s.Insert(uids...)
}

func (e *finalizerExpectations) removalObserved(key, uid string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.byJob[key]; ok {
		s.Delete(uid)
		if s.Len() == 0 {
			delete(e.byJob, key)
		}
	}
}

// expectedUIDs is a copy: the caller reads it while handlers change it.
func (e *finalizerExpectations) expectedUIDs(key string) sets.Set[string] {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.byJob[key].Clone()
}

func (e *finalizerExpectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byJob, key)
}
