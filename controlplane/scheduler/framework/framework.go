package framework

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/workqueue"
)

// ErrNoNodesAvailable is upstream's error when the cluster has no node at
// all; its text is the FailedScheduling message.
var ErrNoNodesAvailable = errors.New("no nodes available to schedule pods")

// Upstream's bounds on how many feasible nodes an attempt looks for before
// it stops filtering: all of them in small clusters, a share in big ones.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
	// filterParallelism is upstream's default --parallelism.
	filterParallelism = 16
)

// Framework runs a Profile's scheduling cycle. It keeps where the last
// attempt stopped looking, so that every node gets its turn in big
// clusters; one goroutine at a time may use it.
type Framework struct {
	profile            Profile
	rand               *rand.Rand
	nextStartNodeIndex int
}

// New returns a Framework for profile, breaking ties between equal nodes
// with rng.
func New(profile Profile, rng *rand.Rand) *Framework {
	return &Framework{profile: profile, rand: rng}
}

// Profile is the profile the Framework runs.
func (f *Framework) Profile() Profile { return f.profile }

// ScheduleResult is the node chosen for a pod.
type ScheduleResult struct {
	SuggestedHost  string
	EvaluatedNodes int
	FeasibleNodes  int
}

type namedCheck struct {
	plugin string
	check  func(*NodeInfo) *Status
}

// Schedule picks a node for pod: it filters the nodes, scores those that
// pass, and returns the best, picked at random among equals. When none
// fits it returns a *FitError after running the post-filters, or
// ErrNoNodesAvailable when there are no nodes at all.
func (f *Framework) Schedule(ctx context.Context, pod *PodInfo, cluster *Snapshot) (ScheduleResult, error) {
	all := cluster.Nodes()
	if len(all) == 0 {
		return ScheduleResult{}, ErrNoNodesAvailable
	}
	d := NewDiagnosis()
	var checks []namedCheck
	var only sets.Set[string]
	var onlyPlugins []string
	for _, p := range f.profile.Filters {
		plan := p.Prepare(pod, cluster)
		if plan.Reject != nil {
			s := plan.Reject.withPlugin(p.Name)
			d.AbsentNodesStatus = s
			d.PreFilterMsg = s.Message()
			d.notePlugin(s)
			return ScheduleResult{}, f.fitError(pod, cluster, d)
		}
		if plan.OnlyNodes != nil {
			if only == nil {
				only = plan.OnlyNodes.Clone()
			} else {
				only = only.Intersection(plan.OnlyNodes)
			}
			onlyPlugins = append(onlyPlugins, p.Name)
		}
		if plan.Check != nil {
			checks = append(checks, namedCheck{p.Name, plan.Check})
		}
	}

	candidates := all
	if only != nil {
		sort.Strings(onlyPlugins)
		d.UnschedulablePlugins.Insert(onlyPlugins...)
		if len(only) == 0 {
			s := NewStatus(UnschedulableAndUnresolvable, fmt.Sprintf("node(s) didn't satisfy plugin(s) %v simultaneously", onlyPlugins))
			d.AbsentNodesStatus = s
			d.PreFilterMsg = s.Message()
			return ScheduleResult{}, f.fitError(pod, cluster, d)
		}
		candidates = make([]*NodeInfo, 0, len(only))
		for _, n := range all {
			if only.Has(n.Node.Name) {
				candidates = append(candidates, n)
			}
		}
		d.AbsentNodesStatus = NewStatus(UnschedulableAndUnresolvable, fmt.Sprintf("node(s) didn't satisfy plugin(s) %v", onlyPlugins))
	}

	feasible := f.findNodesThatPassFilters(ctx, checks, candidates, len(all), d)
	if len(feasible) == 0 {
		return ScheduleResult{}, f.fitError(pod, cluster, d)
	}
	result := ScheduleResult{EvaluatedNodes: len(feasible) + len(d.NodeToStatus), FeasibleNodes: len(feasible)}
	if len(feasible) == 1 {
		result.SuggestedHost = feasible[0].Node.Name
		return result, nil
	}
	result.SuggestedHost = f.pickBest(feasible, f.scoreNodes(pod, feasible, cluster))
	return result, nil
}

// findNodesThatPassFilters runs the checks over the candidates, starting
// where the last attempt left off, until enough nodes pass; it records the
// rejected ones in d.
func (f *Framework) findNodesThatPassFilters(ctx context.Context, checks []namedCheck, candidates []*NodeInfo, numAllNodes int, d *Diagnosis) []*NodeInfo {
	n := len(candidates)
	if n == 0 {
		return nil
	}
	want := numFeasibleNodesToFind(int32(n))
	statuses := make([]*Status, n)
	passed := make([]bool, n)
	var found atomic.Int32
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := f.nextStartNodeIndex % n
	workqueue.ParallelizeUntil(ctx, filterParallelism, n, func(i int) {
		idx := (start + i) % n
		node := candidates[idx]
		for _, c := range checks {
			if s := c.check(node); !s.IsSuccess() {
				statuses[idx] = s.withPlugin(c.plugin)
				return
			}
		}
		passed[idx] = true
		if found.Add(1) >= want {
			cancel()
		}
	})
	var feasible []*NodeInfo
	for i := 0; i < n; i++ {
		idx := (start + i) % n
		switch {
		case passed[idx] && int32(len(feasible)) < want:
			feasible = append(feasible, candidates[idx])
		case statuses[idx] != nil:
			d.record(candidates[idx].Node.Name, statuses[idx])
		}
	}
	processed := len(feasible) + len(d.NodeToStatus)
	f.nextStartNodeIndex = (f.nextStartNodeIndex + processed) % numAllNodes
	return feasible
}

// numFeasibleNodesToFind is upstream's adaptive share: every node below
// 100, then a percentage that shrinks as the cluster grows, never under
// 100 nodes nor 5%.
func numFeasibleNodesToFind(numAllNodes int32) int32 {
	if numAllNodes < minFeasibleNodesToFind {
		return numAllNodes
	}
	percentage := max(int32(50)-numAllNodes/125, minFeasibleNodesPercentageToFind)
	return max(numAllNodes*percentage/100, minFeasibleNodesToFind)
}

// scoreNodes sums each scorer's scores times its weight.
func (f *Framework) scoreNodes(pod *PodInfo, feasible []*NodeInfo, cluster *Snapshot) []int64 {
	totals := make([]int64, len(feasible))
	for _, s := range f.profile.Scorers {
		scores := s.Score(pod, feasible, cluster)
		if scores == nil {
			continue
		}
		for i, v := range scores {
			totals[i] += v * s.Weight
		}
	}
	return totals
}

// pickBest returns the highest-scoring node, chosen uniformly at random
// among those that tie, so that equal nodes share the load.
func (f *Framework) pickBest(nodes []*NodeInfo, scores []int64) string {
	best, ties := 0, 0
	for i, s := range scores {
		switch {
		case s > scores[best]:
			best, ties = i, 1
		case s == scores[best]:
			ties++
			if f.rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return nodes[best].Node.Name
}

// fitError completes the diagnosis with the post-filters' verdicts.
func (f *Framework) fitError(pod *PodInfo, cluster *Snapshot, d *Diagnosis) *FitError {
	fe := &FitError{Pod: pod.Pod, NumAllNodes: len(cluster.Nodes()), Diagnosis: d}
	var msgs []string
	for _, p := range f.profile.PostFilters {
		if m := p.PostFilter(pod, cluster, d); m != "" {
			msgs = append(msgs, m)
		}
	}
	d.PostFilterMsg = strings.Join(msgs, ", ")
	return fe
}
