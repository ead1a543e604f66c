// Package plugins are the filter, score and post-filter plugins of
// kindish's default scheduler profile. Each is named after its upstream
// namesake and rejects with upstream's reason strings, which surface in
// FailedScheduling events.
package plugins

import "github.com/kindish/kindish/controlplane/scheduler/framework"

// DefaultSchedulerName is the schedulerName pods get unless they ask for
// another scheduler.
const DefaultSchedulerName = "default-scheduler"

// Upstream's plugin names, which reach users in logs and in the
// "didn't satisfy plugin(s)" reason.
const (
	NodeUnschedulableName  = "NodeUnschedulable"
	NodeNameName           = "NodeName"
	TaintTolerationName    = "TaintToleration"
	NodeAffinityName       = "NodeAffinity"
	NodePortsName          = "NodePorts"
	NodeResourcesFitName   = "NodeResourcesFit"
	InterPodAffinityName   = "InterPodAffinity"
	PodTopologySpreadName  = "PodTopologySpread"
	BalancedAllocationName = "NodeResourcesBalancedAllocation"
	DynamicResourcesName   = "DynamicResources"
	DefaultPreemptionName  = "DefaultPreemption"
)

// DefaultProfile is upstream's default profile, as far as kindish
// implements it: the filters in upstream's order (the first to reject a
// node names the reason) and the scorers with upstream's weights.
func DefaultProfile() framework.Profile {
	return framework.Profile{
		SchedulerName: DefaultSchedulerName,
		Filters: []framework.FilterPlugin{
			NodeUnschedulable(),
			NodeName(),
			TaintToleration(),
			NodeAffinity(),
			NodePorts(),
			NodeResourcesFit(),
			InterPodAffinity(),
		},
		Scorers: []framework.ScorePlugin{
			TaintTolerationScore(3),
			NodeAffinityScore(2),
			PodTopologySpreadScore(2),
			LeastAllocatedScore(1),
			BalancedAllocationScore(1),
		},
		PostFilters: []framework.PostFilterPlugin{
			DynamicResourcesPostFilter(),
			DefaultPreemptionPostFilter(),
		},
	}
}

// NodeEventPlugins are the plugins whose verdicts a node's arrival or a
// change of its labels, taints or allocatable can turn around.
func NodeEventPlugins() []string {
	return []string{NodeUnschedulableName, NodeNameName, TaintTolerationName, NodeAffinityName,
		NodePortsName, NodeResourcesFitName, InterPodAffinityName, PodTopologySpreadName}
}

// AssignedPodAddPlugins are those a pod landing on a node can satisfy: a
// pod others must run beside.
func AssignedPodAddPlugins() []string { return []string{InterPodAffinityName, PodTopologySpreadName} }

// AssignedPodDeletePlugins are those a pod leaving a node can satisfy: it
// frees resources and ports and lifts its anti-affinity.
func AssignedPodDeletePlugins() []string {
	return []string{NodeResourcesFitName, NodePortsName, InterPodAffinityName, PodTopologySpreadName}
}
