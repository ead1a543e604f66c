package kubelet

import (
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kindish/kindish/nodeagent/kubelet/staticpod"
)

// podManager holds the pods this node must run, from both sources: the
// static pods of the manifest directory and the pods the API server bound
// to the node. Mirror pods, the API's copies of static pods, are kept
// apart: they are never run, only mapped to their static pod.
type podManager struct {
	mu      sync.RWMutex
	static  map[types.UID]*corev1.Pod
	api     map[types.UID]*corev1.Pod
	mirrors map[string]*corev1.Pod // by staticpod.FullName
	// status returns the kubelet's current status of a pod, so that the
	// kubelet API answers with what the node knows, not what the API
	// server last heard.
	status func(types.UID) (*corev1.PodStatus, bool)
}

func newPodManager() *podManager {
	return &podManager{static: map[types.UID]*corev1.Pod{}, api: map[types.UID]*corev1.Pod{}, mirrors: map[string]*corev1.Pod{}}
}

// setStatic replaces the static pods, returning the UIDs that left the
// set.
func (m *podManager) setStatic(pods []*corev1.Pod) (removed []types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := make(map[types.UID]*corev1.Pod, len(pods))
	for _, p := range pods {
		next[p.UID] = p
	}
	for uid := range m.static {
		if _, ok := next[uid]; !ok {
			removed = append(removed, uid)
		}
	}
	m.static = next
	return removed
}

// setAPIPod records a pod of the API source; it reports whether the pod
// is one to run (not a mirror pod).
func (m *podManager) setAPIPod(pod *corev1.Pod) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if staticpod.IsMirrorPod(pod) {
		m.mirrors[staticpod.FullName(pod)] = pod
		return false
	}
	m.api[pod.UID] = pod
	return true
}

// deleteAPIPod forgets a pod the API server no longer has; it reports
// whether it was one to run.
func (m *podManager) deleteAPIPod(pod *corev1.Pod) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if staticpod.IsMirrorPod(pod) {
		if cur, ok := m.mirrors[staticpod.FullName(pod)]; ok && cur.UID == pod.UID {
			delete(m.mirrors, staticpod.FullName(pod))
		}
		return false
	}
	_, ok := m.api[pod.UID]
	delete(m.api, pod.UID)
	return ok
}

// pods are the pods to run, static ones first.
func (m *podManager) pods() []*corev1.Pod {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*corev1.Pod, 0, len(m.static)+len(m.api))
	for _, p := range m.static {
		out = append(out, p)
	}
	for _, p := range m.api {
		out = append(out, p)
	}
	return out
}

func (m *podManager) staticPods() []*corev1.Pod {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*corev1.Pod, 0, len(m.static))
	for _, p := range m.static {
		out = append(out, p)
	}
	return out
}

func (m *podManager) mirrorPods() []*corev1.Pod {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*corev1.Pod, 0, len(m.mirrors))
	for _, p := range m.mirrors {
		out = append(out, p)
	}
	return out
}

// mirrorPodFor is the API's mirror of a static pod, where its status goes.
func (m *podManager) mirrorPodFor(pod *corev1.Pod) (*corev1.Pod, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	mirror, ok := m.mirrors[staticpod.FullName(pod)]
	return mirror, ok
}

// staticFor is the static pod a mirror pod mirrors.
func (m *podManager) staticFor(mirror *corev1.Pod) (*corev1.Pod, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	name := staticpod.FullName(mirror)
	for _, p := range m.static {
		if staticpod.FullName(p) == name {
			return p, true
		}
	}
	return nil, false
}

// knownUIDs are every pod the node should have, for cleaning up after the
// others.
func (m *podManager) knownUIDs() map[types.UID]bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	known := make(map[types.UID]bool, len(m.static)+len(m.api))
	for uid := range m.static {
		known[uid] = true
	}
	for uid := range m.api {
		known[uid] = true
	}
	return known
}

// GetPodByName finds a pod to run by namespace and name (a static pod by
// its full name, <name>-<node>), for the kubelet API.
func (m *podManager) GetPodByName(namespace, name string) (*corev1.Pod, bool) {
	for _, p := range m.pods() {
		if p.Namespace == namespace && p.Name == name {
			return m.withStatus(p), true
		}
	}
	return nil, false
}

// GetPods lists the pods to run, with the kubelet's statuses, sorted by
// namespace and name.
func (m *podManager) GetPods() []*corev1.Pod {
	pods := m.pods()
	for i, p := range pods {
		pods[i] = m.withStatus(p)
	}
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return pods
}

func (m *podManager) withStatus(p *corev1.Pod) *corev1.Pod {
	if m.status == nil {
		return p
	}
	st, ok := m.status(p.UID)
	if !ok {
		return p
	}
	p = p.DeepCopy()
	p.Status = *st
	return p
}
