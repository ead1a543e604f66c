package create

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNotReadyPodsNamesPodsWithoutTheReadyCondition(t *testing.T) {
	pod := func(name string, phase corev1.PodPhase, ready corev1.ConditionStatus) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: phase}}
		if ready != "" {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
		}
		return p
	}
	list := &corev1.PodList{Items: []corev1.Pod{
		pod("etcd", corev1.PodRunning, corev1.ConditionTrue),
		pod("coredns-a", corev1.PodRunning, corev1.ConditionFalse),
		pod("coredns-b", corev1.PodPending, ""),
		pod("job-done", corev1.PodSucceeded, corev1.ConditionFalse),
	}}
	if got, want := notReadyPods(list), []string{"pod/coredns-a", "pod/coredns-b"}; !slices.Equal(got, want) {
		t.Errorf("notReadyPods = %v, want %v", got, want)
	}
}
