package daemonset

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testDaemonSet(mutate ...func(*corev1.PodSpec)) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "agent", UID: "ds-uid"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "agent:v1"}}},
			},
		},
	}
	for _, m := range mutate {
		m(&ds.Spec.Template.Spec)
	}
	return ds
}

func testNode(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
}

func requiredAffinity(terms ...corev1.NodeSelectorTerm) func(*corev1.PodSpec) {
	return func(s *corev1.PodSpec) {
		s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
		}}
	}
}

func TestNodeShouldRunDaemonPod(t *testing.T) {
	linux := map[string]string{"kubernetes.io/os": "linux", "zone": "a"}
	taint := func(key string, effect corev1.TaintEffect) corev1.Taint {
		return corev1.Taint{Key: key, Effect: effect}
	}
	tests := []struct {
		name                 string
		ds                   *appsv1.DaemonSet
		node                 *corev1.Node
		wantRun, wantKeepRun bool
	}{
		{name: "plain node runs it", ds: testDaemonSet(), node: testNode("n", nil), wantRun: true, wantKeepRun: true},
		{name: "matching nodeSelector runs it",
			ds:   testDaemonSet(func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"kubernetes.io/os": "linux"} }),
			node: testNode("n", linux), wantRun: true, wantKeepRun: true},
		{name: "nodeSelector not matching removes it",
			ds:   testDaemonSet(func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"kubernetes.io/os": "windows"} }),
			node: testNode("n", linux)},
		{name: "required affinity matching one term runs it",
			ds: testDaemonSet(requiredAffinity(
				corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"b"}}}},
				corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}},
			)),
			node: testNode("n", linux), wantRun: true, wantKeepRun: true},
		{name: "required affinity matching no term removes it",
			ds: testDaemonSet(requiredAffinity(
				corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"a"}}}},
			)),
			node: testNode("n", linux)},
		{name: "affinity on another node's name removes it",
			ds: testDaemonSet(requiredAffinity(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{"other"}},
			}})),
			node: testNode("n", nil)},
		{name: "empty affinity term selects nothing",
			ds:   testDaemonSet(requiredAffinity(corev1.NodeSelectorTerm{})),
			node: testNode("n", nil)},
		{name: "template nodeName of another node removes it",
			ds:   testDaemonSet(func(s *corev1.PodSpec) { s.NodeName = "other" }),
			node: testNode("n", nil)},
		{name: "untolerated NoSchedule taint creates none but keeps the running one",
			ds: testDaemonSet(), node: testNode("n", nil, taint("dedicated", corev1.TaintEffectNoSchedule)), wantKeepRun: true},
		{name: "untolerated NoExecute taint removes it",
			ds: testDaemonSet(), node: testNode("n", nil, taint("dedicated", corev1.TaintEffectNoExecute))},
		{name: "PreferNoSchedule taint is ignored",
			ds: testDaemonSet(), node: testNode("n", nil, taint("dedicated", corev1.TaintEffectPreferNoSchedule)), wantRun: true, wantKeepRun: true},
		{name: "not-ready NoExecute is tolerated by default",
			ds: testDaemonSet(), node: testNode("n", nil, taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)), wantRun: true, wantKeepRun: true},
		{name: "unreachable NoExecute is tolerated by default",
			ds: testDaemonSet(), node: testNode("n", nil, taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)), wantRun: true, wantKeepRun: true},
		{name: "cordoned node is tolerated by default",
			ds: testDaemonSet(), node: testNode("n", nil, taint(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)), wantRun: true, wantKeepRun: true},
		{name: "pressure conditions are tolerated by default",
			ds: testDaemonSet(), node: testNode("n", nil,
				taint(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule),
				taint(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule),
				taint(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule)), wantRun: true, wantKeepRun: true},
		{name: "not-ready NoSchedule is not tolerated by default, as upstream",
			ds: testDaemonSet(), node: testNode("n", nil, taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule)), wantKeepRun: true},
		{name: "network-unavailable is not tolerated by pod-network daemons",
			ds: testDaemonSet(), node: testNode("n", nil, taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), wantKeepRun: true},
		{name: "network-unavailable is tolerated by host-network daemons",
			ds:   testDaemonSet(func(s *corev1.PodSpec) { s.HostNetwork = true }),
			node: testNode("n", nil, taint(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)), wantRun: true, wantKeepRun: true},
		{name: "a template tolerating everything runs on any taint, as kindnetd",
			ds: testDaemonSet(func(s *corev1.PodSpec) {
				s.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
			}),
			node:    testNode("n", nil, taint("dedicated", corev1.TaintEffectNoExecute), taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoSchedule)),
			wantRun: true, wantKeepRun: true},
		{name: "a toleration of another value does not tolerate",
			ds: testDaemonSet(func(s *corev1.PodSpec) {
				s.Tolerations = []corev1.Toleration{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}}
			}),
			node: testNode("n", nil, corev1.Taint{Key: "dedicated", Value: "infra", Effect: corev1.TaintEffectNoSchedule}), wantKeepRun: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, keep := NodeShouldRunDaemonPod(tt.node, tt.ds)
			if run != tt.wantRun || keep != tt.wantKeepRun {
				t.Fatalf("shouldRun %v shouldContinueRunning %v, want %v %v", run, keep, tt.wantRun, tt.wantKeepRun)
			}
		})
	}
}

func TestDaemonPodTolerations(t *testing.T) {
	seconds := int64(300)
	tests := []struct {
		name string
		spec corev1.PodSpec
		want []string
	}{
		{
			name: "defaults are added in upstream's order",
			want: []string{
				"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute",
				"node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule",
				"node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule",
			},
		},
		{
			name: "host-network pods also tolerate network-unavailable",
			spec: corev1.PodSpec{HostNetwork: true},
			want: []string{
				"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute",
				"node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule",
				"node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule",
				"node.kubernetes.io/network-unavailable:NoSchedule",
			},
		},
		{
			name: "a bounded not-ready toleration becomes unbounded in place, the template's own are kept",
			spec: corev1.PodSpec{Tolerations: []corev1.Toleration{
				{Key: "dedicated", Operator: corev1.TolerationOpExists},
				{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds},
			}},
			want: []string{
				"dedicated:", "node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute",
				"node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule",
				"node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec.DeepCopy()
			addDaemonPodTolerations(spec)
			addDaemonPodTolerations(spec) // twice changes nothing
			var got []string
			for _, tol := range spec.Tolerations {
				got = append(got, tol.Key+":"+string(tol.Effect))
				if tol.TolerationSeconds != nil {
					t.Errorf("toleration %s keeps tolerationSeconds", tol.Key)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("tolerations\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}
