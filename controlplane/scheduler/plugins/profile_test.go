package plugins

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/scheduler/framework"
)

// TestDefaultProfileExplainsFailuresAsUpstream pins the FailedScheduling
// messages users and their tests read, as kube-scheduler v1.36 words them.
func TestDefaultProfileExplainsFailuresAsUpstream(t *testing.T) {
	busy := pod("busy", requests(cpu("1500m")))
	never := corev1.PreemptNever
	pinTo := func(name string) func(*corev1.Pod) {
		return affinity(required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{expr(metav1.ObjectNameField, corev1.NodeSelectorOpIn, name)}}))
	}
	tests := []struct {
		name  string
		nodes []*framework.NodeInfo
		pod   *corev1.Pod
		want  string
	}{
		{"control plane tainted, workers full",
			[]*framework.NodeInfo{nodeInfo(node("cp", withTaints(controlPlaneTaint()))), nodeInfo(node("w1"), busy), nodeInfo(node("w2"), busy)},
			pod("p", requests(cpu("1"))),
			"0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu. " +
				"no new claims to deallocate, preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."},
		{"larger than any node",
			[]*framework.NodeInfo{nodeInfo(node("cp", withTaints(controlPlaneTaint()))), nodeInfo(node("w1")), nodeInfo(node("w2"))},
			pod("p", requests(cpu("3"))),
			"0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 Insufficient cpu. " +
				"no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."},
		{"no node has the selected label",
			[]*framework.NodeInfo{nodeInfo(node("cp", withTaints(controlPlaneTaint()))), nodeInfo(node("w1")), nodeInfo(node("w2"))},
			pod("p", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "nvme"} }),
			"0/3 nodes are available: 1 node(s) had untolerated taint(s), 2 node(s) didn't match Pod's node affinity/selector. " +
				"no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."},
		{"a DaemonSet pod for a cordoned node",
			[]*framework.NodeInfo{nodeInfo(node("w1", cordoned)), nodeInfo(node("w2")), nodeInfo(node("w3"))},
			pod("ds", pinTo("w1")),
			"0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. " +
				"no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."},
		{"a DaemonSet pod for a node that is gone",
			[]*framework.NodeInfo{nodeInfo(node("w1")), nodeInfo(node("w2"))},
			pod("ds", pinTo("w9")),
			"0/2 nodes are available: 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. " +
				"no new claims to deallocate, preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."},
		{"terms that pin disjoint nodes",
			[]*framework.NodeInfo{nodeInfo(node("w1")), nodeInfo(node("w2"))},
			pod("p", affinity(required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				expr(metav1.ObjectNameField, corev1.NodeSelectorOpIn, "w1"), expr(metav1.ObjectNameField, corev1.NodeSelectorOpIn, "w2")}}))),
			"0/2 nodes are available: pod affinity terms conflict. " +
				"no new claims to deallocate, preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."},
		{"a pod that may not preempt",
			[]*framework.NodeInfo{nodeInfo(node("w1"), busy)},
			pod("p", requests(cpu("1")), func(p *corev1.Pod) { p.Spec.PreemptionPolicy = &never }),
			"0/1 nodes are available: 1 Insufficient cpu. no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never."},
		{"anti-affinity everywhere",
			[]*framework.NodeInfo{nodeInfo(node("w1"), pod("web-0", podLabels("app", "web"))), nodeInfo(node("w2"), pod("web-1", podLabels("app", "web")))},
			pod("web-2", podLabels("app", "web"), affinity(antiAffinity(podAffinityTerm(corev1.LabelHostname, "app", "web")))),
			"0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules. " +
				"no new claims to deallocate, preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."},
	}
	for _, tt := range tests {
		fw := framework.New(DefaultProfile(), rand.New(rand.NewPCG(1, 2)))
		_, err := fw.Schedule(context.Background(), framework.NewPodInfo(tt.pod), snapshot(tt.nodes...))
		var fitErr *framework.FitError
		if !errors.As(err, &fitErr) {
			t.Errorf("%s: got %v, want a FitError", tt.name, err)
			continue
		}
		if got := fitErr.Error(); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestDefaultProfilePicksTheOnlyNodeThatFits(t *testing.T) {
	nodes := []*framework.NodeInfo{
		nodeInfo(node("cp", withTaints(controlPlaneTaint()))),
		nodeInfo(node("full"), pod("busy", requests(cpu("1500m")))),
		nodeInfo(node("free")),
	}
	fw := framework.New(DefaultProfile(), rand.New(rand.NewPCG(1, 2)))
	got, err := fw.Schedule(context.Background(), framework.NewPodInfo(pod("p", requests(cpu("1")))), snapshot(nodes...))
	if err != nil || got.SuggestedHost != "free" || got.FeasibleNodes != 1 || got.EvaluatedNodes != 3 {
		t.Fatalf("got %+v, %v; want free, 1 feasible of 3 evaluated", got, err)
	}
}
