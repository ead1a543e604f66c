package plugins

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
)

// ErrReasonUntoleratedTaint is upstream's reason for a taint the pod does
// not tolerate. Up to v1.33 upstream named the taint's key and value in
// it; the releases since, v1.36 among them, no longer do.
const ErrReasonUntoleratedTaint = "node(s) had untolerated taint(s)"

// TaintToleration keeps pods off nodes with NoSchedule or NoExecute
// taints they do not tolerate.
func TaintToleration() framework.FilterPlugin {
	return framework.PerNode(TaintTolerationName, nodeHasUntoleratedTaint)
}

func nodeHasUntoleratedTaint(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	for i := range node.Node.Spec.Taints {
		taint := &node.Node.Spec.Taints[i]
		if taint.Effect != corev1.TaintEffectNoSchedule && taint.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerationsTolerate(pod.Pod.Spec.Tolerations, taint) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonUntoleratedTaint)
		}
	}
	return nil
}

// TaintTolerationScore prefers nodes with fewer PreferNoSchedule taints the
// pod does not tolerate.
func TaintTolerationScore(weight int64) framework.ScorePlugin {
	return framework.PerNodeScore(TaintTolerationName, weight, intolerablePreferNoScheduleTaints,
		func(scores []int64) { framework.DefaultNormalizeScore(scores, true) })
}

func intolerablePreferNoScheduleTaints(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	// Only tolerations that can apply to PreferNoSchedule count; an empty
	// effect applies to all.
	var tolerations []corev1.Toleration
	for _, t := range pod.Pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			tolerations = append(tolerations, t)
		}
	}
	var n int64
	for i := range node.Node.Spec.Taints {
		taint := &node.Node.Spec.Taints[i]
		if taint.Effect == corev1.TaintEffectPreferNoSchedule && !tolerationsTolerate(tolerations, taint) {
			n++
		}
	}
	return n
}

// tolerationsTolerate says whether any of the tolerations tolerates taint.
func tolerationsTolerate(tolerations []corev1.Toleration, taint *corev1.Taint) bool {
	for i := range tolerations {
		if toleratesTaint(&tolerations[i], taint) {
			return true
		}
	}
	return false
}

// toleratesTaint is upstream's Toleration.ToleratesTaint without the alpha
// Gt and Lt operators: an empty effect or key matches any, Exists any
// value, Equal (the default) the same value.
func toleratesTaint(t *corev1.Toleration, taint *corev1.Taint) bool {
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
