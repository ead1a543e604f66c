// Package podgc is upstream's pod-garbage-collector-controller. Every
// check period it force-deletes (grace period 0):
//
//   - terminated pods (Succeeded or Failed) beyond the threshold, evicted
//     ones first, then the oldest;
//   - pods being deleted on a node that is not ready and carries the
//     node.kubernetes.io/out-of-service taint;
//   - pods bound to a node that no longer exists, once the node has been
//     missing for the quarantine time and the API server confirms it;
//   - pods being deleted that were never scheduled, which no kubelet will
//     ever finish.
//
// A pod that has not finished is first marked Failed (with the
// DisruptionTarget condition when its node is gone), as upstream: no
// kubelet will ever report its end, and a Job must count it as failed.
package podgc

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Name is the controller's name in the controller manager.
const Name = "pod-garbage-collector-controller"

// Upstream's defaults.
const (
	// DefaultTerminatedPodThreshold is --terminated-pod-gc-threshold.
	DefaultTerminatedPodThreshold = 12500
	DefaultCheckPeriod            = 20 * time.Second
	// DefaultQuarantineTime is how long a node must be missing from the
	// cache before the API server is asked whether it is really gone.
	DefaultQuarantineTime = 40 * time.Second
)

// Config tunes the controller; zero fields take the defaults.
type Config struct {
	// TerminatedPodThreshold is how many terminated pods may exist;
	// negative turns their collection off (upstream's 0).
	TerminatedPodThreshold int
	CheckPeriod            time.Duration
	QuarantineTime         time.Duration
	// Clock drives the quarantine and condition timestamps; tests pass a
	// fake.
	Clock clock.WithTicker
	Log   *slog.Logger
}

func (cfg Config) withDefaults() Config {
	if cfg.TerminatedPodThreshold == 0 {
		cfg.TerminatedPodThreshold = DefaultTerminatedPodThreshold
	}
	if cfg.CheckPeriod == 0 {
		cfg.CheckPeriod = DefaultCheckPeriod
	}
	if cfg.QuarantineTime == 0 {
		cfg.QuarantineTime = DefaultQuarantineTime
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// Controller collects pods. It works in passes over the pod cache rather
// than from a queue of keys; its one queue holds node names in
// quarantine.
type Controller struct {
	client     kubernetes.Interface
	cfg        Config
	log        *slog.Logger
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	synced     []cache.InformerSynced
	nodeQueue  workqueue.TypedDelayingInterface[string]
}

// New registers the controller's pod and node informers on the factory;
// it starts nothing.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, cfg Config) *Controller {
	cfg = cfg.withDefaults()
	pods := factory.Core().V1().Pods()
	nodes := factory.Core().V1().Nodes()
	return &Controller{
		client:     client,
		cfg:        cfg,
		log:        cfg.Log.With("controller", Name),
		podLister:  pods.Lister(),
		nodeLister: nodes.Lister(),
		synced:     []cache.InformerSynced{pods.Informer().HasSynced, nodes.Informer().HasSynced},
		nodeQueue: workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{
			Name: "orphaned_pods_nodes", Clock: cfg.Clock,
		}),
	}
}

// Run collects every check period until ctx ends. A pass is one
// goroutine, as upstream: workers is ignored.
func (c *Controller) Run(ctx context.Context, _ int) {
	defer c.nodeQueue.ShutDown()
	c.log.Info("Starting controller")
	defer c.log.Info("Shutting down controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	wait.UntilWithContext(ctx, c.gc, c.cfg.CheckPeriod)
}

// gc is one pass.
func (c *Controller) gc(ctx context.Context) {
	pods, err := c.podLister.List(labels.Everything())
	if err != nil {
		c.log.Error("Listing pods failed", "err", err)
		return
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		c.log.Error("Listing nodes failed", "err", err)
		return
	}
	if c.cfg.TerminatedPodThreshold > 0 {
		c.gcTerminated(ctx, pods)
	}
	c.gcTerminating(ctx, pods)
	c.gcOrphaned(ctx, pods, nodes)
	c.gcUnscheduledTerminating(ctx, pods)
}

func isTerminated(pod *corev1.Pod) bool {
	p := pod.Status.Phase
	return p != corev1.PodPending && p != corev1.PodRunning && p != corev1.PodUnknown
}

// gcTerminated deletes the terminated pods beyond the threshold.
func (c *Controller) gcTerminated(ctx context.Context, pods []*corev1.Pod) {
	var terminated []*corev1.Pod
	for _, p := range pods {
		if isTerminated(p) {
			terminated = append(terminated, p)
		}
	}
	n := len(terminated) - c.cfg.TerminatedPodThreshold
	if n <= 0 {
		return
	}
	c.log.Info("Garbage collecting pods", "numPods", n)
	slices.SortFunc(terminated, byEvictionAndCreation)
	c.deleteAll(ctx, terminated[:n], nil)
}

// gcTerminating deletes pods stuck terminating on a node an
// administrator declared out of service.
func (c *Controller) gcTerminating(ctx context.Context, pods []*corev1.Pod) {
	var stuck []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil || p.Spec.NodeName == "" {
			continue
		}
		node, err := c.nodeLister.Get(p.Spec.NodeName)
		if err != nil {
			continue
		}
		if !nodeReady(node) && hasTaint(node, corev1.TaintNodeOutOfService) {
			stuck = append(stuck, p)
		}
	}
	if len(stuck) == 0 {
		return
	}
	c.log.Info("Garbage collecting pods that are terminating on node tainted with node.kubernetes.io/out-of-service", "numPods", len(stuck))
	slices.SortFunc(stuck, byEvictionAndCreation)
	c.deleteAll(ctx, stuck, nil)
}

// gcOrphaned deletes pods bound to nodes that are gone. A node missing
// from the cache is first quarantined: the cache may simply not have
// seen it yet.
func (c *Controller) gcOrphaned(ctx context.Context, pods []*corev1.Pod, nodes []*corev1.Node) {
	existing := sets.New[string]()
	for _, n := range nodes {
		existing.Insert(n.Name)
	}
	for _, p := range pods {
		if p.Spec.NodeName != "" && !existing.Has(p.Spec.NodeName) {
			c.nodeQueue.AddAfter(p.Spec.NodeName, c.cfg.QuarantineTime)
		}
	}
	deleted := c.discoverDeletedNodes(ctx, existing)
	var orphans []*corev1.Pod
	for _, p := range pods {
		if deleted.Has(p.Spec.NodeName) {
			c.log.Info("Found orphaned Pod assigned to the Node, deleting", "pod", p.Namespace+"/"+p.Name, "node", p.Spec.NodeName)
			orphans = append(orphans, p)
		}
	}
	c.deleteAll(ctx, orphans, &corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "DeletionByPodGC", Message: "PodGC: node no longer exists",
	})
}

// discoverDeletedNodes takes the nodes whose quarantine is over and
// keeps those the API server does not know either.
func (c *Controller) discoverDeletedNodes(ctx context.Context, existing sets.Set[string]) sets.Set[string] {
	deleted := sets.New[string]()
	for c.nodeQueue.Len() > 0 {
		name, quit := c.nodeQueue.Get()
		if quit {
			return deleted
		}
		if !existing.Has(name) {
			_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				deleted.Insert(name)
			case err != nil:
				// Still orphaned next pass, it is queued again then.
				c.log.Error("Getting node failed", "node", name, "err", err)
			}
		}
		c.nodeQueue.Done(name)
	}
	return deleted
}

// gcUnscheduledTerminating deletes pods being deleted that no node ever
// ran.
func (c *Controller) gcUnscheduledTerminating(ctx context.Context, pods []*corev1.Pod) {
	var stuck []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			c.log.Info("Found unscheduled terminating Pod not assigned to any Node, deleting", "pod", p.Namespace+"/"+p.Name)
			stuck = append(stuck, p)
		}
	}
	c.deleteAll(ctx, stuck, nil)
}

// deleteAll force-deletes pods concurrently; failures are logged and the
// next pass tries again.
func (c *Controller) deleteAll(ctx context.Context, pods []*corev1.Pod, condition *corev1.PodCondition) {
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Go(func() {
			var cond *corev1.PodCondition
			if condition != nil {
				cond = condition.DeepCopy()
			}
			if err := c.markFailedAndDelete(ctx, p, cond); err != nil && !apierrors.IsNotFound(err) {
				c.log.Error("Deleting pod failed", "pod", p.Namespace+"/"+p.Name, "err", err)
			}
		})
	}
	wg.Wait()
}

// markFailedAndDelete moves an unfinished pod to Failed, with condition
// if given, and deletes it with a grace period of 0.
func (c *Controller) markFailedAndDelete(ctx context.Context, pod *corev1.Pod, condition *corev1.PodCondition) error {
	c.log.Info("PodGC is force deleting Pod", "pod", pod.Namespace+"/"+pod.Name)
	if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		status := pod.Status.DeepCopy()
		status.Phase = corev1.PodFailed
		if pod.Generation > 0 {
			status.ObservedGeneration = pod.Generation
		}
		if condition != nil {
			updateCondition(status, condition, c.cfg.Clock.Now())
		}
		if err := c.patchStatus(ctx, pod, *status); err != nil {
			return err
		}
	}
	if err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, *metav1.NewDeleteOptions(0)); err != nil {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// patchStatus sends the difference between the pod's status and status
// as a strategic merge patch, with the pod's UID as precondition, as
// upstream's PatchPodStatus.
func (c *Controller) patchStatus(ctx context.Context, pod *corev1.Pod, status corev1.PodStatus) error {
	oldData, err := json.Marshal(corev1.Pod{Status: pod.Status})
	if err != nil {
		return err
	}
	newData, err := json.Marshal(corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: pod.UID}, Status: status})
	if err != nil {
		return err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, corev1.Pod{})
	if err != nil {
		return fmt.Errorf("status patch of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if _, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("mark pod %s/%s failed: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// updateCondition sets condition in status, keeping its transition time
// when its status does not change.
func updateCondition(status *corev1.PodStatus, condition *corev1.PodCondition, now time.Time) {
	condition.LastTransitionTime = metav1.NewTime(now)
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != condition.Type {
			continue
		}
		if old.Status == condition.Status {
			condition.LastTransitionTime = old.LastTransitionTime
		}
		*old = *condition
		return
	}
	status.Conditions = append(status.Conditions, *condition)
}

// byEvictionAndCreation puts evicted pods first, then the oldest, by name
// when equal: controllers' finished pods are kept longest.
func byEvictionAndCreation(a, b *corev1.Pod) int {
	if ea, eb := evicted(a), evicted(b); ea != eb {
		if ea {
			return -1
		}
		return 1
	}
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	switch {
	case a.Name < b.Name:
		return -1
	case a.Name > b.Name:
		return 1
	}
	return 0
}

// evicted is the kubelet's mark of a pod it evicted.
func evicted(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed && pod.Status.Reason == "Evicted"
}

func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasTaint(node *corev1.Node, key string) bool {
	return slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == key })
}
