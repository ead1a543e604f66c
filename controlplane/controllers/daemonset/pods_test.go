package daemonset

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

func TestNewPodForNodePinsTheNodeAndNamesTheRevision(t *testing.T) {
	ds := testDaemonSet(requiredAffinity(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
		{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}},
	}}), func(s *corev1.PodSpec) {
		s.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = []corev1.PreferredSchedulingTerm{{Weight: 1}}
	})
	ds.Annotations = map[string]string{appsv1.DeprecatedTemplateGeneration: "4"}
	template := newPodTemplate(ds, "abc")
	pod := newPodForNode(ds, &template, "node-a")

	if pod.GenerateName != "agent-" || pod.Name != "" {
		t.Errorf("name %q generateName %q", pod.Name, pod.GenerateName)
	}
	if pod.Labels["app"] != "agent" || pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != "abc" || pod.Labels[TemplateGenerationLabel] != "4" {
		t.Errorf("labels %v", pod.Labels)
	}
	if ref := metav1.GetControllerOf(pod); ref == nil || ref.UID != ds.UID || ref.Kind != "DaemonSet" || !*ref.BlockOwnerDeletion {
		t.Errorf("controller reference %+v", ref)
	}
	node, err := targetNodeName(pod)
	if err != nil || node != "node-a" {
		t.Errorf("target node %q, %v", node, err)
	}
	terms := pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchExpressions) != 0 {
		t.Errorf("required terms %+v, want only the node's name", terms)
	}
	if len(pod.Spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Error("preferred terms were dropped")
	}
	if ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions == nil {
		t.Error("the DaemonSet's own template was changed")
	}
	if len(pod.Spec.Tolerations) == 0 {
		t.Error("no daemon tolerations")
	}
}

func TestTargetNodeName(t *testing.T) {
	pinned := func(values ...string) *corev1.Affinity {
		return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{
				{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: values},
			}}},
		}}}
	}
	tests := []struct {
		name    string
		spec    corev1.PodSpec
		want    string
		wantErr bool
	}{
		{name: "bound pod's node", spec: corev1.PodSpec{NodeName: "bound", Affinity: pinned("pinned")}, want: "bound"},
		{name: "unbound pod's pinned node", spec: corev1.PodSpec{Affinity: pinned("pinned")}, want: "pinned"},
		{name: "no affinity is an error", wantErr: true},
		{name: "several names is an error", spec: corev1.PodSpec{Affinity: pinned("a", "b")}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := targetNodeName(&corev1.Pod{Spec: tt.spec})
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestComputeHash(t *testing.T) {
	ds := testDaemonSet()
	base := ComputeHash(&ds.Spec.Template, nil)
	one := int32(1)
	other := testDaemonSet(func(s *corev1.PodSpec) { s.Containers[0].Image = "agent:v2" })
	tests := []struct {
		name     string
		hash     string
		wantSame bool
	}{
		{name: "the same template hashes the same", hash: ComputeHash(&testDaemonSet().Spec.Template, nil), wantSame: true},
		{name: "another template hashes differently", hash: ComputeHash(&other.Spec.Template, nil)},
		{name: "a collision count changes the hash", hash: ComputeHash(&ds.Spec.Template, &one)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.hash == base) != tt.wantSame {
				t.Fatalf("%q vs %q", tt.hash, base)
			}
		})
	}
}

// TestGetPatchPutsTheTemplateBack pins the revision data's format: what
// kubectl applies with a strategic merge patch for `rollout undo`.
func TestGetPatchPutsTheTemplateBack(t *testing.T) {
	v1 := testDaemonSet(func(s *corev1.PodSpec) { s.Volumes = []corev1.Volume{{Name: "data"}} })
	patch, err := getPatch(v1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(patch), `{"spec":{"template":{"$patch":"replace","metadata":`) {
		t.Fatalf("patch %s", patch)
	}
	v2 := testDaemonSet(func(s *corev1.PodSpec) { s.Containers[0].Image = "agent:v2" })
	v2.Spec.MinReadySeconds = 7
	current, err := json.Marshal(v2)
	if err != nil {
		t.Fatal(err)
	}
	restoredJSON, err := strategicpatch.StrategicMergePatch(current, patch, &appsv1.DaemonSet{})
	if err != nil {
		t.Fatal(err)
	}
	var restored appsv1.DaemonSet
	if err := json.Unmarshal(restoredJSON, &restored); err != nil {
		t.Fatal(err)
	}
	spec := restored.Spec.Template.Spec
	if spec.Containers[0].Image != "agent:v1" || len(spec.Volumes) != 1 || restored.Spec.MinReadySeconds != 7 {
		t.Fatalf("restored template %+v, minReadySeconds %d", spec, restored.Spec.MinReadySeconds)
	}
}

func TestIsPodUpdated(t *testing.T) {
	gen := int64(3)
	pod := func(labels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: labels}}
	}
	tests := []struct {
		name       string
		pod        *corev1.Pod
		generation *int64
		want       bool
	}{
		{name: "matching hash", pod: pod(map[string]string{appsv1.DefaultDaemonSetUniqueLabelKey: "h"}), want: true},
		{name: "other hash", pod: pod(map[string]string{appsv1.DefaultDaemonSetUniqueLabelKey: "old"})},
		{name: "matching template generation of an old pod", pod: pod(map[string]string{TemplateGenerationLabel: "3"}), generation: &gen, want: true},
		{name: "other template generation", pod: pod(map[string]string{TemplateGenerationLabel: "2"}), generation: &gen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isPodUpdated(tt.pod, "h", tt.generation); got != tt.want {
				t.Fatalf("isPodUpdated = %v", got)
			}
		})
	}
}

func TestIsPodAvailableWaitsMinReadySeconds(t *testing.T) {
	now := time.Now()
	readySince := func(d time.Duration) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-d)),
		}}}}
	}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		minReady int32
		want     bool
	}{
		{name: "ready with no minimum", pod: readySince(0), want: true},
		{name: "ready long enough", pod: readySince(11 * time.Second), minReady: 10, want: true},
		{name: "ready too briefly", pod: readySince(5 * time.Second), minReady: 10},
		{name: "not ready", pod: &corev1.Pod{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := isPodAvailable(tt.pod, tt.minReady, now); got != tt.want {
				t.Fatalf("available = %v", got)
			}
		})
	}
}
