package plugins

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
)

// spreadConstraint is a soft topology spread constraint, parsed.
type spreadConstraint struct {
	maxSkew     int32
	topologyKey string
	selector    labels.Selector
}

// systemDefaultConstraints are upstream's defaults for pods that set no
// constraints of their own: spread over nodes, and looser over zones.
func systemDefaultConstraints(selector labels.Selector) []spreadConstraint {
	return []spreadConstraint{
		{maxSkew: 3, topologyKey: corev1.LabelHostname, selector: selector},
		{maxSkew: 5, topologyKey: corev1.LabelTopologyZone, selector: selector},
	}
}

// PodTopologySpreadScore spreads pods of one controller or service over
// nodes and zones: the fewer of them a node's domain already holds, the
// better. Pods that set their own ScheduleAnyway constraints spread by
// those instead.
func PodTopologySpreadScore(weight int64) framework.ScorePlugin {
	return framework.ScorePlugin{Name: PodTopologySpreadName, Weight: weight, Score: scoreTopologySpread}
}

// spreadGroup is how pods of the incoming pod's group are recognized on a
// node: by their owner, or by a selector.
type spreadGroup struct {
	owner     types.UID
	namespace string
}

func (g spreadGroup) count(node *framework.NodeInfo, selector labels.Selector) int64 {
	var n int64
	for _, p := range node.Pods {
		switch {
		case g.owner != "":
			if len(p.Pod.OwnerReferences) > 0 && p.Pod.OwnerReferences[0].UID == g.owner {
				n++
			}
		case p.Pod.DeletionTimestamp == nil && p.Pod.Namespace == g.namespace && selector.Matches(labels.Set(p.Pod.Labels)):
			n++
		}
	}
	return n
}

// spreadConstraints are the pod's soft constraints and how to count its
// peers; none when there is nothing to spread by.
func spreadConstraints(pod *corev1.Pod, cluster *framework.Snapshot) (constraints []spreadConstraint, group spreadGroup, requireAllTopologies bool) {
	group.namespace = pod.Namespace
	if len(pod.Spec.TopologySpreadConstraints) > 0 {
		for _, c := range pod.Spec.TopologySpreadConstraints {
			if c.WhenUnsatisfiable != corev1.ScheduleAnyway {
				continue
			}
			selector, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
			if err != nil {
				continue
			}
			constraints = append(constraints, spreadConstraint{maxSkew: c.MaxSkew, topologyKey: c.TopologyKey, selector: selector})
		}
		return constraints, group, true
	}
	// Upstream's default selector merges the selectors of the services
	// and of the controller (ReplicaSet, ReplicationController,
	// StatefulSet) the pod belongs to; without either there is nothing to
	// spread by. Peers of an owned pod are counted by its first owner.
	selector := cluster.ServiceSelector(pod)
	owner := metav1.GetControllerOf(pod)
	spreadByOwner := owner != nil && (owner.Kind == "ReplicaSet" || owner.Kind == "ReplicationController" || owner.Kind == "StatefulSet")
	if selector == nil && !spreadByOwner {
		return nil, group, false
	}
	if len(pod.OwnerReferences) > 0 {
		group.owner = pod.OwnerReferences[0].UID
	}
	if selector == nil {
		selector = labels.Everything() // unused: peers are counted by owner
	}
	return systemDefaultConstraints(selector), group, false
}

func scoreTopologySpread(pod *framework.PodInfo, feasible []*framework.NodeInfo, cluster *framework.Snapshot) []int64 {
	constraints, group, requireAll := spreadConstraints(pod.Pod, cluster)
	if len(constraints) == 0 {
		return nil
	}
	hasAllKeys := func(n *corev1.Node) bool {
		for _, c := range constraints {
			if _, ok := n.Labels[c.topologyKey]; !ok {
				return false
			}
		}
		return true
	}
	ignored := make([]bool, len(feasible))
	domainCounts := make([]map[string]int64, len(constraints))
	for i := range constraints {
		domainCounts[i] = map[string]int64{}
	}
	eligible := 0
	for i, n := range feasible {
		if requireAll && !hasAllKeys(n.Node) {
			ignored[i] = true
			continue
		}
		eligible++
		for ci, c := range constraints {
			if v, ok := n.Node.Labels[c.topologyKey]; ok && c.topologyKey != corev1.LabelHostname {
				domainCounts[ci][v] = 0 // a domain the pod could land in
			}
		}
	}
	weights := make([]float64, len(constraints))
	for ci, c := range constraints {
		size := len(domainCounts[ci])
		if c.topologyKey == corev1.LabelHostname {
			size = eligible
		}
		weights[ci] = math.Log(float64(size + 2))
	}

	// Domains wider than a node count the peers on every node in them that
	// the pod could be placed on by its node affinity.
	nodeOK := requiredNodeAffinity(pod.Pod)
	for _, n := range cluster.Nodes() {
		if nodeOK != nil && !nodeOK(n.Node) || requireAll && !hasAllKeys(n.Node) {
			continue
		}
		for ci, c := range constraints {
			if c.topologyKey == corev1.LabelHostname {
				continue
			}
			v, ok := n.Node.Labels[c.topologyKey]
			if _, counted := domainCounts[ci][v]; ok && counted {
				domainCounts[ci][v] += group.count(n, c.selector)
			}
		}
	}

	scores := make([]int64, len(feasible))
	for i, n := range feasible {
		if ignored[i] {
			continue
		}
		var score float64
		for ci, c := range constraints {
			v, ok := n.Node.Labels[c.topologyKey]
			if !ok {
				continue
			}
			cnt := domainCounts[ci][v]
			if c.topologyKey == corev1.LabelHostname {
				cnt = group.count(n, c.selector)
			}
			score += float64(cnt)*weights[ci] + float64(c.maxSkew-1)
		}
		scores[i] = int64(math.Round(score))
	}
	normalizeSpread(scores, ignored)
	return scores
}

// normalizeSpread is upstream's: the node with the fewest peers gets
// MaxNodeScore, the others less in proportion; ignored nodes get 0.
func normalizeSpread(scores []int64, ignored []bool) {
	minScore, maxScore := int64(math.MaxInt64), int64(0)
	for i, s := range scores {
		if ignored[i] {
			continue
		}
		minScore = min(minScore, s)
		maxScore = max(maxScore, s)
	}
	for i, s := range scores {
		switch {
		case ignored[i]:
			scores[i] = 0
		case maxScore == 0:
			scores[i] = framework.MaxNodeScore
		default:
			scores[i] = framework.MaxNodeScore * (maxScore + minScore - s) / maxScore
		}
	}
}
