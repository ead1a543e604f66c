package rest

import (
	"context"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/kindish/kindish/controlplane/apiserver/request"
)

// maxJSONPatchOperations is upstream's limit on a JSON patch's length.
const maxJSONPatchOperations = 10000

func (h *Handler) patch(w http.ResponseWriter, r *http.Request, info *request.Info) {
	p, err := ReadPatch(w, r, h.groupResource(), info.Name)
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
		obj := h.Resource.New()
		decodeWarnings, err := p.Apply(current, obj, h.Resource.GroupVersionKind())
		if err != nil {
			return nil, err
		}
		warnings = decodeWarnings
		return obj, nil
	})
}

// applyPatch applies one patch document to an object's JSON. dataStruct
// is an object of the patched type: its Go type's patch tags drive a
// strategic merge patch.
func applyPatch(patchType types.PatchType, original, patch []byte, dataStruct runtime.Object, gr schema.GroupResource) ([]byte, error) {
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
			// Upstream's answer names no resource: kubectl then prints "The
			// request is invalid: the server rejected our request due to
			// an error in our request", not `The configmaps "" is invalid`.
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
		}
		return out, nil
	case types.MergePatchType:
		out, err := jsonpatch.MergePatch(original, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	default: // strategic merge patch
		out, err := strategicpatch.StrategicMergePatch(original, patch, dataStruct)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	}
}
