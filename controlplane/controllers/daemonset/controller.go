// Package daemonset is upstream's daemonset-controller
// (pkg/controller/daemon): one pod of each DaemonSet on every node its
// template fits — nodeSelector, required node affinity, and taints
// tolerated once the daemon tolerations (not-ready, unreachable, the
// pressure conditions, unschedulable, network-unavailable for
// host-network pods) are added. Pods are pinned to their node by
// required node affinity on metadata.name and bound by the scheduler.
// Templates are recorded as ControllerRevisions; pods of an old revision
// are replaced by RollingUpdate (maxUnavailable, maxSurge) or, with
// OnDelete, when deleted. Failed pods are deleted and recreated, with a
// per-node backoff.
package daemonset

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/kindish/kindish/controlplane/controllers/history"
)

// Name is the controller's name in the controller manager.
const Name = "daemonset-controller"

// EventComponent is the source of the controller's events, upstream's.
const EventComponent = "daemonset-controller"

// Event reasons, upstream's.
const (
	ReasonSelectingAll       = "SelectingAll"
	ReasonFailedDaemonPod    = "FailedDaemonPod"
	ReasonSucceededDaemonPod = "SucceededDaemonPod"
	ReasonSuccessfulCreate   = "SuccessfulCreate"
	ReasonFailedCreate       = "FailedCreate"
	ReasonSuccessfulDelete   = "SuccessfulDelete"
	ReasonFailedDelete       = "FailedDelete"
)

const (
	// burstReplicas caps the pods created or deleted in one sync, so
	// that a large cluster does not flood the API server.
	burstReplicas = 250
	// statusUpdateRetries is how many times a failed status write is
	// retried on a fresh copy before the key is requeued.
	statusUpdateRetries = 1
	// backoffGCInterval is how often expired failed-pod backoffs are
	// dropped.
	backoffGCInterval = time.Minute
	// Failed pods on a node are deleted no faster than this backoff
	// allows: a kubelet that rejects every pod would otherwise make the
	// controller create and delete in a hot loop.
	failedPodBackoffInitial = time.Second
	failedPodBackoffMax     = 15 * time.Minute
)

// controllerKind is what daemon pods and revisions name as their owner.
func controllerKind() schema.GroupVersionKind { return appsv1.SchemeGroupVersion.WithKind("DaemonSet") }

// Config tunes the controller; zero fields take the defaults.
type Config struct {
	// Clock decides availability (minReadySeconds) and backoffs; nil is
	// the real one.
	Clock clock.Clock
	Log   *slog.Logger
}

// Controller keeps DaemonSets' pods on their nodes. Its queue holds
// DaemonSet keys (namespace/name).
type Controller struct {
	client     kubernetes.Interface
	recorder   record.EventRecorder
	log        *slog.Logger
	clock      clock.Clock
	dsLister   appslisters.DaemonSetLister
	podLister  corelisters.PodLister
	revLister  appslisters.ControllerRevisionLister
	nodeLister corelisters.NodeLister
	history    *history.History
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]

	expectations      *expectations
	failedPodsBackoff *flowcontrol.Backoff
}

// New registers the controller's handlers on the factory's DaemonSet,
// ControllerRevision, pod and node informers; it starts nothing.
// recorder records the events on DaemonSets.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	daemonSets := factory.Apps().V1().DaemonSets()
	revisions := factory.Apps().V1().ControllerRevisions()
	pods := factory.Core().V1().Pods()
	nodes := factory.Core().V1().Nodes()
	c := &Controller{
		client:     client,
		recorder:   recorder,
		log:        cfg.Log.With("controller", Name),
		clock:      cfg.Clock,
		dsLister:   daemonSets.Lister(),
		podLister:  pods.Lister(),
		revLister:  revisions.Lister(),
		nodeLister: nodes.Lister(),
		history:    history.New(client, revisions.Lister()),
		synced: []cache.InformerSynced{
			daemonSets.Informer().HasSynced, revisions.Informer().HasSynced,
			pods.Informer().HasSynced, nodes.Informer().HasSynced,
		},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "daemonset"},
		),
		expectations:      newExpectations(cfg.Clock),
		failedPodsBackoff: flowcontrol.NewFakeBackOff(failedPodBackoffInitial, failedPodBackoffMax, cfg.Clock),
	}
	_, _ = daemonSets.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueue(obj) },
		UpdateFunc: func(oldObj, newObj any) {
			oldDS, newDS := oldObj.(*appsv1.DaemonSet), newObj.(*appsv1.DaemonSet)
			// A DaemonSet deleted and recreated under the same name
			// between two events: the old one's expectations go.
			if oldDS.UID != newDS.UID {
				c.daemonSetDeleted(oldDS)
			}
			c.enqueue(newDS)
		},
		DeleteFunc: c.daemonSetDeleted,
	})
	_, _ = revisions.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.revisionAdded,
		UpdateFunc: c.revisionUpdated,
		DeleteFunc: c.revisionDeleted,
	})
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podAdded,
		UpdateFunc: c.podUpdated,
		DeleteFunc: c.podDeleted,
	})
	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.nodeAdded,
		UpdateFunc: c.nodeUpdated,
	})
	return c
}

// Run syncs DaemonSets with workers goroutines until ctx ends, after the
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
	wg.Go(func() { wait.Until(c.failedPodsBackoff.GC, backoffGCInterval, ctx.Done()) })
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
		if apierrors.IsConflict(err) {
			c.log.Debug("Conflict, requeuing", "daemonset", key, "err", err)
		} else {
			c.log.Error("Sync failed, requeuing", "daemonset", key, "err", err)
		}
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.queue.Add(key)
}

func (c *Controller) enqueueAfter(ds *appsv1.DaemonSet, after time.Duration) {
	key, err := cache.MetaNamespaceKeyFunc(ds)
	if err != nil {
		return
	}
	c.queue.AddAfter(key, after)
}

func (c *Controller) daemonSetDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	ds, ok := obj.(*appsv1.DaemonSet)
	if !ok {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(ds)
	if err != nil {
		return
	}
	c.expectations.forget(key)
	c.queue.Add(key)
}

// resolveControllerRef is the DaemonSet a controller reference names,
// or nil: the cache is looked up by name, so the UID must agree too.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.DaemonSet {
	if ref.Kind != controllerKind().Kind {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(namespace).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return nil
	}
	return ds
}

func (c *Controller) podAdded(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		// Seen for the first time already being deleted (after a
		// restart): a deletion, not a creation.
		c.podDeleted(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if ds := c.resolveControllerRef(pod.Namespace, ref); ds != nil {
			c.observed(ds, c.expectations.creationObserved)
		}
		return
	}
	// An orphan: the DaemonSets that select it may adopt it.
	c.enqueueDaemonSetsForPod(pod)
}

func (c *Controller) podUpdated(oldObj, newObj any) {
	oldPod, pod := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if pod.ResourceVersion == oldPod.ResourceVersion {
		return
	}
	if pod.DeletionTimestamp != nil {
		// A graceful deletion began: a replacement can be planned now,
		// not once the kubelet has finished.
		c.podDeleted(pod)
		return
	}
	ref, oldRef := metav1.GetControllerOfNoCopy(pod), metav1.GetControllerOfNoCopy(oldPod)
	refChanged := !reflect.DeepEqual(ref, oldRef)
	if refChanged && oldRef != nil {
		if ds := c.resolveControllerRef(oldPod.Namespace, oldRef); ds != nil {
			c.enqueue(ds)
		}
	}
	if ref != nil {
		ds := c.resolveControllerRef(pod.Namespace, ref)
		if ds == nil {
			return
		}
		c.enqueue(ds)
		// Availability comes minReadySeconds after readiness, with no
		// event to say so.
		if !isPodReady(oldPod) && isPodReady(pod) && ds.Spec.MinReadySeconds > 0 {
			c.enqueueAfter(ds, time.Duration(ds.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if refChanged || !reflect.DeepEqual(pod.Labels, oldPod.Labels) {
		c.enqueueDaemonSetsForPod(pod)
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
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return
	}
	if ds := c.resolveControllerRef(pod.Namespace, ref); ds != nil {
		c.observed(ds, c.expectations.deletionObserved)
	}
}

// observed records a creation or deletion seen and syncs the DaemonSet.
func (c *Controller) observed(ds *appsv1.DaemonSet, record func(key string)) {
	key, err := cache.MetaNamespaceKeyFunc(ds)
	if err != nil {
		return
	}
	record(key)
	c.queue.Add(key)
}

func (c *Controller) enqueueDaemonSetsForPod(pod *corev1.Pod) {
	sets, err := c.dsLister.GetPodDaemonSets(pod)
	if err != nil {
		return
	}
	for _, ds := range sets {
		c.enqueue(ds)
	}
}

func (c *Controller) revisionAdded(obj any) {
	r := obj.(*appsv1.ControllerRevision)
	if r.DeletionTimestamp != nil {
		c.revisionDeleted(r)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(r); ref != nil {
		// The controller made it; nothing to do until it changes.
		return
	}
	c.enqueueDaemonSetsForRevision(r)
}

func (c *Controller) revisionUpdated(oldObj, newObj any) {
	oldR, r := oldObj.(*appsv1.ControllerRevision), newObj.(*appsv1.ControllerRevision)
	if r.ResourceVersion == oldR.ResourceVersion {
		return
	}
	ref, oldRef := metav1.GetControllerOfNoCopy(r), metav1.GetControllerOfNoCopy(oldR)
	refChanged := !reflect.DeepEqual(ref, oldRef)
	if refChanged && oldRef != nil {
		if ds := c.resolveControllerRef(oldR.Namespace, oldRef); ds != nil {
			c.enqueue(ds)
		}
	}
	if ref != nil {
		if ds := c.resolveControllerRef(r.Namespace, ref); ds != nil {
			c.enqueue(ds)
		}
		return
	}
	if refChanged || !reflect.DeepEqual(r.Labels, oldR.Labels) {
		c.enqueueDaemonSetsForRevision(r)
	}
}

func (c *Controller) revisionDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	r, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		return
	}
	if ref := metav1.GetControllerOfNoCopy(r); ref != nil {
		if ds := c.resolveControllerRef(r.Namespace, ref); ds != nil {
			c.enqueue(ds)
		}
	}
}

func (c *Controller) enqueueDaemonSetsForRevision(r *appsv1.ControllerRevision) {
	sets, err := c.dsLister.GetHistoryDaemonSets(r)
	if err != nil {
		return
	}
	for _, ds := range sets {
		c.enqueue(ds)
	}
}

func (c *Controller) nodeAdded(obj any) {
	node := obj.(*corev1.Node)
	sets, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range sets {
		if shouldRun, _ := NodeShouldRunDaemonPod(node, ds); shouldRun {
			c.enqueue(ds)
		}
	}
}

func (c *Controller) nodeUpdated(oldObj, newObj any) {
	oldNode, node := oldObj.(*corev1.Node), newObj.(*corev1.Node)
	if nodeUpdateIrrelevant(oldNode, node) {
		return
	}
	sets, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range sets {
		oldRun, oldContinue := NodeShouldRunDaemonPod(oldNode, ds)
		run, cont := NodeShouldRunDaemonPod(node, ds)
		if oldRun != run || oldContinue != cont {
			c.enqueue(ds)
		}
	}
}

// nodeUpdateIrrelevant is upstream's filter of the frequent node status
// writes: nothing but heartbeats changed, and the set of true conditions
// is the same.
func nodeUpdateIrrelevant(oldNode, node *corev1.Node) bool {
	if !sameTrueConditions(oldNode.Status.Conditions, node.Status.Conditions) {
		return false
	}
	o := oldNode.DeepCopy()
	o.ResourceVersion = node.ResourceVersion
	o.Status.Conditions = node.Status.Conditions
	return equality.Semantic.DeepEqual(o, node)
}

func sameTrueConditions(a, b []corev1.NodeCondition) bool {
	trueIn := func(conds []corev1.NodeCondition) map[corev1.NodeConditionType]bool {
		m := map[corev1.NodeConditionType]bool{}
		for _, c := range conds {
			if c.Status == corev1.ConditionTrue {
				m[c.Type] = true
			}
		}
		return m
	}
	return reflect.DeepEqual(trueIn(a), trueIn(b))
}

// sync makes one step for a DaemonSet: its revision recorded, pods
// created on nodes that lack one and deleted where they do not belong,
// a rolling update advanced, old revisions pruned, status written.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get daemonset %s: %w", key, err)
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes for daemonset %s: %w", key, err)
	}
	if ds.Spec.Selector == nil || (len(ds.Spec.Selector.MatchLabels) == 0 && len(ds.Spec.Selector.MatchExpressions) == 0) {
		c.recorder.Eventf(ds, corev1.EventTypeWarning, ReasonSelectingAll, "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	// Whether the garbage collector has removed its revisions yet is
	// unknown, so neither revisions nor status can be trusted.
	if ds.DeletionTimestamp != nil {
		return nil
	}
	cur, old, err := c.constructHistory(ctx, ds)
	if err != nil {
		return fmt.Errorf("construct revisions of daemonset %s: %w", key, err)
	}
	hash := cur.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]

	if !c.expectations.satisfied(key) {
		// Status only, and without claiming this generation observed:
		// the pods it needs are still being created or deleted.
		return c.updateStatus(ctx, ds, nodes, hash, false)
	}
	err = c.update(ctx, ds, nodes, hash, key, old)
	statusErr := c.updateStatus(ctx, ds, nodes, hash, true)
	switch {
	case err != nil:
		if statusErr != nil {
			c.log.Error("Status update failed", "daemonset", key, "err", statusErr)
		}
		return err
	case statusErr != nil:
		return statusErr
	}
	return nil
}

func (c *Controller) update(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash, key string, old []*appsv1.ControllerRevision) error {
	if err := c.manage(ctx, ds, nodes, hash); err != nil {
		return err
	}
	if c.expectations.satisfied(key) && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if err := c.rollingUpdate(ctx, ds, nodes, hash); err != nil {
			return err
		}
	}
	if err := c.cleanupHistory(ctx, ds, old); err != nil {
		return fmt.Errorf("clean up revisions of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return nil
}
