package rest

import (
	"context"
	"encoding/json"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/kindish/kindish/controlplane/apiserver/request"
)

// maxJSONPatchOperations is upstream's limit on a JSON patch's length.
const maxJSONPatchOperations = 10000

func (h *Handler) patch(w http.ResponseWriter, r *http.Request, info *request.Info) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	patchType := types.PatchType(mediaType)
	switch patchType {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
	case types.ApplyYAMLPatchType, types.ApplyCBORPatchType:
		WriteError(w, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", h.groupResource(), info.Name,
			"server-side apply is not supported by this server; use kubectl apply without --server-side", 0, false))
		return
	default:
		WriteError(w, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", h.groupResource(), info.Name,
			"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json", 0, false))
		return
	}
	validation, err := fieldValidation(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	patch, err := readBody(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	var warnings []string
	// The patch is applied to the current object inside the update loop,
	// so that a concurrent change is patched again rather than lost.
	h.applyUpdate(w, r, info, func() []string { return warnings }, func(_ context.Context, current runtime.Object) (runtime.Object, error) {
		if metaOf(current).ResourceVersion == "" {
			return nil, apierrors.NewNotFound(h.groupResource(), info.Name)
		}
		h.setKind(current)
		original, err := json.Marshal(current)
		if err != nil {
			return nil, err
		}
		patched, err := h.applyPatch(patchType, original, patch)
		if err != nil {
			return nil, err
		}
		obj := h.Resource.New()
		warnings, err = decode(patched, obj, decodeOptions{gvk: h.Resource.GroupVersionKind(), validation: validation})
		if err != nil {
			return nil, err
		}
		return obj, nil
	})
}

// applyPatch applies one patch document to the object's JSON.
func (h *Handler) applyPatch(patchType types.PatchType, original, patch []byte) ([]byte, error) {
	switch patchType {
	case types.JSONPatchType:
		ops, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if len(ops) > maxJSONPatchOperations {
			return nil, apierrors.NewRequestEntityTooLargeError("The allowed maximum operations in a JSON patch is 10000")
		}
		out, err := ops.Apply(original)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", h.groupResource(), "", err.Error(), 0, false)
		}
		return out, nil
	case types.MergePatchType:
		out, err := jsonpatch.MergePatch(original, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	default: // strategic merge patch, driven by the Go type's patch tags
		out, err := strategicpatch.StrategicMergePatch(original, patch, h.Resource.New())
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	}
}
