// Package openapi builds and serves the API's OpenAPI documents — v2 at
// /openapi/v2, v3 at /openapi/v3 and /openapi/v3/<group-version> — from the
// resource table and the Go types its resources are made of.
//
// Upstream generates these from source comments; here they come from
// reflection: definitions named as upstream names them, descriptions from
// the SwaggerDoc methods k8s.io/api generates, strategic-merge-patch
// metadata from struct tags, list and map semantics from the
// structured-merge-diff schema client-go carries, and every resource
// operation with upstream's operation IDs, parameters and extensions.
// kubectl reads them to explain fields, to compute apply's patches and to
// decide that the server validates fields itself.
//
// Everything is built and encoded once, by Build, except the protobuf
// forms, made on first request; serving is a lookup.
package openapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"github.com/munnerz/goautoneg"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/openapiconv"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

// Media types of the documents.
const (
	mediaJSON = "application/json"
	// client-go's OpenAPISchema asks for v2 as protobuf under the first
	// name; the second is the one responses carry.
	mediaV2ProtobufDeprecated = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mediaV2Protobuf           = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	mediaV3ProtobufDeprecated = "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
	mediaV3Protobuf           = "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"
)

// Documents holds the OpenAPI documents of one resource table. It is
// immutable and safe for concurrent use.
//
// Only the encoded documents are kept: the trees they were made from are
// several times larger, and a server holds its documents for its whole
// life.
type Documents struct {
	v2JSON encoded
	// The protobuf form of v2 is made on first request: only client-go's
	// OpenAPISchema asks for it, and parsing the JSON with gnostic is the
	// most expensive step of all.
	v2Proto lazyProto
	v3Index encoded
	v3      map[string]*v3Document
	built   time.Time
}

// encoded is a document and the ETag naming it. JSON documents are kept
// gzip-compressed: they shrink tenfold, a server holds them for its whole
// life, and the clients that fetch them (kubectl, client-go) accept gzip,
// so they get the compressed bytes as they are.
type encoded struct {
	body    []byte
	gzipped bool
	etag    string
}

func encode(body []byte) (encoded, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return encoded{}, err
	}
	if _, err := zw.Write(body); err != nil {
		return encoded{}, err
	}
	if err := zw.Close(); err != nil {
		return encoded{}, err
	}
	return encoded{body: slices.Clip(buf.Bytes()), gzipped: true, etag: fmt.Sprintf("%X", sha512.Sum512(body))}, nil
}

// plain returns the document's uncompressed bytes.
func (e encoded) plain() ([]byte, error) {
	if !e.gzipped {
		return e.body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(e.body))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// v3Document is one group-version's OpenAPI v3 document. Its protobuf form
// is made on first request: kubectl asks for JSON.
type v3Document struct {
	json  encoded
	proto lazyProto
}

// lazyProto is a document's protobuf encoding, made from its JSON once.
type lazyProto struct {
	once sync.Once
	body []byte
	err  error
}

func (l *lazyProto) get(json encoded, parse func([]byte) (proto.Message, error)) ([]byte, error) {
	l.once.Do(func() {
		var plain []byte
		if plain, l.err = json.plain(); l.err != nil {
			return
		}
		var doc proto.Message
		if doc, l.err = parse(plain); l.err == nil {
			l.body, l.err = proto.Marshal(doc)
		}
	})
	return l.body, l.err
}

func parseV2(b []byte) (proto.Message, error) { return openapi_v2.ParseDocument(b) }
func parseV3(b []byte) (proto.Message, error) { return openapi_v3.ParseDocument(b) }

// Build describes resources. It fails on a table it cannot describe: a
// resource without a Go type, a subresource kind no scheme knows, two
// types claiming one definition name.
func Build(resources []registry.Resource) (*Documents, error) {
	defs, err := newDefinitions()
	if err != nil {
		return nil, err
	}
	p, err := newPaths(defs, clientgoscheme.Scheme)
	if err != nil {
		return nil, err
	}
	groups := map[string][]string{}
	seen := map[schema.GroupVersion]bool{}
	for _, r := range resources {
		if err := p.addResource(r); err != nil {
			return nil, err
		}
		if gv := r.GroupVersion; !seen[gv] {
			seen[gv] = true
			groups[gv.Group] = append(groups[gv.Group], gv.Version)
		}
	}
	if err := p.addDiscovery(groups); err != nil {
		return nil, err
	}
	defs.finish()

	d := &Documents{v3: map[string]*v3Document{}, built: time.Now().UTC().Truncate(time.Second)}
	// MarshalJSON directly: encoding/json would compact and check the
	// megabytes it returns once more.
	v2JSON, err := swagger(p, defs, nil).MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode OpenAPI v2: %w", err)
	}
	if d.v2JSON, err = encode(v2JSON); err != nil {
		return nil, fmt.Errorf("encode OpenAPI v2: %w", err)
	}

	index := handler3.OpenAPIV3Discovery{Paths: map[string]handler3.OpenAPIV3DiscoveryGroupVersion{}}
	for name, paths := range p.docs {
		v3 := toV3(swagger(p, defs, paths), defs)
		body, err := v3.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encode OpenAPI v3 %s: %w", name, err)
		}
		json, err := encode(body)
		if err != nil {
			return nil, fmt.Errorf("encode OpenAPI v3 %s: %w", name, err)
		}
		doc := &v3Document{json: json}
		d.v3[name] = doc
		index.Paths[name] = handler3.OpenAPIV3DiscoveryGroupVersion{ServerRelativeURL: v3URL(name, doc.json.etag)}
	}
	indexJSON, err := json.Marshal(index)
	if err != nil {
		return nil, err
	}
	if d.v3Index, err = encode(indexJSON); err != nil {
		return nil, err
	}
	return d, nil
}

// swagger assembles a v2 document of the given paths (nil: all) and the
// definitions they reach.
func swagger(p *paths, defs *definitions, only []string) *spec.Swagger {
	s := &spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger: "2.0",
		Info:    &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: "unversioned"}},
		Paths:   &spec.Paths{Paths: map[string]spec.PathItem{}},
		SecurityDefinitions: spec.SecurityDefinitions{
			"BearerToken": &spec.SecurityScheme{SecuritySchemeProps: spec.SecuritySchemeProps{
				Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication",
			}},
		},
		Security: []map[string][]string{{"BearerToken": {}}},
	}}
	if only == nil {
		for path := range p.items {
			only = append(only, path)
		}
		s.Definitions = defs.defs
	}
	sort.Strings(only)
	var roots []string
	for _, path := range only {
		item := *p.items[path]
		s.Paths.Paths[path] = item
		for _, op := range []*spec.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch, item.Head, item.Options} {
			if op == nil {
				continue
			}
			for _, param := range op.Parameters {
				if param.Schema != nil {
					roots = append(roots, strings.TrimPrefix(param.Schema.Ref.String(), "#/definitions/"))
				}
			}
			for _, resp := range op.Responses.StatusCodeResponses {
				if resp.Schema != nil && resp.Schema.Ref.String() != "" {
					roots = append(roots, strings.TrimPrefix(resp.Schema.Ref.String(), "#/definitions/"))
				}
			}
		}
	}
	if s.Definitions == nil {
		s.Definitions = defs.reachable(roots)
	}
	return s
}

// toV3 converts a v2 document to v3 with the converter upstream's
// aggregator uses, then says what v2 could not: that IntOrString and
// Quantity are one of several types, and that writes need a body.
func toV3(v2 *spec.Swagger, defs *definitions) *spec3.OpenAPI {
	v3 := openapiconv.ConvertV2ToV3(v2)
	v3.Info = v2.Info
	for def, types := range defs.oneOf {
		if s, ok := v3.Components.Schemas[def]; ok {
			s.Type = nil
			for _, t := range types {
				s.OneOf = append(s.OneOf, typed(t, ""))
			}
		}
	}
	for _, item := range v3.Paths.Paths {
		for _, op := range []*spec3.Operation{item.Post, item.Put, item.Patch} {
			if op != nil && op.RequestBody != nil {
				op.RequestBody.Required = true
			}
		}
	}
	return v3
}

// v3URL is where a v3 document is served, its hash in the query so that
// clients may cache it for good.
func v3URL(name, etag string) string {
	u := url.URL{Path: "/openapi/v3/" + name, RawQuery: url.Values{"hash": {etag}}.Encode()}
	return u.String()
}

// V2 decodes the OpenAPI v2 document; each call returns a new copy.
func (d *Documents) V2() *spec.Swagger {
	plain, err := d.v2JSON.plain()
	if err != nil {
		return nil
	}
	s := &spec.Swagger{}
	if err := s.UnmarshalJSON(plain); err != nil {
		return nil
	}
	return s
}

// V3 decodes the OpenAPI v3 document of a group-version ("api/v1",
// "apis/apps/v1"), or nil; each call decodes a new copy.
func (d *Documents) V3(name string) *spec3.OpenAPI {
	doc := d.v3[name]
	if doc == nil {
		return nil
	}
	plain, err := doc.json.plain()
	if err != nil {
		return nil
	}
	s := &spec3.OpenAPI{}
	if err := s.UnmarshalJSON(plain); err != nil {
		return nil
	}
	return s
}

// ServeHTTP answers /openapi/v2, /openapi/v3 and /openapi/v3/<name>.
func (d *Documents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, r.Method+" is not supported on "+r.URL.Path)
		return
	}
	switch path := strings.TrimSuffix(r.URL.Path, "/"); {
	case path == "/openapi/v2":
		d.serveV2(w, r)
	case path == "/openapi/v3":
		d.serve(w, r, mediaJSON, d.v3Index)
	case strings.HasPrefix(path, "/openapi/v3/"):
		d.serveV3(w, r, strings.TrimPrefix(path, "/openapi/v3/"))
	default:
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
	}
}

func (d *Documents) serveV2(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	switch negotiate(r, mediaJSON, mediaV2ProtobufDeprecated, mediaV2Protobuf) {
	case mediaJSON:
		d.serve(w, r, mediaJSON, d.v2JSON)
	case mediaV2Protobuf, mediaV2ProtobufDeprecated:
		pb, err := d.v2Proto.get(d.v2JSON, parseV2)
		if err != nil {
			writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "encode OpenAPI v2 as protobuf: "+err.Error())
			return
		}
		// Both encodings carry the JSON's ETag, as upstream's do: they are
		// one document, and the response varies on Accept.
		d.serve(w, r, mediaV2Protobuf, encoded{body: pb, etag: d.v2JSON.etag})
	default:
		writeNotAcceptable(w, mediaJSON, mediaV2Protobuf)
	}
}

func (d *Documents) serveV3(w http.ResponseWriter, r *http.Request, name string) {
	doc := d.v3[name]
	if doc == nil {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
		return
	}
	w.Header().Add("Vary", "Accept")
	mediaType := negotiate(r, mediaJSON, mediaV3ProtobufDeprecated, mediaV3Protobuf)
	if mediaType == "" {
		writeNotAcceptable(w, mediaJSON, mediaV3Protobuf)
		return
	}
	// A link to an older version of the document leads to the current one.
	if hash := r.URL.Query().Get("hash"); hash != "" {
		if hash != doc.json.etag {
			http.Redirect(w, r, v3URL(name, doc.json.etag), http.StatusMovedPermanently)
			return
		}
		// What a hash names never changes.
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
	}
	if mediaType == mediaJSON {
		d.serve(w, r, mediaJSON, doc.json)
		return
	}
	pb, err := doc.proto.get(doc.json, parseV3)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "encode OpenAPI v3 as protobuf: "+err.Error())
		return
	}
	d.serve(w, r, mediaV3Protobuf, encoded{body: pb, etag: doc.json.etag})
}

// serve writes a document with its ETag; http.ServeContent answers
// If-None-Match with 304 and HEAD without a body. A compressed document
// goes out as it is to clients that accept gzip, and is decompressed for
// the others.
func (d *Documents) serve(w http.ResponseWriter, r *http.Request, contentType string, e encoded) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Etag", strconv.Quote(e.etag))
	body := e.body
	if e.gzipped {
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			w.Header().Set("Content-Encoding", "gzip")
		} else {
			plain, err := e.plain()
			if err != nil {
				writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "decompress the OpenAPI document: "+err.Error())
				return
			}
			body = plain
		}
	}
	http.ServeContent(w, r, "", d.built, bytes.NewReader(body))
}

// acceptsGzip reports whether the request's Accept-Encoding admits gzip:
// named or "*", without q=0.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.TrimSpace(coding)
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		return q > 0
	}
	return false
}

// negotiate returns the first of offered (full media types) that the
// request's Accept header admits, in the client's order of preference, or
// "".
func negotiate(r *http.Request, offered ...string) string {
	accept := r.Header.Get("Accept")
	if accept == "" {
		accept = "*/*"
	}
	for _, clause := range goautoneg.ParseAccept(accept) {
		if clause.Q == 0 {
			continue
		}
		for _, o := range offered {
			typ, sub, _ := strings.Cut(o, "/")
			if (clause.Type == typ || clause.Type == "*") && (clause.SubType == sub || clause.SubType == "*") {
				return o
			}
		}
	}
	return ""
}

func writeNotAcceptable(w http.ResponseWriter, offered ...string) {
	writeStatus(w, http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable,
		"only the following media types are accepted: "+strings.Join(offered, ", "))
}

// writeStatus writes a failure Status the way the API server writes errors.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	body, _ := json.Marshal(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   reason,
		Code:     int32(code),
	})
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}
