// Package nodeipam is upstream's node-ipam-controller with its
// RangeAllocator: each Node without a pod range gets the next free
// node-sized subnet of the cluster CIDR in spec.podCIDR and spec.podCIDRs
// (one per IP family), which kindnetd and the CNI's host-local IPAM then
// use. No two nodes share a range; ranges already on nodes are claimed at
// start, so a restart hands out nothing twice; a deleted node's range is
// freed.
package nodeipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
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
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// Name is the controller's name in the controller manager.
const Name = "node-ipam-controller"

// EventComponent is the source of the controller's events, upstream's.
const EventComponent = "cidrAllocator"

// Event reasons, upstream's.
const (
	ReasonCIDRNotAvailable     = "CIDRNotAvailable"
	ReasonCIDRAssignmentFailed = "CIDRAssignmentFailed"
)

// Defaults of the node mask sizes, upstream's.
const (
	DefaultNodeMaskSizeIPv4 = 24
	DefaultNodeMaskSizeIPv6 = 64
)

// Config is the allocator's ranges.
type Config struct {
	// ClusterCIDRs are the pod ranges, at most one per IP family.
	ClusterCIDRs []netip.Prefix
	// NodeMaskSizeIPv4 and NodeMaskSizeIPv6 size each node's range; zero
	// means the default.
	NodeMaskSizeIPv4 int
	NodeMaskSizeIPv6 int
	// ServiceCIDRs are never handed to nodes where they overlap the
	// cluster ranges.
	ServiceCIDRs []netip.Prefix
	Log          *slog.Logger
}

// Controller allocates node pod ranges. Its queue holds node names.
type Controller struct {
	client     kubernetes.Interface
	recorder   record.EventRecorder
	log        *slog.Logger
	nodeLister corelisters.NodeLister
	synced     cache.InformerSynced
	queue      workqueue.TypedRateLimitingInterface[string]

	// mu guards the sets and the reservations, which node workers and
	// the informer's delete handler share.
	mu sync.Mutex
	// sets hold one range per cluster CIDR, in the order of the CIDRs.
	sets []*cidrSet
	// reserved are ranges taken for nodes whose cached object does not
	// show them yet: a patch is in flight or the cache lags behind it.
	// Reusing them keeps a node from being given a second range.
	reserved map[string][]netip.Prefix
	// claimed is set once the ranges of the nodes that existed at start
	// are marked used; nothing is allocated before.
	claimed bool
}

// New validates cfg and registers the controller's handlers on the
// factory's node informer; it starts nothing.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) (*Controller, error) {
	if len(cfg.ClusterCIDRs) == 0 {
		return nil, errors.New("node IPAM: no cluster CIDR")
	}
	if len(cfg.ClusterCIDRs) > 2 || (len(cfg.ClusterCIDRs) == 2 && cfg.ClusterCIDRs[0].Addr().Is4() == cfg.ClusterCIDRs[1].Addr().Is4()) {
		return nil, fmt.Errorf("node IPAM: cluster CIDRs %v: at most one per IP family", cfg.ClusterCIDRs)
	}
	if cfg.NodeMaskSizeIPv4 == 0 {
		cfg.NodeMaskSizeIPv4 = DefaultNodeMaskSizeIPv4
	}
	if cfg.NodeMaskSizeIPv6 == 0 {
		cfg.NodeMaskSizeIPv6 = DefaultNodeMaskSizeIPv6
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		client:   client,
		recorder: recorder,
		log:      cfg.Log.With("controller", Name),
		reserved: map[string][]netip.Prefix{},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "node_ipam"},
		),
	}
	for _, cidr := range cfg.ClusterCIDRs {
		bits := cfg.NodeMaskSizeIPv4
		if cidr.Addr().Is6() {
			bits = cfg.NodeMaskSizeIPv6
		}
		set, err := newCIDRSet(cidr, bits)
		if err != nil {
			return nil, fmt.Errorf("node IPAM: %w", err)
		}
		for _, svc := range cfg.ServiceCIDRs {
			if svc.Addr().BitLen() == cidr.Addr().BitLen() && svc.Overlaps(cidr) {
				_ = set.occupy(svc) // cannot fail: the ranges overlap
			}
		}
		c.sets = append(c.sets, set)
	}
	nodes := factory.Core().V1().Nodes()
	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueue(obj) },
		UpdateFunc: func(_, obj any) {
			// A node with ranges needs nothing more; sync claims them
			// when it first sees the node.
			if n, ok := obj.(*corev1.Node); ok && len(n.Spec.PodCIDRs) == 0 {
				c.queue.Add(n.Name)
			}
		},
		DeleteFunc: c.nodeDeleted,
	})
	c.nodeLister = nodes.Lister()
	c.synced = nodes.Informer().HasSynced
	return c, nil
}

func (c *Controller) enqueue(obj any) {
	if n, ok := obj.(*corev1.Node); ok {
		c.queue.Add(n.Name)
	}
}

// nodeDeleted frees the node's ranges and retries the nodes that are
// waiting for one.
func (c *Controller) nodeDeleted(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	node, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	c.mu.Lock()
	freed := c.releaseLocked(node.Name, podCIDRs(c.log, node))
	c.mu.Unlock()
	if !freed {
		return
	}
	all, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, n := range all {
		if len(n.Spec.PodCIDRs) == 0 {
			c.queue.Add(n.Name)
		}
	}
}

// releaseLocked frees a node's ranges: those it held on the cluster and
// any reserved for it.
func (c *Controller) releaseLocked(name string, cidrs []netip.Prefix) bool {
	cidrs = append(cidrs, c.reserved[name]...)
	delete(c.reserved, name)
	c.releaseCIDRsLocked(name, cidrs)
	return len(cidrs) > 0
}

func (c *Controller) releaseCIDRsLocked(name string, cidrs []netip.Prefix) {
	for _, cidr := range cidrs {
		for _, set := range c.sets {
			if set.release(cidr) == nil {
				c.log.Info("Released node CIDR", "node", name, "cidr", cidr)
			}
		}
	}
}

// Run claims the ranges of existing nodes, then allocates with workers
// goroutines until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.queue.ShutDown()
	c.log.Info("Starting range CIDR allocator")
	defer c.log.Info("Shutting down range CIDR allocator")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		return
	}
	if err := c.claimExisting(); err != nil {
		c.log.Error("Claiming the ranges of existing nodes", "err", err)
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

// claimExisting marks every cached node's ranges used before the first
// allocation, so that a restarted controller cannot hand one out twice.
func (c *Controller) claimExisting() error {
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range nodes {
		c.occupyLocked(n)
	}
	c.claimed = true
	return nil
}

// occupyLocked marks a node's ranges used. A range outside the cluster
// CIDRs (the flags changed) is logged and otherwise left alone.
func (c *Controller) occupyLocked(node *corev1.Node) {
	for i, cidr := range podCIDRs(c.log, node) {
		if i >= len(c.sets) {
			c.log.Error("Node has more pod CIDRs than the cluster has ranges", "node", node.Name, "podCIDRs", node.Spec.PodCIDRs)
			return
		}
		if err := c.sets[i].occupy(cidr); err != nil {
			c.log.Error("Node pod CIDR cannot be marked used", "node", node.Name, "cidr", cidr, "err", err)
		}
	}
}

func podCIDRs(log *slog.Logger, node *corev1.Node) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range node.Spec.PodCIDRs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			log.Error("Node has an unparsable pod CIDR", "node", node.Name, "cidr", s, "err", err)
			continue
		}
		out = append(out, p)
	}
	return out
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
		c.log.Error("Sync failed, requeuing", "node", key, "err", err)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// sync gives one node its ranges, or records the ranges it has.
func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get node %q: %w", name, err)
	}
	c.mu.Lock()
	if !c.claimed {
		c.mu.Unlock()
		return fmt.Errorf("node %q: ranges of existing nodes not claimed yet", name)
	}
	if len(node.Spec.PodCIDRs) > 0 {
		c.occupyLocked(node)
		// The cache caught up with what was reserved; a reservation the
		// node did not take (someone else set its range) goes back.
		for _, cidr := range c.reserved[name] {
			if !slices.Contains(node.Spec.PodCIDRs, cidr.String()) {
				c.releaseCIDRsLocked(name, []netip.Prefix{cidr})
			}
		}
		delete(c.reserved, name)
		c.mu.Unlock()
		return nil
	}
	cidrs, ok := c.reserved[name]
	if !ok {
		cidrs, err = c.allocateLocked()
		if err != nil {
			c.mu.Unlock()
			c.recordNodeStatusChange(node, ReasonCIDRNotAvailable)
			// Not requeued: a deleted node's range requeues every node
			// still waiting, as does any update of this node.
			c.log.Error("Node CIDR not available", "node", name, "err", err)
			return nil
		}
		c.reserved[name] = cidrs
	}
	c.mu.Unlock()

	if err := c.patchPodCIDRs(ctx, name, cidrs); err != nil {
		if apierrors.IsNotFound(err) {
			c.mu.Lock()
			c.releaseLocked(name, nil)
			c.mu.Unlock()
			return nil
		}
		c.recordNodeStatusChange(node, ReasonCIDRAssignmentFailed)
		// After a timeout the patch may yet land: keep the reservation
		// rather than risk giving the range to another node.
		if !apierrors.IsServerTimeout(err) && !apierrors.IsTimeout(err) {
			c.mu.Lock()
			c.releaseLocked(name, nil)
			c.mu.Unlock()
		}
		return fmt.Errorf("set pod CIDRs %v on node %q: %w", cidrs, name, err)
	}
	c.log.Info("Set node PodCIDR", "node", name, "podCIDRs", cidrs)
	return nil
}

// allocateLocked takes one range from every cluster CIDR, or none.
func (c *Controller) allocateLocked() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, set := range c.sets {
		cidr, err := set.allocateNext()
		if err != nil {
			for j, taken := range out {
				_ = c.sets[j].release(taken)
			}
			return nil, fmt.Errorf("allocate from cluster CIDR %s: %w", set.cluster, err)
		}
		out = append(out, cidr)
	}
	return out, nil
}

// patchPodCIDRs sets spec.podCIDR and spec.podCIDRs with a strategic
// merge patch, as upstream's PatchNodeCIDRs.
func (c *Controller) patchPodCIDRs(ctx context.Context, name string, cidrs []netip.Prefix) error {
	strs := make([]string, len(cidrs))
	for i, cidr := range cidrs {
		strs[i] = cidr.String()
	}
	patch := map[string]any{"spec": map[string]any{"podCIDR": strs[0], "podCIDRs": strs}}
	body, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, body, metav1.PatchOptions{})
	return err
}

// recordNodeStatusChange is upstream's RecordNodeStatusChange.
func (c *Controller) recordNodeStatusChange(node *corev1.Node, status string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}
	c.recorder.Eventf(ref, corev1.EventTypeNormal, status, "Node %s status is now: %s", node.Name, status)
}
