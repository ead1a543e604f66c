package framework

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Snapshot is the cluster as one scheduling attempt sees it. Nothing in it
// changes during the attempt: the cache hands out copies.
type Snapshot struct {
	nodes []*NodeInfo
	// byName is built on the first Get: most attempts never ask, and
	// building a map of every node for each pod is a cost that shows.
	byName                   map[string]*NodeInfo
	byNameOnce               sync.Once
	withRequiredAntiAffinity []*NodeInfo
	// Objects answers what plugins ask beyond nodes and pods; nil answers
	// "nothing known".
	Objects Objects
}

// Objects is the rest of the cluster that some plugins read.
type Objects interface {
	// NamespaceLabels are the labels of a namespace, for affinity terms'
	// namespaceSelectors.
	NamespaceLabels(namespace string) labels.Set
	// ServiceSelector is the merged selector of the services that select
	// pod, or nil when none does: pods spread by the service they serve.
	ServiceSelector(pod *corev1.Pod) labels.Selector
}

// NewSnapshot returns a snapshot of nodes, which must all have a Node.
func NewSnapshot(nodes []*NodeInfo, objects Objects) *Snapshot {
	s := &Snapshot{nodes: nodes, Objects: objects}
	for _, n := range nodes {
		if len(n.PodsWithRequiredAntiAffinity) > 0 {
			s.withRequiredAntiAffinity = append(s.withRequiredAntiAffinity, n)
		}
	}
	return s
}

// Nodes are all the nodes, in a stable order.
func (s *Snapshot) Nodes() []*NodeInfo { return s.nodes }

// Get returns the named node, or nil.
func (s *Snapshot) Get(name string) *NodeInfo {
	s.byNameOnce.Do(func() {
		s.byName = make(map[string]*NodeInfo, len(s.nodes))
		for _, n := range s.nodes {
			s.byName[n.Node.Name] = n
		}
	})
	return s.byName[name]
}

// NodesWithRequiredAntiAffinity are the nodes holding pods with required
// anti-affinity: the only ones whose pods can refuse a newcomer.
func (s *Snapshot) NodesWithRequiredAntiAffinity() []*NodeInfo { return s.withRequiredAntiAffinity }

// NamespaceLabels asks Objects, if any.
func (s *Snapshot) NamespaceLabels(namespace string) labels.Set {
	if s.Objects == nil {
		return nil
	}
	return s.Objects.NamespaceLabels(namespace)
}

// ServiceSelector asks Objects, if any.
func (s *Snapshot) ServiceSelector(pod *corev1.Pod) labels.Selector {
	if s.Objects == nil {
		return nil
	}
	return s.Objects.ServiceSelector(pod)
}
