// Package cache is the scheduler's view of which pods each node holds: the
// pods bound to it, as the informers report them, and the pods the
// scheduler has just chosen it for and is still binding (assumed pods).
// Counting an assumed pod at once is what keeps a burst of pods from all
// landing on the node that looked emptiest before any of them was bound.
package cache

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
)

type podState struct {
	pod *corev1.Pod
	// assumed pods are counted before the informer has seen them bound.
	// They never expire: a bound pod reaches the informer, and a pod
	// deleted meanwhile fails its binding and is forgotten.
	assumed bool
}

// Cache holds the NodeInfos. It is safe for concurrent use: informer
// handlers, the scheduling loop and binding goroutines all use it.
type Cache struct {
	mu         sync.Mutex
	nodes      map[string]*framework.NodeInfo
	pods       map[string]*podState
	generation int64

	// snapshot keeps the copies handed out last, so that the next
	// snapshot copies only the NodeInfos that changed since.
	snapshot map[string]*framework.NodeInfo
	// order is the nodes with a Node, sorted by name, and copies the
	// copies of them handed out last, in the same order; both nil when a
	// node came or went since. Sorting and looking up a thousand nodes for
	// every pod cost more than scheduling it.
	order, copies []*framework.NodeInfo
}

// New returns an empty Cache.
func New() *Cache {
	return &Cache{
		nodes:    map[string]*framework.NodeInfo{},
		pods:     map[string]*podState{},
		snapshot: map[string]*framework.NodeInfo{},
	}
}

func (c *Cache) nodeInfo(name string) *framework.NodeInfo {
	n, ok := c.nodes[name]
	if !ok {
		n = framework.NewNodeInfo(nil)
		c.nodes[name] = n
	}
	return n
}

func (c *Cache) touch(n *framework.NodeInfo) {
	c.generation++
	n.Generation = c.generation
}

// AddNode adds or replaces a node.
func (c *Cache) AddNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeInfo(node.Name)
	if n.Node == nil {
		c.order, c.copies = nil, nil
	}
	n.SetNode(node)
	c.touch(n)
}

// RemoveNode removes a node. Its pods stay counted until they are removed
// in turn, so that a node deleted and re-created keeps them.
func (c *Cache) RemoveNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[node.Name]
	if !ok {
		return
	}
	if n.Node != nil {
		c.order, c.copies = nil, nil
	}
	if len(n.Pods) == 0 {
		delete(c.nodes, node.Name)
		return
	}
	n.Node = nil
	c.touch(n)
}

// AddPod counts a pod bound to a node. A pod the cache assumed is
// confirmed: the informer's copy replaces the assumed one, on the node it
// was really bound to.
func (c *Cache) AddPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := framework.PodKey(pod)
	if s, ok := c.pods[key]; ok {
		c.removeLocked(s.pod)
	}
	c.addLocked(pod)
	c.pods[key] = &podState{pod: pod}
}

// UpdatePod replaces a bound pod's copy.
func (c *Cache) UpdatePod(pod *corev1.Pod) { c.AddPod(pod) }

// RemovePod stops counting a pod, bound or assumed.
func (c *Cache) RemovePod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := framework.PodKey(pod)
	s, ok := c.pods[key]
	if !ok {
		return
	}
	c.removeLocked(s.pod)
	delete(c.pods, key)
}

// AssumePod counts pod, whose spec.nodeName the scheduler has just set, on
// that node before the binding is made.
func (c *Cache) AssumePod(pod *corev1.Pod) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := framework.PodKey(pod)
	if _, ok := c.pods[key]; ok {
		return fmt.Errorf("assume pod %s/%s: already in the cache", pod.Namespace, pod.Name)
	}
	c.addLocked(pod)
	c.pods[key] = &podState{pod: pod, assumed: true}
	return nil
}

// ForgetPod drops an assumed pod whose binding failed, freeing its room.
func (c *Cache) ForgetPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := framework.PodKey(pod)
	if s, ok := c.pods[key]; ok && s.assumed {
		c.removeLocked(s.pod)
		delete(c.pods, key)
	}
}

// IsAssumed says whether pod is assumed and not yet confirmed.
func (c *Cache) IsAssumed(pod *corev1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.pods[framework.PodKey(pod)]
	return ok && s.assumed
}

func (c *Cache) addLocked(pod *corev1.Pod) {
	n := c.nodeInfo(pod.Spec.NodeName)
	n.AddPod(framework.NewPodInfo(pod))
	c.touch(n)
}

func (c *Cache) removeLocked(pod *corev1.Pod) {
	n, ok := c.nodes[pod.Spec.NodeName]
	if !ok {
		return
	}
	n.RemovePod(pod)
	c.touch(n)
	if n.Node == nil && len(n.Pods) == 0 {
		delete(c.nodes, pod.Spec.NodeName)
	}
}

// Snapshot returns the nodes as they are now, sorted by name, for one
// scheduling attempt. The NodeInfos in it are copies that never change.
func (c *Cache) Snapshot(objects framework.Objects) *framework.Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.order == nil {
		c.order = make([]*framework.NodeInfo, 0, len(c.nodes))
		for _, n := range c.nodes {
			if n.Node != nil {
				c.order = append(c.order, n)
			}
		}
		slices.SortFunc(c.order, func(a, b *framework.NodeInfo) int { return strings.Compare(a.Node.Name, b.Node.Name) })
		// Keep the copies of the nodes that stay.
		c.copies = make([]*framework.NodeInfo, len(c.order))
		kept := make(map[string]*framework.NodeInfo, len(c.snapshot))
		for i, n := range c.order {
			if copied, ok := c.snapshot[n.Node.Name]; ok {
				c.copies[i] = copied
				kept[n.Node.Name] = copied
			}
		}
		c.snapshot = kept
	}
	for i, n := range c.order {
		if copied := c.copies[i]; copied == nil || copied.Generation != n.Generation {
			copied = n.Clone()
			c.copies[i] = copied
			c.snapshot[n.Node.Name] = copied
		}
	}
	return framework.NewSnapshot(slices.Clone(c.copies), objects)
}

// Counts are the numbers of nodes and pods in the cache, assumed pods
// among them.
func (c *Cache) Counts() (nodes, pods, assumed int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.Node != nil {
			nodes++
		}
	}
	for _, s := range c.pods {
		if s.assumed {
			assumed++
		}
	}
	return nodes, len(c.pods), assumed
}
