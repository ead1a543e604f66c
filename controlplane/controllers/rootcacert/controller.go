// Package rootcacert is upstream's root-ca-certificate-publisher-controller:
// every namespace has the ConfigMap kube-root-ca.crt holding the cluster
// CA, put back when it is changed or deleted. Projected ServiceAccount
// token volumes mount it so pods can verify the API server.
package rootcacert

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
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
const Name = "root-ca-certificate-publisher-controller"

// Upstream's names and wording, which users and the kubelet rely on.
const (
	ConfigMapName         = "kube-root-ca.crt"
	DataKey               = "ca.crt"
	DescriptionAnnotation = "kubernetes.io/description"
	Description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Controller publishes the root CA into every namespace. Its queue holds
// namespace names.
type Controller struct {
	client   kubernetes.Interface
	log      *slog.Logger
	rootCA   []byte
	cmLister corelisters.ConfigMapLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's handlers on the factory's ConfigMap and
// namespace informers; it starts nothing. rootCA is the PEM bundle to
// publish. log may be nil.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, rootCA []byte, log *slog.Logger) *Controller {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		client: client,
		log:    log.With("controller", Name),
		rootCA: rootCA,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "root_ca_cert_publisher"},
		),
	}
	configMaps := factory.Core().V1().ConfigMaps()
	namespaces := factory.Core().V1().Namespaces()
	_, _ = configMaps.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { c.enqueueConfigMap(obj) },
		DeleteFunc: c.enqueueConfigMap,
	})
	_, _ = namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if ns, ok := obj.(*corev1.Namespace); ok {
				c.queue.Add(ns.Name)
			}
		},
		// A namespace that is terminating refuses new objects; its
		// updates need no reaction.
		UpdateFunc: func(_, obj any) {
			if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase == corev1.NamespaceActive {
				c.queue.Add(ns.Name)
			}
		},
	})
	c.cmLister = configMaps.Lister()
	c.synced = []cache.InformerSynced{configMaps.Informer().HasSynced, namespaces.Informer().HasSynced}
	return c
}

func (c *Controller) enqueueConfigMap(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	if cm, ok := obj.(*corev1.ConfigMap); ok && cm.Name == ConfigMapName {
		c.queue.Add(cm.Namespace)
	}
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

// sync creates the namespace's ConfigMap, or puts back its data and
// description.
func (c *Controller) sync(ctx context.Context, namespace string) error {
	want := map[string]string{DataKey: string(c.rootCA)}
	cm, err := c.cmLister.ConfigMaps(namespace).Get(ConfigMapName)
	switch {
	case apierrors.IsNotFound(err):
		_, err = c.client.CoreV1().ConfigMaps(namespace).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Name:        ConfigMapName,
				Annotations: map[string]string{DescriptionAnnotation: Description},
			},
			Data: want,
		}, metav1.CreateOptions{})
		// A namespace that is gone or terminating will never take it.
		if err == nil || apierrors.IsNotFound(err) || apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		return fmt.Errorf("create configmap %s/%s: %w", namespace, ConfigMapName, err)
	case err != nil:
		return fmt.Errorf("get configmap %s/%s: %w", namespace, ConfigMapName, err)
	}
	if maps.Equal(cm.Data, want) && cm.Annotations[DescriptionAnnotation] != "" {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data = want
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionAnnotation] = Description
	if _, err := c.client.CoreV1().ConfigMaps(namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		// A conflict is retried like any error; by then the cache holds
		// the newer object.
		return fmt.Errorf("update configmap %s/%s: %w", namespace, ConfigMapName, err)
	}
	return nil
}
