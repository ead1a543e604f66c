package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
)

// Index names the collector adds to the informers it watches. Shared
// informers serve other controllers too, so the names are the collector's
// own.
const (
	ownerUIDIndex = "garbagecollector.kindish.io/owner-uid"
	uidIndex      = "garbagecollector.kindish.io/uid"
)

// ignored reports the resources never watched, as upstream's defaults:
// events are numerous, short-lived and owned by nobody.
func ignored(gr schema.GroupResource) bool {
	return gr.Resource == "events" && (gr.Group == "" || gr.Group == "events.k8s.io")
}

// resource is what discovery says about one served resource.
type resource struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
}

func (r resource) groupKind() schema.GroupKind {
	return schema.GroupKind{Group: r.gvr.Group, Kind: r.kind}
}

// servedResources reads discovery's answer: every resource by kind (to
// resolve owner references) and the ones the collector can watch and
// delete.
func servedResources(lists []*metav1.APIResourceList) (byKind map[schema.GroupKind]resource, watchable map[schema.GroupVersionResource]resource) {
	byKind = map[schema.GroupKind]resource{}
	watchable = map[schema.GroupVersionResource]resource{}
	for _, list := range lists {
		if list == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // a subresource
			}
			res := resource{gvr: gv.WithResource(r.Name), kind: r.Kind, namespaced: r.Namespaced}
			byKind[res.groupKind()] = res
			if ignored(res.gvr.GroupResource()) {
				continue
			}
			if slices.Contains(r.Verbs, "delete") && slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch") {
				watchable[res.gvr] = res
			}
		}
	}
	return byKind, watchable
}

// monitor watches one resource for the collector.
type monitor struct {
	resource
	informer     cache.SharedIndexInformer
	registration cache.ResourceEventHandlerRegistration
	// own is an informer the collector runs itself (a metadata-only one,
	// for a type the shared factory does not know); stop ends it.
	own     bool
	started bool
	stop    context.CancelFunc
}

// cached returns the object the monitor's cache holds under that name.
func (m *monitor) cached(namespace, name string) (metav1.Object, bool) {
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	obj, exists, err := m.informer.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		return nil, false
	}
	o, err := meta.Accessor(obj)
	return o, err == nil
}

func (m *monitor) hasSynced() bool {
	return m.registration != nil && m.registration.HasSynced()
}

// dependent is a watched object with an owner reference to some owner.
type dependent struct {
	monitor *monitor
	object  metav1.Object
}

func indexByOwnerUID(obj any) ([]string, error) {
	o, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil
	}
	refs := o.GetOwnerReferences()
	uids := make([]string, 0, len(refs))
	for _, ref := range refs {
		uids = append(uids, string(ref.UID))
	}
	return uids, nil
}

func indexByUID(obj any) ([]string, error) {
	o, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil
	}
	return []string{string(o.GetUID())}, nil
}

// newMonitor builds the monitor of a resource: the shared factory's
// informer when the factory knows the type (other controllers then share
// its cache, as upstream), a metadata-only one otherwise.
func (c *Controller) newMonitor(r resource) (*monitor, error) {
	m := &monitor{resource: r}
	if generic, err := c.factory.ForResource(r.gvr); err == nil {
		m.informer = generic.Informer()
	} else {
		m.informer = metadatainformer.NewFilteredMetadataInformer(c.metadata, r.gvr, metav1.NamespaceAll, 0, cache.Indexers{}, nil).Informer()
		m.own = true
	}
	missing := cache.Indexers{}
	existing := m.informer.GetIndexer().GetIndexers()
	for name, f := range map[string]cache.IndexFunc{ownerUIDIndex: indexByOwnerUID, uidIndex: indexByUID} {
		if _, ok := existing[name]; !ok {
			missing[name] = f
		}
	}
	if len(missing) > 0 {
		if err := m.informer.AddIndexers(missing); err != nil {
			return nil, fmt.Errorf("index informer of %s: %w", r.gvr, err)
		}
	}
	registration, err := m.informer.AddEventHandler(c.handlers(m))
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", r.gvr, err)
	}
	m.registration = registration
	return m, nil
}

// close stops what the monitor started: its own informer, or its handler
// on a shared one.
func (m *monitor) close() {
	if m.stop != nil {
		m.stop()
	}
	if !m.own && m.registration != nil {
		_ = m.informer.RemoveEventHandler(m.registration)
	}
}

// resyncMonitors makes the monitors match what discovery reports: new
// resources are watched, vanished ones no longer. A group discovery could
// not read keeps its monitors, as upstream, rather than forgetting every
// object of it.
//
// Handlers are added to and removed from informers without c.mu held: an
// informer that is shutting down holds its handlers' lock until every
// handler has returned, and the handlers take c.mu.
func (c *Controller) resyncMonitors(ctx context.Context) error {
	lists, discoveryErr := c.discover()
	if len(lists) == 0 && discoveryErr != nil {
		return fmt.Errorf("discover served resources: %w", discoveryErr)
	}
	failed, _ := discovery.GroupDiscoveryFailedErrorGroups(discoveryErr)
	byKind, watchable := servedResources(lists)

	c.mu.Lock()
	for gk, r := range c.kinds {
		if _, ok := failed[r.gvr.GroupVersion()]; ok {
			if _, known := byKind[gk]; !known {
				byKind[gk] = r
			}
		}
	}
	for gvr, m := range c.monitors {
		if _, ok := failed[gvr.GroupVersion()]; ok {
			watchable[gvr] = m.resource
		}
	}
	c.kinds = byKind
	var gone []*monitor
	for gvr, m := range c.monitors {
		if _, ok := watchable[gvr]; !ok {
			gone = append(gone, m)
			delete(c.monitors, gvr)
		}
	}
	added := map[schema.GroupVersionResource]resource{}
	for gvr, r := range watchable {
		if _, ok := c.monitors[gvr]; !ok {
			added[gvr] = r
		}
	}
	c.mu.Unlock()

	for _, m := range gone {
		m.close()
	}
	var errs []error
	created := map[schema.GroupVersionResource]*monitor{}
	for gvr, r := range added {
		m, err := c.newMonitor(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		created[gvr] = m
	}

	c.mu.Lock()
	maps.Copy(c.monitors, created)
	startShared := false
	for _, m := range c.monitors {
		if m.started {
			continue
		}
		m.started = true
		if m.own {
			runCtx, cancel := context.WithCancel(ctx)
			m.stop = cancel
			go m.informer.RunWithContext(runCtx)
		} else {
			startShared = true
		}
	}
	c.mu.Unlock()

	// Starting the factory again starts only the informers not yet
	// running: the ones this collector asked for first.
	if startShared {
		c.factory.Start(ctx.Done())
	}
	if len(errs) > 0 {
		return fmt.Errorf("watch served resources: %w", errors.Join(errs...))
	}
	if discoveryErr != nil {
		return fmt.Errorf("discover served resources: %w", discoveryErr)
	}
	return nil
}

// stopMonitors ends every monitor, when the collector stops; without c.mu
// held while it removes their handlers (see resyncMonitors).
func (c *Controller) stopMonitors() {
	c.mu.Lock()
	monitors := c.monitors
	c.monitors = map[schema.GroupVersionResource]*monitor{}
	c.mu.Unlock()
	for _, m := range monitors {
		m.close()
	}
}

// synced reports whether every monitor has seen its resource's objects:
// before that, an owner could look free of dependents that exist.
func (c *Controller) synced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.monitors) == 0 {
		return false
	}
	for _, m := range c.monitors {
		if !m.hasSynced() {
			return false
		}
	}
	return true
}

func (c *Controller) monitorFor(gvr schema.GroupVersionResource) *monitor {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.monitors[gvr]
}

func (c *Controller) resourceFor(gk schema.GroupKind) (resource, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.kinds[gk]
	return r, ok
}

func (c *Controller) monitorList() []*monitor {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*monitor, 0, len(c.monitors))
	for _, m := range c.monitors {
		out = append(out, m)
	}
	return out
}

// dependents returns every watched object with an owner reference to uid.
func (c *Controller) dependents(uid types.UID) []dependent {
	var out []dependent
	for _, m := range c.monitorList() {
		objs, err := m.informer.GetIndexer().ByIndex(ownerUIDIndex, string(uid))
		if err != nil {
			continue
		}
		for _, obj := range objs {
			if o, err := meta.Accessor(obj); err == nil {
				out = append(out, dependent{monitor: m, object: o})
			}
		}
	}
	return out
}

// observed returns the watched object with that uid, if any.
func (c *Controller) observed(uid types.UID) (*monitor, metav1.Object, bool) {
	for _, m := range c.monitorList() {
		objs, err := m.informer.GetIndexer().ByIndex(uidIndex, string(uid))
		if err != nil || len(objs) == 0 {
			continue
		}
		if o, err := meta.Accessor(objs[0]); err == nil {
			return m, o, true
		}
	}
	return nil, nil, false
}
