package rest

import (
	"net/http"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

func (h *Handler) get(w http.ResponseWriter, r *http.Request, info *request.Info) {
	obj := h.Resource.New()
	opts := storage.GetOptions{ResourceVersion: r.URL.Query().Get("resourceVersion")}
	if err := h.Store.Get(r.Context(), h.key(info.Namespace, info.Name), opts, obj); err != nil {
		WriteError(w, storage.ToAPIError(err, h.groupResource(), info.Name))
		return
	}
	h.respond(w, r, http.StatusOK, obj)
}
