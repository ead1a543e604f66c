package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Validation runs on every write, so a valid object should cost no
// allocations beyond what the checks cannot avoid.
func BenchmarkValidatePod(b *testing.B) {
	v, _ := For(corev1.SchemeGroupVersion.WithKind("Pod"))
	pod := richPod()
	b.ReportAllocs()
	for b.Loop() {
		if errs := v(pod); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

func BenchmarkValidatePodUpdate(b *testing.B) {
	_, v := For(corev1.SchemeGroupVersion.WithKind("Pod"))
	old := richPod()
	pod := richPod()
	pod.Spec.Containers[0].Image = "nginx:1.28"
	b.ReportAllocs()
	for b.Loop() {
		if errs := v(pod, old); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

func BenchmarkValidateDeployment(b *testing.B) {
	v, _ := For(appsv1.SchemeGroupVersion.WithKind("Deployment"))
	d := validDeployment()
	d.Spec.Template.Spec = richPod().Spec
	b.ReportAllocs()
	for b.Loop() {
		if errs := v(d); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}
