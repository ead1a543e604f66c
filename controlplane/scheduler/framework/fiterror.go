package framework

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Diagnosis is why a pod fits no node: each rejected node's status, the
// status of the nodes never checked, and what ran before and after the
// filters.
type Diagnosis struct {
	NodeToStatus map[string]*Status
	// AbsentNodesStatus is the status of every node not in NodeToStatus.
	AbsentNodesStatus *Status
	// UnschedulablePlugins rejected the pod somewhere: cluster events
	// that concern them bring the pod back.
	UnschedulablePlugins sets.Set[string]
	PreFilterMsg         string
	PostFilterMsg        string
}

// NewDiagnosis returns upstream's default: absent nodes are rejected for
// no stated reason.
func NewDiagnosis() *Diagnosis {
	return &Diagnosis{
		NodeToStatus:         map[string]*Status{},
		AbsentNodesStatus:    NewStatus(UnschedulableAndUnresolvable),
		UnschedulablePlugins: sets.New[string](),
	}
}

// StatusOf returns the status of the named node.
func (d *Diagnosis) StatusOf(node string) *Status {
	if s, ok := d.NodeToStatus[node]; ok {
		return s
	}
	return d.AbsentNodesStatus
}

func (d *Diagnosis) record(node string, s *Status) {
	d.NodeToStatus[node] = s
	d.notePlugin(s)
}

func (d *Diagnosis) notePlugin(s *Status) {
	if s != nil && s.Plugin != "" && !s.IsSuccess() {
		d.UnschedulablePlugins.Insert(s.Plugin)
	}
}

// FitError is a pod that fits no node.
type FitError struct {
	Pod         *corev1.Pod
	NumAllNodes int
	Diagnosis   *Diagnosis
}

// Error is upstream's FitError.Error(), the message of FailedScheduling
// events and of the PodScheduled condition:
// "0/X nodes are available: <PreFilterMsg>. <counted reasons>. <PostFilterMsg>".
func (f *FitError) Error() string {
	msg := fmt.Sprintf("0/%v nodes are available:", f.NumAllNodes)
	d := f.Diagnosis
	if d.PreFilterMsg != "" {
		msg += fmt.Sprintf(" %v.", d.PreFilterMsg)
	} else {
		// A PreFilter rejection gives every node the same status; counting
		// it per node would repeat it.
		reasons := map[string]int{}
		for _, s := range d.NodeToStatus {
			for _, r := range s.Reasons {
				reasons[r]++
			}
		}
		if absent := f.NumAllNodes - len(d.NodeToStatus); absent > 0 && d.AbsentNodesStatus != nil {
			for _, r := range d.AbsentNodesStatus.Reasons {
				reasons[r] += absent
			}
		}
		histogram := make([]string, 0, len(reasons))
		for r, n := range reasons {
			histogram = append(histogram, fmt.Sprintf("%v %v", n, r))
		}
		sort.Strings(histogram)
		if len(histogram) > 0 {
			msg += fmt.Sprintf(" %v.", strings.Join(histogram, ", "))
		}
	}
	if d.PostFilterMsg != "" {
		msg += " " + d.PostFilterMsg
	}
	return msg
}
