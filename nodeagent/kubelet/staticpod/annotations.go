package staticpod

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The annotations the kubelet puts on the pods it knows, with upstream's
// keys (k8s.io/kubernetes/pkg/kubelet/types).
const (
	// ConfigSourceAnnotationKey names where the kubelet got a pod from:
	// FileSource for static pods, APIServerSource for the rest.
	ConfigSourceAnnotationKey = "kubernetes.io/config.source"
	// ConfigHashAnnotationKey holds a static pod's UID, a hash of its
	// manifest, node and file: the mirror pod carries it over so that a
	// changed manifest is told from its stale mirror.
	ConfigHashAnnotationKey = "kubernetes.io/config.hash"
	// ConfigMirrorAnnotationKey marks a mirror pod; its value is the
	// config hash of the static pod it mirrors.
	ConfigMirrorAnnotationKey = corev1.MirrorPodAnnotationKey
	// ConfigFirstSeenAnnotationKey is when the kubelet first saw the pod,
	// in RFC3339NanoFixed.
	ConfigFirstSeenAnnotationKey = "kubernetes.io/config.seen"
)

// The values of ConfigSourceAnnotationKey.
const (
	FileSource      = "file"
	APIServerSource = "api"
)

// RFC3339NanoFixed is the kubelet's layout for config.seen: RFC3339Nano
// with trailing zeros kept, so every stamp has the same width.
const RFC3339NanoFixed = "2006-01-02T15:04:05.000000000Z07:00"

// IsStaticPod reports whether the kubelet got pod from anywhere but the API
// server. A pod without a source annotation is not static.
func IsStaticPod(pod *corev1.Pod) bool {
	source, ok := pod.Annotations[ConfigSourceAnnotationKey]
	return ok && source != APIServerSource
}

// IsMirrorPod reports whether pod is the API server's copy of a static pod.
func IsMirrorPod(pod *corev1.Pod) bool {
	_, ok := pod.Annotations[ConfigMirrorAnnotationKey]
	return ok
}

// FullName is the kubelet's key for a pod across its static and mirror
// copies, which share name and namespace but not UID: "<name>_<namespace>".
func FullName(pod *corev1.Pod) string {
	return pod.Name + "_" + pod.Namespace
}

// ParseFullName splits a FullName. Neither names nor namespaces contain
// "_", so the split is unambiguous.
func ParseFullName(fullName string) (name, namespace string, err error) {
	parts := strings.Split(fullName, "_")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", fmt.Errorf("failed to parse the pod full name %q", fullName)
	}
	return parts[0], parts[1], nil
}

// configHash is the hash a static pod carries and its mirror repeats.
func configHash(pod *corev1.Pod) string {
	return pod.Annotations[ConfigHashAnnotationKey]
}

// isMirrorPodOf reports whether mirror mirrors the current version of
// static, as upstream's kubepod.IsMirrorPodOf.
func isMirrorPodOf(mirror, static *corev1.Pod) bool {
	if mirror.Name != static.Name || mirror.Namespace != static.Namespace {
		return false
	}
	hash, ok := mirror.Annotations[ConfigMirrorAnnotationKey]
	return ok && hash == configHash(static)
}
