// Package mirroring is upstream's endpointslice-mirroring-controller:
// the Endpoints of a Service without a selector, written by hand or by
// another controller, are mirrored into EndpointSlices labelled
// endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io
// and owned by the Endpoints, so that kube-proxy and CoreDNS, which read
// only slices, serve such Services too. Each subset becomes one slice
// (per address type) of at most MaxEndpointsPerSubset addresses.
// Endpoints labelled endpointslice.kubernetes.io/skip-mirror=true, or
// holding an old leader election lock, are not mirrored; mirrors whose
// Endpoints or Service went, or whose Service gained a selector, are
// deleted.
package mirroring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/kindish/kindish/controlplane/controllers/endpointslice/managedslices"
)

// Name is the controller's name in the controller manager.
const Name = "endpointslice-mirroring-controller"

// EventComponent is the source of the controller's events, upstream's.
const EventComponent = "endpointslice-mirroring-controller"

// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the
// slices this controller owns.
const ManagedBy = "endpointslicemirroring-controller.k8s.io"

// DefaultMaxEndpointsPerSubset is upstream's
// --mirroring-max-endpoints-per-subset.
const DefaultMaxEndpointsPerSubset = 1000

// Upstream's event reasons, recorded on the Endpoints.
const (
	ReasonInvalidIPAddress         = "InvalidIPAddress"
	ReasonTooManyAddressesToMirror = "TooManyAddressesToMirror"
)

const (
	maxRetries    = 15
	minRetryDelay = time.Second
	maxRetryDelay = 100 * time.Second
)

// Config tunes the controller; zero fields take the defaults.
type Config struct {
	MaxEndpointsPerSubset int
	// BatchPeriod delays syncs triggered by slice changes (upstream's
	// --mirroring-endpointslice-updates-batch-period).
	BatchPeriod time.Duration
	Log         *slog.Logger
}

// Controller mirrors Endpoints into EndpointSlices. Its queue holds
// Endpoints keys (namespace/name), which are also their Services'.
type Controller struct {
	client kubernetes.Interface
	cfg    Config
	log    *slog.Logger

	endpointsLister corelisters.EndpointsLister
	serviceLister   corelisters.ServiceLister
	sliceLister     discoverylisters.EndpointSliceLister
	synced          []cache.InformerSynced

	queue      workqueue.TypedRateLimitingInterface[string]
	tracker    *managedslices.Tracker
	reconciler *reconciler
}

// New registers the controller's handlers on the factory's Endpoints,
// Service and EndpointSlice informers; it starts nothing. Events go to
// recorder.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	if cfg.MaxEndpointsPerSubset <= 0 {
		cfg.MaxEndpointsPerSubset = DefaultMaxEndpointsPerSubset
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		client: client,
		cfg:    cfg,
		log:    cfg.Log.With("controller", Name),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[string](minRetryDelay, maxRetryDelay),
				&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
			),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint_slice_mirroring"},
		),
		tracker: managedslices.NewTracker(),
	}
	c.reconciler = &reconciler{client: client, recorder: recorder, maxPerSubset: cfg.MaxEndpointsPerSubset, tracker: c.tracker}

	endpoints := factory.Core().V1().Endpoints()
	services := factory.Core().V1().Services()
	endpointSlices := factory.Discovery().V1().EndpointSlices()
	_, _ = endpoints.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if ep, ok := obj.(*corev1.Endpoints); ok && shouldMirror(ep) {
				c.enqueue(obj)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			// Also when mirroring stops, so that the mirrors go.
			oldEp, ok1 := oldObj.(*corev1.Endpoints)
			newEp, ok2 := newObj.(*corev1.Endpoints)
			if ok1 && ok2 && (shouldMirror(oldEp) || shouldMirror(newEp)) {
				c.enqueue(newObj)
			}
		},
		DeleteFunc: func(obj any) {
			ep, ok := obj.(*corev1.Endpoints)
			if tombstone, isTombstone := obj.(cache.DeletedFinalStateUnknown); isTombstone {
				ep, ok = tombstone.Obj.(*corev1.Endpoints)
			}
			if ok && shouldMirror(ep) {
				c.enqueue(obj)
			}
		},
	})
	// Only Services without a selector have mirrors, and only a selector
	// coming or going changes that.
	_, _ = services.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if svc, ok := obj.(*corev1.Service); ok && svc.Spec.Selector == nil {
				c.enqueue(obj)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			oldSvc, ok1 := oldObj.(*corev1.Service)
			newSvc, ok2 := newObj.(*corev1.Service)
			if ok1 && ok2 && (oldSvc.Spec.Selector == nil) != (newSvc.Spec.Selector == nil) {
				c.enqueue(newObj)
			}
		},
		DeleteFunc: func(obj any) {
			svc, ok := obj.(*corev1.Service)
			if tombstone, isTombstone := obj.(cache.DeletedFinalStateUnknown); isTombstone {
				svc, ok = tombstone.Obj.(*corev1.Service)
			}
			if ok && svc.Spec.Selector == nil {
				c.enqueue(obj)
			}
		},
	})
	_, _ = endpointSlices.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if s, ok := obj.(*discoveryv1.EndpointSlice); ok && managedByUs(s) && c.tracker.ShouldSync(s) {
				c.enqueueSliceOwner(s)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			prev, ok1 := oldObj.(*discoveryv1.EndpointSlice)
			s, ok2 := newObj.(*discoveryv1.EndpointSlice)
			if !ok1 || !ok2 {
				return
			}
			if prev.Labels[discoveryv1.LabelServiceName] != s.Labels[discoveryv1.LabelServiceName] {
				c.enqueueSliceOwner(prev)
				c.enqueueSliceOwner(s)
				return
			}
			if managedByUs(prev) != managedByUs(s) || (managedByUs(s) && c.tracker.ShouldSync(s)) {
				c.enqueueSliceOwner(s)
			}
		},
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			if s, ok := obj.(*discoveryv1.EndpointSlice); ok && managedByUs(s) && !c.tracker.Deleted(s) {
				c.enqueueSliceOwner(s)
			}
		},
	})
	c.endpointsLister = endpoints.Lister()
	c.serviceLister = services.Lister()
	c.sliceLister = endpointSlices.Lister()
	c.synced = []cache.InformerSynced{endpoints.Informer().HasSynced, services.Informer().HasSynced, endpointSlices.Informer().HasSynced}
	return c
}

// shouldMirror reports whether ep is one to mirror, if its Service has
// no selector: not when it opts out, nor an old leader election lock.
func shouldMirror(ep *corev1.Endpoints) bool {
	if ep.Labels[discoveryv1.LabelSkipMirror] == "true" {
		return false
	}
	_, lock := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]
	return !lock
}

func managedByUs(s *discoveryv1.EndpointSlice) bool {
	return s.Labels[discoveryv1.LabelManagedBy] == ManagedBy
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("Cannot get key", "err", err)
		return
	}
	c.queue.Add(key)
}

func (c *Controller) enqueueSliceOwner(s *discoveryv1.EndpointSlice) {
	if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
		c.queue.AddAfter(s.Namespace+"/"+name, c.cfg.BatchPeriod)
	}
}

// Run syncs Endpoints with workers goroutines until ctx ends, after the
// informers' caches have synced.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	c.log.Info("Starting controller")
	defer c.log.Info("Shutting down controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { wait.UntilWithContext(ctx, c.runWorker, time.Second) })
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

func (c *Controller) runWorker(ctx context.Context) {
	for c.processNext(ctx) {
	}
}

func (c *Controller) processNext(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	err := c.sync(ctx, key)
	switch {
	case err == nil:
		c.queue.Forget(key)
	case c.queue.NumRequeues(key) < maxRetries:
		c.log.Debug("Mirroring failed, retrying", "endpoints", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		c.log.Error("Retry budget exceeded, dropping endpoints out of the queue", "endpoints", key, "err", err)
		c.queue.Forget(key)
	}
	return true
}

// errStaleCache means the cache misses some of the controller's own
// writes; the sync is retried once the informer catches up.
var errStaleCache = errors.New("endpointslice informer cache is out of date")

// sync makes the mirrors of the Endpoints key match them, or deletes
// the mirrors when there is nothing (any more) to mirror.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	mirrors, err := c.sliceLister.EndpointSlices(namespace).List(labels.Set{
		discoveryv1.LabelServiceName: name,
		discoveryv1.LabelManagedBy:   ManagedBy,
	}.AsSelectorPreValidated())
	if err != nil {
		return err
	}
	removeMirrors := func() error {
		c.tracker.Forget(namespace, name)
		return c.reconciler.deleteSlices(ctx, mirrors)
	}

	ep, err := c.endpointsLister.Endpoints(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return removeMirrors()
	}
	if err != nil {
		return err
	}
	if !shouldMirror(ep) {
		return removeMirrors()
	}
	svc, err := c.serviceLister.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return removeMirrors()
	}
	if err != nil {
		return err
	}
	// A Service with a selector has slices of the EndpointSlice controller.
	if svc.Spec.Selector != nil {
		return removeMirrors()
	}
	if c.tracker.Stale(svc, mirrors) {
		return fmt.Errorf("%w: endpoints %s", errStaleCache, key)
	}
	return c.reconciler.reconcile(ctx, ep, mirrors)
}
