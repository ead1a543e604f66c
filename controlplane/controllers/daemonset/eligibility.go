package daemonset

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
)

// daemonPodTolerations are what every daemon pod tolerates whatever its
// template says, upstream's.
func daemonPodTolerations(hostNetwork bool) []corev1.Toleration {
	tolerations := []corev1.Toleration{
		// A node that stops reporting keeps its daemons: the node
		// lifecycle controller must not evict the network or the proxy
		// of a node that may come back.
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		// Node conditions and cordoning keep ordinary pods away, not the
		// node's own agents.
		{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
	if hostNetwork {
		// Host-network daemons (the CNI agent itself) must run on a
		// node whose pod network is not up yet.
		tolerations = append(tolerations, corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	return tolerations
}

// addDaemonPodTolerations adds the daemon tolerations to spec, replacing
// a template's toleration of the same key, effect, operator and value
// (one with tolerationSeconds would let a NotReady node evict it).
func addDaemonPodTolerations(spec *corev1.PodSpec) {
	for _, t := range daemonPodTolerations(spec.HostNetwork) {
		addOrUpdateToleration(spec, t)
	}
}

func addOrUpdateToleration(spec *corev1.PodSpec, toleration corev1.Toleration) {
	for i := range spec.Tolerations {
		if toleration.MatchToleration(&spec.Tolerations[i]) {
			spec.Tolerations[i] = toleration
			return
		}
	}
	spec.Tolerations = append(spec.Tolerations, toleration)
}

// newDaemonPod is the pod ds would run on the node, as the eligibility
// checks see it: the template with the daemon tolerations.
func newDaemonPod(ds *appsv1.DaemonSet, nodeName string) *corev1.Pod {
	pod := &corev1.Pod{Spec: *ds.Spec.Template.Spec.DeepCopy(), ObjectMeta: *ds.Spec.Template.ObjectMeta.DeepCopy()}
	pod.Namespace = ds.Namespace
	pod.Spec.NodeName = nodeName
	addDaemonPodTolerations(&pod.Spec)
	return pod
}

// NodeShouldRunDaemonPod is upstream's placement decision for ds on
// node. shouldRun: a pod should be created there if none runs.
// shouldContinueRunning: a pod already there may stay; it differs from
// shouldRun on a node with a NoSchedule taint the pod does not
// tolerate, which keeps new pods away but does not evict.
func NodeShouldRunDaemonPod(node *corev1.Node, ds *appsv1.DaemonSet) (shouldRun, shouldContinueRunning bool) {
	pod := newDaemonPod(ds, node.Name)
	if ds.Spec.Template.Spec.NodeName != "" && ds.Spec.Template.Spec.NodeName != node.Name {
		return false, false
	}
	if !nodeSelectorMatches(pod, node) || !requiredNodeAffinityMatches(pod, node) {
		return false, false
	}
	if hasUntoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations, corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute) {
		return false, !hasUntoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations, corev1.TaintEffectNoExecute)
	}
	return true, true
}

// hasUntoleratedTaint reports whether a taint with one of effects is
// tolerated by none of tolerations.
func hasUntoleratedTaint(taints []corev1.Taint, tolerations []corev1.Toleration, effects ...corev1.TaintEffect) bool {
	for i := range taints {
		taint := &taints[i]
		relevant := false
		for _, e := range effects {
			relevant = relevant || taint.Effect == e
		}
		if !relevant {
			continue
		}
		tolerated := false
		for j := range tolerations {
			if tolerates(&tolerations[j], taint) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			return true
		}
	}
	return false
}

// tolerates is upstream's Toleration.ToleratesTaint without the alpha
// numeric comparison operators (off by default): an empty key with
// Exists tolerates every taint, an empty effect every effect.
func tolerates(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.Effect != "" && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	switch t.Operator {
	case "", corev1.TolerationOpEqual:
		return t.Value == taint.Value
	case corev1.TolerationOpExists:
		return true
	}
	return false
}

func nodeSelectorMatches(pod *corev1.Pod, node *corev1.Node) bool {
	if len(pod.Spec.NodeSelector) == 0 {
		return true
	}
	return labels.SelectorFromSet(pod.Spec.NodeSelector).Matches(labels.Set(node.Labels))
}

// requiredNodeAffinityMatches is true when the pod has no required node
// affinity or one of its terms selects the node. A term that does not
// parse selects nothing; upstream ignores such errors too, for pods
// stored before validation caught them.
func requiredNodeAffinityMatches(pod *corev1.Pod, node *corev1.Node) bool {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return true
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		if ok, err := termMatches(term, node); err == nil && ok {
			return true
		}
	}
	return false
}

// termMatches ANDs a term's label expressions and field requirements;
// an empty term selects no node.
func termMatches(term corev1.NodeSelectorTerm, node *corev1.Node) (bool, error) {
	if len(term.MatchExpressions) == 0 && len(term.MatchFields) == 0 {
		return false, nil
	}
	if len(term.MatchExpressions) > 0 {
		selector, err := nodeSelectorRequirementsAsSelector(term.MatchExpressions)
		if err != nil {
			return false, err
		}
		if !selector.Matches(labels.Set(node.Labels)) {
			return false, nil
		}
	}
	for _, r := range term.MatchFields {
		if r.Key != metav1.ObjectNameField {
			return false, fmt.Errorf("%q is not a valid node field selector key", r.Key)
		}
		if len(r.Values) != 1 {
			return false, fmt.Errorf("unexpected number of value (%d) for node field selector operator %q", len(r.Values), r.Operator)
		}
		switch r.Operator {
		case corev1.NodeSelectorOpIn:
			if r.Values[0] != node.Name {
				return false, nil
			}
		case corev1.NodeSelectorOpNotIn:
			if r.Values[0] == node.Name {
				return false, nil
			}
		default:
			return false, fmt.Errorf("%q is not a valid node field selector operator", r.Operator)
		}
	}
	return true, nil
}

func nodeSelectorOperator(op corev1.NodeSelectorOperator) (selection.Operator, bool) {
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
		op, ok := nodeSelectorOperator(r.Operator)
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
