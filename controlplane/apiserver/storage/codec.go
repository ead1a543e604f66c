package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sync"

	jsoniter "github.com/json-iterator/go"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
)

// Codec turns objects into the bytes kept in etcd and back.
type Codec interface {
	// Encode writes obj's stored form, apiVersion and kind included, to w.
	// The store has already cleared resourceVersion.
	Encode(obj runtime.Object, w io.Writer) error
	// Decode fills into, which the store has zeroed, from data.
	Decode(data []byte, into runtime.Object) error
}

// JSONCodec keeps objects as JSON with their apiVersion and kind, which is
// what kube-apiserver writes with --storage-media-type=application/json.
//
// It encodes with encoding/json, so the bytes are kube-apiserver's and are
// stable (an unchanged object encodes to the same bytes, which is how
// GuaranteedUpdate skips no-op writes). It decodes with json-iterator,
// which reads the typed API structs about twice as fast; it honours the
// types' own UnmarshalJSON (times, quantities, int-or-string) just the same.
type JSONCodec struct {
	typer runtime.ObjectTyper
}

// NewJSONCodec returns a codec that finds an object's apiVersion and kind in
// typer when the object does not carry them.
func NewJSONCodec(typer runtime.ObjectTyper) *JSONCodec {
	return &JSONCodec{typer: typer}
}

// DefaultCodec is JSON with the kinds client-go knows (every built-in API
// group).
func DefaultCodec() *JSONCodec {
	return NewJSONCodec(scheme.Scheme)
}

// decodeAPI is case-sensitive like kube-apiserver's own decoder: a field
// spelled "Name" is not "name".
var decodeAPI = jsoniter.Config{
	EscapeHTML:             true,
	SortMapKeys:            true,
	ValidateJsonRawMessage: true,
	CaseSensitive:          true,
}.Froze()

// Encode implements Codec.
func (c *JSONCodec) Encode(obj runtime.Object, w io.Writer) error {
	kind := obj.GetObjectKind()
	gvk := kind.GroupVersionKind()
	if gvk.Kind == "" || gvk.Version == "" {
		kinds, _, err := c.typer.ObjectKinds(obj)
		if err != nil {
			return fmt.Errorf("encode %T: %w", obj, err)
		}
		// The caller's object is only borrowed to carry its kind.
		kind.SetGroupVersionKind(kinds[0])
		defer kind.SetGroupVersionKind(gvk)
	}
	return json.NewEncoder(w).Encode(obj)
}

// Decode implements Codec.
func (c *JSONCodec) Decode(data []byte, into runtime.Object) error {
	return decodeAPI.Unmarshal(data, into)
}

// zero resets obj to its zero value so that decoding cannot merge into
// what it held.
func zero(obj runtime.Object) {
	v := reflect.ValueOf(obj)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v.Elem().SetZero()
	}
}

// newLike returns an empty object of obj's type.
func newLike(obj runtime.Object) runtime.Object {
	if u, ok := obj.(runtime.Unstructured); ok {
		return u.NewEmptyInstance()
	}
	return reflect.New(reflect.TypeOf(obj).Elem()).Interface().(runtime.Object)
}

// Encoded objects go through pooled buffers: a write's bytes are copied
// once into the etcd request and the buffer is reused.
var bufferPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer keeps one huge object from pinning its buffer forever.
const maxPooledBuffer = 1 << 20

func getBuffer() *bytes.Buffer {
	return bufferPool.Get().(*bytes.Buffer)
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	bufferPool.Put(b)
}
