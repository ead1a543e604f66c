// Package endpointslice is upstream's endpointslice-controller: every
// Service with a selector has EndpointSlices (discovery.k8s.io/v1),
// named <service>-<random>, labelled kubernetes.io/service-name and
// endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io
// and owned by the Service, that list the pods its selector matches, at
// most MaxEndpointsPerSlice to a slice, one group of slices per set of
// resolved ports and per IP family. kube-proxy and CoreDNS read them.
//
// Terminating pods stay in the slices (ready false, serving as their
// readiness, terminating true) so that proxies can drain them. Slices
// change as little as they can: endpoints are updated in place and new
// ones fill existing slices before new slices are made. A Service
// without endpoints keeps one empty slice. Slices of a deleted Service
// are left to the garbage collector, through their owner reference.
package endpointslice

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
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/kindish/kindish/controlplane/controllers/endpointslice/managedslices"
	"github.com/kindish/kindish/controlplane/controllers/endpointslice/podendpoint"
)

// Name is the controller's name in the controller manager.
const Name = "endpointslice-controller"

// EventComponent is the source of the controller's events, upstream's.
const EventComponent = "endpoint-slice-controller"

// ManagedBy is the endpointslice.kubernetes.io/managed-by value of the
// slices this controller owns; slices with another value are left alone.
const ManagedBy = "endpointslice-controller.k8s.io"

// DefaultMaxEndpointsPerSlice is upstream's --max-endpoints-per-slice.
const DefaultMaxEndpointsPerSlice = 100

// maxEndpointsPerSliceLimit is the most endpoints a slice may hold.
const maxEndpointsPerSliceLimit = 1000

// Upstream's event reasons.
const (
	ReasonFailedToListPods             = "FailedToListPods"
	ReasonFailedToListEndpointSlices   = "FailedToListEndpointSlices"
	ReasonFailedToUpdateEndpointSlices = "FailedToUpdateEndpointSlices"
)

const (
	// maxRetries is how often a Service is retried before it is dropped;
	// the Service informer's resync brings it back.
	maxRetries = 15
	// sliceChangeMinDelay batches the syncs that changes to several slices
	// of one Service trigger.
	sliceChangeMinDelay = time.Second
	// A failing Service is retried from 1 s up to 1000 s: a Service with
	// many pods is expensive to sync, and the API server must not be
	// flooded with its retries.
	minRetryDelay = time.Second
	maxRetryDelay = 1000 * time.Second
)

// Config tunes the controller; zero fields take the defaults.
type Config struct {
	// MaxEndpointsPerSlice caps each slice, at most 1000.
	MaxEndpointsPerSlice int
	// BatchPeriod delays syncs triggered by pod changes so that a burst
	// of them makes one update (upstream's --endpointslice-updates-batch-period).
	BatchPeriod time.Duration
	Log         *slog.Logger
}

// Controller keeps the EndpointSlices of selector Services. Its queue
// holds Service keys (namespace/name).
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	cfg      Config
	log      *slog.Logger

	serviceLister corelisters.ServiceLister
	podLister     corelisters.PodLister
	sliceLister   discoverylisters.EndpointSliceLister
	synced        []cache.InformerSynced

	queue       workqueue.TypedRateLimitingInterface[string]
	reconciler  *reconciler
	tracker     *managedslices.Tracker
	triggerTime *podendpoint.TriggerTimeTracker
}

// New registers the controller's handlers on the factory's Service, Pod,
// Node and EndpointSlice informers; it starts nothing. Events go to
// recorder.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	if cfg.MaxEndpointsPerSlice <= 0 {
		cfg.MaxEndpointsPerSlice = DefaultMaxEndpointsPerSlice
	}
	// The API server refuses larger slices.
	cfg.MaxEndpointsPerSlice = min(cfg.MaxEndpointsPerSlice, maxEndpointsPerSliceLimit)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		client:   client,
		recorder: recorder,
		cfg:      cfg,
		log:      cfg.Log.With("controller", Name),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[string](minRetryDelay, maxRetryDelay),
				// Retries overall, not per Service: 10 per second, bursts of 100.
				&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
			),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint_slice"},
		),
		tracker:     managedslices.NewTracker(),
		triggerTime: podendpoint.NewTriggerTimeTracker(),
	}
	services := factory.Core().V1().Services()
	pods := factory.Core().V1().Pods()
	nodes := factory.Core().V1().Nodes()
	endpointSlices := factory.Discovery().V1().EndpointSlices()
	_, _ = services.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueService,
		UpdateFunc: func(_, obj any) { c.enqueueService(obj) },
		DeleteFunc: c.enqueueService,
	})
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: func(obj any) {
			if pod, ok := podendpoint.PodFromDeleteEvent(obj); ok {
				c.addPod(pod)
			}
		},
	})
	_, _ = endpointSlices.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addSlice,
		UpdateFunc: c.updateSlice,
		DeleteFunc: c.deleteSlice,
	})
	c.serviceLister = services.Lister()
	c.podLister = pods.Lister()
	c.sliceLister = endpointSlices.Lister()
	c.synced = []cache.InformerSynced{
		services.Informer().HasSynced, pods.Informer().HasSynced,
		nodes.Informer().HasSynced, endpointSlices.Informer().HasSynced,
	}
	c.reconciler = &reconciler{
		client:      client,
		nodeLister:  nodes.Lister(),
		maxPerSlice: cfg.MaxEndpointsPerSlice,
		tracker:     c.tracker,
	}
	return c
}

func (c *Controller) enqueueService(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("Cannot get key", "err", err)
		return
	}
	c.queue.Add(key)
}

func (c *Controller) addPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	keys, err := podendpoint.ServicesSelecting(c.serviceLister, pod.Namespace, pod.Labels)
	if err != nil {
		c.log.Error("Cannot find the pod's services", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		return
	}
	for key := range keys {
		c.queue.AddAfter(key, c.cfg.BatchPeriod)
	}
}

func (c *Controller) updatePod(oldObj, newObj any) {
	keys, err := podendpoint.ServicesToSyncOnPodUpdate(c.serviceLister, oldObj, newObj)
	if err != nil {
		c.log.Error("Cannot find the pod's services", "err", err)
		return
	}
	for key := range keys {
		c.queue.AddAfter(key, c.cfg.BatchPeriod)
	}
}

func managedByUs(s *discoveryv1.EndpointSlice) bool {
	return s.Labels[discoveryv1.LabelManagedBy] == ManagedBy
}

// enqueueSliceService queues the Service a slice belongs to, a little
// later, so that the events of several slices make one sync.
func (c *Controller) enqueueSliceService(s *discoveryv1.EndpointSlice) {
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return
	}
	c.queue.AddAfter(s.Namespace+"/"+name, max(sliceChangeMinDelay, c.cfg.BatchPeriod))
}

// addSlice reacts to slices the controller did not just write itself.
func (c *Controller) addSlice(obj any) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if ok && managedByUs(s) && c.tracker.ShouldSync(s) {
		c.enqueueSliceService(s)
	}
}

// updateSlice puts back slices others changed, including their labels:
// a slice moved to another Service or manager leaves a gap in its old
// Service and may be a duplicate in the new one.
func (c *Controller) updateSlice(oldObj, newObj any) {
	prev, ok1 := oldObj.(*discoveryv1.EndpointSlice)
	s, ok2 := newObj.(*discoveryv1.EndpointSlice)
	if !ok1 || !ok2 {
		return
	}
	if prev.Labels[discoveryv1.LabelServiceName] != s.Labels[discoveryv1.LabelServiceName] {
		c.enqueueSliceService(prev)
		c.enqueueSliceService(s)
		return
	}
	if managedByUs(prev) != managedByUs(s) || (managedByUs(s) && c.tracker.ShouldSync(s)) {
		c.enqueueSliceService(s)
	}
}

// deleteSlice puts back slices someone else deleted.
func (c *Controller) deleteSlice(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if ok && managedByUs(s) && !c.tracker.Deleted(s) {
		c.enqueueSliceService(s)
	}
}

// Run syncs Services with workers goroutines until ctx ends, after the
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
		c.log.Debug("Sync failed, retrying", "service", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		c.log.Error("Retry budget exceeded, dropping service out of the queue", "service", key, "err", err)
		c.queue.Forget(key)
	}
	return true
}

// errStaleCache means the cache misses some of the controller's own
// writes; the sync is retried once the informer catches up.
var errStaleCache = errors.New("endpointslice informer cache is out of date")

// sync makes the slices of the Service key list the pods its selector
// matches.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	svc, err := c.serviceLister.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		// The garbage collector deletes its slices.
		c.triggerTime.Forget(namespace, name)
		c.tracker.Forget(namespace, name)
		return nil
	}
	if err != nil {
		return err
	}
	// ExternalName Services and Services without a selector get their
	// slices, if any, from someone else (the mirroring controller).
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil
	}
	pods, err := c.podLister.Pods(namespace).List(labels.Set(svc.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, ReasonFailedToListPods,
			"Error listing Pods for Service %s/%s: %v", namespace, name, err)
		return err
	}
	existing, err := c.sliceLister.EndpointSlices(namespace).List(labels.Set{
		discoveryv1.LabelServiceName: name,
		discoveryv1.LabelManagedBy:   ManagedBy,
	}.AsSelectorPreValidated())
	if err != nil {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, ReasonFailedToListEndpointSlices,
			"Error listing Endpoint Slices for Service %s/%s: %v", namespace, name, err)
		return err
	}
	// Slices on their way out (held by a finalizer) are not reused.
	live := existing[:0:0]
	for _, s := range existing {
		if s.DeletionTimestamp == nil {
			live = append(live, s)
		}
	}
	if c.tracker.Stale(svc, live) {
		return fmt.Errorf("%w: service %s", errStaleCache, key)
	}
	// Computed even when nothing changes, so that the tracker moves on.
	triggerTime := c.triggerTime.Compute(svc, pods)
	if err := c.reconciler.reconcile(ctx, svc, pods, live, triggerTime); err != nil {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, ReasonFailedToUpdateEndpointSlices,
			"Error updating Endpoint Slices for Service %s/%s: %v", namespace, name, err)
		return err
	}
	return nil
}
