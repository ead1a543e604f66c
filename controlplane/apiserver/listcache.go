package apiserver

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// listCache answers a resource's plain reads from memory and passes every
// other call to storage. Admission reads namespaces, quotas and limit
// ranges on every write; upstream serves those reads from informers too.
//
// The cache is written through: every write this server makes to the
// resource goes through it and lands in memory at once, so a quota created
// a moment ago constrains the next create. The storage watch adds what
// other servers write. Entries only move forward in resourceVersion, so a
// late watch event never undoes a newer write.
type listCache struct {
	storage.Interface
	prefix string

	mu      sync.RWMutex
	objects map[string]runtime.Object // by key
	// gone remembers the revision at which a key was deleted, so that a
	// late event from before the deletion does not bring it back.
	gone   map[string]int64
	synced chan struct{}
}

func newListCache(store storage.Interface, prefix string) *listCache {
	return &listCache{Interface: store, prefix: prefix, objects: map[string]runtime.Object{}, gone: map[string]int64{}, synced: make(chan struct{})}
}

func (c *listCache) keyOf(obj any) (string, int64, bool) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return "", 0, false
	}
	rv, _ := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
	if m.GetNamespace() == "" {
		return c.prefix + m.GetName(), rv, true
	}
	return c.prefix + m.GetNamespace() + "/" + m.GetName(), rv, true
}

func revisionOf(obj runtime.Object) int64 {
	m, err := meta.Accessor(obj)
	if err != nil {
		return 0
	}
	rv, _ := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
	return rv
}

func (c *listCache) set(obj runtime.Object) {
	key, rv, ok := c.keyOf(obj)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.objects[key]; ok && revisionOf(cur) >= rv {
		return
	}
	if rv <= c.gone[key] {
		return
	}
	delete(c.gone, key)
	c.objects[key] = obj
}

func (c *listCache) remove(obj runtime.Object, atRevision int64) {
	key, rv, ok := c.keyOf(obj)
	if !ok {
		return
	}
	if atRevision < rv {
		atRevision = rv
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.objects[key]; ok && revisionOf(cur) > atRevision {
		return // re-created since
	}
	delete(c.objects, key)
	c.gone[key] = atRevision
}

// OnAdd, OnUpdate and OnDelete take the storage watch's events.
func (c *listCache) OnAdd(obj any, _ bool) { c.set(obj.(runtime.Object)) }
func (c *listCache) OnUpdate(_, obj any)   { c.set(obj.(runtime.Object)) }
func (c *listCache) OnDelete(obj any)      { c.remove(obj.(runtime.Object), 0) }

// Replace takes a fresh list: what it lacks was deleted meanwhile.
func (c *listCache) Replace(items []runtime.Object, revision int64) {
	fresh := map[string]runtime.Object{}
	for _, obj := range items {
		if key, _, ok := c.keyOf(obj); ok {
			fresh[key] = obj
		}
	}
	c.mu.Lock()
	for key, cur := range c.objects {
		if _, ok := fresh[key]; !ok && revisionOf(cur) <= revision {
			delete(c.objects, key)
			c.gone[key] = revision
		}
	}
	c.mu.Unlock()
	for _, obj := range items {
		c.set(obj)
	}
}

func (c *listCache) ready() bool {
	select {
	case <-c.synced:
		return true
	default:
		return false
	}
}

// GetList answers an unfiltered, unpaged list of the latest state from
// memory; anything else goes to storage.
func (c *listCache) GetList(ctx context.Context, prefix string, opts storage.ListOptions, list runtime.Object) error {
	if !c.ready() || opts.ResourceVersion != "" || opts.Predicate.Limit != 0 || opts.Predicate.Continue != "" ||
		(opts.Predicate.Label != nil && !opts.Predicate.Label.Empty()) || (opts.Predicate.Field != nil && !opts.Predicate.Field.Empty()) {
		return c.Interface.GetList(ctx, prefix, opts, list)
	}
	c.mu.RLock()
	var items []runtime.Object
	for key, obj := range c.objects {
		if strings.HasPrefix(key, prefix) {
			items = append(items, obj.DeepCopyObject())
		}
	}
	c.mu.RUnlock()
	return meta.SetList(list, items)
}

// Get answers from memory when the object is there; a miss asks storage.
func (c *listCache) Get(ctx context.Context, key string, opts storage.GetOptions, out runtime.Object) error {
	if c.ready() && opts.ResourceVersion == "" {
		c.mu.RLock()
		obj, ok := c.objects[key]
		c.mu.RUnlock()
		if ok {
			reflect.ValueOf(out).Elem().Set(reflect.ValueOf(obj.DeepCopyObject()).Elem())
			return nil
		}
	}
	return c.Interface.Get(ctx, key, opts, out)
}

// Create, GuaranteedUpdate and Delete write through.
func (c *listCache) Create(ctx context.Context, key string, obj, out runtime.Object) error {
	if err := c.Interface.Create(ctx, key, obj, out); err != nil {
		return err
	}
	c.set(out.DeepCopyObject())
	return nil
}

func (c *listCache) GuaranteedUpdate(ctx context.Context, key string, dest runtime.Object, ignoreNotFound bool, precond *storage.Preconditions, tryUpdate storage.UpdateFunc) error {
	if err := c.Interface.GuaranteedUpdate(ctx, key, dest, ignoreNotFound, precond, tryUpdate); err != nil {
		return err
	}
	c.set(dest.DeepCopyObject())
	return nil
}

func (c *listCache) Delete(ctx context.Context, key string, out runtime.Object, precond *storage.Preconditions, validate storage.ValidateDeletion) error {
	if err := c.Interface.Delete(ctx, key, out, precond, validate); err != nil {
		return err
	}
	rev, _ := c.Interface.CurrentRevision(ctx)
	c.remove(out, rev)
	return nil
}

// writeThrough is the cache as the resource's handler sees it: writes land
// in memory as well as in storage, but the handler's reads stay consistent
// reads from storage, as upstream serves a GET without a resourceVersion.
type writeThrough struct{ *listCache }

func (w writeThrough) Get(ctx context.Context, key string, opts storage.GetOptions, out runtime.Object) error {
	return w.listCache.Interface.Get(ctx, key, opts, out)
}

func (w writeThrough) GetList(ctx context.Context, prefix string, opts storage.ListOptions, list runtime.Object) error {
	return w.listCache.Interface.GetList(ctx, prefix, opts, list)
}
