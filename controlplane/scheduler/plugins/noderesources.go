package plugins

import (
	"fmt"
	"maps"
	"math"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
)

// Upstream's reasons for a node without room.
const (
	ErrReasonTooManyPods           = "Too many pods"
	ErrReasonInsufficientCPU       = "Insufficient cpu"
	ErrReasonInsufficientMemory    = "Insufficient memory"
	ErrReasonInsufficientEphemeral = "Insufficient ephemeral-storage"
)

// NodeResourcesFit keeps a pod off nodes whose allocatable, less what the
// pods there request, cannot hold its requests (cpu, memory,
// ephemeral-storage, extended resources) or one more pod. It lists every
// shortage, as upstream. A request larger than the whole node cannot be
// met by preemption, so that node is unresolvable.
func NodeResourcesFit() framework.FilterPlugin {
	return framework.PerNode(NodeResourcesFitName, nodeLacksResources)
}

func nodeLacksResources(pod *framework.PodInfo, node *framework.NodeInfo) *framework.Status {
	var reasons []string
	unresolvable := false
	short := func(reason string, want, free, capacity int64) {
		if want > 0 && want > free {
			reasons = append(reasons, reason)
			unresolvable = unresolvable || want > capacity
		}
	}
	if int64(len(node.Pods))+1 > node.Allocatable.AllowedPodNumber {
		reasons = append(reasons, ErrReasonTooManyPods)
	}
	req, alloc, used := &pod.Requests, &node.Allocatable, &node.Requested
	short(ErrReasonInsufficientCPU, req.MilliCPU, alloc.MilliCPU-used.MilliCPU, alloc.MilliCPU)
	short(ErrReasonInsufficientMemory, req.Memory, alloc.Memory-used.Memory, alloc.Memory)
	short(ErrReasonInsufficientEphemeral, req.EphemeralStorage, alloc.EphemeralStorage-used.EphemeralStorage, alloc.EphemeralStorage)
	for _, name := range sortedResourceNames(req.Scalar) {
		short(fmt.Sprintf("Insufficient %v", name), req.Scalar[name], alloc.Scalar[name]-used.Scalar[name], alloc.Scalar[name])
	}
	if len(reasons) == 0 {
		return nil
	}
	code := framework.Unschedulable
	if unresolvable {
		code = framework.UnschedulableAndUnresolvable
	}
	return framework.NewStatus(code, reasons...)
}

// LeastAllocatedScore is NodeResourcesFit's default scoring strategy:
// prefer the node with the most cpu and memory left once the pod is on it,
// counting request-less containers at upstream's defaults.
func LeastAllocatedScore(weight int64) framework.ScorePlugin {
	return framework.PerNodeScore(NodeResourcesFitName, weight, leastAllocated, nil)
}

func leastAllocated(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	cpu := leastRequestedScore(node.NonZeroRequested.MilliCPU+pod.NonZeroRequests.MilliCPU, node.Allocatable.MilliCPU)
	mem := leastRequestedScore(node.NonZeroRequested.Memory+pod.NonZeroRequests.Memory, node.Allocatable.Memory)
	return (cpu + mem) / 2
}

func leastRequestedScore(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * framework.MaxNodeScore / capacity
}

// BalancedAllocationScore prefers the node whose cpu and memory would be
// used in the most equal shares once the pod is on it. Pods that request
// nothing are left out, as upstream (they would otherwise pile onto one
// node).
func BalancedAllocationScore(weight int64) framework.ScorePlugin {
	score := framework.PerNodeScore(BalancedAllocationName, weight, balancedAllocation, nil)
	perNode := score.Score
	score.Score = func(pod *framework.PodInfo, feasible []*framework.NodeInfo, cluster *framework.Snapshot) []int64 {
		if pod.Requests.MilliCPU == 0 && pod.Requests.Memory == 0 {
			return nil
		}
		return perNode(pod, feasible, cluster)
	}
	return score
}

func balancedAllocation(pod *framework.PodInfo, node *framework.NodeInfo) int64 {
	var fractions []float64
	for _, r := range [][2]int64{
		{node.Requested.MilliCPU + pod.Requests.MilliCPU, node.Allocatable.MilliCPU},
		{node.Requested.Memory + pod.Requests.Memory, node.Allocatable.Memory},
	} {
		if r[1] == 0 {
			continue
		}
		fractions = append(fractions, math.Min(float64(r[0])/float64(r[1]), 1))
	}
	std := 0.0
	if len(fractions) == 2 {
		std = math.Abs(fractions[0]-fractions[1]) / 2
	}
	return int64((1 - std) * float64(framework.MaxNodeScore))
}

func sortedResourceNames(m map[corev1.ResourceName]int64) []corev1.ResourceName {
	if len(m) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(m))
}
