package framework

import (
	"context"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

func testNode(name string) *NodeInfo {
	return NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

func testPod(name string) *PodInfo {
	return NewPodInfo(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}})
}

func TestFitErrorMessageIsUpstreams(t *testing.T) {
	status := func(code Code, reasons ...string) *Status { return NewStatus(code, reasons...) }
	tests := []struct {
		name string
		fe   FitError
		want string
	}{
		{"reasons counted and sorted", FitError{NumAllNodes: 3, Diagnosis: &Diagnosis{
			NodeToStatus: map[string]*Status{
				"a": status(UnschedulableAndUnresolvable, "node(s) had untolerated taint(s)"),
				"b": status(Unschedulable, "Insufficient cpu", "Insufficient memory"),
				"c": status(Unschedulable, "Insufficient cpu"),
			},
			AbsentNodesStatus: status(UnschedulableAndUnresolvable),
		}}, "0/3 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint(s), 2 Insufficient cpu."},
		{"absent nodes counted by their status", FitError{NumAllNodes: 4, Diagnosis: &Diagnosis{
			NodeToStatus:      map[string]*Status{"a": status(UnschedulableAndUnresolvable, "node(s) were unschedulable")},
			AbsentNodesStatus: status(UnschedulableAndUnresolvable, "node(s) didn't satisfy plugin(s) [NodeAffinity]"),
		}}, "0/4 nodes are available: 1 node(s) were unschedulable, 3 node(s) didn't satisfy plugin(s) [NodeAffinity]."},
		{"a PreFilter rejection is said once", FitError{NumAllNodes: 2, Diagnosis: &Diagnosis{
			NodeToStatus:      map[string]*Status{},
			AbsentNodesStatus: status(UnschedulableAndUnresolvable, "pod affinity terms conflict"),
			PreFilterMsg:      "pod affinity terms conflict",
		}}, "0/2 nodes are available: pod affinity terms conflict."},
		{"the post-filter message follows", FitError{NumAllNodes: 1, Diagnosis: &Diagnosis{
			NodeToStatus:      map[string]*Status{"a": status(Unschedulable, "Too many pods")},
			AbsentNodesStatus: status(UnschedulableAndUnresolvable),
			PostFilterMsg:     "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
		}}, "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."},
	}
	for _, tt := range tests {
		if got := tt.fe.Error(); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func rejectNodes(names ...string) FilterPlugin {
	reject := sets.New(names...)
	return PerNode("Reject", func(_ *PodInfo, n *NodeInfo) *Status {
		if reject.Has(n.Node.Name) {
			return NewStatus(Unschedulable, "rejected")
		}
		return nil
	})
}

func scoreByName(weight int64, scores map[string]int64) ScorePlugin {
	return PerNodeScore("ByName", weight, func(_ *PodInfo, n *NodeInfo) int64 { return scores[n.Node.Name] }, nil)
}

func TestScheduleFiltersScoresAndPicksTheBest(t *testing.T) {
	nodes := []*NodeInfo{testNode("a"), testNode("b"), testNode("c")}
	tests := []struct {
		name    string
		profile Profile
		want    string
	}{
		{"highest score", Profile{Scorers: []ScorePlugin{scoreByName(1, map[string]int64{"a": 10, "b": 90, "c": 50})}}, "b"},
		{"weights multiply", Profile{Scorers: []ScorePlugin{
			scoreByName(1, map[string]int64{"a": 100, "b": 0, "c": 0}),
			scoreByName(3, map[string]int64{"a": 0, "b": 40, "c": 0}),
		}}, "b"},
		{"filtered nodes are not scored", Profile{Filters: []FilterPlugin{rejectNodes("b")}, Scorers: []ScorePlugin{scoreByName(1, map[string]int64{"a": 10, "b": 90, "c": 50})}}, "c"},
		{"a scorer without an opinion is left out", Profile{Scorers: []ScorePlugin{
			{Name: "Silent", Weight: 100, Score: func(*PodInfo, []*NodeInfo, *Snapshot) []int64 { return nil }},
			scoreByName(1, map[string]int64{"a": 1}),
		}}, "a"},
	}
	for _, tt := range tests {
		fw := New(tt.profile, rand.New(rand.NewPCG(1, 2)))
		got, err := fw.Schedule(context.Background(), testPod("p"), NewSnapshot(nodes, nil))
		if err != nil || got.SuggestedHost != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got.SuggestedHost, err, tt.want)
		}
	}
}

func TestScheduleSharesTiesBetweenEqualNodes(t *testing.T) {
	nodes := []*NodeInfo{testNode("a"), testNode("b"), testNode("c"), testNode("worse")}
	fw := New(Profile{Scorers: []ScorePlugin{scoreByName(1, map[string]int64{"a": 5, "b": 5, "c": 5, "worse": 4})}}, rand.New(rand.NewPCG(7, 7)))
	picked := map[string]int{}
	for range 300 {
		got, err := fw.Schedule(context.Background(), testPod("p"), NewSnapshot(nodes, nil))
		if err != nil {
			t.Fatal(err)
		}
		picked[got.SuggestedHost]++
	}
	if picked["worse"] != 0 {
		t.Fatalf("a lower-scoring node was picked: %v", picked)
	}
	for _, n := range []string{"a", "b", "c"} {
		if picked[n] < 60 {
			t.Fatalf("ties not shared: %v", picked)
		}
	}
}

func TestScheduleWithoutNodes(t *testing.T) {
	fw := New(Profile{}, rand.New(rand.NewPCG(1, 2)))
	_, err := fw.Schedule(context.Background(), testPod("p"), NewSnapshot(nil, nil))
	if !errors.Is(err, ErrNoNodesAvailable) || err.Error() != "no nodes available to schedule pods" {
		t.Fatalf("got %v, want upstream's ErrNoNodesAvailable", err)
	}
}

func TestScheduleRecordsWhoRejectedWhat(t *testing.T) {
	only := FilterPlugin{Name: "Only", Prepare: func(*PodInfo, *Snapshot) NodeFilter { return NodeFilter{OnlyNodes: sets.New("a", "b")} }}
	fw := New(Profile{Filters: []FilterPlugin{only, rejectNodes("a", "b")}}, rand.New(rand.NewPCG(1, 2)))
	_, err := fw.Schedule(context.Background(), testPod("p"), NewSnapshot([]*NodeInfo{testNode("a"), testNode("b"), testNode("c")}, nil))
	var fe *FitError
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a FitError", err)
	}
	if want := "0/3 nodes are available: 1 node(s) didn't satisfy plugin(s) [Only], 2 rejected."; fe.Error() != want {
		t.Errorf("message %q, want %q", fe.Error(), want)
	}
	if !fe.Diagnosis.UnschedulablePlugins.Equal(sets.New("Only", "Reject")) {
		t.Errorf("unschedulable plugins %v, want Only and Reject", sets.List(fe.Diagnosis.UnschedulablePlugins))
	}
	if s := fe.Diagnosis.StatusOf("c"); s.Code != UnschedulableAndUnresolvable {
		t.Errorf("node outside OnlyNodes: %+v, want unresolvable", s)
	}
}

func TestNumFeasibleNodesToFindFollowsUpstreamsShare(t *testing.T) {
	for _, tt := range []struct{ nodes, want int32 }{
		{3, 3}, {99, 99}, {100, 100}, {250, 120}, {1000, 420}, {5000, 500}, {6000, 300},
	} {
		if got := numFeasibleNodesToFind(tt.nodes); got != tt.want {
			t.Errorf("%d nodes: look for %d, want %d", tt.nodes, got, tt.want)
		}
	}
}

func TestDefaultNormalizeScore(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in      []int64
		reverse bool
		want    []int64
	}{
		{"scaled to the highest", []int64{1, 2, 4}, false, []int64{25, 50, 100}},
		{"reversed", []int64{0, 1, 2}, true, []int64{100, 50, 0}},
		{"all zero", []int64{0, 0}, false, []int64{0, 0}},
		{"all zero reversed", []int64{0, 0}, true, []int64{100, 100}},
	} {
		got := append([]int64(nil), tt.in...)
		DefaultNormalizeScore(got, tt.reverse)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func container(name, cpu string) corev1.Container {
	c := corev1.Container{Name: name}
	if cpu != "" {
		c.Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
	return c
}

func TestPodInfoRequestsAsUpstream(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	sidecar := container("sidecar", "100m")
	sidecar.RestartPolicy = &always
	tests := []struct {
		name              string
		spec              corev1.PodSpec
		wantCPU, wantNonZ int64
		wantNonZeroMemory int64
	}{
		{"containers are summed", corev1.PodSpec{Containers: []corev1.Container{container("a", "100m"), container("b", "200m")}}, 300, 300, 2 * DefaultMemoryRequest},
		{"an init container's peak counts if larger", corev1.PodSpec{InitContainers: []corev1.Container{container("i", "500m")}, Containers: []corev1.Container{container("a", "100m")}}, 500, 500, DefaultMemoryRequest},
		{"sidecars run beside the containers", corev1.PodSpec{InitContainers: []corev1.Container{sidecar}, Containers: []corev1.Container{container("a", "100m")}}, 200, 200, 2 * DefaultMemoryRequest},
		{"overhead is added", corev1.PodSpec{Containers: []corev1.Container{container("a", "100m")}, Overhead: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}, 150, 150, DefaultMemoryRequest},
		{"missing requests count at the defaults only for scoring", corev1.PodSpec{Containers: []corev1.Container{container("a", "")}}, 0, DefaultMilliCPURequest, DefaultMemoryRequest},
		{"an explicit zero stays zero", corev1.PodSpec{Containers: []corev1.Container{container("a", "0")}}, 0, 0, DefaultMemoryRequest},
	}
	for _, tt := range tests {
		pi := NewPodInfo(&corev1.Pod{Spec: tt.spec})
		if pi.Requests.MilliCPU != tt.wantCPU || pi.NonZeroRequests.MilliCPU != tt.wantNonZ || pi.NonZeroRequests.Memory != tt.wantNonZeroMemory {
			t.Errorf("%s: cpu %d, non-zero cpu %d, non-zero memory %d; want %d, %d, %d", tt.name,
				pi.Requests.MilliCPU, pi.NonZeroRequests.MilliCPU, pi.NonZeroRequests.Memory, tt.wantCPU, tt.wantNonZ, tt.wantNonZeroMemory)
		}
	}
}

func TestNodeInfoCountsAndReleasesWhatItsPodsTake(t *testing.T) {
	n := NewNodeInfo(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("10"), "example.com/gpu": resource.MustParse("4"),
	}}})
	if n.Allocatable.MilliCPU != 2000 || n.Allocatable.AllowedPodNumber != 10 || n.Allocatable.Scalar["example.com/gpu"] != 4 {
		t.Fatalf("allocatable %+v", n.Allocatable)
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "u1"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name:      "c",
		Ports:     []corev1.ContainerPort{{HostPort: 80, ContainerPort: 80}},
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("300m"), "example.com/gpu": resource.MustParse("1")}},
	}}}}
	n.AddPod(NewPodInfo(p))
	snapshot := n.Clone()
	if n.Requested.MilliCPU != 300 || n.Requested.Scalar["example.com/gpu"] != 1 || !n.UsedPorts.Conflicts(HostPort{Port: 80}) {
		t.Fatalf("after add: requested %+v, ports %v", n.Requested, n.UsedPorts)
	}
	if !n.RemovePod(p) || n.RemovePod(p) {
		t.Fatal("RemovePod should find the pod once")
	}
	if n.Requested.MilliCPU != 0 || n.Requested.Scalar["example.com/gpu"] != 0 || n.UsedPorts.Conflicts(HostPort{Port: 80}) || len(n.Pods) != 0 {
		t.Fatalf("after remove: requested %+v, ports %v, pods %d", n.Requested, n.UsedPorts, len(n.Pods))
	}
	if snapshot.Requested.MilliCPU != 300 || len(snapshot.Pods) != 1 || !snapshot.UsedPorts.Conflicts(HostPort{Port: 80}) {
		t.Fatal("a clone changed with its original")
	}
}
