// Package statefulset is upstream's statefulset-controller
// (pkg/controller/statefulset): pods with stable identities <set>-<n>,
// hostname <set>-<n> and subdomain serviceName (their DNS name through
// the headless Service), labelled statefulset.kubernetes.io/pod-name and
// apps.kubernetes.io/pod-index. OrderedReady sets create pods by
// increasing ordinal, each Running and Ready before the next, and
// remove them by decreasing ordinal; Parallel sets do not wait. Each
// template is a ControllerRevision; RollingUpdate replaces pods from the
// highest ordinal down to the partition, OnDelete when they are deleted.
// Each pod gets a PersistentVolumeClaim <template>-<set>-<n> per claim
// template, created if absent and never deleted (claims are retained
// whatever the retention policy says).
package statefulset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/kindish/kindish/controlplane/controllers/history"
)

// Name is the controller's name in the controller manager.
const Name = "statefulset-controller"

// EventComponent is the source of the controller's events, upstream's.
const EventComponent = "statefulset-controller"

// controllerKind is what member pods and revisions name as their owner.
func controllerKind() schema.GroupVersionKind {
	return appsv1.SchemeGroupVersion.WithKind("StatefulSet")
}

// Config tunes the controller; zero fields take the defaults.
type Config struct {
	// Clock decides availability (minReadySeconds); nil is the real one.
	Clock clock.PassiveClock
	Log   *slog.Logger
}

// Controller keeps StatefulSets' pods and claims. Its queue holds
// StatefulSet keys (namespace/name).
type Controller struct {
	client    kubernetes.Interface
	recorder  record.EventRecorder
	log       *slog.Logger
	clock     clock.PassiveClock
	setLister appslisters.StatefulSetLister
	podLister corelisters.PodLister
	pvcLister corelisters.PersistentVolumeClaimLister
	history   *history.History
	synced    []cache.InformerSynced
	queue     workqueue.TypedRateLimitingInterface[string]
}

// New registers the controller's handlers on the factory's StatefulSet
// and pod informers, and uses its ControllerRevision and
// PersistentVolumeClaim caches; it starts nothing. recorder records the
// events on StatefulSets.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	sets := factory.Apps().V1().StatefulSets()
	revisions := factory.Apps().V1().ControllerRevisions()
	pods := factory.Core().V1().Pods()
	claims := factory.Core().V1().PersistentVolumeClaims()
	c := &Controller{
		client:    client,
		recorder:  recorder,
		log:       cfg.Log.With("controller", Name),
		clock:     cfg.Clock,
		setLister: sets.Lister(),
		podLister: pods.Lister(),
		pvcLister: claims.Lister(),
		history:   history.New(client, revisions.Lister()),
		synced: []cache.InformerSynced{
			sets.Informer().HasSynced, revisions.Informer().HasSynced,
			pods.Informer().HasSynced, claims.Informer().HasSynced,
		},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "statefulset"},
		),
	}
	_, _ = sets.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	})
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podAdded,
		UpdateFunc: c.podUpdated,
		DeleteFunc: c.podDeleted,
	})
	return c
}

// Run syncs StatefulSets with workers goroutines until ctx ends, after
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
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			// The cache was behind the server: the next sync sees more.
			c.log.Debug("Cache behind the server, requeuing", "statefulset", key, "err", err)
		} else {
			c.log.Error("Sync failed, requeuing", "statefulset", key, "err", err)
		}
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.queue.Add(key)
}

// resolveControllerRef is the StatefulSet a controller reference names,
// or nil: the cache is looked up by name, so the UID must agree too.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.StatefulSet {
	if ref.Kind != controllerKind().Kind {
		return nil
	}
	set, err := c.setLister.StatefulSets(namespace).Get(ref.Name)
	if err != nil || set.UID != ref.UID {
		return nil
	}
	return set
}

func (c *Controller) podAdded(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.podDeleted(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if set := c.resolveControllerRef(pod.Namespace, ref); set != nil {
			c.enqueue(set)
		}
		return
	}
	// An orphan: the sets that select it may adopt it.
	c.enqueueSetsForPod(pod)
}

func (c *Controller) podUpdated(oldObj, newObj any) {
	oldPod, pod := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if pod.ResourceVersion == oldPod.ResourceVersion {
		return
	}
	ref, oldRef := metav1.GetControllerOfNoCopy(pod), metav1.GetControllerOfNoCopy(oldPod)
	refChanged := !reflect.DeepEqual(ref, oldRef)
	if refChanged && oldRef != nil {
		if set := c.resolveControllerRef(oldPod.Namespace, oldRef); set != nil {
			c.enqueue(set)
		}
	}
	if ref != nil {
		set := c.resolveControllerRef(pod.Namespace, ref)
		if set == nil {
			return
		}
		c.enqueue(set)
		// Availability comes minReadySeconds after readiness, with no
		// event to say so.
		if !isPodReady(oldPod) && isPodReady(pod) && set.Spec.MinReadySeconds > 0 {
			if key, err := cache.MetaNamespaceKeyFunc(set); err == nil {
				c.queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second)
			}
		}
		return
	}
	if refChanged || !reflect.DeepEqual(pod.Labels, oldPod.Labels) {
		c.enqueueSetsForPod(pod)
	}
}

func (c *Controller) podDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if set := c.resolveControllerRef(pod.Namespace, ref); set != nil {
			c.enqueue(set)
		}
	}
}

func (c *Controller) enqueueSetsForPod(pod *corev1.Pod) {
	sets, err := c.setLister.GetPodStatefulSets(pod)
	if err != nil {
		return
	}
	for _, set := range sets {
		c.enqueue(set)
	}
}

// sync makes one step for a StatefulSet.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	set, err := c.setLister.StatefulSets(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get statefulset %s: %w", key, err)
	}
	selector, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		// Retrying cannot fix a selector; an update of the set will.
		c.log.Error("Invalid selector", "statefulset", key, "err", err)
		return nil
	}
	if err := c.adoptOrphanRevisions(ctx, set); err != nil {
		return err
	}
	pods, err := c.podsForStatefulSet(ctx, set, selector)
	if err != nil {
		return err
	}
	status, err := c.updateStatefulSet(ctx, set, pods)
	if err != nil {
		return err
	}
	// Availability comes minReadySeconds after readiness, with no event
	// to say so.
	if set.Spec.MinReadySeconds > 0 && status != nil && status.AvailableReplicas != replicas(set) {
		c.queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second)
	}
	return nil
}

func (c *Controller) listRevisions(set *appsv1.StatefulSet) ([]*appsv1.ControllerRevision, error) {
	selector, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("statefulset %s/%s selector: %w", set.Namespace, set.Name, err)
	}
	return c.history.List(set, selector)
}

// adoptOrphanRevisions makes set the owner of the revisions it selects
// that no one owns, left by a set deleted with orphaning and recreated.
func (c *Controller) adoptOrphanRevisions(ctx context.Context, set *appsv1.StatefulSet) error {
	revisions, err := c.listRevisions(set)
	if err != nil {
		return err
	}
	var orphans []*appsv1.ControllerRevision
	for _, r := range revisions {
		if metav1.GetControllerOfNoCopy(r) == nil {
			orphans = append(orphans, r)
		}
	}
	if len(orphans) == 0 {
		return nil
	}
	if err := c.recheckStatefulSet(set)(ctx); err != nil {
		return fmt.Errorf("can't adopt ControllerRevisions: %w", err)
	}
	for _, r := range orphans {
		if _, err := c.history.Adopt(ctx, set, controllerKind(), r); err != nil {
			return err
		}
	}
	return nil
}

// recheckStatefulSet is an uncached read that set is still the same one
// and not being deleted: the cache may be stale, and adopting for a
// deleted owner would have the garbage collector delete what was
// adopted.
func (c *Controller) recheckStatefulSet(set *appsv1.StatefulSet) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := c.client.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get statefulset %s/%s: %w", set.Namespace, set.Name, err)
		}
		if fresh.UID != set.UID {
			return fmt.Errorf("original StatefulSet %s/%s is gone: got uid %s, wanted %s", set.Namespace, set.Name, fresh.UID, set.UID)
		}
		if fresh.DeletionTimestamp != nil {
			return fmt.Errorf("%s/%s has just been deleted at %v", set.Namespace, set.Name, fresh.DeletionTimestamp)
		}
		return nil
	}
}

// podsForStatefulSet returns the pods set controls, upstream's
// ControllerRefManager with the membership filter: orphans named after
// the set and matching its selector are adopted, owned pods that no
// longer match are released. They are the cache's: not to be changed.
func (c *Controller) podsForStatefulSet(ctx context.Context, set *appsv1.StatefulSet, selector labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.podLister.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("list pods of statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	matches := func(pod *corev1.Pod) bool {
		return selector.Matches(labels.Set(pod.Labels)) && isMemberOf(set, pod)
	}
	pods := c.client.CoreV1().Pods(set.Namespace)
	var claimed []*corev1.Pod
	var errs []error
	var canAdopt error
	checked := false
	for _, pod := range all {
		if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
			if ref.UID != set.UID {
				continue
			}
			if matches(pod) {
				claimed = append(claimed, pod)
				continue
			}
			// A set being deleted leaves its pods to the garbage
			// collector.
			if set.DeletionTimestamp != nil {
				continue
			}
			_, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, history.ReleasePatch(set.UID, pod.UID), metav1.PatchOptions{})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
				errs = append(errs, fmt.Errorf("release pod %s/%s: %w", pod.Namespace, pod.Name, err))
			}
			continue
		}
		if set.DeletionTimestamp != nil || !matches(pod) || pod.DeletionTimestamp != nil {
			continue
		}
		if !checked {
			canAdopt, checked = c.recheckStatefulSet(set)(ctx), true
		}
		if canAdopt != nil {
			errs = append(errs, fmt.Errorf("adopt pod %s/%s: %w", pod.Namespace, pod.Name, canAdopt))
			continue
		}
		_, err := pods.Patch(ctx, pod.Name, types.StrategicMergePatchType, history.AdoptPatch(set, controllerKind(), pod.UID), metav1.PatchOptions{})
		if err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("adopt pod %s/%s: %w", pod.Namespace, pod.Name, err))
			}
			continue
		}
		claimed = append(claimed, pod)
	}
	return claimed, errors.Join(errs...)
}
