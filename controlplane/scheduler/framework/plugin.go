package framework

import "k8s.io/apimachinery/pkg/util/sets"

// MaxNodeScore is the best score a ScorePlugin gives a node.
const MaxNodeScore int64 = 100

// FilterPlugin rules nodes out for a pod.
type FilterPlugin struct {
	Name string
	// Prepare looks at the pod, and at the cluster if it must, once per
	// attempt (upstream's PreFilter), and returns how to judge each node.
	Prepare func(pod *PodInfo, cluster *Snapshot) NodeFilter
}

// NodeFilter is a FilterPlugin's plan for one attempt.
type NodeFilter struct {
	// Check judges one node; nil when the plugin has nothing to check for
	// this pod (upstream's Skip).
	Check func(node *NodeInfo) *Status
	// OnlyNodes, when not nil, names the only nodes the pod could fit
	// (upstream's PreFilterResult); the others are not even checked.
	OnlyNodes sets.Set[string]
	// Reject, when set, rejects the pod on every node at once.
	Reject *Status
}

// PerNode is a FilterPlugin whose verdict needs only the pod and the node.
func PerNode(name string, check func(pod *PodInfo, node *NodeInfo) *Status) FilterPlugin {
	return FilterPlugin{Name: name, Prepare: func(pod *PodInfo, _ *Snapshot) NodeFilter {
		return NodeFilter{Check: func(node *NodeInfo) *Status { return check(pod, node) }}
	}}
}

// ScorePlugin ranks the nodes a pod fits.
type ScorePlugin struct {
	Name   string
	Weight int64
	// Score rates each feasible node from 0 to MaxNodeScore, in the order
	// given, already normalized; nil when the plugin has no opinion on
	// this pod (upstream's Skip).
	Score func(pod *PodInfo, feasible []*NodeInfo, cluster *Snapshot) []int64
}

// PerNodeScore is a ScorePlugin whose raw score needs only the pod and one
// node; normalize, when not nil, turns the raw scores into 0..100.
func PerNodeScore(name string, weight int64, score func(pod *PodInfo, node *NodeInfo) int64, normalize func([]int64)) ScorePlugin {
	return ScorePlugin{Name: name, Weight: weight, Score: func(pod *PodInfo, feasible []*NodeInfo, _ *Snapshot) []int64 {
		scores := make([]int64, len(feasible))
		for i, n := range feasible {
			scores[i] = score(pod, n)
		}
		if normalize != nil {
			normalize(scores)
		}
		return scores
	}}
}

// DefaultNormalizeScore is upstream's helper: scales scores so that the
// highest becomes MaxNodeScore, and with reverse, turns them around so
// that the lowest raw score ranks best.
func DefaultNormalizeScore(scores []int64, reverse bool) {
	var highest int64
	for _, s := range scores {
		highest = max(highest, s)
	}
	if highest == 0 {
		if reverse {
			for i := range scores {
				scores[i] = MaxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		s = MaxNodeScore * s / highest
		if reverse {
			s = MaxNodeScore - s
		}
		scores[i] = s
	}
}

// PostFilterPlugin runs when no node fits. What it says is added to the
// FitError's message, as upstream's preemption adds its own verdict.
type PostFilterPlugin struct {
	Name       string
	PostFilter func(pod *PodInfo, cluster *Snapshot, d *Diagnosis) string
}

// Profile is what one schedulerName runs: its plugins, in order.
type Profile struct {
	SchedulerName string
	Filters       []FilterPlugin
	Scorers       []ScorePlugin
	PostFilters   []PostFilterPlugin
}
