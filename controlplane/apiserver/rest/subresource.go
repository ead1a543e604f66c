package rest

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// This file is what the handlers of subresources and of resources that
// are answered rather than stored (scale, binding, eviction, reviews)
// need from a resource's Handler: its objects, read and written through
// the same paths as the generic verbs, and the request decoding those
// verbs use.

// Key is where an object of the resource lives in etcd, for writes that
// bypass the strategy as upstream's do (a binding sets a pod's node,
// which no update of the pod may change).
func (h *Handler) Key(namespace, name string) string { return h.key(namespace, name) }

// GroupResource names the resource in errors.
func (h *Handler) GroupResource() schema.GroupResource { return h.groupResource() }

// Get reads one object; a missing one is the resource's NotFound.
func (h *Handler) Get(ctx context.Context, namespace, name string) (runtime.Object, error) {
	obj := h.Resource.New()
	if err := h.Store.Get(ctx, h.key(namespace, name), storage.GetOptions{}, obj); err != nil {
		return nil, storage.ToAPIError(err, h.groupResource(), name)
	}
	h.setKind(obj)
	return obj, nil
}

// List reads every object of a namespace ("" for all of them).
func (h *Handler) List(ctx context.Context, namespace string) ([]runtime.Object, error) {
	list := h.Resource.NewList()
	if err := h.Store.GetList(ctx, h.prefix(namespace), storage.ListOptions{}, list); err != nil {
		return nil, storage.ToAPIError(err, h.groupResource(), "")
	}
	return meta.ExtractList(list)
}

// UpdateFunc computes the object a write asks for from the current one.
// It runs inside the compare-and-swap loop and may run more than once.
type UpdateFunc = newObjectFunc

// Update writes one object through the path PUT takes: newObject, then
// the strategy, admission and validation, a compare-and-swap on the
// stored object, and the deletion of an object whose last finalizer the
// write removed. info names the object and the subresource the write
// comes through: "status" changes only the status, any other only the
// rest. A resourceVersion in newObject's result that is not the current
// one is a Conflict. Errors are API statuses.
func (h *Handler) Update(ctx context.Context, info *request.Info, dryRun bool, newObject UpdateFunc) (runtime.Object, error) {
	out, _, err := h.write(ctx, info, dryRun, newObject)
	return out, err
}

// Delete deletes one object as DELETE does: at once, or by marking it
// for its grace period or finalizers. deleted reports whether it is gone.
// Errors are API statuses.
func (h *Handler) Delete(ctx context.Context, namespace, name string, opts *metav1.DeleteOptions, dryRun bool) (obj runtime.Object, deleted bool, err error) {
	obj, deleted, err = h.deleteOne(ctx, namespace, name, opts, dryRun)
	if err != nil {
		return nil, false, storage.ToAPIError(err, h.groupResource(), name)
	}
	return obj, deleted, nil
}

// Respond answers with obj (of the resource's kind) as JSON, or as a
// Table when the client asked for one.
func (h *Handler) Respond(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object) {
	h.setKind(obj)
	h.respond(w, r, code, obj)
}

// DecodeBody reads the request's body into obj, whose kind is gvk, under
// the request's field validation directive; it refuses a body of another
// kind or version, or over MaxBodyBytes.
func DecodeBody(w http.ResponseWriter, r *http.Request, obj runtime.Object, gvk schema.GroupVersionKind) (warnings []string, err error) {
	validation, err := fieldValidation(r)
	if err != nil {
		return nil, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	return decode(body, obj, decodeOptions{gvk: gvk, validation: validation, contentType: r.Header.Get("Content-Type")})
}

// IsDryRun reads the dryRun query parameter; only "All" is accepted.
func IsDryRun(r *http.Request) (bool, error) { return isDryRun(r) }

// AddWarnings sets the response's Warning headers.
func AddWarnings(w http.ResponseWriter, warnings []string) { addWarnings(w, warnings) }

// WantsTable reports whether the client asked for a server-side Table.
func WantsTable(r *http.Request) bool { return wantsTable(r) }

// Patch is the patch of a PATCH request, read but not yet applied.
type Patch struct {
	Type       types.PatchType
	body       []byte
	validation string
	gr         schema.GroupResource
}

// ReadPatch reads a PATCH request's patch: its type, which must be a JSON,
// merge or strategic merge patch (415 otherwise, as upstream), and its
// body. gr and name name the object patched, in errors.
func ReadPatch(w http.ResponseWriter, r *http.Request, gr schema.GroupResource, name string) (*Patch, error) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	patchType := types.PatchType(mediaType)
	switch patchType {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
	case types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
		return nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", gr, name,
			"server-side apply is not supported by this server; use kubectl apply without --server-side", 0, false)
	default:
		return nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", gr, name,
			"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json", 0, false)
	}
	validation, err := fieldValidation(r)
	if err != nil {
		return nil, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	return &Patch{Type: patchType, body: body, validation: validation, gr: gr}, nil
}

// Apply patches current's JSON and decodes the result into out, an empty
// object of kind gvk whose Go type also drives a strategic merge patch.
func (p *Patch) Apply(current, out runtime.Object, gvk schema.GroupVersionKind) (warnings []string, err error) {
	original, err := json.Marshal(current)
	if err != nil {
		return nil, err
	}
	patched, err := applyPatch(p.Type, original, p.body, out, p.gr)
	if err != nil {
		return nil, err
	}
	return decode(patched, out, decodeOptions{gvk: gvk, validation: p.validation})
}
