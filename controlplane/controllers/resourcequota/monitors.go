package resourcequota

import (
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/cache"
)

// errUnmonitored is a resource the shared informer factory has no
// informer for (a custom resource): its count is not measured.
var errUnmonitored = errors.New("no informer for resource")

// coreMonitored are the resources watched from the start: those with
// usage beyond a count, and those with legacy count names.
var coreMonitored = []schema.GroupVersionResource{
	corev1.SchemeGroupVersion.WithResource("pods"),
	corev1.SchemeGroupVersion.WithResource("services"),
	corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"),
	corev1.SchemeGroupVersion.WithResource("configmaps"),
	corev1.SchemeGroupVersion.WithResource("secrets"),
	corev1.SchemeGroupVersion.WithResource("replicationcontrollers"),
	corev1.SchemeGroupVersion.WithResource("resourcequotas"),
}

// unquotaed are never counted, as upstream: events come and go too fast
// to be worth watching.
var unquotaed = map[schema.GroupResource]bool{
	{Resource: "events"}:                         true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

// monitors are the informers quota measures objects with, one per
// resource. A resource named only in a count/<resource> of some quota is
// watched from the first time a quota names it: most clusters count few
// kinds of objects, and watching every served resource would cost a
// cache of each.
type monitors struct {
	factory informers.SharedInformerFactory
	// replenish is called for deletions and usage-changing updates.
	replenish func(gr schema.GroupResource, namespace string)
	now       func() time.Time

	mu   sync.Mutex
	byGR map[schema.GroupResource]cache.SharedIndexInformer
	// stop is set once the controller runs: informers added from then on
	// are started at once.
	stop <-chan struct{}
}

func newMonitors(factory informers.SharedInformerFactory, now func() time.Time, replenish func(schema.GroupResource, string)) *monitors {
	m := &monitors{factory: factory, now: now, replenish: replenish, byGR: map[schema.GroupResource]cache.SharedIndexInformer{}}
	for _, gvr := range coreMonitored {
		// The typed factory has informers for all of these; were one
		// missing, informerFor would try again when a quota needs it.
		_, _ = m.add(gvr)
	}
	return m
}

// synced are the informers' HasSynced.
func (m *monitors) synced() []cache.InformerSynced {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []cache.InformerSynced
	for _, inf := range m.byGR {
		out = append(out, inf.HasSynced)
	}
	return out
}

// start starts the informers added after the factory was started, and
// those to come.
func (m *monitors) start(stop <-chan struct{}) {
	m.mu.Lock()
	m.stop = stop
	m.mu.Unlock()
	m.factory.Start(stop)
}

// list returns the namespace's objects of a resource from its cache,
// watching the resource first if need be. A cache not synced yet is an
// error: the quota is measured again later.
func (m *monitors) list(gr schema.GroupResource, namespace string) ([]runtime.Object, error) {
	inf, err := m.informerFor(gr)
	if err != nil {
		return nil, err
	}
	if !inf.HasSynced() {
		return nil, fmt.Errorf("cache of %s not synced yet", gr)
	}
	items, err := inf.GetIndexer().ByIndex(cache.NamespaceIndex, namespace)
	if err != nil {
		return nil, fmt.Errorf("list %s in %s: %w", gr, namespace, err)
	}
	objs := make([]runtime.Object, 0, len(items))
	for _, item := range items {
		if obj, ok := item.(runtime.Object); ok {
			objs = append(objs, obj)
		}
	}
	return objs, nil
}

func (m *monitors) informerFor(gr schema.GroupResource) (cache.SharedIndexInformer, error) {
	m.mu.Lock()
	inf, ok := m.byGR[gr]
	m.mu.Unlock()
	if ok {
		return inf, nil
	}
	if unquotaed[gr] {
		return nil, errUnmonitored
	}
	// The typed factory knows the built-in resources by version: take
	// the group's preferred version it has an informer for.
	for _, gv := range scheme.Scheme.PrioritizedVersionsForGroup(gr.Group) {
		inf, err := m.add(gv.WithResource(gr.Resource))
		if err != nil {
			continue
		}
		m.mu.Lock()
		stop := m.stop
		m.mu.Unlock()
		if stop != nil {
			m.factory.Start(stop)
		}
		return inf, nil
	}
	return nil, errUnmonitored
}

// add watches a resource and replenishes quota from its events.
func (m *monitors) add(gvr schema.GroupVersionResource) (cache.SharedIndexInformer, error) {
	generic, err := m.factory.ForResource(gvr)
	if err != nil {
		return nil, err
	}
	gr := gvr.GroupResource()
	m.mu.Lock()
	defer m.mu.Unlock()
	if inf, ok := m.byGR[gr]; ok {
		return inf, nil
	}
	inf := generic.Informer()
	ev := evaluatorFor(gr)
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			if m.usageChanged(ev, oldObj, newObj) {
				m.replenish(gr, namespaceOf(newObj))
			}
		},
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			m.replenish(gr, namespaceOf(obj))
		},
	})
	m.byGR[gr] = inf
	return inf, nil
}

// usageChanged reports an update that changes what the object uses of
// quota, or which scopes select it: a pod that finished, a service that
// became a NodePort one, a claim that grew.
func (m *monitors) usageChanged(ev evaluator, oldObj, newObj any) bool {
	o, ok1 := oldObj.(runtime.Object)
	n, ok2 := newObj.(runtime.Object)
	if !ok1 || !ok2 {
		return false
	}
	now := m.now()
	if !equalLists(ev.usage(o, now), ev.usage(n, now)) {
		return true
	}
	op, ok1 := oldObj.(*corev1.Pod)
	np, ok2 := newObj.(*corev1.Pod)
	return ok1 && ok2 && terminating(op) != terminating(np)
}

func namespaceOf(obj any) string {
	if m, ok := obj.(interface{ GetNamespace() string }); ok {
		return m.GetNamespace()
	}
	return ""
}
