// Package resourcequota is upstream's resourcequota-controller: it keeps
// every ResourceQuota's status accurate, status.hard a copy of spec.hard
// and status.used measured from the objects in the namespace (pods and
// their compute resources, services, persistent volume claims, and
// count/<resource> of any built-in resource).
//
// The API server's quota admission only ever charges: an object created
// adds its usage to status.used, but a deleted one gives nothing back.
// This controller gives it back, by measuring usage afresh when a counted
// object is deleted or stops using quota (a pod that finished), and for
// every quota every resync period, as upstream. A quota whose usage is
// missing a resource goes through a second, priority queue, so that
// admission, which refuses writes that a quota cannot yet measure, waits
// as little as possible.
//
// A recalculation is written with the quota's resourceVersion: if
// admission charged the quota meanwhile, the write conflicts and the
// quota is measured again.
package resourcequota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Name is the controller's name in the controller manager.
const Name = "resourcequota-controller"

// DefaultResyncPeriod is upstream's --resource-quota-sync-period: every
// quota is measured again this often, whatever happened.
const DefaultResyncPeriod = 5 * time.Minute

// Config tunes the controller; zero fields take the defaults.
type Config struct {
	ResyncPeriod time.Duration
	// Clock decides which pods are past their deletion grace period;
	// tests pass a fake.
	Clock clock.WithTicker
	Log   *slog.Logger
}

// Controller measures quota usage. Its queues hold ResourceQuota keys.
type Controller struct {
	client   kubernetes.Interface
	cfg      Config
	clock    clock.WithTicker
	log      *slog.Logger
	rqLister corelisters.ResourceQuotaLister
	rqSynced cache.InformerSynced
	monitors *monitors

	// queue holds quotas to measure again; missingUsageQueue those whose
	// status lacks a hard limit or a usage, served by workers of their
	// own.
	queue             workqueue.TypedRateLimitingInterface[string]
	missingUsageQueue workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's informers on the factory: ResourceQuotas
// and the core resources quota measures. Informers for other counted
// resources are added when a quota first names them, and started then.
// It starts nothing else.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, cfg Config) *Controller {
	if cfg.ResyncPeriod == 0 {
		cfg.ResyncPeriod = DefaultResyncPeriod
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	quotas := factory.Core().V1().ResourceQuotas()
	newQueue := func(name string) workqueue.TypedRateLimitingInterface[string] {
		return workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: name, Clock: cfg.Clock},
		)
	}
	c := &Controller{
		client:            client,
		cfg:               cfg,
		clock:             cfg.Clock,
		log:               cfg.Log.With("controller", Name),
		rqLister:          quotas.Lister(),
		rqSynced:          quotas.Informer().HasSynced,
		queue:             newQueue("resourcequota_primary"),
		missingUsageQueue: newQueue("resourcequota_priority"),
	}
	c.monitors = newMonitors(factory, cfg.Clock.Now, c.replenish)
	_, _ = quotas.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.addQuota,
		// Status changes are this controller's or admission's own: only
		// a new spec.hard needs measuring.
		UpdateFunc: func(oldObj, newObj any) {
			old, cur := oldObj.(*corev1.ResourceQuota), newObj.(*corev1.ResourceQuota)
			if !equalLists(old.Spec.Hard, cur.Spec.Hard) {
				c.addQuota(cur)
			}
		},
		DeleteFunc: c.enqueue,
	})
	return c
}

// Run measures quotas with workers goroutines per queue, and every quota
// each resync period, until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	defer c.missingUsageQueue.ShutDown()
	c.log.Info("Starting controller")
	defer c.log.Info("Shutting down controller")
	c.monitors.start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), append(c.monitors.synced(), c.rqSynced)...) {
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { wait.UntilWithContext(ctx, c.worker(c.queue), time.Second) })
		wg.Go(func() { wait.UntilWithContext(ctx, c.worker(c.missingUsageQueue), time.Second) })
	}
	wg.Go(func() { wait.UntilWithContext(ctx, func(context.Context) { c.enqueueAll() }, c.cfg.ResyncPeriod) })
	<-ctx.Done()
	c.queue.ShutDown()
	c.missingUsageQueue.ShutDown()
	wg.Wait()
}

func (c *Controller) worker(queue workqueue.TypedRateLimitingInterface[string]) func(context.Context) {
	return func(ctx context.Context) {
		for {
			key, quit := queue.Get()
			if quit {
				return
			}
			if err := c.syncKey(ctx, key); err != nil {
				// Conflicts included: admission charged the quota while it
				// was measured.
				c.log.Info("Syncing resource quota failed, requeuing", "quota", key, "err", err)
				queue.AddRateLimited(key)
			} else {
				queue.Forget(key)
			}
			queue.Done(key)
		}
	}
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.queue.Add(key)
}

// addQuota queues a quota, on the priority queue if its status lacks a
// hard limit or a usage this controller measures.
func (c *Controller) addQuota(obj any) {
	q, ok := obj.(*corev1.ResourceQuota)
	if !ok {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(q)
	if err != nil {
		return
	}
	if !equalLists(q.Spec.Hard, q.Status.Hard) {
		c.missingUsageQueue.Add(key)
		return
	}
	for name := range q.Status.Hard {
		if _, ok := q.Status.Used[name]; ok {
			continue
		}
		if _, measured := measuredBy(name); measured {
			c.missingUsageQueue.Add(key)
			return
		}
	}
	c.queue.Add(key)
}

// enqueueAll queues every quota: the periodic full recalculation.
func (c *Controller) enqueueAll() {
	quotas, err := c.rqLister.List(labels.Everything())
	if err != nil {
		c.log.Error("Listing resource quotas failed", "err", err)
		return
	}
	for _, q := range quotas {
		c.addQuota(q)
	}
}

// replenish queues the namespace's quotas that measure the resource: one
// of its objects was deleted or uses less.
func (c *Controller) replenish(gr schema.GroupResource, namespace string) {
	quotas, err := c.rqLister.ResourceQuotas(namespace).List(labels.Everything())
	if err != nil {
		return
	}
	ev := evaluatorFor(gr)
	for _, q := range quotas {
		for name := range q.Spec.Hard {
			if measured, ok := measuredBy(name); ok && measured == gr && ev.measures(name) {
				c.enqueue(q)
				break
			}
		}
	}
}

func (c *Controller) syncKey(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	q, err := c.rqLister.ResourceQuotas(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.syncQuota(ctx, q)
}

// syncQuota measures the quota's usage and writes its status if it
// changed: hard from spec.hard, used measured for every resource this
// controller measures, kept as it was for the others.
func (c *Controller) syncQuota(ctx context.Context, q *corev1.ResourceQuota) error {
	dirty := !equalLists(q.Spec.Hard, q.Status.Hard) || q.Status.Hard == nil || q.Status.Used == nil
	used := corev1.ResourceList{}
	for name, v := range q.Status.Used {
		used[name] = v.DeepCopy()
	}
	measured, measureErr := c.measure(q)
	for name, v := range measured {
		used[name] = v
	}
	hardNames := resourceNames(q.Spec.Hard)
	used = mask(used, hardNames)
	status := corev1.ResourceQuotaStatus{Hard: q.Spec.Hard.DeepCopy(), Used: used}
	if !dirty && equalLists(status.Used, q.Status.Used) {
		return measureErr
	}
	updated := q.DeepCopy()
	updated.Status = status
	if _, err := c.client.CoreV1().ResourceQuotas(q.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil {
		return errors.Join(measureErr, fmt.Errorf("update status of resource quota %s/%s: %w", q.Namespace, q.Name, err))
	}
	return measureErr
}

// measure sums what the namespace's objects use of the quota's hard
// resources, counting only objects its scopes select. A resource whose
// objects cannot be listed yet is left out, and reported.
func (c *Controller) measure(q *corev1.ResourceQuota) (corev1.ResourceList, error) {
	byResource := map[schema.GroupResource][]corev1.ResourceName{}
	for _, name := range resourceNames(q.Spec.Hard) {
		if gr, ok := measuredBy(name); ok {
			byResource[gr] = append(byResource[gr], name)
		}
	}
	scopes := quotaScopes(q)
	now := c.clock.Now()
	used := corev1.ResourceList{}
	var errs []error
resources:
	for gr, names := range byResource {
		objs, err := c.monitors.list(gr, q.Namespace)
		if errors.Is(err, errUnmonitored) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("measure %s for resource quota %s/%s: %w", gr, q.Namespace, q.Name, err))
			continue
		}
		ev := evaluatorFor(gr)
		sum := corev1.ResourceList{}
		for _, name := range names {
			sum[name] = resource.Quantity{Format: resource.DecimalSI}
		}
		for _, obj := range objs {
			in, err := ev.covers(scopes, obj)
			if err != nil {
				errs = append(errs, fmt.Errorf("scopes of resource quota %s/%s: %w", q.Namespace, q.Name, err))
				continue resources
			}
			if in {
				addTo(sum, mask(ev.usage(obj, now), names))
			}
		}
		for name, v := range sum {
			used[name] = v
		}
	}
	return used, errors.Join(errs...)
}
