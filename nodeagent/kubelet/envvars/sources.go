package envvars

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// APIObjects reads configMaps and secrets from the API server on every
// call; it is both a ConfigMapGetter and a SecretGetter.
type APIObjects struct {
	Client kubernetes.Interface
}

// GetConfigMap reads namespace/name.
func (a APIObjects) GetConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	return a.Client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
}

// GetSecret reads namespace/name.
func (a APIObjects) GetSecret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	return a.Client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
}

// InformerServices is a ServiceLister over a shared informer's cache.
type InformerServices struct {
	Lister corelisters.ServiceLister
}

// List returns the namespace's services from the cache.
func (s InformerServices) List(namespace string) ([]*corev1.Service, error) {
	return s.Lister.Services(namespace).List(labels.Everything())
}
