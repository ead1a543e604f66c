package defaults_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/apiserver/registry/defaults"
)

// Pod defaulting runs on every pod write: once on a pod as a client sends
// it (create), and again on a pod that is already defaulted (status
// updates from the kubelet, most updates).

// BenchmarkPodCreate defaults a fresh copy of a typical pod each time. The
// copy is part of the time; BenchmarkPodCopy measures it alone.
func BenchmarkPodCreate(b *testing.B) {
	pod := benchPod()
	b.ReportAllocs()
	for b.Loop() {
		defaults.Pod(pod.DeepCopy())
	}
}

// BenchmarkPodCopy is the copying that BenchmarkPodCreate includes.
func BenchmarkPodCopy(b *testing.B) {
	pod := benchPod()
	b.ReportAllocs()
	for b.Loop() {
		_ = pod.DeepCopy()
	}
}

// BenchmarkPodUpdate defaults a pod that is already defaulted.
func BenchmarkPodUpdate(b *testing.B) {
	pod := benchPod()
	defaults.Pod(pod)
	b.ReportAllocs()
	for b.Loop() {
		defaults.Pod(pod)
	}
}

// BenchmarkPodSample defaults the test sample, which has every kind of
// nested default.
func BenchmarkPodSample(b *testing.B) {
	pod := samplePod()
	b.ReportAllocs()
	for b.Loop() {
		defaults.Pod(pod.DeepCopy())
	}
}

// benchPod is a pod as a Deployment's ReplicaSet creates it: two
// containers with probes, env and resources, and the projected service
// account token volume.
func benchPod() *corev1.Pod {
	p := samplePod()
	p.Spec = corev1.PodSpec{
		Volumes: []corev1.Volume{
			{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "web"}}}},
			p.Spec.Volumes[5], // projected service account token
		},
		Containers: []corev1.Container{
			p.Spec.Containers[0],
			{Name: "proxy", Image: "registry.k8s.io/proxy:v1.2.3", Ports: []corev1.ContainerPort{{ContainerPort: 15001}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: q("50m"), corev1.ResourceMemory: q("64Mi")}}},
		},
	}
	p.Status = corev1.PodStatus{}
	return p
}
