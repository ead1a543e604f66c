package plugins

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
)

// Upstream's reasons: a node the pod's nodeSelector or required node
// affinity does not select, and required terms that name disjoint nodes.
const (
	ErrReasonNodeAffinity     = "node(s) didn't match Pod's node affinity/selector"
	ErrReasonAffinityConflict = "pod affinity terms conflict"
)

// NodeAffinity keeps a pod on the nodes its nodeSelector and its required
// node affinity select. Terms that pin metadata.name narrow the attempt to
// those nodes before any is checked, as upstream's PreFilter (DaemonSet
// pods pin their node so).
func NodeAffinity() framework.FilterPlugin {
	return framework.FilterPlugin{Name: NodeAffinityName, Prepare: prepareNodeAffinity}
}

func prepareNodeAffinity(pod *framework.PodInfo, _ *framework.Snapshot) framework.NodeFilter {
	matches := requiredNodeAffinity(pod.Pod)
	if matches == nil {
		return framework.NodeFilter{}
	}
	plan := framework.NodeFilter{Check: func(node *framework.NodeInfo) *framework.Status {
		if !matches(node.Node) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNodeAffinity)
		}
		return nil
	}}
	if required := requiredNodeSelector(pod.Pod); required != nil {
		names, pinned := pinnedNodeNames(required.NodeSelectorTerms)
		switch {
		case pinned && len(names) == 0:
			plan.Reject = framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonAffinityConflict)
		case pinned:
			plan.OnlyNodes = names
		}
	}
	return plan
}

// requiredNodeAffinity returns whether a node satisfies both the pod's
// nodeSelector and its required node affinity, or nil when the pod has
// neither.
func requiredNodeAffinity(pod *corev1.Pod) func(*corev1.Node) bool {
	required := requiredNodeSelector(pod)
	if len(pod.Spec.NodeSelector) == 0 && required == nil {
		return nil
	}
	var selector labels.Selector
	if len(pod.Spec.NodeSelector) > 0 {
		selector = labels.SelectorFromSet(pod.Spec.NodeSelector)
	}
	var terms []nodeSelectorTerm
	if required != nil {
		terms = parseNodeSelectorTerms(required.NodeSelectorTerms)
	}
	return func(node *corev1.Node) bool {
		if selector != nil && !selector.Matches(labels.Set(node.Labels)) {
			return false
		}
		return required == nil || anyTermMatches(terms, node)
	}
}

func requiredNodeSelector(pod *corev1.Pod) *corev1.NodeSelector {
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil {
		return a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	return nil
}

// pinnedNodeNames are the nodes the terms name by metadata.name In, when
// every term names some; the terms are ORed, each one's requirements ANDed.
func pinnedNodeNames(terms []corev1.NodeSelectorTerm) (sets.Set[string], bool) {
	if len(terms) == 0 {
		return nil, false
	}
	var names sets.Set[string]
	for _, t := range terms {
		var termNames sets.Set[string]
		for _, r := range t.MatchFields {
			if r.Key != metav1.ObjectNameField || r.Operator != corev1.NodeSelectorOpIn {
				continue
			}
			if termNames == nil {
				termNames = sets.New(r.Values...)
			} else {
				termNames = termNames.Intersection(sets.New(r.Values...))
			}
		}
		if termNames == nil {
			// A term that names no node lets every node through.
			return nil, false
		}
		names = names.Union(termNames)
	}
	return names, true
}

// nodeSelectorTerm is a parsed NodeSelectorTerm; a term that does not
// parse matches no node, as upstream's lazy-error selector.
type nodeSelectorTerm struct {
	labels labels.Selector
	fields []corev1.NodeSelectorRequirement
	err    error
}

func parseNodeSelectorTerms(terms []corev1.NodeSelectorTerm) []nodeSelectorTerm {
	out := make([]nodeSelectorTerm, 0, len(terms))
	for _, t := range terms {
		// An empty term selects nothing.
		if len(t.MatchExpressions) == 0 && len(t.MatchFields) == 0 {
			continue
		}
		out = append(out, parseNodeSelectorTerm(t))
	}
	return out
}

func parseNodeSelectorTerm(t corev1.NodeSelectorTerm) nodeSelectorTerm {
	term := nodeSelectorTerm{fields: t.MatchFields}
	if len(t.MatchExpressions) > 0 {
		term.labels, term.err = nodeSelectorRequirementsAsSelector(t.MatchExpressions)
	}
	for _, r := range t.MatchFields {
		if r.Key != metav1.ObjectNameField {
			term.err = fmt.Errorf("%q is not a valid field selector key", r.Key)
		} else if (r.Operator == corev1.NodeSelectorOpIn || r.Operator == corev1.NodeSelectorOpNotIn) && len(r.Values) != 1 {
			term.err = fmt.Errorf("unexpected number of value (%d) for node field selector operator %q", len(r.Values), r.Operator)
		} else if r.Operator != corev1.NodeSelectorOpIn && r.Operator != corev1.NodeSelectorOpNotIn {
			term.err = fmt.Errorf("%q is not a valid node field selector operator", r.Operator)
		}
	}
	return term
}

func (t *nodeSelectorTerm) matches(node *corev1.Node) bool {
	if t.err != nil {
		return false
	}
	if t.labels != nil && !t.labels.Matches(labels.Set(node.Labels)) {
		return false
	}
	for _, r := range t.fields {
		in := r.Values[0] == node.Name
		if (r.Operator == corev1.NodeSelectorOpIn) != in {
			return false
		}
	}
	return true
}

func anyTermMatches(terms []nodeSelectorTerm, node *corev1.Node) bool {
	for i := range terms {
		if terms[i].matches(node) {
			return true
		}
	}
	return false
}

func labelOperator(op corev1.NodeSelectorOperator) (selection.Operator, bool) {
	switch op {
	case corev1.NodeSelectorOpIn:
		return selection.In, true
	case corev1.NodeSelectorOpNotIn:
		return selection.NotIn, true
	case corev1.NodeSelectorOpExists:
		return selection.Exists, true
	case corev1.NodeSelectorOpDoesNotExist:
		return selection.DoesNotExist, true
	case corev1.NodeSelectorOpGt:
		return selection.GreaterThan, true
	case corev1.NodeSelectorOpLt:
		return selection.LessThan, true
	}
	return "", false
}

func nodeSelectorRequirementsAsSelector(reqs []corev1.NodeSelectorRequirement) (labels.Selector, error) {
	selector := labels.NewSelector()
	for _, r := range reqs {
		op, ok := labelOperator(r.Operator)
		if !ok {
			return nil, fmt.Errorf("%q is not a valid node selector operator", r.Operator)
		}
		req, err := labels.NewRequirement(r.Key, op, r.Values)
		if err != nil {
			return nil, err
		}
		selector = selector.Add(*req)
	}
	return selector, nil
}

// NodeAffinityScore prefers the nodes that match the pod's preferred node
// affinity terms, by the sum of their weights.
func NodeAffinityScore(weight int64) framework.ScorePlugin {
	return framework.ScorePlugin{Name: NodeAffinityName, Weight: weight, Score: func(pod *framework.PodInfo, feasible []*framework.NodeInfo, _ *framework.Snapshot) []int64 {
		a := pod.Pod.Spec.Affinity
		if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
			return nil
		}
		type weighted struct {
			term   nodeSelectorTerm
			weight int64
		}
		var terms []weighted
		for _, p := range a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			if p.Weight == 0 || len(p.Preference.MatchExpressions) == 0 && len(p.Preference.MatchFields) == 0 {
				continue
			}
			terms = append(terms, weighted{parseNodeSelectorTerm(p.Preference), int64(p.Weight)})
		}
		scores := make([]int64, len(feasible))
		for i, n := range feasible {
			for _, t := range terms {
				if t.term.matches(n.Node) {
					scores[i] += t.weight
				}
			}
		}
		framework.DefaultNormalizeScore(scores, false)
		return scores
	}}
}
