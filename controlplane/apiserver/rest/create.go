package rest

import (
	"net/http"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

func (h *Handler) create(w http.ResponseWriter, r *http.Request, info *request.Info) {
	if info.Subresource != "" {
		WriteError(w, badRequest("create is not supported on %s/%s", info.Resource, info.Subresource))
		return
	}
	obj, warnings, err := h.decodeBody(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	dryRun, err := isDryRun(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	om := metaOf(obj)
	if err := h.checkNamespaceAndName(om, info); err != nil {
		WriteError(w, err)
		return
	}
	h.prepareCreate(obj)
	if f := h.Resource.Strategy.Defaults; f != nil {
		f(obj)
	}
	if err := h.admit(r.Context(), AdmissionAttributes{Operation: "CREATE", Namespace: om.Namespace, Name: om.Name, Object: obj, DryRun: dryRun}); err != nil {
		WriteError(w, err)
		return
	}
	if err := h.validateCreate(obj); err != nil {
		WriteError(w, err)
		return
	}
	addWarnings(w, warnings)
	out := h.Resource.New()
	if dryRun {
		out = obj
	} else if err := h.Store.Create(r.Context(), h.key(om.Namespace, om.Name), obj, out); err != nil {
		WriteError(w, storage.ToAPIError(err, h.groupResource(), om.Name))
		return
	}
	h.setKind(out)
	h.respond(w, r, http.StatusCreated, out)
}

// decodeBody reads the request's object under the field validation
// directive.
func (h *Handler) decodeBody(w http.ResponseWriter, r *http.Request) (obj runtime.Object, warnings []string, err error) {
	validation, err := fieldValidation(r)
	if err != nil {
		return nil, nil, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, nil, err
	}
	obj = h.Resource.New()
	warnings, err = decode(body, obj, decodeOptions{gvk: h.Resource.GroupVersionKind(), validation: validation, contentType: r.Header.Get("Content-Type")})
	return obj, warnings, err
}
