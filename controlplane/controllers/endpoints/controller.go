// Package endpoints is upstream's endpoints-controller: every Service
// with a selector has an Endpoints object of its name listing the pods
// the selector matches, ready ones under addresses and the others under
// notReadyAddresses, with the Service's ports resolved on each pod.
// kubectl get endpoints and describe service read it, and so do clients
// older than EndpointSlices. Endpoints of Services that are gone are
// deleted; Services without a selector keep the Endpoints their owner
// writes.
package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/kindish/kindish/controlplane/controllers/endpointslice/podendpoint"
)

// Name is the controller's name in the controller manager.
const Name = "endpoints-controller"

// EventComponent is the source of the controller's events, upstream's.
const EventComponent = "endpoint-controller"

// Upstream's event reasons.
const (
	ReasonFailedToCreateEndpoint = "FailedToCreateEndpoint"
	ReasonFailedToUpdateEndpoint = "FailedToUpdateEndpoint"
)

// maxRetries is how often a Service is retried before it is dropped; the
// Service informer's resync brings it back.
const maxRetries = 15

// Config tunes the controller; zero fields take the defaults.
type Config struct {
	// BatchPeriod delays syncs triggered by pod changes so that a burst
	// of them makes one update (upstream's --endpoint-updates-batch-period,
	// zero by default).
	BatchPeriod time.Duration
	Log         *slog.Logger
}

// Controller keeps the Endpoints of selector Services. Its queue holds
// Service keys (namespace/name).
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	cfg      Config
	log      *slog.Logger

	serviceLister   corelisters.ServiceLister
	podLister       corelisters.PodLister
	endpointsLister corelisters.EndpointsLister
	synced          []cache.InformerSynced

	queue       workqueue.TypedRateLimitingInterface[string]
	triggerTime *podendpoint.TriggerTimeTracker
	stale       *staleTracker
}

// New registers the controller's handlers on the factory's Service, Pod
// and Endpoints informers; it starts nothing. Events go to recorder.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		client:   client,
		recorder: recorder,
		cfg:      cfg,
		log:      cfg.Log.With("controller", Name),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "endpoint"},
		),
		triggerTime: podendpoint.NewTriggerTimeTracker(),
		stale:       &staleTracker{versions: map[types.NamespacedName]string{}},
	}
	services := factory.Core().V1().Services()
	pods := factory.Core().V1().Pods()
	endpoints := factory.Core().V1().Endpoints()
	_, _ = services.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
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
	// Endpoints deleted by someone else are put back.
	_, _ = endpoints.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: c.enqueue})
	c.serviceLister = services.Lister()
	c.podLister = pods.Lister()
	c.endpointsLister = endpoints.Lister()
	c.synced = []cache.InformerSynced{services.Informer().HasSynced, pods.Informer().HasSynced, endpoints.Informer().HasSynced}
	return c
}

// enqueue queues the key of a Service or Endpoints (they share names).
func (c *Controller) enqueue(obj any) {
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

// Run syncs Services with workers goroutines until ctx ends, after the
// informers' caches have synced. It first queues every existing
// Endpoints, so that those whose Service went while the controller was
// down are deleted.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	c.log.Info("Starting controller")
	defer c.log.Info("Shutting down controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	c.queueLeftoverEndpoints()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { wait.UntilWithContext(ctx, c.runWorker, time.Second) })
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

func (c *Controller) queueLeftoverEndpoints() {
	list, err := c.endpointsLister.List(labels.Everything())
	if err != nil {
		c.log.Error("Cannot list endpoints; orphaned ones stay until restart", "err", err)
		return
	}
	for _, ep := range list {
		// Old leader election locks are Endpoints without a Service.
		if _, ok := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]; ok {
			continue
		}
		c.enqueue(ep)
	}
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
		c.log.Error("Dropping service out of the queue", "service", key, "err", err)
		c.queue.Forget(key)
	}
	return true
}

// errStaleCache means the cache still shows Endpoints this controller has
// since replaced; the sync is retried once the informer catches up.
var errStaleCache = errors.New("endpoints informer cache is out of date")

// sync makes the Endpoints of the Service key name what the Service's
// selector matches, or deletes them when the Service is gone.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	svc, err := c.serviceLister.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		// Endpoints carry no owner reference (older clients create them
		// by hand), so nothing but this deletes them with their Service.
		if err := c.client.CoreV1().Endpoints(namespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete endpoints %s: %w", key, err)
		}
		c.triggerTime.Forget(namespace, name)
		c.stale.forget(namespace, name)
		return nil
	}
	if err != nil {
		return err
	}
	// ExternalName Services and Services without a selector get their
	// endpoints, if any, from someone else.
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil
	}
	pods, err := c.podLister.Pods(namespace).List(labels.Set(svc.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		return err
	}
	current, err := c.endpointsLister.Endpoints(namespace).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		current = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	case err != nil:
		return err
	case c.stale.isStale(current):
		return fmt.Errorf("%w: resource version %s of %s already replaced", errStaleCache, current.ResourceVersion, key)
	}
	// Computed even when nothing changes, so that the tracker moves on;
	// but after the stale check (upstream computes it before), so that
	// the retry still publishes the changes this sync saw.
	triggerTime := c.triggerTime.Compute(svc, pods)
	subsets := desiredSubsets(svc, pods)
	create := current.ResourceVersion == ""

	// The headless label is the controller's, not the Service's.
	currentLabels := maps.Clone(current.Labels)
	delete(currentLabels, corev1.IsHeadlessService)
	if !create && subsetsEqual(current.Subsets, subsets) &&
		maps.Equal(currentLabels, svc.Labels) &&
		capacityAnnotationCorrect(current.Annotations, current.Subsets) {
		return nil
	}

	desired := current.DeepCopy()
	desired.Subsets = subsets
	desired.Labels = maps.Clone(svc.Labels)
	if desired.Labels == nil {
		desired.Labels = map[string]string{}
	}
	if podendpoint.IsHeadless(svc) {
		desired.Labels[corev1.IsHeadlessService] = ""
	}
	if desired.Annotations == nil {
		desired.Annotations = map[string]string{}
	}
	if !triggerTime.IsZero() {
		desired.Annotations[corev1.EndpointsLastChangeTriggerTime] = triggerTime.UTC().Format(time.RFC3339Nano)
	} else {
		delete(desired.Annotations, corev1.EndpointsLastChangeTriggerTime)
	}
	var truncated bool
	if desired.Subsets, truncated = truncate(desired.Subsets); truncated {
		desired.Annotations[corev1.EndpointsOverCapacity] = overCapacityTruncated
	} else {
		delete(desired.Annotations, corev1.EndpointsOverCapacity)
	}

	if create {
		_, err = c.client.CoreV1().Endpoints(namespace).Create(ctx, desired, metav1.CreateOptions{})
		if err == nil {
			return nil
		}
		// A terminating namespace refuses new objects for good.
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		c.recorder.Eventf(desired, corev1.EventTypeWarning, ReasonFailedToCreateEndpoint,
			"Failed to create endpoint for service %v/%v: %v", namespace, name, err)
		return fmt.Errorf("create endpoints %s: %w", key, err)
	}
	updated, err := c.client.CoreV1().Endpoints(namespace).Update(ctx, desired, metav1.UpdateOptions{})
	if err != nil {
		// A conflict is retried like any error: the cache then holds the
		// newer object.
		c.recorder.Eventf(desired, corev1.EventTypeWarning, ReasonFailedToUpdateEndpoint,
			"Failed to update endpoint %v/%v: %v", namespace, name, err)
		return fmt.Errorf("update endpoints %s: %w", key, err)
	}
	// An update that changed nothing keeps its resource version, which
	// must not be mistaken for a stale one.
	if updated.ResourceVersion != current.ResourceVersion {
		c.stale.replaced(current)
	}
	return nil
}

// staleTracker remembers, per Endpoints, the resource version this
// controller last replaced: a cache still showing it is behind the
// controller's own writes, and a sync computed from it would undo them.
type staleTracker struct {
	mu       sync.Mutex
	versions map[types.NamespacedName]string
}

func (t *staleTracker) replaced(ep *corev1.Endpoints) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.versions[types.NamespacedName{Namespace: ep.Namespace, Name: ep.Name}] = ep.ResourceVersion
}

func (t *staleTracker) isStale(ep *corev1.Endpoints) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.versions[types.NamespacedName{Namespace: ep.Namespace, Name: ep.Name}]
	return ok && v == ep.ResourceVersion
}

func (t *staleTracker) forget(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.versions, types.NamespacedName{Namespace: namespace, Name: name})
}
