package openapi

import (
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

// Media types of the API's operations, as upstream lists them.
var (
	objectMediaTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	streamMediaTypes = []string{"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"}
	watchMediaTypes  = append(append([]string{}, objectMediaTypes...), streamMediaTypes...)
	patchMediaTypes  = []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"}
	logMediaTypes    = append([]string{"text/plain"}, objectMediaTypes...)
	anyMediaType     = []string{"*/*"}
)

// paths builds the operations of every resource into path items, and
// remembers which paths belong to which OpenAPI v3 document.
type paths struct {
	defs *definitions
	// scheme finds the Go types of kinds exchanged on subresources and of
	// the options their operations take.
	scheme *runtime.Scheme
	items  map[string]*spec.PathItem
	// docs maps each v3 document ("api/v1", "apis/apps") to its paths.
	docs map[string][]string

	// Shared definitions and parameters.
	status, deleteOptions, watchEvent, patch string
	listParams, deleteParams                 []spec.Parameter
	createParams, updateParams, patchParams  []spec.Parameter
	deleteCollectionParams                   []spec.Parameter
}

func newPaths(defs *definitions, scheme *runtime.Scheme) (*paths, error) {
	p := &paths{defs: defs, scheme: scheme, items: map[string]*spec.PathItem{}, docs: map[string][]string{}}
	for _, shared := range []struct {
		name *string
		obj  interface{}
	}{
		{&p.status, metav1.Status{}},
		{&p.deleteOptions, metav1.DeleteOptions{}},
		{&p.watchEvent, metav1.WatchEvent{}},
		{&p.patch, metav1.Patch{}},
	} {
		var err error
		if *shared.name, err = defs.define(reflect.TypeOf(shared.obj)); err != nil {
			return nil, err
		}
	}
	p.listParams = queryParams(reflect.TypeOf(metav1.ListOptions{}))
	p.deleteParams = queryParams(reflect.TypeOf(metav1.DeleteOptions{}))
	p.createParams = queryParams(reflect.TypeOf(metav1.CreateOptions{}))
	p.updateParams = queryParams(reflect.TypeOf(metav1.UpdateOptions{}))
	p.patchParams = queryParams(reflect.TypeOf(metav1.PatchOptions{}))
	p.deleteCollectionParams = sortParams(append(queryParams(reflect.TypeOf(metav1.ListOptions{}), "watch", "allowWatchBookmarks"), p.deleteParams...))
	if _, err := defs.addKind(reflect.TypeOf(metav1.Status{}), schema.GroupVersion{Version: "v1"}.WithKind("Status")); err != nil {
		return nil, err
	}
	return p, nil
}

// queryParams are the fields of an options type as query parameters, as
// upstream's installer derives them: scalars and lists of scalars only,
// typed the way go-restful spells them (a list of strings is a "string").
func queryParams(t reflect.Type, skip ...string) []spec.Parameter {
	fields, err := jsonFields(t)
	if err != nil {
		return nil
	}
	var out []spec.Parameter
	for _, f := range fields {
		if f.name == "kind" || f.name == "apiVersion" || contains(skip, f.name) {
			continue
		}
		ft := f.typ
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		var typ string
		switch ft.Kind() {
		case reflect.Bool:
			typ = "boolean"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			typ = "integer"
		case reflect.Float32, reflect.Float64:
			typ = "number"
		case reflect.String:
			typ = "string"
		default:
			// Structs (preconditions, times) do not fit in a query.
			continue
		}
		out = append(out, simpleParam(f.name, "query", typ, f.doc))
	}
	return sortParams(out)
}

func sortParams(params []spec.Parameter) []spec.Parameter {
	sort.SliceStable(params, func(i, j int) bool { return params[i].Name < params[j].Name })
	return params
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// simpleParam is a path or query parameter. Upstream marks every one
// uniqueItems, whatever that means for a scalar.
func simpleParam(name, in, typ, description string) spec.Parameter {
	return spec.Parameter{
		ParamProps:        spec.ParamProps{Name: name, In: in, Description: description, Required: in == "path"},
		SimpleSchema:      spec.SimpleSchema{Type: typ},
		CommonValidations: spec.CommonValidations{UniqueItems: true},
	}
}

func pathParam(name, description string) spec.Parameter {
	return simpleParam(name, "path", "string", description)
}

var (
	namespaceParam = pathParam("namespace", "object name and auth scope, such as for teams and projects")
	prettyParam    = simpleParam("pretty", "query", "string",
		"If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).")
	pathPathParam = pathParam("path", "path to the resource")
)

func bodyParam(def string, required bool) spec.Parameter {
	s := ref(def)
	return spec.Parameter{ParamProps: spec.ParamProps{Name: "body", In: "body", Required: required, Schema: &s}}
}

// operation is one HTTP method on one path, before it is written out.
type operation struct {
	method string
	path   string
	// name is upstream's operation name before the group and version are
	// folded in ("readNamespacedPodStatus").
	name        string
	description string
	action      string
	gvk         schema.GroupVersionKind
	params      []spec.Parameter
	consumes    []string
	produces    []string
	// responses map status codes to a definition name, or to "" for a
	// plain string.
	responses map[int]string
	// pathParams are shared by every operation on the path.
	pathParams []spec.Parameter
}

var responseText = map[int]string{
	http.StatusOK:           "OK",
	http.StatusCreated:      "Created",
	http.StatusAccepted:     "Accepted",
	http.StatusUnauthorized: "Unauthorized",
}

// add writes op into its path item, listed in v3 document document.
func (p *paths) add(document string, op operation) error {
	item := p.items[op.path]
	if item == nil {
		item = &spec.PathItem{}
		item.Parameters = op.pathParams
		p.items[op.path] = item
		p.docs[document] = append(p.docs[document], op.path)
	}
	id, tags := operationID(op.name, op.path)
	o := &spec.Operation{OperationProps: spec.OperationProps{
		Description: op.description,
		Consumes:    op.consumes,
		Produces:    op.produces,
		Schemes:     []string{"https"},
		Tags:        tags,
		ID:          id,
		Parameters:  op.params,
		Responses:   &spec.Responses{ResponsesProps: spec.ResponsesProps{StatusCodeResponses: map[int]spec.Response{}}},
	}}
	for code, def := range op.responses {
		s := typed("string", "")
		if def != "" {
			s = ref(def)
		}
		o.Responses.StatusCodeResponses[code] = spec.Response{ResponseProps: spec.ResponseProps{Description: responseText[code], Schema: &s}}
	}
	o.Responses.StatusCodeResponses[http.StatusUnauthorized] = spec.Response{ResponseProps: spec.ResponseProps{Description: responseText[http.StatusUnauthorized]}}
	if op.action != "" {
		o.AddExtension(extAction, op.action)
		o.AddExtension(extGVK, map[string]interface{}{"group": op.gvk.Group, "version": op.gvk.Version, "kind": op.gvk.Kind})
	}
	slot := map[string]**spec.Operation{
		http.MethodGet: &item.Get, http.MethodPut: &item.Put, http.MethodPost: &item.Post,
		http.MethodDelete: &item.Delete, http.MethodPatch: &item.Patch, http.MethodHead: &item.Head, http.MethodOptions: &item.Options,
	}[op.method]
	if slot == nil {
		return fmt.Errorf("%s %s: no such method", op.method, op.path)
	}
	if *slot != nil {
		return fmt.Errorf("%s %s is described twice (%s and %s)", op.method, op.path, (*slot).ID, id)
	}
	*slot = o
	return nil
}

// docName is the v3 document of a group-version: "api/v1" or
// "apis/apps/v1".
func docName(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// addResource describes every operation of r and its subresources, as
// kube-apiserver's installer registers them.
func (p *paths) addResource(r registry.Resource) error {
	gv := r.GroupVersion
	document := docName(gv)
	prefix := "/" + document
	if r.New == nil {
		return fmt.Errorf("resource %s in %s has no New", r.Name, gv)
	}
	object, err := p.defs.addKind(reflect.TypeOf(r.New()), r.GroupVersionKind())
	if err != nil {
		return fmt.Errorf("resource %s in %s: %w", r.Name, gv, err)
	}
	gvk := r.GroupVersionKind()
	verbs := map[string]bool{}
	for _, v := range r.Verbs {
		verbs[v] = true
	}
	var list string
	if verbs["list"] || verbs["watch"] || verbs["deletecollection"] {
		if r.NewList == nil {
			return fmt.Errorf("resource %s in %s can be listed but has no NewList", r.Name, gv)
		}
		if list, err = p.defs.addKind(reflect.TypeOf(r.NewList()), gv.WithKind(r.Kind+"List")); err != nil {
			return fmt.Errorf("resource %s in %s: %w", r.Name, gv, err)
		}
	}
	// DeleteOptions and WatchEvent are registered in every group-version.
	if _, err := p.defs.addKind(reflect.TypeOf(metav1.DeleteOptions{}), gv.WithKind("DeleteOptions")); err != nil {
		return err
	}
	if _, err := p.defs.addKind(reflect.TypeOf(metav1.WatchEvent{}), gv.WithKind("WatchEvent")); err != nil {
		return err
	}

	kind := r.Kind
	scope, collection, nsParams := "", prefix+"/"+r.Name, []spec.Parameter(nil)
	if r.Namespaced {
		scope = "Namespaced"
		collection = prefix + "/namespaces/{namespace}/" + r.Name
		nsParams = []spec.Parameter{namespaceParam}
	}
	item := collection + "/{name}"
	nameParam := pathParam("name", "name of the "+kind)
	collectionParams := append(append([]spec.Parameter{}, nsParams...), prettyParam)
	itemParams := append(append([]spec.Parameter{nameParam}, nsParams...), prettyParam)
	watchPath := func(path string) string { return prefix + "/watch" + strings.TrimPrefix(path, prefix) }

	ops := []operation{}
	if verbs["list"] {
		listDoc := "list objects of kind " + kind
		if verbs["watch"] {
			listDoc = "list or watch objects of kind " + kind
		}
		ops = append(ops, operation{method: http.MethodGet, path: collection, name: "list" + scope + kind, description: listDoc, action: "list",
			params: p.listParams, produces: watchMediaTypes, responses: map[int]string{200: list}, pathParams: collectionParams})
		if r.Namespaced {
			ops = append(ops, operation{method: http.MethodGet, path: prefix + "/" + r.Name, name: "list" + kind + "ForAllNamespaces", description: listDoc, action: "list",
				params: p.listParams, produces: watchMediaTypes, responses: map[int]string{200: list}, pathParams: []spec.Parameter{prettyParam}})
		}
	}
	if verbs["create"] {
		ops = append(ops, operation{method: http.MethodPost, path: collection, name: "create" + scope + kind, description: "create" + article(kind) + kind, action: "post",
			params: withBody(p.createParams, object, true), consumes: anyMediaType, produces: objectMediaTypes,
			responses: map[int]string{200: object, 201: object, 202: object}, pathParams: collectionParams})
	}
	if verbs["deletecollection"] {
		ops = append(ops, operation{method: http.MethodDelete, path: collection, name: "deletecollection" + scope + kind, description: "delete collection of " + kind, action: "deletecollection",
			params: withBody(p.deleteCollectionParams, p.deleteOptions, false), consumes: anyMediaType, produces: objectMediaTypes,
			responses: map[int]string{200: p.status}, pathParams: collectionParams})
	}
	if verbs["get"] {
		ops = append(ops, operation{method: http.MethodGet, path: item, name: "read" + scope + kind, description: "read the specified " + kind, action: "get",
			consumes: anyMediaType, produces: objectMediaTypes, responses: map[int]string{200: object}, pathParams: itemParams})
	}
	if verbs["update"] {
		ops = append(ops, operation{method: http.MethodPut, path: item, name: "replace" + scope + kind, description: "replace the specified " + kind, action: "put",
			params: withBody(p.updateParams, object, true), consumes: anyMediaType, produces: objectMediaTypes,
			responses: map[int]string{200: object, 201: object}, pathParams: itemParams})
	}
	if verbs["patch"] {
		ops = append(ops, operation{method: http.MethodPatch, path: item, name: "patch" + scope + kind, description: "partially update the specified " + kind, action: "patch",
			params: withBody(p.patchParams, p.patch, true), consumes: patchMediaTypes, produces: objectMediaTypes,
			responses: map[int]string{200: object, 201: object}, pathParams: itemParams})
	}
	if verbs["delete"] {
		ops = append(ops, operation{method: http.MethodDelete, path: item, name: "delete" + scope + kind, description: "delete" + article(kind) + kind, action: "delete",
			params: withBody(p.deleteParams, p.deleteOptions, false), consumes: anyMediaType, produces: objectMediaTypes,
			responses: map[int]string{200: p.status, 202: p.status}, pathParams: itemParams})
	}
	if verbs["watch"] {
		ops = append(ops,
			operation{method: http.MethodGet, path: watchPath(item), name: "watch" + scope + kind, action: "watch",
				description: "watch changes to an object of kind " + kind + ". deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.",
				params:      p.listParams, produces: watchMediaTypes, responses: map[int]string{200: p.watchEvent}, pathParams: itemParams},
			operation{method: http.MethodGet, path: watchPath(collection), name: "watch" + scope + kind + "List", action: "watchlist",
				description: "watch individual changes to a list of " + kind + ". deprecated: use the 'watch' parameter with a list operation instead.",
				params:      p.listParams, produces: watchMediaTypes, responses: map[int]string{200: p.watchEvent}, pathParams: collectionParams})
		if r.Namespaced {
			ops = append(ops, operation{method: http.MethodGet, path: prefix + "/watch/" + r.Name, name: "watch" + kind + "ListForAllNamespaces", action: "watchlist",
				description: "watch individual changes to a list of " + kind + ". deprecated: use the 'watch' parameter with a list operation instead.",
				params:      p.listParams, produces: watchMediaTypes, responses: map[int]string{200: p.watchEvent}, pathParams: []spec.Parameter{prettyParam}})
		}
	}
	for i := range ops {
		if ops[i].consumes == nil {
			ops[i].consumes = anyMediaType
		}
		ops[i].gvk = gvk
		if err := p.add(document, ops[i]); err != nil {
			return err
		}
	}

	for _, sub := range r.Subresources {
		if err := p.addSubresource(r, sub, object, item, itemParams, scope); err != nil {
			return fmt.Errorf("subresource %s/%s in %s: %w", r.Name, sub.Name, gv, err)
		}
	}
	return nil
}

// addSubresource describes one subresource: a connection (exec, attach,
// proxy), a read with options (log), or an object exchanged on its own
// path (status, scale, binding, eviction).
func (p *paths) addSubresource(r registry.Resource, sub registry.Subresource, parentObject, item string, itemParams []spec.Parameter, scope string) error {
	document := docName(r.GroupVersion)
	path := item + "/" + sub.Name
	kind := sub.Kind
	if kind.Version == "" {
		kind.Group, kind.Version = r.GroupVersion.Group, r.GroupVersion.Version
	}
	if kind.Kind == "" {
		kind.Kind = r.Kind
	}
	// Operations on a subresource are named after the parent's kind.
	opKind := r.Kind + title(sub.Name)

	if strings.HasSuffix(kind.Kind, "Options") {
		options, err := p.goType(kind)
		if err != nil {
			return err
		}
		params := queryParams(options)
		pathParams := itemParams[:len(itemParams)-1] // no pretty on connections
		for _, verb := range sub.Verbs {
			method, ok := connectMethods[verb]
			if !ok {
				return fmt.Errorf("verb %q cannot be a connection", verb)
			}
			name := "connect" + title(strings.ToLower(method)) + scope + opKind
			op := operation{method: method, path: path, name: name, action: "connect", gvk: kind,
				description: "connect " + method + " requests to " + sub.Name + " of " + r.Kind,
				params:      params, consumes: anyMediaType, produces: anyMediaType, responses: map[int]string{200: ""}, pathParams: pathParams}
			if err := p.add(document, op); err != nil {
				return err
			}
			if sub.Name == "proxy" {
				op.path, op.name = path+"/{path}", name+"WithPath"
				op.pathParams = append(append([]spec.Parameter{}, pathParams...), pathPathParam)
				if err := p.add(document, op); err != nil {
					return err
				}
			}
		}
		return nil
	}

	object := parentObject
	if kind != r.GroupVersionKind() {
		t, err := p.goType(kind)
		if err != nil {
			return err
		}
		if object, err = p.defs.addKind(t, kind); err != nil {
			return err
		}
	}
	for _, verb := range sub.Verbs {
		op := operation{path: path, gvk: kind, consumes: anyMediaType, produces: objectMediaTypes, pathParams: itemParams}
		switch verb {
		case "get":
			op.method, op.name, op.action = http.MethodGet, "read"+scope+opKind, "get"
			op.description = "read " + sub.Name + " of the specified " + r.Kind
			op.responses = map[int]string{200: object}
			// A read with options returns what the options select, as text.
			if options, err := p.goType(kind.GroupVersion().WithKind(kind.Kind + title(sub.Name) + "Options")); err == nil {
				op.params, op.produces, op.responses = queryParams(options), logMediaTypes, map[int]string{200: ""}
			}
		case "update":
			op.method, op.name, op.action = http.MethodPut, "replace"+scope+opKind, "put"
			op.description = "replace " + sub.Name + " of the specified " + r.Kind
			op.params = withBody(p.updateParams, object, true)
			op.responses = map[int]string{200: object, 201: object}
		case "patch":
			op.method, op.name, op.action = http.MethodPatch, "patch"+scope+opKind, "patch"
			op.description = "partially update " + sub.Name + " of the specified " + r.Kind
			op.params = withBody(p.patchParams, p.patch, true)
			op.consumes = patchMediaTypes
			op.responses = map[int]string{200: object, 201: object}
		case "create":
			op.method, op.name, op.action = http.MethodPost, "create"+scope+opKind, "post"
			op.description = "create " + sub.Name + " of" + article(r.Kind) + r.Kind
			op.params = withBody(p.createParams, object, true)
			op.responses = map[int]string{200: object, 201: object, 202: object}
		case "delete":
			op.method, op.name, op.action = http.MethodDelete, "delete"+scope+opKind, "delete"
			op.description = "delete " + sub.Name + " of" + article(r.Kind) + r.Kind
			op.params = withBody(p.deleteParams, p.deleteOptions, false)
			op.responses = map[int]string{200: p.status, 202: p.status}
		default:
			return fmt.Errorf("verb %q is not served on subresources", verb)
		}
		if err := p.add(document, op); err != nil {
			return err
		}
	}
	return nil
}

// connectMethods are the HTTP methods of a connection subresource's verbs.
var connectMethods = map[string]string{
	"get": http.MethodGet, "create": http.MethodPost, "update": http.MethodPut,
	"patch": http.MethodPatch, "delete": http.MethodDelete,
}

func withBody(params []spec.Parameter, def string, required bool) []spec.Parameter {
	return sortParams(append([]spec.Parameter{bodyParam(def, required)}, params...))
}

// goType is the Go type the scheme registers for gvk.
func (p *paths) goType(gvk schema.GroupVersionKind) (reflect.Type, error) {
	obj, err := p.scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("no Go type for %s: %w", gvk, err)
	}
	return reflect.TypeOf(obj).Elem(), nil
}

// addDiscovery describes the discovery documents and /version, each in the
// v3 document upstream serves it in.
func (p *paths) addDiscovery(groups map[string][]string) error {
	get := func(document, path, name string, obj interface{}) error {
		def, err := p.defs.define(reflect.TypeOf(obj))
		if err != nil {
			return err
		}
		return p.add(document, operation{method: http.MethodGet, path: path, name: name,
			description: descriptions[name],
			consumes:    objectMediaTypes, produces: objectMediaTypes, responses: map[int]string{200: def}})
	}
	if err := get("version", "/version/", "getCodeVersion", version.Info{}); err != nil {
		return err
	}
	var names []string
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		if g == "" {
			if err := get("api", "/api/", "getAPIVersions", metav1.APIVersions{}); err != nil {
				return err
			}
		} else {
			if err := get("apis/"+g, "/apis/"+g+"/", "getAPIGroup", metav1.APIGroup{}); err != nil {
				return err
			}
		}
		for _, v := range groups[g] {
			gv := schema.GroupVersion{Group: g, Version: v}
			if err := get(docName(gv), "/"+docName(gv)+"/", "getAPIResources", metav1.APIResourceList{}); err != nil {
				return err
			}
		}
	}
	return get("apis", "/apis/", "getAPIVersions", metav1.APIGroupList{})
}

var descriptions = map[string]string{
	"getCodeVersion":  "get the version information for this server",
	"getAPIVersions":  "get available API versions",
	"getAPIGroup":     "get information of a group",
	"getAPIResources": "get available resources",
}
