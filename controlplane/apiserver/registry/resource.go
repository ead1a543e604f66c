// Package registry is the API server's table of resources: what each one is
// called, which Go type holds it, and its strategy (defaults, validation,
// status split, table columns). Serving a new resource is adding an entry,
// not copying a handler.
package registry

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource describes one served resource, such as pods in core/v1.
type Resource struct {
	// GroupVersion is where it is served; the core group has Group "".
	GroupVersion schema.GroupVersion
	// Name is the plural, lower-case resource name in URLs ("pods").
	Name string
	// SingularName is what kubectl accepts for one ("pod").
	SingularName string
	// Kind is the object's kind ("Pod"); its list is Kind+"List".
	Kind string
	// Namespaced resources live in a namespace.
	Namespaced bool
	// ShortNames are kubectl's abbreviations ("po").
	ShortNames []string
	// Categories group resources for kubectl ("all").
	Categories []string
	// Verbs are the operations allowed on the resource itself.
	Verbs []string
	// Subresources are served under <resource>/<name>/<subresource>.
	Subresources []Subresource
	// New returns an empty object of the resource's type; NewList an empty
	// list.
	New     func() runtime.Object
	NewList func() runtime.Object
}

// Subresource is a part of a resource served on its own path, like
// pods/status or deployments/scale.
type Subresource struct {
	Name string
	// GroupVersionKind of the object exchanged on the subresource: the
	// parent's kind for status, autoscaling/v1 Scale for scale, and so on.
	Kind schema.GroupVersionKind
	// Verbs allowed on it (get, update, patch, create).
	Verbs []string
}

// GroupVersionResource names the resource.
func (r Resource) GroupVersionResource() schema.GroupVersionResource {
	return r.GroupVersion.WithResource(r.Name)
}

// GroupVersionKind names the resource's kind.
func (r Resource) GroupVersionKind() schema.GroupVersionKind {
	return r.GroupVersion.WithKind(r.Kind)
}

// Verb sets used by most resources.
var (
	// AllVerbs are the verbs of a resource stored in full.
	AllVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	// StatusVerbs are the verbs of a status subresource.
	StatusVerbs = []string{"get", "patch", "update"}
)
