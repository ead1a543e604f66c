package plugins

import (
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
)

// Upstream's reasons for inter-pod affinity: an existing pod's
// anti-affinity refuses the newcomer, the newcomer's affinity finds no
// partner, its anti-affinity finds a pod it must avoid.
const (
	ErrReasonExistingAntiAffinity = "node(s) didn't satisfy existing pods anti-affinity rules"
	ErrReasonAffinity             = "node(s) didn't match pod affinity rules"
	ErrReasonAntiAffinity         = "node(s) didn't match pod anti-affinity rules"
)

// topologyPair is one topology domain: a node label and its value.
type topologyPair struct{ key, value string }

// InterPodAffinity enforces required pod affinity and anti-affinity, both
// the incoming pod's and that of the pods already placed, over any
// topology key (kubernetes.io/hostname makes each node its own domain).
// As upstream, it counts once per attempt which domains hold the pods each
// term selects, then judges each node by its labels.
func InterPodAffinity() framework.FilterPlugin {
	return framework.FilterPlugin{Name: InterPodAffinityName, Prepare: prepareInterPodAffinity}
}

func prepareInterPodAffinity(pod *framework.PodInfo, cluster *framework.Snapshot) framework.NodeFilter {
	existingAnti := existingAntiAffinityDomains(pod, cluster)
	affinity, anti := pod.RequiredAffinityTerms, pod.RequiredAntiAffinityTerms
	if len(existingAnti) == 0 && len(affinity) == 0 && len(anti) == 0 {
		return framework.NodeFilter{}
	}
	affinityDomains, antiDomains := incomingAffinityDomains(pod, cluster)
	return framework.NodeFilter{Check: func(node *framework.NodeInfo) *framework.Status {
		nodeLabels := node.Node.Labels
		for tp, n := range existingAnti {
			if v, ok := nodeLabels[tp.key]; ok && v == tp.value && n > 0 {
				return framework.NewStatus(framework.Unschedulable, ErrReasonExistingAntiAffinity)
			}
		}
		if len(affinity) > 0 && !satisfiesAffinity(pod, cluster, affinity, affinityDomains, node) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonAffinity)
		}
		for _, t := range anti {
			if v, ok := nodeLabels[t.TopologyKey]; ok && antiDomains[topologyPair{t.TopologyKey, v}] > 0 {
				return framework.NewStatus(framework.Unschedulable, ErrReasonAntiAffinity)
			}
		}
		return nil
	}}
}

// existingAntiAffinityDomains are the domains where a placed pod's
// required anti-affinity selects the incoming pod.
func existingAntiAffinityDomains(pod *framework.PodInfo, cluster *framework.Snapshot) map[topologyPair]int {
	domains := map[topologyPair]int{}
	nsLabels := cluster.NamespaceLabels(pod.Pod.Namespace)
	for _, node := range cluster.NodesWithRequiredAntiAffinity() {
		for _, existing := range node.PodsWithRequiredAntiAffinity {
			for _, t := range existing.RequiredAntiAffinityTerms {
				if v, ok := node.Node.Labels[t.TopologyKey]; ok && t.Matches(pod.Pod, nsLabels) {
					domains[topologyPair{t.TopologyKey, v}]++
				}
			}
		}
	}
	return domains
}

// incomingAffinityDomains are the domains holding pods that match all the
// incoming pod's affinity terms, and those holding pods any of its
// anti-affinity terms selects.
func incomingAffinityDomains(pod *framework.PodInfo, cluster *framework.Snapshot) (affinity, anti map[topologyPair]int) {
	affinity, anti = map[topologyPair]int{}, map[topologyPair]int{}
	terms, antiTerms := pod.RequiredAffinityTerms, pod.RequiredAntiAffinityTerms
	if len(terms) == 0 && len(antiTerms) == 0 {
		return affinity, anti
	}
	for _, node := range cluster.Nodes() {
		for _, existing := range node.Pods {
			nsLabels := cluster.NamespaceLabels(existing.Pod.Namespace)
			if len(terms) > 0 && matchesAllTerms(terms, existing, nsLabels) {
				for _, t := range terms {
					if v, ok := node.Node.Labels[t.TopologyKey]; ok {
						affinity[topologyPair{t.TopologyKey, v}]++
					}
				}
			}
			for _, t := range antiTerms {
				if v, ok := node.Node.Labels[t.TopologyKey]; ok && t.Matches(existing.Pod, nsLabels) {
					anti[topologyPair{t.TopologyKey, v}]++
				}
			}
		}
	}
	return affinity, anti
}

func matchesAllTerms(terms []framework.AffinityTerm, p *framework.PodInfo, nsLabels labels.Set) bool {
	for i := range terms {
		if !terms[i].Matches(p.Pod, nsLabels) {
			return false
		}
	}
	return true
}

// satisfiesAffinity says whether every affinity term finds a partner in the
// node's domain. The first pod of a group that must run together finds
// none anywhere; it may go wherever the topology labels exist if it would
// be its own partner.
func satisfiesAffinity(pod *framework.PodInfo, cluster *framework.Snapshot, terms []framework.AffinityTerm, domains map[topologyPair]int, node *framework.NodeInfo) bool {
	partnersExist := true
	for _, t := range terms {
		v, ok := node.Node.Labels[t.TopologyKey]
		if !ok {
			return false
		}
		if domains[topologyPair{t.TopologyKey, v}] <= 0 {
			partnersExist = false
		}
	}
	if partnersExist {
		return true
	}
	return len(domains) == 0 && matchesAllTerms(terms, pod, cluster.NamespaceLabels(pod.Pod.Namespace))
}
