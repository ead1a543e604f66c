package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Name is the controller's name in the controller manager.
const Name = "namespace-controller"

// DeletionDelay is how long the controller waits after seeing a
// namespace's deletion before emptying it, as upstream: API servers in an
// HA control plane then all refuse new content in it, and objects created
// at the last moment are visible to the controller's lists.
const DeletionDelay = 5 * time.Second

// Controller empties namespaces that are being deleted. Its queue holds
// namespace names.
type Controller struct {
	client   kubernetes.Interface
	metadata metadata.Interface
	// discover lists the served namespaced resources
	// (ServerPreferredNamespacedResources).
	discover func() ([]*metav1.APIResourceList, error)
	lister   corelisters.NamespaceLister
	synced   cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	log      *slog.Logger
	// deletionDelay is DeletionDelay unless a test shortens it.
	deletionDelay time.Duration
	now           func() time.Time
}

// New registers the controller's handlers on the factory's namespace
// informer; it starts nothing. metadataClient lists and deletes the
// content of every served namespaced resource, whatever its type. log may
// be nil.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, metadataClient metadata.Interface, log *slog.Logger) *Controller {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	namespaces := factory.Core().V1().Namespaces()
	c := &Controller{
		client:        client,
		metadata:      metadataClient,
		discover:      client.Discovery().ServerPreferredNamespacedResources,
		lister:        namespaces.Lister(),
		synced:        namespaces.Informer().HasSynced,
		log:           log.With("controller", Name),
		deletionDelay: DeletionDelay,
		now:           time.Now,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			rateLimiter(),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "namespace"},
		),
	}
	_, _ = namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj) },
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
	})
	return c
}

// rateLimiter is upstream's: failures back off faster than other
// controllers' and never beyond a minute, so that a namespace is retried
// at least that often.
func rateLimiter() workqueue.TypedRateLimiter[string] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 60*time.Second),
		&workqueue.TypedBucketRateLimiter[string]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

// enqueue queues a namespace once it is being deleted, after
// deletionDelay.
func (c *Controller) enqueue(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || ns.DeletionTimestamp == nil || ns.DeletionTimestamp.IsZero() {
		return
	}
	c.queue.AddAfter(ns.Name, c.deletionDelay)
}

// Run empties deleted namespaces with workers goroutines until ctx ends,
// after the namespace informer's cache has synced.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	c.log.Info("Starting controller")
	defer c.log.Info("Shutting down controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
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
	name, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(name)
	err := c.sync(ctx, name)
	var remaining *contentRemainingError
	switch {
	case err == nil:
		c.queue.Forget(name)
	case errors.As(err, &remaining):
		// Pods in their grace period, or objects held by finalizers:
		// come back when about half the estimate has passed.
		wait := time.Duration(remaining.estimate/2+1) * time.Second
		c.log.Info("Content remaining in namespace", "namespace", name, "retryIn", wait)
		c.queue.AddAfter(name, wait)
	default:
		c.log.Error("Emptying namespace failed, requeuing", "namespace", name, "err", err)
		c.queue.AddRateLimited(name)
	}
	return true
}

// sync makes one step toward a deleted namespace's removal.
func (c *Controller) sync(ctx context.Context, name string) error {
	if _, err := c.lister.Get(name); apierrors.IsNotFound(err) {
		c.log.Info("Namespace has been deleted", "namespace", name)
		return nil
	} else if err != nil {
		return fmt.Errorf("get namespace %q from the cache: %w", name, err)
	}
	return c.deleteNamespace(ctx, name)
}
