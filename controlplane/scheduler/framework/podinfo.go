package framework

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

// PodInfo is a pod with what the scheduler derives from it, computed once
// rather than for every node it is weighed against.
type PodInfo struct {
	Pod      *corev1.Pod
	Requests Resource
	// NonZeroRequests counts missing cpu and memory requests as upstream's
	// defaults; scoring uses it.
	NonZeroRequests Resource
	// The pod's required inter-pod (anti-)affinity terms, parsed. Terms
	// whose selectors do not parse are left out, as upstream does.
	RequiredAffinityTerms     []AffinityTerm
	RequiredAntiAffinityTerms []AffinityTerm
	HostPorts                 []HostPort
}

// NewPodInfo derives a PodInfo from pod.
func NewPodInfo(pod *corev1.Pod) *PodInfo {
	pi := &PodInfo{
		Pod:             pod,
		Requests:        NewResource(podRequests(pod, containerRequests)),
		NonZeroRequests: NewResource(podRequests(pod, nonZeroRequests)),
		HostPorts:       hostPorts(pod),
	}
	if a := pod.Spec.Affinity; a != nil {
		if a.PodAffinity != nil {
			pi.RequiredAffinityTerms = affinityTerms(pod, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
		}
		if a.PodAntiAffinity != nil {
			pi.RequiredAntiAffinityTerms = affinityTerms(pod, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
		}
	}
	return pi
}

// hasAffinity says whether the pod has inter-pod affinity or anti-affinity
// of any kind, as upstream's podWithAffinity.
func (p *PodInfo) hasAffinity() bool {
	a := p.Pod.Spec.Affinity
	return a != nil && (a.PodAffinity != nil || a.PodAntiAffinity != nil)
}

// AffinityTerm is a parsed PodAffinityTerm: which pods it selects, and the
// node label whose values are its topology domains.
type AffinityTerm struct {
	Namespaces sets.Set[string]
	// NamespaceSelector selects namespaces by their labels; it selects
	// none when the term has no namespaceSelector.
	NamespaceSelector labels.Selector
	Selector          labels.Selector
	TopologyKey       string
}

// Matches says whether the term selects pod, whose namespace carries
// namespaceLabels.
func (t *AffinityTerm) Matches(pod *corev1.Pod, namespaceLabels labels.Set) bool {
	if t.Namespaces.Has(pod.Namespace) || t.NamespaceSelector.Matches(namespaceLabels) {
		return t.Selector.Matches(labels.Set(pod.Labels))
	}
	return false
}

func affinityTerms(pod *corev1.Pod, terms []corev1.PodAffinityTerm) []AffinityTerm {
	var out []AffinityTerm
	for i := range terms {
		if t, ok := newAffinityTerm(pod, &terms[i]); ok {
			out = append(out, t)
		}
	}
	return out
}

func newAffinityTerm(pod *corev1.Pod, term *corev1.PodAffinityTerm) (AffinityTerm, bool) {
	selector, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
	if err != nil {
		return AffinityTerm{}, false
	}
	nsSelector, err := metav1.LabelSelectorAsSelector(term.NamespaceSelector)
	if err != nil {
		return AffinityTerm{}, false
	}
	// No namespaces and no selector means the pod's own namespace.
	namespaces := sets.New(term.Namespaces...)
	if len(term.Namespaces) == 0 && term.NamespaceSelector == nil {
		namespaces.Insert(pod.Namespace)
	}
	return AffinityTerm{Namespaces: namespaces, NamespaceSelector: nsSelector, Selector: selector, TopologyKey: term.TopologyKey}, true
}

// PodKey identifies a pod across its updates: its UID, or its namespaced
// name where it has none (objects built by hand in tests).
func PodKey(pod *corev1.Pod) string {
	if pod.UID != "" {
		return string(pod.UID)
	}
	return pod.Namespace + "/" + pod.Name
}
