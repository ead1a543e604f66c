package strategy

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestPodGracePeriod(t *testing.T) {
	scheduled := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n", TerminationGracePeriodSeconds: ptr.To[int64](45)}}
	if s, graceful := podGracePeriod(scheduled, nil); !graceful || s != 45 {
		t.Errorf("scheduled pod: %d %v, want its own 45 s", s, graceful)
	}
	if s, graceful := podGracePeriod(scheduled, ptr.To[int64](5)); !graceful || s != 5 {
		t.Errorf("requested 5 s: %d %v", s, graceful)
	}
	if _, graceful := podGracePeriod(scheduled, ptr.To[int64](0)); graceful {
		t.Error("grace 0 deletes at once")
	}
	if _, graceful := podGracePeriod(&corev1.Pod{}, nil); graceful {
		t.Error("an unscheduled pod has no kubelet to wait for")
	}
}

func TestJobsGetAGeneratedSelector(t *testing.T) {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", UID: "u-1"}}
	generateJobSelector(job)
	if job.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] != "u-1" ||
		job.Spec.Template.Labels[batchv1.JobNameLabel] != "pi" || job.Spec.Template.Labels["controller-uid"] != "u-1" {
		t.Fatalf("selector %v, template labels %v", job.Spec.Selector, job.Spec.Template.Labels)
	}
	manual := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "m", UID: "u-2"}, Spec: batchv1.JobSpec{ManualSelector: ptr.To(true)}}
	generateJobSelector(manual)
	if manual.Spec.Selector != nil {
		t.Fatal("a manual selector is the user's")
	}
}

func TestServiceUpdatesKeepAllocations(t *testing.T) {
	old := &corev1.Service{Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20"},
		Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, NodePort: 30080}},
	}}
	applied := &corev1.Service{Spec: corev1.ServiceSpec{
		Type:  corev1.ServiceTypeNodePort,
		Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}},
	}}
	keepAllocations(applied, old)
	if applied.Spec.ClusterIP != "10.96.0.20" || applied.Spec.Ports[0].NodePort != 30080 {
		t.Fatalf("allocations lost: %+v", applied.Spec)
	}
}
