package nodelifecycle

import (
	"context"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/flowcontrol"
)

// zoneState is how disrupted a zone is, upstream's ZoneState.
type zoneState string

const (
	stateInitial           zoneState = "Initial"
	stateNormal            zoneState = "Normal"
	stateFullDisruption    zoneState = "FullDisruption"
	statePartialDisruption zoneState = "PartialDisruption"
)

// labelNodeDisruptionExclusion keeps a node out of the zone's count.
const labelNodeDisruptionExclusion = "node.kubernetes.io/exclude-disruption"

// zoneKey is upstream's topology.GetZoneKey: region and zone, or "" for
// nodes without either label (all of kindish's).
func zoneKey(node *corev1.Node) string {
	region := node.Labels[corev1.LabelTopologyRegion]
	if region == "" {
		region = node.Labels[corev1.LabelFailureDomainBetaRegion]
	}
	zone := node.Labels[corev1.LabelTopologyZone]
	if zone == "" {
		zone = node.Labels[corev1.LabelFailureDomainBetaZone]
	}
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}

func excludedFromDisruptionChecks(node *corev1.Node) bool {
	_, ok := node.Labels[labelNodeDisruptionExclusion]
	return ok
}

// zoneTainter is a zone's queue of nodes to taint NoExecute, drained at
// a limited rate, upstream's RateLimitedTimedQueue. A node stays marked
// once tainted, so that it is not queued again, until it is reachable.
// The monitor's node checks, which run in parallel, share it.
type zoneTainter struct {
	mu      sync.Mutex
	limiter flowcontrol.RateLimiter
	qps     float32
	clock   flowcontrol.Clock
	pending []string
	marked  map[string]bool
}

func newZoneTainter(qps float32, clock flowcontrol.Clock) *zoneTainter {
	return &zoneTainter{limiter: newLimiter(qps, clock), qps: qps, clock: clock, marked: map[string]bool{}}
}

// evictionBurst is upstream's EvictionRateLimiterBurst.
const evictionBurst = 1

func newLimiter(qps float32, clock flowcontrol.Clock) flowcontrol.RateLimiter {
	if qps <= 0 {
		return flowcontrol.NewFakeNeverRateLimiter()
	}
	return flowcontrol.NewTokenBucketRateLimiterWithClock(qps, evictionBurst, clock)
}

// add queues a node; false if it is already marked.
func (z *zoneTainter) add(name string) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.marked[name] {
		return false
	}
	z.marked[name] = true
	z.pending = append(z.pending, name)
	return true
}

// remove unmarks a node; true if it was marked.
func (z *zoneTainter) remove(name string) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	was := z.marked[name]
	delete(z.marked, name)
	z.pending = slices.DeleteFunc(z.pending, func(n string) bool { return n == name })
	return was
}

// try runs taint on queued nodes while the limiter allows; a node whose
// taint fails stays queued for the next pass.
func (z *zoneTainter) try(taint func(name string) bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	for len(z.pending) > 0 && z.limiter.TryAccept() {
		if !taint(z.pending[0]) {
			return
		}
		z.pending = z.pending[1:]
	}
}

// swapLimiter changes the rate. When the old limiter is out of tokens
// the new one starts without its token too, so that a change of state
// is not a burst.
func (z *zoneTainter) swapLimiter(qps float32) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.qps == qps {
		return
	}
	next := newLimiter(qps, z.clock)
	if qps > 0 && !z.limiter.TryAccept() {
		next.TryAccept()
	}
	z.limiter.Stop()
	z.limiter, z.qps = next, qps
}

// addZone gives a zone first seen its state and tainter.
func (c *Controller) addZone(zone string) {
	if _, ok := c.zoneStates[zone]; ok {
		return
	}
	c.zoneStates[zone] = stateInitial
	c.zoneTainters[zone] = newZoneTainter(c.cfg.EvictionQPS, c.cfg.Clock)
}

// computeZoneState is upstream's ComputeZoneState: a zone without a ready
// node is fully disrupted; one with more than two not ready nodes making
// up the threshold's share is partly disrupted.
func (c *Controller) computeZoneState(conditions []*corev1.NodeCondition) (int, zoneState) {
	ready, notReady := 0, 0
	for _, cond := range conditions {
		if cond != nil && cond.Status == corev1.ConditionTrue {
			ready++
		} else {
			notReady++
		}
	}
	switch {
	case ready == 0 && notReady > 0:
		return notReady, stateFullDisruption
	case notReady > 2 && float32(notReady)/float32(notReady+ready) >= c.cfg.UnhealthyZoneThreshold:
		return notReady, statePartialDisruption
	default:
		return notReady, stateNormal
	}
}

// handleDisruption is upstream's: when every zone is fully disrupted the
// controller stops tainting and removes the eviction taints, since the
// fault is more likely its own view of the nodes than all of them at
// once; when a zone recovers, every node gets a fresh grace period.
func (c *Controller) handleDisruption(ctx context.Context, zoneConditions map[string][]*corev1.NodeCondition, nodes []*corev1.Node) {
	newStates := map[string]zoneState{}
	allAreFullyDisrupted := true
	for zone, conditions := range zoneConditions {
		_, state := c.computeZoneState(conditions)
		if state != stateFullDisruption {
			allAreFullyDisrupted = false
		}
		newStates[zone] = state
		if _, ok := c.zoneStates[zone]; !ok {
			c.log.Error("Setting initial state for unseen zone", "zone", zone)
			c.addZone(zone)
		}
	}
	allWasFullyDisrupted := true
	for zone, state := range c.zoneStates {
		if _, ok := zoneConditions[zone]; !ok {
			delete(c.zoneStates, zone)
			continue
		}
		if state != stateFullDisruption {
			allWasFullyDisrupted = false
			break
		}
	}
	if allAreFullyDisrupted && allWasFullyDisrupted {
		return
	}
	if allAreFullyDisrupted {
		c.log.Info("Controller detected that all Nodes are not-Ready. Entering master disruption mode")
		for _, n := range nodes {
			if _, err := c.markNodeAsReachable(ctx, n); err != nil {
				c.log.Error("Failed to remove taints from Node", "node", n.Name, "err", err)
			}
		}
		for zone := range c.zoneStates {
			c.zoneTainters[zone].swapLimiter(0)
			c.zoneStates[zone] = stateFullDisruption
		}
		return
	}
	if allWasFullyDisrupted {
		c.log.Info("Controller detected that some Nodes are Ready. Exiting master disruption mode")
		now := c.now()
		for _, n := range nodes {
			if h := c.health.get(n.Name); h != nil {
				h.probeTimestamp, h.readyTransitionTimestamp = now, now
				c.health.set(n.Name, h)
			}
		}
		for zone := range c.zoneStates {
			c.setZoneRate(zone, len(zoneConditions[zone]), newStates[zone])
			c.zoneStates[zone] = newStates[zone]
		}
		return
	}
	for zone, state := range c.zoneStates {
		if next := newStates[zone]; next != state {
			c.log.Info("Controller detected that zone is now in new state", "zone", zone, "newState", next)
			c.setZoneRate(zone, len(zoneConditions[zone]), next)
			c.zoneStates[zone] = next
		}
	}
}

// setZoneRate is upstream's setLimiterInZone with its ReducedQPSFunc and
// HealthyQPSFunc.
func (c *Controller) setZoneRate(zone string, size int, state zoneState) {
	switch state {
	case stateNormal, stateFullDisruption:
		c.zoneTainters[zone].swapLimiter(c.cfg.EvictionQPS)
	case statePartialDisruption:
		qps := float32(0)
		if size > c.cfg.LargeClusterThreshold {
			qps = c.cfg.SecondaryEvictionQPS
		}
		c.zoneTainters[zone].swapLimiter(qps)
	}
}

// processTaintBaseEviction decides on the NoExecute taints from the Ready
// condition the node itself last posted.
func (c *Controller) processTaintBaseEviction(ctx context.Context, node *corev1.Node, observed corev1.NodeCondition) {
	switch observed.Status {
	case corev1.ConditionFalse:
		// Unreachable and not ready exclude each other, as the Ready
		// condition's values do; a swap between them is not rate limited.
		if hasTaint(node.Spec.Taints, unreachableNoExecute) {
			if err := c.swapTaints(ctx, node, []corev1.Taint{notReadyNoExecute}, []corev1.Taint{unreachableNoExecute}); err != nil {
				c.log.Error("Failed to instantly swap UnreachableTaint to NotReadyTaint. Will try again in the next cycle", "node", node.Name, "err", err)
			}
		} else if c.markNodeForTainting(node, corev1.ConditionFalse) {
			c.log.Info("Node is NotReady. Adding it to the Taint queue", "node", node.Name)
		}
	case corev1.ConditionUnknown:
		if hasTaint(node.Spec.Taints, notReadyNoExecute) {
			if err := c.swapTaints(ctx, node, []corev1.Taint{unreachableNoExecute}, []corev1.Taint{notReadyNoExecute}); err != nil {
				c.log.Error("Failed to instantly swap NotReadyTaint to UnreachableTaint. Will try again in the next cycle", "node", node.Name, "err", err)
			}
		} else if c.markNodeForTainting(node, corev1.ConditionUnknown) {
			c.log.Info("Node is unresponsive. Adding it to the Taint queue", "node", node.Name)
		}
	case corev1.ConditionTrue:
		removed, err := c.markNodeAsReachable(ctx, node)
		if err != nil {
			c.log.Error("Failed to remove taints from node. Will retry in next iteration", "node", node.Name, "err", err)
		}
		if removed {
			c.log.Info("Node is healthy again, removed all taints", "node", node.Name)
		}
	}
}

// markNodeForTainting queues the node in its zone; a node marked before
// but lacking the taint now (someone removed it) is queued again.
func (c *Controller) markNodeForTainting(node *corev1.Node, status corev1.ConditionStatus) bool {
	tainter := c.zoneTainters[zoneKey(node)]
	if status == corev1.ConditionFalse && !hasTaint(node.Spec.Taints, notReadyNoExecute) {
		tainter.remove(node.Name)
	}
	if status == corev1.ConditionUnknown && !hasTaint(node.Spec.Taints, unreachableNoExecute) {
		tainter.remove(node.Name)
	}
	return tainter.add(node.Name)
}

// markNodeAsReachable removes both eviction taints and unqueues the node.
func (c *Controller) markNodeAsReachable(ctx context.Context, node *corev1.Node) (bool, error) {
	if err := c.swapTaints(ctx, node, nil, []corev1.Taint{unreachableNoExecute, notReadyNoExecute}); err != nil {
		return false, err
	}
	return c.zoneTainters[zoneKey(node)].remove(node.Name), nil
}

// taintForEviction drains the zones' queues at their rates, upstream's
// doNoExecuteTaintingPass. The taint follows the node's Ready condition
// as the cache has it now.
func (c *Controller) taintForEviction(ctx context.Context) {
	for _, tainter := range c.zoneTainters {
		tainter.try(func(name string) bool {
			node, err := c.nodeLister.Get(name)
			if apierrors.IsNotFound(err) {
				return true
			}
			if err != nil {
				return false
			}
			ready := nodeCondition(&node.Status, corev1.NodeReady)
			if ready == nil {
				return false
			}
			var add, opposite corev1.Taint
			switch ready.Status {
			case corev1.ConditionFalse:
				add, opposite = notReadyNoExecute, unreachableNoExecute
			case corev1.ConditionUnknown:
				add, opposite = unreachableNoExecute, notReadyNoExecute
			default:
				// Ready again since it was queued.
				return true
			}
			if err := c.swapTaints(ctx, node, []corev1.Taint{add}, []corev1.Taint{opposite}); err != nil {
				c.log.Error("Tainting node for eviction", "node", name, "taint", add.Key, "err", err)
				return false
			}
			return true
		})
	}
}
