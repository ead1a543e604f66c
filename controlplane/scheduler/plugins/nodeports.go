package plugins

import "github.com/kindish/kindish/controlplane/scheduler/framework"

// ErrReasonNodePorts is upstream's reason for a host port already taken.
const ErrReasonNodePorts = "node(s) didn't have free ports for the requested pod ports"

// NodePorts keeps a pod off nodes where one of its host ports (protocol,
// host IP, port) is already taken.
func NodePorts() framework.FilterPlugin {
	return framework.FilterPlugin{Name: NodePortsName, Prepare: func(pod *framework.PodInfo, _ *framework.Snapshot) framework.NodeFilter {
		if len(pod.HostPorts) == 0 {
			return framework.NodeFilter{}
		}
		return framework.NodeFilter{Check: func(node *framework.NodeInfo) *framework.Status { return hostPortTaken(pod, node) }}
	}}
}

func hostPortTaken(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	for _, p := range pod.HostPorts {
		if node.UsedPorts.Conflicts(p) {
			return framework.NewStatus(framework.Unschedulable, ErrReasonNodePorts)
		}
	}
	return nil
}
