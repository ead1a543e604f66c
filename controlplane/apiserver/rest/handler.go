// Package rest serves one resource of the registry over HTTP the way
// kube-apiserver does: the verbs, their query parameters, Status errors,
// watch streams and server-side tables, on top of storage.Interface.
package rest

import (
	"context"
	"net/http"
	"path"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// Admission checks a write before it is stored, after defaults and before
// validation, as upstream's admission chain. It may change obj (mutating
// admission) or refuse it.
type Admission func(ctx context.Context, a AdmissionAttributes) error

// AdmissionAttributes describe a write for admission.
type AdmissionAttributes struct {
	Operation string // CREATE, UPDATE, DELETE
	Resource  *registry.Resource
	Namespace string
	Name      string
	Object    runtime.Object
	Old       runtime.Object
	DryRun    bool
}

// Handler serves a resource.
type Handler struct {
	Resource *registry.Resource
	Store    storage.Interface
	// Admit runs before validation on every write; nil admits everything.
	Admit Admission
	// Now is the clock for timestamps; nil is time.Now.
	Now func() time.Time
	// DeleteCollectionWorkers is how many of a collection's objects a
	// deletecollection request deletes at once; less than 1 means 1.
	DeleteCollectionWorkers int
}

// KeyPrefix is where a resource's objects live in etcd:
// /registry/<resource> for the core group, /registry/<group>/<resource>
// for the others.
func KeyPrefix(r *registry.Resource) string {
	if r.GroupVersion.Group == "" {
		return path.Join("/registry", r.Name)
	}
	return path.Join("/registry", r.GroupVersion.Group, r.Name)
}

func (h *Handler) key(namespace, name string) string {
	if h.Resource.Namespaced {
		return path.Join(KeyPrefix(h.Resource), namespace, name)
	}
	return path.Join(KeyPrefix(h.Resource), name)
}

// prefix is the key prefix of a list: the namespace's, or all of them.
func (h *Handler) prefix(namespace string) string {
	if h.Resource.Namespaced && namespace != "" {
		return path.Join(KeyPrefix(h.Resource), namespace) + "/"
	}
	return KeyPrefix(h.Resource) + "/"
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) groupResource() schema.GroupResource {
	return h.Resource.GroupVersionResource().GroupResource()
}

func (h *Handler) admit(ctx context.Context, a AdmissionAttributes) error {
	if h.Admit == nil {
		return nil
	}
	a.Resource = h.Resource
	return h.Admit(ctx, a)
}

// ServeHTTP dispatches on the request's verb. The server has parsed the
// request into info and checked that it names this resource.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, info *request.Info) {
	if info.Subresource != "" && info.Subresource != "status" {
		WriteError(w, apierrors.NewNotFound(schema.GroupResource{Group: h.Resource.GroupVersion.Group, Resource: info.Resource + "/" + info.Subresource}, info.Name))
		return
	}
	if info.Subresource == "status" && !h.Resource.Strategy.StatusSplit {
		WriteError(w, apierrors.NewNotFound(schema.GroupResource{Group: h.Resource.GroupVersion.Group, Resource: info.Resource + "/status"}, info.Name))
		return
	}
	if !h.Resource.Namespaced && info.Namespace != "" && info.Resource != "namespaces" {
		WriteError(w, apierrors.NewNotFound(h.groupResource(), info.Name))
		return
	}
	switch info.Verb {
	case "get":
		h.get(w, r, info)
	case "list":
		h.list(w, r, info)
	case "watch":
		h.watch(w, r, info)
	case "create":
		h.create(w, r, info)
	case "update":
		h.update(w, r, info)
	case "patch":
		h.patch(w, r, info)
	case "delete":
		h.delete(w, r, info)
	case "deletecollection":
		h.deleteCollection(w, r, info)
	default:
		WriteError(w, apierrors.NewMethodNotSupported(h.groupResource(), info.Verb))
	}
}

// isDryRun reads dryRun=All; any other value is refused as upstream.
func isDryRun(r *http.Request) (bool, error) {
	values := r.URL.Query()["dryRun"]
	for _, v := range values {
		if v != "All" {
			return false, badRequest("dryRun: Unsupported value: %q: supported values: \"All\"", v)
		}
	}
	return len(values) > 0, nil
}
