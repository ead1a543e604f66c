package admission

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

// NamespaceGetter reads a namespace; it returns an error for which
// apierrors.IsNotFound holds when there is none.
type NamespaceGetter func(ctx context.Context, name string) (*corev1.Namespace, error)

// NamespaceLifecycle refuses to create objects in a namespace that does not
// exist or is being deleted, and protects the namespaces the cluster needs.
type NamespaceLifecycle struct {
	Get NamespaceGetter
}

// immortalNamespaces cannot be deleted, as upstream.
var immortalNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true}

func (NamespaceLifecycle) Name() string { return "NamespaceLifecycle" }

func (p NamespaceLifecycle) Admit(ctx context.Context, a rest.AdmissionAttributes) error {
	if a.Resource.Name == "namespaces" {
		if a.Operation == "DELETE" && immortalNamespaces[a.Name] {
			return apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, a.Name, fmt.Errorf("this namespace may not be deleted"))
		}
		return nil
	}
	if !a.Resource.Namespaced || a.Operation != "CREATE" {
		return nil
	}
	ns, err := p.Get(ctx, a.Namespace)
	if err != nil {
		return err
	}
	if ns.Status.Phase == corev1.NamespaceTerminating || ns.DeletionTimestamp != nil {
		gr := a.Resource.GroupVersionResource().GroupResource()
		return apierrors.NewForbidden(gr, a.Name, fmt.Errorf("unable to create new content in namespace %s because it is being terminated", a.Namespace))
	}
	return nil
}
