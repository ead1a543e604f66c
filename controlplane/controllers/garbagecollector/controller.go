package garbagecollector

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// Name is the controller's name in the controller manager, and the
// component its events come from, as upstream.
const Name = "garbage-collector-controller"

// DiscoveryPeriod is how often the set of watched resources is refreshed,
// as upstream's default.
const DiscoveryPeriod = 30 * time.Second

// notSyncedRetry is how soon an item that waits for the caches is tried
// again.
const notSyncedRetry = time.Second

// objectRef is the work queue's key: one object, by resource and uid. A
// new object under the same name is a different item.
type objectRef struct {
	resource  schema.GroupVersionResource
	namespace string
	name      string
	uid       types.UID
}

// Controller is the garbage collector. Its queue holds objects whose
// owners may be gone and owners whose Foreground or Orphan deletion waits
// on their dependents.
type Controller struct {
	client   kubernetes.Interface
	factory  informers.SharedInformerFactory
	metadata metadata.Interface
	// discover lists the served resources (ServerPreferredResources).
	discover    func() ([]*metav1.APIResourceList, error)
	recorder    record.EventRecorder
	broadcaster record.EventBroadcaster // set when the collector built its own recorder
	log         *slog.Logger
	queue       workqueue.TypedRateLimitingInterface[objectRef]
	absent      *absentOwners
	// discoveryPeriod is DiscoveryPeriod unless a test shortens it.
	discoveryPeriod time.Duration

	mu       sync.RWMutex
	monitors map[schema.GroupVersionResource]*monitor
	// kinds resolves owner references: every served resource by kind.
	kinds map[schema.GroupKind]resource
}

// New builds the collector. Which resources it watches comes from
// discovery, so unlike other controllers it registers its informers'
// handlers when Run starts, on the factory's informers where the factory
// knows the type and on metadata-only informers of metadataClient
// otherwise. metadataClient also carries its reads, patches and deletes,
// which work on any type. recorder may be nil: the collector then records
// its events itself. log may be nil.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, metadataClient metadata.Interface, recorder record.EventRecorder, log *slog.Logger) *Controller {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		client:          client,
		factory:         factory,
		metadata:        metadataClient,
		discover:        client.Discovery().ServerPreferredResources,
		recorder:        recorder,
		log:             log.With("controller", Name),
		absent:          newAbsentOwners(absentOwnersLimit),
		discoveryPeriod: DiscoveryPeriod,
		monitors:        map[schema.GroupVersionResource]*monitor{},
		kinds:           map[schema.GroupKind]resource{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[objectRef](),
			workqueue.TypedRateLimitingQueueConfig[objectRef]{Name: "garbage_collector_attempt_to_delete"},
		),
	}
	if recorder == nil {
		c.broadcaster = record.NewBroadcaster()
		c.recorder = c.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Name})
	}
	return c
}

// Run watches the served resources and collects garbage with workers
// goroutines until ctx ends. It waits for discovery to answer and for
// every watched resource's cache to sync before the first deletion.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	c.log.Info("Starting controller")
	defer c.log.Info("Shutting down controller")
	if c.broadcaster != nil {
		c.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
		defer c.broadcaster.Shutdown()
	}
	defer c.stopMonitors()

	err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.resyncMonitors(ctx); err != nil {
			c.log.Error("Watching served resources", "err", err)
		}
		return len(c.monitorList()) > 0, nil
	})
	if err != nil {
		return
	}
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { wait.UntilWithContext(ctx, c.runWorker, time.Second) })
	}
	wg.Go(func() { c.refreshMonitors(ctx) })
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

// refreshMonitors follows discovery, so that resources served later (a
// new API group) are collected too.
func (c *Controller) refreshMonitors(ctx context.Context) {
	ticker := time.NewTicker(c.discoveryPeriod)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if err := c.resyncMonitors(ctx); err != nil {
				c.log.Error("Refreshing watched resources", "err", err)
			}
		}
	}
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNext(ctx) {
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	ref, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(ref)
	err := c.sync(ctx, ref)
	switch {
	case err == nil:
		c.queue.Forget(ref)
	case errors.Is(err, errClusterScopedDependent):
		// Retrying cannot fix the reference; upstream drops the item too.
		c.log.Info("Ignoring owner reference", "object", describeRef(ref), "err", err)
		c.queue.Forget(ref)
	case errors.Is(err, errNotSynced):
		c.queue.AddAfter(ref, notSyncedRetry)
	case apierrors.IsConflict(err):
		// Someone else wrote the object first; look again.
		c.queue.AddRateLimited(ref)
	default:
		c.log.Error("Garbage collection failed, requeuing", "object", describeRef(ref), "err", err)
		c.queue.AddRateLimited(ref)
	}
	return true
}

func describeRef(ref objectRef) string {
	gr := ref.resource.GroupResource().String()
	if ref.namespace == "" {
		return gr + " " + ref.name
	}
	return gr + " " + ref.namespace + "/" + ref.name
}

func (c *Controller) enqueue(m *monitor, o metav1.Object) {
	c.queue.Add(objectRef{resource: m.gvr, namespace: o.GetNamespace(), name: o.GetName(), uid: o.GetUID()})
}

// enqueueDeletingOwner queues the watched object with that uid if it is
// being deleted: an owner waiting on its dependents looks again when one
// of them goes or stops blocking it.
func (c *Controller) enqueueDeletingOwner(uid types.UID) {
	if m, owner, ok := c.observed(uid); ok && owner.GetDeletionTimestamp() != nil {
		c.enqueue(m, owner)
	}
}

func (c *Controller) handlers(m *monitor) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.added(m, obj) },
		UpdateFunc: func(old, obj any) { c.updated(m, old, obj) },
		DeleteFunc: func(obj any) { c.deleted(m, obj) },
	}
}

func (c *Controller) added(m *monitor, obj any) {
	o, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	if needsCollector(o) {
		c.enqueue(m, o)
	}
	// An owner observed after its dependents: the ones in another
	// namespace reference it wrongly, which their next sync reports.
	for _, d := range c.dependents(o.GetUID()) {
		if d.object.GetNamespace() != o.GetNamespace() {
			c.enqueue(d.monitor, d.object)
		}
	}
}

func (c *Controller) updated(m *monitor, oldObj, obj any) {
	old, err := meta.Accessor(oldObj)
	if err != nil {
		return
	}
	o, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	// An update with the same resourceVersion is the informer's resync:
	// look again, so that a missed event heals.
	resync := old.GetResourceVersion() == o.GetResourceVersion()
	if needsCollector(o) && (resync || ownersChanged(old, o) || deletionChanged(old, o)) {
		c.enqueue(m, o)
	}
	for _, uid := range unblockedOwners(old, o) {
		c.enqueueDeletingOwner(uid)
	}
}

func (c *Controller) deleted(m *monitor, obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	o, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	deps := c.dependents(o.GetUID())
	if len(deps) > 0 {
		c.absent.add(ownerKey{namespace: o.GetNamespace(), group: m.gvr.Group, kind: m.kind, name: o.GetName(), uid: o.GetUID()})
	}
	for _, d := range deps {
		c.enqueue(d.monitor, d.object)
	}
	for _, ref := range o.GetOwnerReferences() {
		c.enqueueDeletingOwner(ref.UID)
	}
}
