// Package replicaset is upstream's replicaset-controller and, through a
// small adapter, its replicationcontroller-controller: each keeps as many
// pods as its object asks for. It adopts the orphan pods its selector
// matches and releases those it owns that no longer match; it creates
// missing pods from the template in slow-start batches (1, 2, 4, ...) and
// deletes extra ones, the least useful first (unscheduled, pending, not
// ready, cheap to delete, crowded on a node, young); it waits to observe
// what it created and deleted before acting again, so that a burst of
// syncs does not act twice; and it reports replicas, fullyLabeled, ready,
// available and terminating counts, observedGeneration and the
// ReplicaFailure condition in the object's status.
package replicaset

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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/kindish/kindish/controlplane/controllers/replicaset/controllerref"
)

// Names of the two controllers in the controller manager, and the
// sources of their events, upstream's.
const (
	Name                                = "replicaset-controller"
	EventComponent                      = "replicaset-controller"
	ReplicationControllerName           = "replicationcontroller-controller"
	ReplicationControllerEventComponent = "replication-controller"
)

// DefaultBurstReplicas is upstream's cap on the pods one sync creates or
// deletes.
const DefaultBurstReplicas = 500

// slowStartInitialBatch is the first batch of pod creations; each batch
// that succeeds doubles the next. A quota or admission failure then costs
// one request, not hundreds.
const slowStartInitialBatch = 1

// Config tunes a controller; zero fields take upstream's values and the
// real clock.
type Config struct {
	// BurstReplicas caps the pods created or deleted in one sync.
	BurstReplicas int
	Clock         clock.WithTicker
	Log           *slog.Logger
}

// Controller keeps the pods of ReplicaSets, or of ReplicationControllers,
// at their desired count. Its queue holds namespace/name keys.
type Controller struct {
	name     string
	kind     managedKind
	client   kubernetes.Interface
	recorder record.EventRecorder
	burst    int
	clock    clock.WithTicker
	log      *slog.Logger

	podLister    corelisters.PodLister
	podIndexer   cache.Indexer
	ownerIndexer cache.Indexer
	synced       []cache.InformerSynced
	expectations *expectations
	queue        workqueue.TypedRateLimitingInterface[string]
}

// New builds the replicaset-controller, registering its handlers and
// indexes on the factory's ReplicaSet and Pod informers; it starts
// nothing. Events go to recorder, whose source should be EventComponent.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	return newController(Name, newReplicaSets(client, factory), client, factory, recorder, cfg)
}

// NewForReplicationControllers builds the
// replicationcontroller-controller, the same controller over
// ReplicationControllers. Events go to recorder, whose source should be
// ReplicationControllerEventComponent.
func NewForReplicationControllers(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	return newController(ReplicationControllerName, newReplicationControllers(client, factory), client, factory, recorder, cfg)
}

func newController(name string, kind managedKind, client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	if cfg.BurstReplicas <= 0 {
		cfg.BurstReplicas = DefaultBurstReplicas
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		name:         name,
		kind:         kind,
		client:       client,
		recorder:     recorder,
		burst:        cfg.BurstReplicas,
		clock:        cfg.Clock,
		log:          cfg.Log.With("controller", name),
		expectations: newExpectations(cfg.Clock),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: kind.gvk().Kind, Clock: cfg.Clock},
		),
	}
	pods := factory.Core().V1().Pods()
	_, _ = kind.informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.ownerAdded,
		UpdateFunc: c.ownerUpdated,
		DeleteFunc: c.ownerDeleted,
	})
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.podAdded,
		UpdateFunc: c.podUpdated,
		DeleteFunc: c.podDeleted,
	})
	// Indexes can only fail to be added once the informer runs, which
	// the manager does only after every controller is built.
	if err := addPodIndex(pods.Informer()); err != nil {
		c.log.Error("Adding pod index", "err", err)
	}
	if err := addControllerIndex(kind.informer()); err != nil {
		c.log.Error("Adding owner index", "err", err)
	}
	c.podLister = pods.Lister()
	c.podIndexer = pods.Informer().GetIndexer()
	c.ownerIndexer = kind.informer().GetIndexer()
	c.synced = []cache.InformerSynced{pods.Informer().HasSynced, kind.informer().HasSynced}
	return c
}

// Run syncs with workers goroutines until ctx ends, after the informers'
// caches have synced.
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
	case apierrors.IsConflict(err):
		c.log.Debug("Conflict, requeuing", "key", key, "err", err)
		c.queue.AddRateLimited(key)
	default:
		c.log.Error("Sync failed, requeuing", "key", key, "err", err)
		c.queue.AddRateLimited(key)
	}
	return true
}

func (c *Controller) enqueue(rs *appsv1.ReplicaSet) {
	c.queue.Add(rs.Namespace + "/" + rs.Name)
}

func (c *Controller) ownerAdded(obj any) {
	if rs, ok := c.kind.fromObject(obj); ok {
		c.enqueue(rs)
	}
}

// ownerUpdated syncs on every update, status ones included, as upstream:
// a resync then retries controllers whose pod creations failed.
func (c *Controller) ownerUpdated(oldObj, newObj any) {
	old, ok1 := c.kind.fromObject(oldObj)
	cur, ok2 := c.kind.fromObject(newObj)
	if !ok1 || !ok2 {
		return
	}
	if old.UID != cur.UID {
		// Deleted and recreated between two watch events: the old one's
		// expectations must not hold the new one back.
		c.ownerDeleted(cache.DeletedFinalStateUnknown{Key: old.Namespace + "/" + old.Name, Obj: oldObj})
	}
	c.enqueue(cur)
}

func (c *Controller) ownerDeleted(obj any) {
	rs, ok := c.kind.fromObject(obj)
	if !ok {
		return
	}
	key := rs.Namespace + "/" + rs.Name
	c.expectations.forget(key)
	c.queue.Add(key)
}

// resolveControllerRef is the controller ref's object if it is one of
// ours, from the cache, UID checked.
func (c *Controller) resolveControllerRef(namespace string, ref *metav1.OwnerReference) *appsv1.ReplicaSet {
	// Kind alone, as upstream: references written under older API
	// versions of the kind still count.
	if ref.Kind != c.kind.gvk().Kind {
		return nil
	}
	rs, err := c.kind.get(namespace, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil
	}
	return rs
}

func (c *Controller) podAdded(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		// Seen first already being deleted (after a restart): that is a
		// deletion to observe, not a creation.
		c.podDeleted(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		rs := c.resolveControllerRef(pod.Namespace, ref)
		if rs == nil {
			return
		}
		key := rs.Namespace + "/" + rs.Name
		c.expectations.creationObserved(key)
		c.queue.Add(key)
		return
	}
	// An orphan: whoever selects it may adopt it. No creation is
	// observed, since nobody waits for an orphan.
	for _, rs := range c.kind.selecting(pod) {
		c.enqueue(rs)
	}
}

func (c *Controller) podUpdated(oldObj, newObj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	cur, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 || old.ResourceVersion == cur.ResourceVersion {
		return
	}
	labelsChanged := !reflect.DeepEqual(old.Labels, cur.Labels)
	if cur.DeletionTimestamp != nil {
		// A graceful deletion has begun: the controller replaces the pod
		// now rather than when the kubelet is done with it.
		c.podDeleted(cur)
		if labelsChanged {
			c.podDeleted(old)
		}
		return
	}
	curRef := metav1.GetControllerOfNoCopy(cur)
	oldRef := metav1.GetControllerOfNoCopy(old)
	refChanged := !reflect.DeepEqual(curRef, oldRef)
	if refChanged && oldRef != nil {
		if rs := c.resolveControllerRef(old.Namespace, oldRef); rs != nil {
			c.enqueue(rs)
		}
	}
	if curRef != nil {
		rs := c.resolveControllerRef(cur.Namespace, curRef)
		if rs == nil {
			return
		}
		c.enqueue(rs)
		// Nothing announces that a ready pod has become available:
		// look again once minReadySeconds have passed.
		if !isPodReady(old) && isPodReady(cur) && rs.Spec.MinReadySeconds > 0 {
			c.queue.AddAfter(rs.Namespace+"/"+rs.Name, time.Duration(rs.Spec.MinReadySeconds)*time.Second+time.Second)
		}
		return
	}
	if labelsChanged || refChanged {
		for _, rs := range c.kind.selecting(cur) {
			c.enqueue(rs)
		}
	}
}

func (c *Controller) podDeleted(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil {
		return
	}
	rs := c.resolveControllerRef(pod.Namespace, ref)
	if rs == nil {
		return
	}
	key := rs.Namespace + "/" + rs.Name
	c.expectations.deletionObserved(key, podKey(pod))
	c.queue.Add(key)
}

// sync makes one step toward the desired pod count of the controller
// named by key, then writes its status.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	rs, err := c.kind.get(namespace, name)
	if apierrors.IsNotFound(err) {
		c.expectations.forget(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s %s: %w", c.kind.gvk().Kind, key, err)
	}
	needsSync := c.expectations.satisfied(key)
	selector, err := selectorOf(rs)
	if err != nil {
		// Validation keeps invalid selectors out; nothing to retry.
		c.log.Error("Invalid selector", "key", key, "err", err)
		return nil
	}
	pods, err := podsOwnedOrOrphaned(c.podIndexer, rs.Namespace, rs.UID)
	if err != nil {
		return err
	}
	active, err := c.claimPods(ctx, rs, selector, filterPods(pods, isPodActive))
	if err != nil {
		return err
	}
	var terminating []*corev1.Pod
	if c.kind.countsTerminating() {
		terminating = filterPods(pods, func(p *corev1.Pod) bool {
			ref := metav1.GetControllerOfNoCopy(p)
			return isPodTerminating(p) && ref != nil && ref.UID == rs.UID && selector.Matches(labelsOf(p))
		})
	}

	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, active, rs)
	}
	now := c.clock.Now()
	status := calculateStatus(rs, active, terminating, c.kind.countsTerminating(), manageErr, now)
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return err
	}
	// A last line of defense for availability: nothing else announces
	// that minReadySeconds have passed.
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 && updated.Status.ReadyReplicas != updated.Status.AvailableReplicas {
		after := time.Duration(updated.Spec.MinReadySeconds) * time.Second
		if next := nextAvailabilityCheck(active, updated.Spec.MinReadySeconds, now); next != nil {
			after = *next
		}
		c.queue.AddAfter(key, after)
	}
	return manageErr
}

// claimPods adopts and releases pods for rs and returns those it owns.
func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, selector labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	canAdopt := controllerref.RecheckDeletion(func(ctx context.Context) (metav1.Object, error) {
		fresh, err := c.kind.getFresh(ctx, rs.Namespace, rs.Name)
		if err != nil {
			return nil, err
		}
		if fresh.UID != rs.UID {
			return nil, fmt.Errorf("original %s %s/%s is gone: got uid %s, wanted %s", c.kind.gvk().Kind, rs.Namespace, rs.Name, fresh.UID, rs.UID)
		}
		return fresh, nil
	})
	patch := func(ctx context.Context, namespace, name string, patch []byte) error {
		_, err := c.client.CoreV1().Pods(namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		return err
	}
	claimer := controllerref.NewClaimer(rs, c.kind.gvk(), selector, "Pod", patch, canAdopt)
	return controllerref.ClaimAll(ctx, claimer, pods)
}

// manageReplicas creates or deletes pods to bring active to rs's
// desired count, at most burst of them.
func (c *Controller) manageReplicas(ctx context.Context, active []*corev1.Pod, rs *appsv1.ReplicaSet) error {
	key := rs.Namespace + "/" + rs.Name
	diff := len(active) - int(ptr.Deref(rs.Spec.Replicas, 1))
	switch {
	case diff < 0:
		n := min(-diff, c.burst)
		c.expectations.expectCreations(key, n)
		c.log.Debug("Too few replicas", "key", key, "need", ptr.Deref(rs.Spec.Replicas, 1), "creating", n)
		ref := metav1.NewControllerRef(rs, c.kind.gvk())
		created, err := slowStartBatch(n, slowStartInitialBatch, func() error {
			err := c.createPod(ctx, rs, ref)
			if err != nil && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				// Every creation fails in a terminating namespace;
				// there is nothing to retry.
				return nil
			}
			return err
		})
		// Creations never attempted will never be observed.
		for range n - created {
			c.expectations.creationObserved(key)
		}
		return err
	case diff > 0:
		n := min(diff, c.burst)
		c.log.Debug("Too many replicas", "key", key, "need", ptr.Deref(rs.Spec.Replicas, 1), "deleting", n)
		victims := podsToDelete(active, c.relatedPods(rs), n, c.clock.Now())
		keys := make([]string, 0, len(victims))
		for _, p := range victims {
			keys = append(keys, podKey(p))
		}
		c.expectations.expectDeletions(key, keys)
		errs := make([]error, len(victims))
		var wg sync.WaitGroup
		for i, pod := range victims {
			wg.Go(func() {
				if err := c.deletePod(ctx, rs, pod.Name); err != nil {
					// A deletion that failed will not be observed.
					c.expectations.deletionObserved(key, podKey(pod))
					if !apierrors.IsNotFound(err) {
						errs[i] = err
					}
				}
			})
		}
		wg.Wait()
		// The errors are likely all alike: the first tells the story.
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// slowStartBatch calls fn count times, in batches of initial, then
// twice as many each time a whole batch succeeds, the calls of a batch
// running together. It stops after the first batch with a failure and
// returns how many calls succeeded and one of the errors.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	remaining, successes := count, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errs := make([]error, batch)
		var wg sync.WaitGroup
		for i := range batch {
			wg.Go(func() { errs[i] = fn() })
		}
		wg.Wait()
		var first error
		for _, err := range errs {
			if err == nil {
				successes++
			} else if first == nil {
				first = err
			}
		}
		if first != nil {
			return successes, first
		}
		remaining -= batch
	}
	return successes, nil
}

// relatedPods are the active pods of rs's siblings under the same owner
// (the ReplicaSets of one Deployment), rs included, for ranking how
// crowded a node is.
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) []*corev1.Pod {
	ref := metav1.GetControllerOfNoCopy(rs)
	if ref == nil {
		return nil
	}
	objs, err := c.ownerIndexer.ByIndex(byControllerIndex, string(ref.UID))
	if err != nil {
		return nil
	}
	seen := map[types.UID]bool{}
	var pods []*corev1.Pod
	for _, obj := range objs {
		sibling, ok := c.kind.fromObject(obj)
		if !ok {
			continue
		}
		sel, err := selectorOf(sibling)
		if err != nil {
			continue
		}
		list, err := c.podLister.Pods(sibling.Namespace).List(sel)
		if err != nil {
			continue
		}
		for _, p := range list {
			if !seen[p.UID] {
				seen[p.UID] = true
				pods = append(pods, p)
			}
		}
	}
	return pods
}

// createPod creates one pod from rs's template, with upstream's events.
func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet, ref *metav1.OwnerReference) error {
	pod := podFromTemplate(&rs.Spec.Template, rs.Name, ref)
	if len(pod.Labels) == 0 {
		return errors.New("unable to create pods, no labels")
	}
	created, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			c.recorder.Eventf(c.eventRef(rs), corev1.EventTypeWarning, ReasonFailedCreate, "Error creating: %v", err)
		}
		return err
	}
	c.recorder.Eventf(c.eventRef(rs), corev1.EventTypeNormal, ReasonSuccessfulCreate, "Created pod: %v", created.Name)
	return nil
}

// deletePod deletes one of rs's pods, with upstream's events. A pod
// already gone is reported as NotFound without an event.
func (c *Controller) deletePod(ctx context.Context, rs *appsv1.ReplicaSet, name string) error {
	err := c.client.CoreV1().Pods(rs.Namespace).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		c.recorder.Eventf(c.eventRef(rs), corev1.EventTypeWarning, ReasonFailedDelete, "Error deleting: %v", err)
		return fmt.Errorf("unable to delete pods: %w", err)
	}
	c.recorder.Eventf(c.eventRef(rs), corev1.EventTypeNormal, ReasonSuccessfulDelete, "Deleted pod: %v", name)
	return nil
}

// eventRef is what events are about: the ReplicaSet, or the
// ReplicationController rs stands for.
func (c *Controller) eventRef(rs *appsv1.ReplicaSet) *corev1.ObjectReference {
	gvk := c.kind.gvk()
	return &corev1.ObjectReference{
		APIVersion:      gvk.GroupVersion().String(),
		Kind:            gvk.Kind,
		Namespace:       rs.Namespace,
		Name:            rs.Name,
		UID:             rs.UID,
		ResourceVersion: rs.ResourceVersion,
	}
}
