package plugins

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
)

// Upstream's post-filter verdicts, which end every FailedScheduling
// message.
const (
	MsgNoNewClaimsToDeallocate = "no new claims to deallocate"
	MsgPreemptionNotHelpful    = "Preemption is not helpful for scheduling"
	MsgNoPreemptionVictims     = "No preemption victims found for incoming pod"
	MsgNotEligiblePreemptNever = "not eligible due to preemptionPolicy=Never."
	preemptionMessagePrefix    = "preemption: "
)

// DynamicResourcesPostFilter says what upstream's DynamicResources plugin
// says for a pod it cannot help: kindish allocates no resource claims, and
// upstream's message carries this clause for every unschedulable pod.
func DynamicResourcesPostFilter() framework.PostFilterPlugin {
	return framework.PostFilterPlugin{Name: DynamicResourcesName, PostFilter: func(*framework.PodInfo, *framework.Snapshot, *framework.Diagnosis) string {
		return MsgNoNewClaimsToDeallocate
	}}
}

// DefaultPreemptionPostFilter gives upstream's preemption verdict without
// preempting: nodes that failed for reasons no eviction can fix are "not
// helpful", and the others have no victims. kindish does not evict pods
// to make room, so a node that only lower-priority pods fill is reported
// the same way.
func DefaultPreemptionPostFilter() framework.PostFilterPlugin {
	return framework.PostFilterPlugin{Name: DefaultPreemptionName, PostFilter: preemptionVerdict}
}

func preemptionVerdict(pod *framework.PodInfo, cluster *framework.Snapshot, d *framework.Diagnosis) string {
	if p := pod.Pod.Spec.PreemptionPolicy; p != nil && *p == corev1.PreemptNever {
		return preemptionMessagePrefix + MsgNotEligiblePreemptNever
	}
	verdicts := framework.NewDiagnosis()
	verdicts.AbsentNodesStatus = framework.NewStatus(framework.UnschedulableAndUnresolvable, MsgPreemptionNotHelpful)
	for _, n := range cluster.Nodes() {
		if d.StatusOf(n.Node.Name).Code == framework.Unschedulable {
			verdicts.NodeToStatus[n.Node.Name] = framework.NewStatus(framework.UnschedulableAndUnresolvable, MsgNoPreemptionVictims)
		}
	}
	fe := framework.FitError{Pod: pod.Pod, NumAllNodes: len(cluster.Nodes()), Diagnosis: verdicts}
	return preemptionMessagePrefix + fe.Error()
}
