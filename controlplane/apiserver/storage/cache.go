package storage

import (
	"reflect"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
)

// ObjectCache keeps decoded objects by etcd key and revision. In etcd a key
// at a given modification revision always holds the same bytes, so a
// cached object is valid for as long as its revision is the key's: lists
// then ask etcd for keys and revisions only and copy what they already know
// instead of transferring and decoding it again. Cached objects are never
// handed out, only copies.
//
// The cache is bounded by the size of the stored JSON it holds. Stores that
// share a client can share one cache (WithObjectCache).
type ObjectCache struct {
	mu       sync.RWMutex
	maxBytes int64
	bytes    int64
	entries  map[string]cachedObject
	// highRev is the highest etcd revision seen. Revisions never go back
	// in one etcd history: if they do, etcd was replaced by another one
	// and what the cache knows is void.
	highRev int64
	// hitRate is a moving average of the share of list items found in the
	// cache; below one half, lists fetch values straight away rather than
	// keys first.
	hitRate float64
}

type cachedObject struct {
	rev  int64
	size int64
	obj  runtime.Object
}

// maxCachedObject keeps a few huge objects (a ConfigMap can hold a
// megabyte) from pushing out many small ones.
const maxCachedObject = 256 << 10

// DefaultObjectCacheBytes is the budget of a store's own cache.
const DefaultObjectCacheBytes = 32 << 20

// NewObjectCache returns a cache that holds up to maxBytes of stored JSON.
func NewObjectCache(maxBytes int64) *ObjectCache {
	return &ObjectCache{maxBytes: maxBytes, entries: map[string]cachedObject{}, hitRate: 1}
}

// get returns the cached object for key at rev if it has type t.
func (c *ObjectCache) get(key []byte, rev int64, t reflect.Type) runtime.Object {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	e, ok := c.entries[string(key)]
	c.mu.RUnlock()
	if !ok || e.rev != rev || reflect.TypeOf(e.obj) != t {
		return nil
	}
	return e.obj
}

// put remembers obj, which the caller must not change any more, as key at
// rev, unless the cache knows a later revision.
func (c *ObjectCache) put(key string, rev int64, size int, obj runtime.Object) {
	if c == nil || size > maxCachedObject {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.entries[key]
	if ok && old.rev >= rev {
		return
	}
	c.bytes += int64(size) - old.size
	c.entries[key] = cachedObject{rev: rev, size: int64(size), obj: obj}
	if c.bytes > c.maxBytes {
		// Go's map order is unspecified and varies: a cheap random
		// eviction down to 90%.
		for k, e := range c.entries {
			if c.bytes <= c.maxBytes*9/10 {
				break
			}
			delete(c.entries, k)
			c.bytes -= e.size
		}
	}
}

// forget drops key, which was deleted.
func (c *ObjectCache) forget(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		delete(c.entries, key)
		c.bytes -= e.size
	}
	c.mu.Unlock()
}

// observe notes the revision of an etcd response.
func (c *ObjectCache) observe(rev int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev < c.highRev {
		clear(c.entries)
		c.bytes = 0
	}
	c.highRev = rev
}

// keysFirst says whether lists should ask for keys before values.
func (c *ObjectCache) keysFirst() bool {
	if c == nil {
		return false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.hitRate >= 0.5
}

// noteHits folds one page's hits into the hit rate.
func (c *ObjectCache) noteHits(hits, total int) {
	if c == nil || total == 0 {
		return
	}
	c.mu.Lock()
	c.hitRate = 0.5*c.hitRate + 0.5*float64(hits)/float64(total)
	c.mu.Unlock()
}
