package podresources

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func container(req, lim corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: "c", Resources: corev1.ResourceRequirements{Requests: req, Limits: lim}}
}

func TestQOSClassAsUpstream(t *testing.T) {
	cpu := resource.MustParse("100m")
	mem := resource.MustParse("64Mi")
	both := corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem}
	tests := []struct {
		name string
		c    corev1.Container
		want corev1.PodQOSClass
	}{
		{"no resources", container(nil, nil), corev1.PodQOSBestEffort},
		{"equal requests and limits", container(both, both), corev1.PodQOSGuaranteed},
		{"limits only (requests default to them)", container(nil, both), corev1.PodQOSGuaranteed},
		{"requests only", container(both, nil), corev1.PodQOSBurstable},
		{"cpu limit only", container(nil, corev1.ResourceList{corev1.ResourceCPU: cpu}), corev1.PodQOSBurstable},
	}
	for _, tt := range tests {
		if got := QOSClass(&corev1.PodSpec{Containers: []corev1.Container{tt.c}}); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestTotalCountsSidecarsAndTheInitPeak(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	cpu := func(s string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(s)}}
	}
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{
			{Name: "sidecar", RestartPolicy: &always, Resources: cpu("100m")},
			{Name: "setup", Resources: cpu("1")},
		},
		Containers: []corev1.Container{{Name: "app", Resources: cpu("200m")}},
	}
	got := Total(spec, func(r *corev1.ResourceRequirements) corev1.ResourceList { return r.Requests })
	// setup runs beside the sidecar: 1.1 cpu, more than app + sidecar (300m).
	if q := got[corev1.ResourceCPU]; q.Cmp(resource.MustParse("1100m")) != 0 {
		t.Fatalf("total cpu %s, want 1100m", q.String())
	}
}
