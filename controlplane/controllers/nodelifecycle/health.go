package nodelifecycle

import (
	"context"
	"fmt"
	"sync"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
)

// nodeHealthUpdateRetry is how often a node's status update is retried
// with a fresh copy of the node, upstream's NodeHealthUpdateRetry.
const nodeHealthUpdateRetry = 5

// Upstream's reasons and messages for conditions the kubelet stopped (or
// never started) posting.
const (
	reasonNodeStatusUnknown      = "NodeStatusUnknown"
	messageNodeStatusUnknown     = "Kubelet stopped posting node status."
	reasonNodeStatusNeverUpdated = "NodeStatusNeverUpdated"
	messageNodeStatusNeverUpdate = "Kubelet never posted node status."
)

// nodeHealth is what the controller last saw of a node, with the local
// times it saw it: comparing heartbeats against this controller's clock,
// not the kubelet's, keeps clock skew between nodes out of the decision.
type nodeHealth struct {
	probeTimestamp           metav1.Time
	readyTransitionTimestamp metav1.Time
	status                   *corev1.NodeStatus
	lease                    *coordinationv1.Lease
}

func (h *nodeHealth) deepCopy() *nodeHealth {
	if h == nil {
		return nil
	}
	return &nodeHealth{
		probeTimestamp:           h.probeTimestamp,
		readyTransitionTimestamp: h.readyTransitionTimestamp,
		status:                   h.status.DeepCopy(),
		lease:                    h.lease.DeepCopy(),
	}
}

// healthMap is shared by the monitor loop and the pod workers.
type healthMap struct {
	mu    sync.RWMutex
	nodes map[string]*nodeHealth
}

func (m *healthMap) get(name string) *nodeHealth {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.nodes[name].deepCopy()
}

func (m *healthMap) set(name string, h *nodeHealth) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes[name] = h
}

func (m *healthMap) remove(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.nodes, name)
}

func (c *Controller) now() metav1.Time { return metav1.NewTime(c.cfg.Clock.Now()) }

// nodeCondition is the condition of the type, or nil.
func nodeCondition(status *corev1.NodeStatus, t corev1.NodeConditionType) *corev1.NodeCondition {
	if status == nil {
		return nil
	}
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

// monitorNodeHealth is one pass over all nodes: mark the silent ones
// Unknown, mark pods of nodes that stopped being ready, taint or untaint
// for eviction, and adjust the zones' tainting rates.
func (c *Controller) monitorNodeHealth(ctx context.Context) error {
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	added, deleted, newZoneRepresentatives := c.classifyNodes(nodes)
	for _, n := range newZoneRepresentatives {
		c.addZone(zoneKey(n))
	}
	for _, n := range added {
		c.log.Info("Controller observed a new Node", "node", n.Name)
		c.recordNodeEvent(n.Name, n.UID, "RegisteredNode", fmt.Sprintf("Registered Node %v in Controller", n.Name))
		c.knownNodes[n.Name] = n
		c.addZone(zoneKey(n))
		// A node new to this controller starts without the eviction
		// taints; if it still deserves one, this pass puts it back.
		if _, err := c.markNodeAsReachable(ctx, n); err != nil {
			c.log.Error("Removing eviction taints from new node", "node", n.Name, "err", err)
		}
	}
	for _, n := range deleted {
		c.log.Info("Controller observed a Node deletion", "node", n.Name)
		c.recordNodeEvent(n.Name, n.UID, "RemovingNode", fmt.Sprintf("Removing Node %v from Controller", n.Name))
		delete(c.knownNodes, n.Name)
		delete(c.nodesToRetry, n.Name)
		c.health.remove(n.Name)
	}

	var mu sync.Mutex
	zoneConditions := map[string][]*corev1.NodeCondition{}
	retry := map[string]bool{}
	workqueue.ParallelizeUntil(ctx, 8, len(nodes), func(i int) {
		current, needsRetry, ok := c.updateNode(ctx, nodes[i])
		mu.Lock()
		defer mu.Unlock()
		if ok && !excludedFromDisruptionChecks(nodes[i]) {
			zone := zoneKey(nodes[i])
			zoneConditions[zone] = append(zoneConditions[zone], current)
		}
		if needsRetry {
			retry[nodes[i].Name] = true
		}
	})
	c.nodesToRetry = retry

	c.handleDisruption(ctx, zoneConditions, nodes)
	c.taintForEviction(ctx)
	return nil
}

// updateNode checks one node's health and acts on it. It returns the
// node's Ready condition after the check, whether marking its pods not
// ready must be retried next pass, and false if the node's health could
// not be updated at all. It only reads nodesToRetry, which the pass
// replaces once every node is done.
func (c *Controller) updateNode(ctx context.Context, cached *corev1.Node) (*corev1.NodeCondition, bool, bool) {
	node := cached.DeepCopy()
	retrying := c.nodesToRetry[node.Name]
	var observed corev1.NodeCondition
	var current *corev1.NodeCondition
	var err error
	for attempt := 0; attempt < nodeHealthUpdateRetry; attempt++ {
		observed, current, err = c.tryUpdateNodeHealth(ctx, node)
		if err == nil {
			break
		}
		name := node.Name
		if node, err = c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{}); err != nil {
			c.log.Error("Failed while getting a Node to retry updating node health. Probably Node was deleted", "node", name, "err", err)
			return nil, retrying, false
		}
	}
	if err != nil {
		c.log.Error("Update health of Node from Controller error, Skipping - no pods will be evicted", "node", node.Name, "err", err)
		return nil, retrying, false
	}
	if current == nil {
		return current, false, true
	}
	pods, err := c.podsOnNode(node.Name)
	if err != nil {
		c.log.Error("Listing pods of node", "node", node.Name, "err", err)
		return current, retrying || (current.Status != corev1.ConditionTrue && observed.Status == corev1.ConditionTrue), true
	}
	c.processTaintBaseEviction(ctx, node, observed)

	switch {
	case current.Status != corev1.ConditionTrue && observed.Status == corev1.ConditionTrue:
		c.recordNodeStatusChange(node, "NodeNotReady")
		fallthrough
	case retrying && observed.Status != corev1.ConditionTrue:
		if err := c.markPodsNotReady(ctx, pods, node.Name); err != nil {
			c.log.Error("Unable to mark all pods NotReady on node; queuing for retry", "node", node.Name, "err", err)
			return current, true, true
		}
	}
	return current, false, true
}

// tryUpdateNodeHealth is upstream's: it refreshes what the controller
// knows of the node's heartbeats and, past the grace period, sets the
// node's conditions to Unknown. It returns the Ready condition as the
// node posted it (Unknown from creation if it never did) and as it is
// after this check.
func (c *Controller) tryUpdateNodeHealth(ctx context.Context, node *corev1.Node) (corev1.NodeCondition, *corev1.NodeCondition, error) {
	health := c.health.get(node.Name)
	defer func() { c.health.set(node.Name, health) }()

	var gracePeriod = c.cfg.GracePeriod
	var observed corev1.NodeCondition
	current := nodeCondition(&node.Status, corev1.NodeReady)
	if current == nil {
		// The kubelet never posted a status: count from the node's
		// creation, with the longer startup grace.
		observed = corev1.NodeCondition{
			Type:               corev1.NodeReady,
			Status:             corev1.ConditionUnknown,
			LastHeartbeatTime:  node.CreationTimestamp,
			LastTransitionTime: node.CreationTimestamp,
		}
		gracePeriod = c.cfg.StartupGracePeriod
		if health != nil {
			health.status = &node.Status
		} else {
			health = &nodeHealth{status: &node.Status, probeTimestamp: node.CreationTimestamp, readyTransitionTimestamp: node.CreationTimestamp}
		}
	} else {
		observed = *current
	}

	var saved *corev1.NodeCondition
	var savedLease *coordinationv1.Lease
	if health != nil {
		saved = nodeCondition(health.status, corev1.NodeReady)
		savedLease = health.lease
	}
	now := c.now()
	switch {
	case health == nil:
		c.log.Info("Missing timestamp for Node. Assuming now as a timestamp", "node", node.Name)
		health = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: now}
	case saved == nil && current != nil:
		health = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: now}
	case saved != nil && current == nil:
		c.log.Error("ReadyCondition was removed from Status of Node", "node", node.Name)
		health = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: now}
	case saved != nil && current != nil && !saved.LastHeartbeatTime.Equal(&current.LastHeartbeatTime):
		transition := health.readyTransitionTimestamp
		if !saved.LastTransitionTime.Equal(&current.LastTransitionTime) {
			transition = now
		}
		health = &nodeHealth{status: &node.Status, probeTimestamp: now, readyTransitionTimestamp: transition}
	}
	// A renewed Lease is a heartbeat too, and the cheap one: a kubelet
	// with nothing new to report renews only its Lease.
	lease := c.nodeLease(node.Name)
	if lease != nil && (savedLease == nil || savedLease.Spec.RenewTime.Before(lease.Spec.RenewTime)) {
		health.lease = lease
		health.probeTimestamp = now
	}

	if !now.After(health.probeTimestamp.Add(gracePeriod)) {
		return observed, current, nil
	}
	// NetworkUnavailable is left alone: the network, not the kubelet,
	// owns it.
	for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		cond := nodeCondition(&node.Status, t)
		switch {
		case cond == nil:
			node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{
				Type:               t,
				Status:             corev1.ConditionUnknown,
				Reason:             reasonNodeStatusNeverUpdated,
				Message:            messageNodeStatusNeverUpdate,
				LastHeartbeatTime:  node.CreationTimestamp,
				LastTransitionTime: now,
			})
		case cond.Status != corev1.ConditionUnknown:
			cond.Status = corev1.ConditionUnknown
			cond.Reason = reasonNodeStatusUnknown
			cond.Message = messageNodeStatusUnknown
			cond.LastTransitionTime = now
		}
	}
	current = nodeCondition(&node.Status, corev1.NodeReady)
	if equality.Semantic.DeepEqual(current, &observed) {
		return observed, current, nil
	}
	if _, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return observed, current, fmt.Errorf("update status of node %q: %w", node.Name, err)
	}
	health = &nodeHealth{
		status:                   &node.Status,
		probeTimestamp:           health.probeTimestamp,
		readyTransitionTimestamp: now,
		lease:                    lease,
	}
	return observed, current, nil
}

// classifyNodes splits the listed nodes into those new to the controller
// and those gone since the last pass, and finds known nodes whose zone
// has no state (their zone label changed).
func (c *Controller) classifyNodes(all []*corev1.Node) (added, deleted, newZoneRepresentatives []*corev1.Node) {
	listed := make(map[string]bool, len(all))
	for _, n := range all {
		listed[n.Name] = true
		if _, known := c.knownNodes[n.Name]; !known {
			added = append(added, n)
		} else if _, ok := c.zoneStates[zoneKey(n)]; !ok {
			newZoneRepresentatives = append(newZoneRepresentatives, n)
		}
	}
	for name, n := range c.knownNodes {
		if !listed[name] {
			deleted = append(deleted, n)
		}
	}
	return added, deleted, newZoneRepresentatives
}

// recordNodeEvent is upstream's RecordNodeEvent.
func (c *Controller) recordNodeEvent(name string, uid types.UID, reason, event string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: name, UID: uid}
	c.recorder.Eventf(ref, corev1.EventTypeNormal, reason, "Node %s event: %s", name, event)
}

// recordNodeStatusChange is upstream's RecordNodeStatusChange.
func (c *Controller) recordNodeStatusChange(node *corev1.Node, status string) {
	ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}
	c.recorder.Eventf(ref, corev1.EventTypeNormal, status, "Node %s status is now: %s", node.Name, status)
}
