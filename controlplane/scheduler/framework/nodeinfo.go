package framework

import (
	corev1 "k8s.io/api/core/v1"
)

// NodeInfo is a node and the pods the scheduler counts on it: those bound
// to it and those it has just assumed there.
type NodeInfo struct {
	// Node is nil while pods bound to a node arrive before the node does,
	// or after it is deleted; such NodeInfos are never scheduled onto.
	Node *corev1.Node
	Pods []*PodInfo
	// PodsWithAffinity hold inter-pod affinity or anti-affinity of any
	// kind; PodsWithRequiredAntiAffinity required anti-affinity.
	PodsWithAffinity             []*PodInfo
	PodsWithRequiredAntiAffinity []*PodInfo
	UsedPorts                    HostPortInfo
	// Requested is the sum of the pods' requests; NonZeroRequested the
	// same with upstream's defaults for missing cpu and memory.
	Requested        Resource
	NonZeroRequested Resource
	Allocatable      Resource
	// Generation changes with every change, so that a snapshot copies
	// only the NodeInfos that changed since the last one.
	Generation int64
}

// NewNodeInfo returns the NodeInfo of node holding pods.
func NewNodeInfo(node *corev1.Node, pods ...*PodInfo) *NodeInfo {
	n := &NodeInfo{UsedPorts: HostPortInfo{}}
	if node != nil {
		n.SetNode(node)
	}
	for _, p := range pods {
		n.AddPod(p)
	}
	return n
}

// SetNode sets or replaces the node object.
func (n *NodeInfo) SetNode(node *corev1.Node) {
	n.Node = node
	n.Allocatable = NewResource(node.Status.Allocatable)
}

// AddPod counts p on the node.
func (n *NodeInfo) AddPod(p *PodInfo) {
	n.Pods = append(n.Pods, p)
	if p.hasAffinity() {
		n.PodsWithAffinity = append(n.PodsWithAffinity, p)
	}
	if len(p.RequiredAntiAffinityTerms) > 0 {
		n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity, p)
	}
	n.update(p, 1)
}

// RemovePod stops counting pod on the node, and says whether it was there.
func (n *NodeInfo) RemovePod(pod *corev1.Pod) bool {
	key := PodKey(pod)
	n.PodsWithAffinity, _ = removePod(n.PodsWithAffinity, key)
	n.PodsWithRequiredAntiAffinity, _ = removePod(n.PodsWithRequiredAntiAffinity, key)
	var removed *PodInfo
	n.Pods, removed = removePod(n.Pods, key)
	if removed == nil {
		return false
	}
	n.update(removed, -1)
	return true
}

func removePod(pods []*PodInfo, key string) ([]*PodInfo, *PodInfo) {
	for i, p := range pods {
		if PodKey(p.Pod) == key {
			last := len(pods) - 1
			pods[i] = pods[last]
			pods[last] = nil
			return pods[:last], p
		}
	}
	return pods, nil
}

func (n *NodeInfo) update(p *PodInfo, sign int64) {
	n.Requested.add(&p.Requests, sign)
	n.NonZeroRequested.MilliCPU += sign * p.NonZeroRequests.MilliCPU
	n.NonZeroRequested.Memory += sign * p.NonZeroRequests.Memory
	if n.UsedPorts == nil {
		n.UsedPorts = HostPortInfo{}
	}
	for _, hp := range p.HostPorts {
		if sign > 0 {
			n.UsedPorts.Add(hp)
		} else {
			n.UsedPorts.Remove(hp)
		}
	}
}

// Clone copies the NodeInfo deeply enough that changing either one leaves
// the other as it was (PodInfos are never changed, only replaced).
func (n *NodeInfo) Clone() *NodeInfo {
	c := &NodeInfo{
		Node:                         n.Node,
		Pods:                         append([]*PodInfo(nil), n.Pods...),
		PodsWithAffinity:             append([]*PodInfo(nil), n.PodsWithAffinity...),
		PodsWithRequiredAntiAffinity: append([]*PodInfo(nil), n.PodsWithRequiredAntiAffinity...),
		UsedPorts:                    n.UsedPorts.clone(),
		Requested:                    n.Requested.clone(),
		NonZeroRequested:             n.NonZeroRequested.clone(),
		Allocatable:                  n.Allocatable.clone(),
		Generation:                   n.Generation,
	}
	return c
}

// Name is the node's name, or "" while the node object is missing.
func (n *NodeInfo) Name() string {
	if n.Node == nil {
		return ""
	}
	return n.Node.Name
}
