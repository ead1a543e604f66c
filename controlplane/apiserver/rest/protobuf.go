package rest

import (
	"bytes"
	"mime"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// prefersProtobuf reports whether the client lists Kubernetes' protobuf
// before JSON in Accept, as client-go's typed clients do. Upstream answers
// them in protobuf, which is smaller and much cheaper to encode and decode
// than JSON.
func prefersProtobuf(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case protobufType:
			// "as=Table" and other conversions are JSON-only here.
			return len(params) == 0
		case "application/json", "application/*", "*/*", "application/yaml":
			return false
		}
	}
	return false
}

// writeProtobuf answers with obj in Kubernetes' protobuf envelope; obj's
// apiVersion and kind must be set. An object that cannot be encoded (none
// of the served types) falls back to JSON.
func writeProtobuf(w http.ResponseWriter, code int, obj runtime.Object) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); bufPool.Put(buf) }()
	if err := protobufSerializer.Encode(obj, buf); err != nil {
		writeJSON(w, code, obj)
		return
	}
	w.Header().Set("Content-Type", protobufType)
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}
