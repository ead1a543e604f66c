package plugins

import "github.com/kindish/kindish/controlplane/scheduler/framework"

// ErrReasonNodeName is upstream's reason for a pod that names another node.
const ErrReasonNodeName = "node(s) didn't match the requested node name"

// NodeName keeps a pod that names its node (spec.nodeName) off every other.
func NodeName() framework.FilterPlugin {
	return framework.PerNode(NodeNameName, nodeIsNotTheNamedOne)
}

func nodeIsNotTheNamedOne(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	if want := pod.Pod.Spec.NodeName; want == "" || want == node.Node.Name {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNodeName)
}
