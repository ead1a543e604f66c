package serviceaccount

import corev1 "k8s.io/api/core/v1"

// Getter reads the objects tokens refer to, from the API server's watch
// cache. A missing object is reported as a NotFound API error
// (k8s.io/apimachinery/pkg/api/errors), which TokenRequest passes on to the
// client unchanged.
type Getter interface {
	GetServiceAccount(namespace, name string) (*corev1.ServiceAccount, error)
	GetPod(namespace, name string) (*corev1.Pod, error)
	GetSecret(namespace, name string) (*corev1.Secret, error)
	GetNode(name string) (*corev1.Node, error)
}
