// Package tainteviction is upstream's taint-eviction-controller (the
// NoExecuteTaintManager): a pod on a node with a NoExecute taint it does
// not tolerate is deleted at once; one that tolerates every such taint
// for a while (tolerationSeconds, 300 s for not-ready and unreachable as
// the API server's DefaultTolerationSeconds admission adds them) is
// deleted when the shortest of those tolerations runs out, unless the
// taints go first.
//
// As upstream, the countdown starts when this controller sees the pod on
// the tainted node, not at the taint's timeAdded, and lives in memory.
package tainteviction

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"github.com/kindish/kindish/controlplane/controllers/nodelifecycle"
)

// Name is the controller's name in the controller manager, and the source
// of its events, as upstream.
const Name = "taint-eviction-controller"

// Upstream's event reason and pod condition.
const (
	ReasonTaintManagerEviction = "TaintManagerEviction"
	reasonDeletionByTaint      = "DeletionByTaintManager"
	messageDeletionByTaint     = "Taint manager: deleting due to NoExecute taint"
)

// Config is the controller's clock and log; zero fields take real ones.
type Config struct {
	Clock clock.WithTicker
	Log   *slog.Logger
}

// eviction is a pod's scheduled deletion.
type eviction struct {
	fireAt time.Time
	// fired deletions stay recorded until the pod is gone, so that the
	// pod's later updates do not schedule it again.
	fired bool
}

// Controller deletes pods from nodes with NoExecute taints. Its queue
// holds pod keys; a node whose NoExecute taints change queues its pods.
type Controller struct {
	client     kubernetes.Interface
	recorder   record.EventRecorder
	clock      clock.WithTicker
	log        *slog.Logger
	podLister  corelisters.PodLister
	podIndexer cache.Indexer
	nodeLister corelisters.NodeLister
	synced     []cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[types.NamespacedName]

	mu        sync.Mutex
	evictions map[types.NamespacedName]*eviction
}

// New registers the controller's handlers and the pod index on the
// factory's pod and node informers; it starts nothing. Events go to
// recorder, whose source should be Name.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		client:    client,
		recorder:  recorder,
		clock:     cfg.Clock,
		log:       cfg.Log.With("controller", Name),
		evictions: map[types.NamespacedName]*eviction{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName](),
			workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{Name: "noexec_taint_pod", Clock: cfg.Clock},
		),
	}
	pods := factory.Core().V1().Pods()
	nodes := factory.Core().V1().Nodes()
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.podUpdated(nil, obj) },
		UpdateFunc: c.podUpdated,
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				c.queue.Add(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
			}
		},
	})
	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.nodeUpdated(nil, obj) },
		UpdateFunc: c.nodeUpdated,
	})
	nodelifecycle.AddPodNodeNameIndex(pods.Informer())
	c.podLister = pods.Lister()
	c.podIndexer = pods.Informer().GetIndexer()
	c.nodeLister = nodes.Lister()
	c.synced = []cache.InformerSynced{pods.Informer().HasSynced, nodes.Informer().HasSynced}
	return c
}

// podUpdated queues pods whose node or tolerations changed: nothing else
// about a pod bears on its eviction.
func (c *Controller) podUpdated(oldObj, newObj any) {
	pod, ok := newObj.(*corev1.Pod)
	if !ok {
		return
	}
	if old, ok := oldObj.(*corev1.Pod); ok && old.Spec.NodeName == pod.Spec.NodeName &&
		equality.Semantic.DeepEqual(old.Spec.Tolerations, pod.Spec.Tolerations) {
		return
	}
	c.queue.Add(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
}

// nodeUpdated queues the node's pods when its NoExecute taints changed.
func (c *Controller) nodeUpdated(oldObj, newObj any) {
	node, ok := newObj.(*corev1.Node)
	if !ok {
		return
	}
	if old, ok := oldObj.(*corev1.Node); ok && equality.Semantic.DeepEqual(noExecuteTaints(old.Spec.Taints), noExecuteTaints(node.Spec.Taints)) {
		return
	}
	objs, err := c.podIndexer.ByIndex(nodelifecycle.PodNodeNameIndex, node.Name)
	if err != nil {
		c.log.Error("Listing pods of node", "node", node.Name, "err", err)
		return
	}
	for _, obj := range objs {
		if pod, ok := obj.(*corev1.Pod); ok {
			c.queue.Add(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
		}
	}
}

func noExecuteTaints(taints []corev1.Taint) []corev1.Taint {
	out := []corev1.Taint{}
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

// Run processes pods with workers goroutines until ctx ends, after the
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
	if err := c.sync(ctx, key); err != nil {
		c.log.Error("Sync failed, requeuing", "pod", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// sync schedules, cancels or carries out one pod's eviction.
func (c *Controller) sync(ctx context.Context, key types.NamespacedName) error {
	pod, err := c.podLister.Pods(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		c.cancel(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get pod %s: %w", key, err)
	}
	// A pod not bound, or bound to a node that is gone, keeps whatever
	// was decided: the pod garbage collector deals with those.
	if pod.Spec.NodeName == "" {
		return nil
	}
	node, err := c.nodeLister.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get node %q: %w", pod.Spec.NodeName, err)
	}
	now := c.clock.Now()
	taints := noExecuteTaints(node.Spec.Taints)
	if len(taints) == 0 {
		c.cancel(key)
		return nil
	}
	tolerated, used := matchingTolerations(taints, pod.Spec.Tolerations)
	c.mu.Lock()
	e := c.evictions[key]
	switch {
	case !tolerated:
		if e != nil && !e.fired {
			c.emitCancel(key)
		}
		e = &eviction{fireAt: now}
		c.evictions[key] = e
	default:
		grace := minTolerationTime(used)
		if grace < 0 {
			c.mu.Unlock()
			c.cancel(key)
			return nil
		}
		// An eviction already counting keeps its start, as upstream's
		// queue does.
		if e == nil {
			e = &eviction{fireAt: now.Add(grace)}
			c.evictions[key] = e
		}
	}
	fired, fireAt := e.fired, e.fireAt
	c.mu.Unlock()

	switch {
	case fired:
		return nil
	case fireAt.After(now):
		c.queue.AddAfter(key, fireAt.Sub(now))
		return nil
	}
	c.recorder.Eventf(podRef(key), corev1.EventTypeNormal, ReasonTaintManagerEviction, "Marking for deletion Pod %s", key)
	if err := c.deletePod(ctx, key); err != nil {
		return fmt.Errorf("evict pod %s: %w", key, err)
	}
	c.log.Info("Deleted pod for a NoExecute taint", "pod", key, "node", node.Name)
	c.mu.Lock()
	if cur := c.evictions[key]; cur == e {
		e.fired = true
	}
	c.mu.Unlock()
	return nil
}

// cancel forgets the pod's eviction, with an event if it was pending.
func (c *Controller) cancel(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.evictions[key]
	if !ok {
		return
	}
	delete(c.evictions, key)
	if !e.fired {
		c.emitCancel(key)
	}
}

func (c *Controller) emitCancel(key types.NamespacedName) {
	c.recorder.Eventf(podRef(key), corev1.EventTypeNormal, ReasonTaintManagerEviction, "Cancelling deletion of Pod %s", key)
}

func podRef(key types.NamespacedName) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: key.Namespace, Name: key.Name}
}

// deletePod marks the pod a disruption target, as upstream, then deletes
// it. A pod already gone is done with.
func (c *Controller) deletePod(ctx context.Context, key types.NamespacedName) error {
	pods := c.client.CoreV1().Pods(key.Namespace)
	pod, err := pods.Get(ctx, key.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !hasDisruptionTarget(pod) {
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"uid": pod.UID},
			"status": map[string]any{"conditions": []corev1.PodCondition{{
				Type:               corev1.DisruptionTarget,
				Status:             corev1.ConditionTrue,
				Reason:             reasonDeletionByTaint,
				Message:            messageDeletionByTaint,
				LastTransitionTime: metav1.NewTime(c.clock.Now()),
			}}},
		})
		if err != nil {
			return err
		}
		if _, err := pods.Patch(ctx, key.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("mark pod disruption target: %w", err)
		}
	}
	if err := pods.Delete(ctx, key.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pod: %w", err)
	}
	return nil
}

func hasDisruptionTarget(pod *corev1.Pod) bool {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.DisruptionTarget && cond.Status == corev1.ConditionTrue && cond.Reason == reasonDeletionByTaint {
			return true
		}
	}
	return false
}

// matchingTolerations is upstream's GetMatchingTolerations: whether every
// taint is tolerated, and the first toleration that tolerates each.
func matchingTolerations(taints []corev1.Taint, tolerations []corev1.Toleration) (bool, []corev1.Toleration) {
	var used []corev1.Toleration
	for _, taint := range taints {
		found := false
		for _, tol := range tolerations {
			if tolerates(tol, taint) {
				used = append(used, tol)
				found = true
				break
			}
		}
		if !found {
			return false, nil
		}
	}
	return true, used
}

// tolerates is corev1.Toleration.ToleratesTaint with the numeric
// operators, which are behind a feature gate upstream, off.
func tolerates(tol corev1.Toleration, taint corev1.Taint) bool {
	if tol.Effect != "" && tol.Effect != taint.Effect {
		return false
	}
	if tol.Key != "" && tol.Key != taint.Key {
		return false
	}
	switch tol.Operator {
	case "", corev1.TolerationOpEqual:
		return tol.Value == taint.Value
	case corev1.TolerationOpExists:
		return true
	}
	return false
}

// minTolerationTime is upstream's getMinTolerationTime: the shortest
// tolerationSeconds, zero when one is zero or negative or there are no
// tolerations, and -1 when every toleration is forever.
func minTolerationTime(tolerations []corev1.Toleration) time.Duration {
	if len(tolerations) == 0 {
		return 0
	}
	least := int64(math.MaxInt64)
	for _, tol := range tolerations {
		if tol.TolerationSeconds == nil {
			continue
		}
		if *tol.TolerationSeconds <= 0 {
			return 0
		}
		least = min(least, *tol.TolerationSeconds)
	}
	if least == math.MaxInt64 {
		return -1
	}
	return time.Duration(least) * time.Second
}
