// Package registry is the API server's table of resources: what each one is
// called, which Go type holds it, and its strategy (defaults, validation,
// status split, table columns). Serving a new resource is adding an entry,
// not copying a handler.
package registry

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
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

	// Strategy says how objects of the resource are created and changed.
	Strategy Strategy
}

// Strategy is a resource's behaviour beyond storing what it is sent. Every
// hook is optional; the zero Strategy stores objects as they come.
type Strategy struct {
	// StatusSplit resources keep spec and status apart: writes to the
	// resource ignore status, writes to the status subresource ignore
	// everything else, as upstream.
	StatusSplit bool
	// StatusOnCreate keeps the status a client creates an object with,
	// although the resource splits status: upstream's nodes, which the
	// kubelet registers with their capacity and conditions.
	StatusOnCreate bool
	// StatusKeepsAnnotations lets a status write change annotations, as
	// upstream's deployments/status does: the deployment controller
	// records revisions there.
	StatusKeepsAnnotations bool
	// Generation resources count spec changes in metadata.generation.
	Generation bool

	// Defaults fills unset fields as upstream's defaulting does.
	Defaults func(obj runtime.Object)
	// PrepareForCreate resets what a client may not set on create (status
	// of a new pod, for instance).
	PrepareForCreate func(obj runtime.Object)
	// PrepareForUpdate carries over from old what a client may not change.
	PrepareForUpdate func(obj, old runtime.Object)
	// Validate and ValidateUpdate return every problem, with field paths.
	Validate       func(obj runtime.Object) field.ErrorList
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// GracePeriod says how long a deletion waits for the object to go (a
	// pod's containers to stop), given the client's request; graceful
	// false deletes at once. nil: every deletion is immediate.
	GracePeriod func(obj runtime.Object, requested *int64) (seconds int64, graceful bool)
	// DeletionHeld reports finalizers a resource keeps outside metadata (a
	// namespace's spec.finalizers): a deletion waits for them as for
	// metadata.finalizers, and the object goes once none is left.
	DeletionHeld func(obj runtime.Object) bool
	// PrepareForDelete changes an object that a deletion marks rather
	// than removes (a namespace's phase becomes Terminating).
	PrepareForDelete func(obj runtime.Object)
	// ValidateStatusUpdate validates writes to the status subresource; nil
	// uses ValidateUpdate.
	ValidateStatusUpdate func(obj, old runtime.Object) field.ErrorList
	// NameRule checks metadata.name; nil is upstream's default, a DNS
	// subdomain.
	NameRule func(name string, prefix bool) []string
	// AllowCreateOnUpdate lets PUT create a missing object.
	AllowCreateOnUpdate bool
	// SelectableFields are the fields besides metadata.name and
	// metadata.namespace that field selectors may use.
	SelectableFields func(obj runtime.Object) fields.Set
	// Table gives `kubectl get` its columns; nil means NAME and AGE.
	Table *TableConvertor
}

// TableConvertor renders objects as the rows of a metav1.Table. The server
// puts the object's name first unless a column has Format "name", in which
// case the convertor's cells carry the name where that column is.
type TableConvertor struct {
	Columns []metav1.TableColumnDefinition
	// Cells returns one row's cells, in Columns' order.
	Cells func(obj runtime.Object) ([]any, error)
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
