package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
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
	table := wantsTable(r)
	partial := wantsPartialMetadata(r)
	includeObject := r.URL.Query().Get("includeObject")
	write := writeJSONEvent(w)
	contentType := "application/json"
	if !table && !partial && prefersProtobuf(r) {
		write, contentType = writeProtobufEvent(w), protobufType
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-watcher.ResultChan():
			if !ok {
				return
			}
			obj := ev.Object
			if st, ok := obj.(*metav1.Status); ok && st.Kind == "" {
				// Clients decode an error event's object by its kind.
				st.Kind, st.APIVersion = "Status", "v1"
			}
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
			if err := write(ev.Type, obj); err != nil {
				return // the client went away
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// eventWriter writes one watch event to the stream.
type eventWriter func(watch.EventType, runtime.Object) error

// writeJSONEvent writes events as a stream of JSON WatchEvents.
func writeJSONEvent(w io.Writer) eventWriter {
	enc := json.NewEncoder(w)
	return func(t watch.EventType, obj runtime.Object) error {
		return enc.Encode(&metav1.WatchEvent{Type: string(t), Object: runtime.RawExtension{Object: obj}})
	}
}

// writeProtobufEvent writes events as upstream does for protobuf clients:
// each a WatchEvent in bare protobuf, its object inside in the usual
// protobuf envelope, behind a 4-byte big-endian length.
func writeProtobufEvent(w io.Writer) eventWriter {
	frames := protobuf.LengthDelimitedFramer.NewFrameWriter(w)
	var object bytes.Buffer
	return func(t watch.EventType, obj runtime.Object) error {
		object.Reset()
		if err := protobufSerializer.Encode(obj, &object); err != nil {
			return fmt.Errorf("encode watch event object: %w", err)
		}
		ev := metav1.WatchEvent{Type: string(t), Object: runtime.RawExtension{Raw: object.Bytes()}}
		data, err := ev.Marshal()
		if err != nil {
			return fmt.Errorf("encode watch event: %w", err)
		}
		_, err = frames.Write(data)
		return err
	}
}
