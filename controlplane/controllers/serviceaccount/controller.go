// Package serviceaccount is upstream's serviceaccount-controller: every
// active namespace has the ServiceAccount "default", recreated when it is
// deleted. Pods that name no account run as "default", so the API server's
// ServiceAccount admission rejects pods in a namespace without it.
package serviceaccount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Name is the controller's name in the controller manager.
const Name = "serviceaccount-controller"

// DefaultServiceAccount is the account every namespace gets.
const DefaultServiceAccount = "default"

// Controller creates the default ServiceAccount in every active namespace.
// Its queue holds namespace names.
type Controller struct {
	client   kubernetes.Interface
	log      *slog.Logger
	saLister corelisters.ServiceAccountLister
	nsLister corelisters.NamespaceLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	// accounts are the names ensured in every namespace; upstream's
	// default list is just "default".
	accounts []string
}

// New registers the controller's handlers on the factory's namespace and
// ServiceAccount informers; it starts nothing. log may be nil.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, log *slog.Logger) *Controller {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		client:   client,
		log:      log.With("controller", Name),
		accounts: []string{DefaultServiceAccount},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "serviceaccount"},
		),
	}
	sas := factory.Core().V1().ServiceAccounts()
	namespaces := factory.Core().V1().Namespaces()
	// Only a deletion can take an account away; creations and updates
	// need no reaction.
	_, _ = sas.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if sa, ok := deletedServiceAccount(obj); ok {
				c.queue.Add(sa.Namespace)
			}
		},
	})
	_, _ = namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueNamespace(obj) },
		UpdateFunc: func(_, obj any) { c.enqueueNamespace(obj) },
	})
	c.saLister = sas.Lister()
	c.nsLister = namespaces.Lister()
	c.synced = []cache.InformerSynced{sas.Informer().HasSynced, namespaces.Informer().HasSynced}
	return c
}

func (c *Controller) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

func deletedServiceAccount(obj any) (*corev1.ServiceAccount, bool) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	sa, ok := obj.(*corev1.ServiceAccount)
	return sa, ok
}

// Run processes namespaces with workers goroutines until ctx ends, after
// the informers' caches have synced.
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
	if err := c.sync(ctx, key); err != nil {
		c.log.Error("Sync failed, requeuing", "namespace", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// sync creates the missing accounts of one namespace.
func (c *Controller) sync(ctx context.Context, namespace string) error {
	ns, err := c.nsLister.Get(namespace)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get namespace %q: %w", namespace, err)
	}
	// A terminating namespace refuses new objects; creating would only
	// fail and be retried until the namespace is gone.
	if ns.Status.Phase != corev1.NamespaceActive {
		return nil
	}
	var errs []error
	for _, name := range c.accounts {
		_, err := c.saLister.ServiceAccounts(namespace).Get(name)
		if err == nil {
			continue
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("get serviceaccount %s/%s: %w", namespace, name, err)
		}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
		_, err = c.client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
		switch {
		case err == nil:
			c.log.Debug("Created serviceaccount", "namespace", namespace, "name", name)
		case apierrors.IsAlreadyExists(err), apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			// The cache lagged behind the server, or the namespace
			// started terminating since the cache saw it.
		default:
			errs = append(errs, fmt.Errorf("create serviceaccount %s/%s: %w", namespace, name, err))
		}
	}
	return errors.Join(errs...)
}
