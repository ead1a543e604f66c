package addons

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// fieldManager names kindish as the writer of the addons' objects.
const fieldManager = "kindish"

// Install creates the addons' objects, in order, or updates the ones that
// exist (a second install converges rather than failing).
func Install(ctx context.Context, cfg *rest.Config, p Params, addons ...Addon) error {
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, a := range addons {
		objs, err := a.Objects(p)
		if err != nil {
			return fmt.Errorf("addon %s: %w", a.Name, err)
		}
		for _, obj := range objs {
			if err := apply(ctx, client, mapper, obj); err != nil {
				return fmt.Errorf("addon %s: %w", a.Name, err)
			}
		}
	}
	return nil
}

func apply(ctx context.Context, client dynamic.Interface, mapper meta.RESTMapper, obj runtime.Object) error {
	u, err := toUnstructured(obj)
	if err != nil {
		return err
	}
	gvk := u.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
	}
	var r dynamic.ResourceInterface = client.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		r = client.Resource(mapping.Resource).Namespace(u.GetNamespace())
	}
	_, err = r.Create(ctx, u, metav1.CreateOptions{FieldManager: fieldManager})
	if apierrors.IsAlreadyExists(err) {
		existing, getErr := r.Get(ctx, u.GetName(), metav1.GetOptions{})
		if getErr != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), getErr)
		}
		u.SetResourceVersion(existing.GetResourceVersion())
		_, err = r.Update(ctx, u, metav1.UpdateOptions{FieldManager: fieldManager})
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, u.GetName(), err)
	}
	return nil
}

// toUnstructured converts a typed object, filling in its kind from the
// scheme when the object leaves it empty.
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	gvks, _, err := scheme.Scheme.ObjectKinds(obj)
	if err != nil {
		return nil, err
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvks[0])
	return u, nil
}
