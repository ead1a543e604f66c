package plugins

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
)

// ErrReasonUnschedulable is upstream's reason for a cordoned node.
const ErrReasonUnschedulable = "node(s) were unschedulable"

// NodeUnschedulable keeps pods off cordoned nodes (spec.unschedulable),
// unless they tolerate the node.kubernetes.io/unschedulable:NoSchedule
// taint that a cordon stands for.
func NodeUnschedulable() framework.FilterPlugin {
	return framework.PerNode(NodeUnschedulableName, nodeIsCordonedForPod)
}

func nodeIsCordonedForPod(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	if !node.Node.Spec.Unschedulable {
		return nil
	}
	cordon := corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}
	if tolerationsTolerate(pod.Pod.Spec.Tolerations, &cordon) {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonUnschedulable)
}
