package admission

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

// ServiceAccountTokenPath is where pods find their API credentials.
const ServiceAccountTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// ServiceAccount gives pods their ServiceAccount, as upstream's plugin: the
// "default" account when none is named, and a projected volume with a bound
// token, the cluster CA (kube-root-ca.crt) and the namespace, mounted in
// every container, unless the pod or its account opts out.
type ServiceAccount struct{}

func (ServiceAccount) Name() string { return "ServiceAccount" }

func (ServiceAccount) Admit(_ context.Context, a rest.AdmissionAttributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok || a.Operation != "CREATE" {
		return nil
	}
	// Mirror pods belong to the kubelet; upstream leaves them alone.
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return nil
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = "default"
	}
	// The deprecated field mirrors the name, as upstream's conversion keeps
	// it in every stored pod.
	pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	if pod.Spec.AutomountServiceAccountToken != nil && !*pod.Spec.AutomountServiceAccountToken {
		return nil
	}
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") {
			return nil
		}
	}
	name := "kube-api-access-" + rand.String(5)
	pod.Spec.Volumes = append(pod.Spec.Volumes, tokenVolume(name))
	mount := corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: ServiceAccountTokenPath}
	for _, containers := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range containers {
			if !mountsAt(containers[i].VolumeMounts, ServiceAccountTokenPath) {
				containers[i].VolumeMounts = append(containers[i].VolumeMounts, mount)
			}
		}
	}
	return nil
}

func mountsAt(mounts []corev1.VolumeMount, path string) bool {
	for _, m := range mounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

// tokenVolume is upstream's projected volume, field for field, so that
// client-go's in-cluster config finds token, ca.crt and namespace.
func tokenVolume(name string) corev1.Volume {
	expiration := int64(3607)
	mode := int32(0o644)
	return corev1.Volume{
		Name: name,
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: &mode,
			Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: &expiration, Path: "token"}},
				{ConfigMap: &corev1.ConfigMapProjection{
					LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
					Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
				}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
					Path:     "namespace",
					FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
				}}}},
			},
		}},
	}
}
