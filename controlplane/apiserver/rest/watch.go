package rest

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// minWatchTimeout is upstream's --min-request-timeout: a watch without
// timeoutSeconds ends after a random time between it and twice it, so that
// clients' reconnections spread out.
const minWatchTimeout = 30 * time.Minute

func (h *Handler) watch(w http.ResponseWriter, r *http.Request, info *request.Info) {
	opts, err := h.listOptions(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	timeout := minWatchTimeout + time.Duration(rand.Int64N(int64(minWatchTimeout)))
	if s := r.URL.Query().Get("timeoutSeconds"); s != "" {
		secs, err := strconv.ParseInt(s, 10, 64)
		if err != nil || secs < 0 {
			WriteError(w, badRequest("timeoutSeconds: invalid value %q", s))
			return
		}
		timeout = time.Duration(secs) * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	key := h.prefix(info.Namespace)
	if info.Name != "" {
		key = h.key(info.Namespace, info.Name)
	}
	watcher, err := h.Store.Watch(ctx, key, opts)
	if err != nil {
		WriteError(w, storage.ToAPIError(err, h.groupResource(), info.Name))
		return
	}
	defer watcher.Stop()

	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	table := wantsTable(r)
	partial := wantsPartialMetadata(r)
	includeObject := r.URL.Query().Get("includeObject")
	enc := json.NewEncoder(w)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-watcher.ResultChan():
			if !ok {
				return
			}
			obj := ev.Object
			if ev.Type != watch.Error {
				h.setKind(obj)
				if partial {
					if p, err := toPartialMetadata(obj); err != nil {
						obj, ev.Type = statusOf(err), watch.Error
					} else {
						obj = p
					}
				} else if table && ev.Type != watch.Bookmark {
					t, err := h.toTable(obj, includeObject)
					if err != nil {
						obj = statusOf(err)
						ev.Type = watch.Error
					} else {
						obj = t
					}
				}
			}
			if err := enc.Encode(&metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Object: obj}}); err != nil {
				return // the client went away
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}
