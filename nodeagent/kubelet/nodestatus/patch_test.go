package nodestatus

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func statusNode() *corev1.Node {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: testNode, Labels: map[string]string{"a": "1"}},
		Spec:       corev1.NodeSpec{PodCIDR: "10.244.1.0/24"},
		Status: corev1.NodeStatus{
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: "172.18.0.3"},
				{Type: corev1.NodeHostName, Address: testNode},
			},
			Conditions: []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				LastHeartbeatTime: t0, LastTransitionTime: t0,
			}},
		},
	}
}

func TestNodeStatusPatch(t *testing.T) {
	tests := []struct {
		name   string
		change func(*corev1.Node)
		want   string
	}{
		{
			name:   "changed addresses replace the whole list",
			change: func(n *corev1.Node) { n.Status.Addresses[0].Address = "172.18.0.4" },
			want:   `{"status":{"addresses":[{"address":"172.18.0.4","type":"InternalIP"},{"address":"kindish-worker","type":"Hostname"},{"$patch":"replace"}]}}`,
		},
		{
			name:   "the spec is never patched",
			change: func(n *corev1.Node) { n.Spec.Unschedulable = true },
			want:   `{}`,
		},
		{
			name:   "metadata rides along, as upstream",
			change: func(n *corev1.Node) { n.Labels["kubernetes.io/os"] = "linux" },
			want:   `{"metadata":{"labels":{"kubernetes.io/os":"linux"}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := statusNode()
			updated := old.DeepCopy()
			tt.change(updated)
			patch, err := nodeStatusPatch(old, updated)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(patch)); diff != "" {
				t.Errorf("patch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeStatusHasChanged(t *testing.T) {
	tests := []struct {
		name   string
		change func(*corev1.NodeStatus)
		want   bool
	}{
		{"a heartbeat alone is no change", func(s *corev1.NodeStatus) {
			s.Conditions[0].LastHeartbeatTime = metav1.NewTime(time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC))
		}, false},
		{"a condition's status is a change", func(s *corev1.NodeStatus) { s.Conditions[0].Status = corev1.ConditionFalse }, true},
		{"a new condition is a change", func(s *corev1.NodeStatus) {
			s.Conditions = append(s.Conditions, corev1.NodeCondition{Type: corev1.NodePIDPressure})
		}, true},
		{"an address is a change", func(s *corev1.NodeStatus) { s.Addresses = s.Addresses[:1] }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := statusNode().Status
			updated := *old.DeepCopy()
			tt.change(&updated)
			if got := nodeStatusHasChanged(&old, &updated); got != tt.want {
				t.Errorf("nodeStatusHasChanged = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestMetadataPatchSetsOnlyWhatDiffers(t *testing.T) {
	existing := statusNode()
	existing.Annotations = map[string]string{controllerManagedAttachAnnotation: "true"}

	if patch, err := metadataPatch(existing, map[string]string{"a": "1"}, existing.Annotations); err != nil || patch != nil {
		t.Errorf("patch of a node that has everything = %s, %v; want none", patch, err)
	}
	patch, err := metadataPatch(existing, map[string]string{"a": "1", "b": "2"}, existing.Annotations)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(patch, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"metadata": map[string]any{"labels": map[string]any{"b": "2"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("patch (-want +got):\n%s", diff)
	}
}
