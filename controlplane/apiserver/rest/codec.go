package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// MaxBodyBytes is the largest request body accepted, as upstream (3 MiB).
const MaxBodyBytes = 3 << 20

// readBody reads a request body, refusing one over MaxBodyBytes with 413.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", MaxBodyBytes))
	}
	if err != nil {
		return nil, badRequest("read request body: %v", err)
	}
	return body, nil
}

// Field validation directives (the fieldValidation query parameter).
const (
	validationStrict = "Strict"
	validationWarn   = "Warn"
	validationIgnore = "Ignore"
)

// fieldValidation reads the directive; upstream's default is Warn.
func fieldValidation(r *http.Request) (string, error) {
	switch v := r.URL.Query().Get("fieldValidation"); v {
	case "":
		return validationWarn, nil
	case validationStrict, validationWarn, validationIgnore:
		return v, nil
	default:
		return "", badRequest("fieldValidation parameter unsupported: %s", v)
	}
}

// decodeOptions describe what a body must be.
type decodeOptions struct {
	gvk        schema.GroupVersionKind
	validation string
	// contentType of the body: JSON unless it says YAML.
	contentType string
}

// decode reads a JSON or YAML body into obj, checking its apiVersion and
// kind, and applying the field validation directive: unknown and duplicate
// fields are an error under Strict and warnings under Warn, as upstream.
func decode(body []byte, obj runtime.Object, opts decodeOptions) (warnings []string, err error) {
	cannotHandle := func(reason string) error {
		return badRequest("%s in version %q cannot be handled as a %s: %s", opts.gvk.Kind, opts.gvk.GroupVersion().String(), opts.gvk.Kind, reason)
	}
	if isProtobuf(opts.contentType) {
		return nil, decodeProtobuf(body, obj, opts.gvk, cannotHandle)
	}
	if isYAML(opts.contentType) {
		if body, err = yaml.YAMLToJSON(body); err != nil {
			return nil, cannotHandle(err.Error())
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badRequest("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml")
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(body, &tm); err != nil {
		return nil, cannotHandle(err.Error())
	}
	if tm.Kind != "" && tm.Kind != opts.gvk.Kind {
		return nil, badRequest("%s in version %q cannot be handled as a %s: no kind %q is registered for version %q", tm.Kind, tm.APIVersion, opts.gvk.Kind, tm.Kind, tm.APIVersion)
	}
	if tm.APIVersion != "" && tm.APIVersion != opts.gvk.GroupVersion().String() {
		return nil, badRequest("the API version in the data (%s) does not match the expected API version (%s)", tm.APIVersion, opts.gvk.GroupVersion().String())
	}
	var strictOpts []sigsjson.StrictOption
	if opts.validation != validationIgnore {
		strictOpts = []sigsjson.StrictOption{sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields}
	}
	strictErrs, err := sigsjson.UnmarshalStrict(body, obj, strictOpts...)
	if err != nil {
		return nil, cannotHandle(err.Error())
	}
	for _, e := range strictErrs {
		warnings = append(warnings, e.Error())
	}
	if opts.validation == validationStrict && len(warnings) > 0 {
		return nil, cannotHandle("strict decoding error: " + strings.Join(warnings, ", "))
	}
	obj.GetObjectKind().SetGroupVersionKind(opts.gvk)
	return warnings, nil
}

// protobufType is the content type client-go's typed clients send.
const protobufType = "application/vnd.kubernetes.protobuf"

var protobufSerializer = protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)

func isProtobuf(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == protobufType
}

// decodeProtobuf reads Kubernetes' protobuf envelope into obj. Field
// validation does not apply: protobuf has no unknown fields to report.
func decodeProtobuf(body []byte, obj runtime.Object, gvk schema.GroupVersionKind, cannotHandle func(string) error) error {
	_, got, err := protobufSerializer.Decode(body, &gvk, obj)
	if err != nil {
		return cannotHandle(err.Error())
	}
	if got != nil && *got != gvk {
		return badRequest("%s in version %q cannot be handled as a %s: kind mismatch", got.Kind, got.GroupVersion().String(), gvk.Kind)
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return nil
}

func isYAML(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/yaml" || mt == "application/x-yaml" || mt == "text/yaml"
}

// addWarnings sets upstream's Warning headers (RFC 7234 code 299).
func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// WriteJSON answers with v as JSON; for the server's non-resource paths.
func WriteJSON(w http.ResponseWriter, code int, v any) { writeJSON(w, code, v) }

// writeJSON answers with obj as JSON.
func writeJSON(w http.ResponseWriter, code int, obj any) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() { buf.Reset(); bufPool.Put(buf) }()
	if err := json.NewEncoder(buf).Encode(obj); err != nil {
		code = http.StatusInternalServerError
		buf.Reset()
		json.NewEncoder(buf).Encode(statusOf(fmt.Errorf("encode response: %w", err)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}
