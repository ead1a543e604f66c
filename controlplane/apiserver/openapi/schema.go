package openapi

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/applyconfigurations"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kube-openapi/pkg/validation/spec"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
)

// The vendor extensions clients read. On a definition, the kinds it is
// served as; on an operation, the kind it exchanges (kubectl finds a kind's
// PATCH by it, to learn whether the server validates fields itself) and its
// Kubernetes verb.
const (
	extGVK           = "x-kubernetes-group-version-kind"
	extAction        = "x-kubernetes-action"
	extPatchStrategy = "x-kubernetes-patch-strategy"
	extPatchMergeKey = "x-kubernetes-patch-merge-key"
	extListType      = "x-kubernetes-list-type"
	extListMapKeys   = "x-kubernetes-list-map-keys"
	extMapType       = "x-kubernetes-map-type"
)

// The interfaces apimachinery's hand-serialized types (Time, Quantity,
// IntOrString, Duration) implement to tell OpenAPI what they look like on
// the wire; upstream's generator reads the same methods.
type (
	openAPISchemaTyper     interface{ OpenAPISchemaType() []string }
	openAPISchemaFormatter interface{ OpenAPISchemaFormat() string }
	openAPIV3OneOfTyper    interface{ OpenAPIV3OneOfTypes() []string }
	openAPIModelNamer      interface{ OpenAPIModelName() string }
	swaggerDocer           interface{ SwaggerDoc() map[string]string }
)

var (
	schemaTyperType = reflect.TypeOf((*openAPISchemaTyper)(nil)).Elem()
	modelNamerType  = reflect.TypeOf((*openAPIModelNamer)(nil)).Elem()
	swaggerDocType  = reflect.TypeOf((*swaggerDocer)(nil)).Elem()
)

// definitions builds OpenAPI definitions from Go types by reflection, the
// way upstream's openapi-gen does from source: one definition per named
// struct, named after its package, fields from the JSON tags, descriptions
// from the generated SwaggerDoc methods, patch strategy from the struct
// tags, and list and map semantics from the structured-merge-diff schema
// client-go carries for every built-in type.
type definitions struct {
	defs spec.Definitions
	// types maps definition names to the Go types they were made from, to
	// catch two types claiming one name.
	types map[string]reflect.Type
	// gvks are the kinds each definition is served as.
	gvks map[string][]schema.GroupVersionKind
	// oneOf are the types OpenAPI v3 accepts for definitions that v2 can
	// only call strings (IntOrString, Quantity).
	oneOf map[string][]string
	smd   *smdschema.Schema
}

func newDefinitions() (*definitions, error) {
	smd, err := builtinListSemantics()
	if err != nil {
		return nil, err
	}
	return &definitions{
		defs:  spec.Definitions{},
		types: map[string]reflect.Type{},
		gvks:  map[string][]schema.GroupVersionKind{},
		oneOf: map[string][]string{},
		smd:   smd,
	}, nil
}

// builtinListSemantics returns the structured-merge-diff schema of the
// built-in types, generated upstream from their +listType, +listMapKey and
// +mapType markers, which reflection cannot see. client-go only exposes it
// behind a type converter, so it is read off a converted empty Pod.
func builtinListSemantics() (*smdschema.Schema, error) {
	pod := &corev1.Pod{}
	pod.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	tv, err := applyconfigurations.NewTypeConverter(clientgoscheme.Scheme).ObjectToTyped(pod)
	if err != nil {
		return nil, fmt.Errorf("read the built-in types' list semantics: %w", err)
	}
	return tv.Schema(), nil
}

// definitionName is the name upstream gives a Go type's definition: the
// package path with its domain reversed, then the type name
// (io.k8s.api.core.v1.Pod).
func definitionName(t reflect.Type) string {
	// A name promoted from an embedded type names that type, not this one.
	if v, ok := implementation(t, modelNamerType); ok {
		if name := v.(openAPIModelNamer).OpenAPIModelName(); strings.HasSuffix(name, "."+t.Name()) {
			return name
		}
	}
	pkg := t.PkgPath()
	if i := strings.Index(pkg, "/"); i > 0 && strings.Contains(pkg[:i], ".") {
		domain := strings.Split(pkg[:i], ".")
		for l, r := 0, len(domain)-1; l < r; l, r = l+1, r-1 {
			domain[l], domain[r] = domain[r], domain[l]
		}
		pkg = strings.Join(domain, ".") + pkg[i:]
	}
	return strings.ReplaceAll(pkg, "/", ".") + "." + t.Name()
}

// ref returns a reference to definition name.
func ref(name string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef("#/definitions/" + name)}}
}

// addKind defines t's type and records that it is served as gvk.
func (d *definitions) addKind(t reflect.Type, gvk schema.GroupVersionKind) (string, error) {
	name, err := d.define(t)
	if err != nil {
		return "", err
	}
	for _, known := range d.gvks[name] {
		if known == gvk {
			return name, nil
		}
	}
	d.gvks[name] = append(d.gvks[name], gvk)
	return name, nil
}

// define adds the definition of the named type t (and of every type it
// reaches) and returns its name.
func (d *definitions) define(t reflect.Type) (string, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" || (t.Kind() != reflect.Struct && !selfDescribing(t)) {
		return "", fmt.Errorf("%v has no definition: only named structs and self-describing types do", t)
	}
	name := definitionName(t)
	if known, ok := d.types[name]; ok {
		if known != t {
			return "", fmt.Errorf("types %v and %v both define %s", known, t, name)
		}
		return name, nil
	}
	// Claim the name before descending, for types that reach themselves.
	d.types[name] = t
	d.defs[name] = spec.Schema{}

	s, err := d.describe(t, name)
	if err != nil {
		return "", err
	}
	d.defs[name] = s
	return name, nil
}

// describe builds the definition of t.
func (d *definitions) describe(t reflect.Type, name string) (spec.Schema, error) {
	var s spec.Schema
	s.Description = docOf(t)[""]
	if v, ok := implementation(t, schemaTyperType); ok {
		s.Type = v.(openAPISchemaTyper).OpenAPISchemaType()
		if f, ok := v.(openAPISchemaFormatter); ok {
			s.Format = f.OpenAPISchemaFormat()
		}
		if o, ok := v.(openAPIV3OneOfTyper); ok {
			d.oneOf[name] = o.OpenAPIV3OneOfTypes()
		}
		return s, nil
	}

	s.Type = spec.StringOrArray{"object"}
	smdFields, structAtomic := d.smdStruct(name)
	if structAtomic {
		s.AddExtension(extMapType, "atomic")
	}
	fields, err := jsonFields(t)
	if err != nil {
		return s, err
	}
	for _, f := range fields {
		prop, err := d.property(f, smdFields[f.name])
		if err != nil {
			return s, fmt.Errorf("%s.%s: %w", name, f.name, err)
		}
		if s.Properties == nil {
			s.Properties = map[string]spec.Schema{}
		}
		s.Properties[f.name] = prop
	}
	// No field is marked required: which ones upstream requires comes from
	// +optional comments reflection cannot see, and a wrong guess makes
	// clients that validate against these schemas (kubectl's fallback,
	// helm) refuse objects the API server accepts. The server's own
	// validation reports missing fields.
	return s, nil
}

// field is one JSON property of a struct, after inlining.
type field struct {
	name          string
	typ           reflect.Type
	doc           string
	patchStrategy string
	patchMergeKey string
}

// jsonFields lists the JSON properties of struct t the way encoding/json
// sees them: embedded structs and ",inline" fields contribute their own.
func jsonFields(t reflect.Type) ([]field, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%v is not a struct", t)
	}
	var out []field
	doc := docOf(t)
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := sf.Type
		if name == "" && (sf.Anonymous || strings.Contains(opts, "inline")) {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				inner, err := jsonFields(ft)
				if err != nil {
					return nil, err
				}
				out = append(out, inner...)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, field{
			name:          name,
			typ:           ft,
			doc:           doc[name],
			patchStrategy: sf.Tag.Get("patchStrategy"),
			patchMergeKey: sf.Tag.Get("patchMergeKey"),
		})
	}
	return out, nil
}

// docOf returns the generated descriptions of t and its fields.
func docOf(t reflect.Type) map[string]string {
	if v, ok := implementation(t, swaggerDocType); ok {
		return v.(swaggerDocer).SwaggerDoc()
	}
	return nil
}

// implementation returns a zero value of t (or a pointer to one) that
// implements iface.
func implementation(t reflect.Type, iface reflect.Type) (interface{}, bool) {
	switch {
	case t.Implements(iface):
		return reflect.Zero(t).Interface(), true
	case reflect.PointerTo(t).Implements(iface):
		return reflect.New(t).Interface(), true
	}
	return nil, false
}

// selfDescribing types tell OpenAPI their wire type themselves.
func selfDescribing(t reflect.Type) bool {
	_, ok := implementation(t, schemaTyperType)
	return ok
}

// property is the schema of one field.
func (d *definitions) property(f field, smdType *smdschema.TypeRef) (spec.Schema, error) {
	s, err := d.schemaOf(f.typ)
	if err != nil {
		return s, err
	}
	if f.doc != "" {
		s.Description = f.doc
	}
	if f.patchStrategy != "" {
		s.AddExtension(extPatchStrategy, f.patchStrategy)
	}
	if f.patchMergeKey != "" {
		s.AddExtension(extPatchMergeKey, f.patchMergeKey)
	}

	base := f.typ
	for base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	switch {
	case base.Kind() == reflect.Slice && base.Elem().Kind() != reflect.Uint8:
		listType, keys := d.listSemantics(f, smdType)
		if listType != "" {
			s.AddExtension(extListType, listType)
		}
		if len(keys) > 0 {
			s.AddExtension(extListMapKeys, keys)
		}
	case base.Kind() == reflect.Map && smdType != nil:
		if atom, ok := d.smd.Resolve(*smdType); ok && atom.Map != nil && atom.Map.ElementRelationship == smdschema.Atomic {
			s.AddExtension(extMapType, "atomic")
		}
	}
	return s, nil
}

// listSemantics says how a list field merges: "map" keyed by some of its
// items' fields, "set", or "atomic". Built-in types say so in the
// structured-merge-diff schema; for any other type a patch merge key means
// a map keyed by it, the strategic-merge-patch reading of the same field.
func (d *definitions) listSemantics(f field, smdType *smdschema.TypeRef) (string, []interface{}) {
	if smdType != nil {
		if atom, ok := d.smd.Resolve(*smdType); ok && atom.List != nil {
			switch {
			case atom.List.ElementRelationship == smdschema.Associative && len(atom.List.Keys) > 0:
				keys := make([]interface{}, len(atom.List.Keys))
				for i, k := range atom.List.Keys {
					keys[i] = k
				}
				return "map", keys
			case atom.List.ElementRelationship == smdschema.Associative:
				return "set", nil
			case atom.List.ElementRelationship == smdschema.Atomic:
				return "atomic", nil
			}
		}
	}
	if strings.Contains(f.patchStrategy, "merge") {
		if f.patchMergeKey != "" {
			return "map", []interface{}{f.patchMergeKey}
		}
		return "set", nil
	}
	return "", nil
}

// smdStruct returns the structured-merge-diff fields of definition name, if
// it is a built-in type, and whether the struct is atomic.
func (d *definitions) smdStruct(name string) (map[string]*smdschema.TypeRef, bool) {
	def, ok := d.smd.FindNamedType(name)
	if !ok || def.Map == nil {
		return nil, false
	}
	fields := make(map[string]*smdschema.TypeRef, len(def.Map.Fields))
	for i := range def.Map.Fields {
		fields[def.Map.Fields[i].Name] = &def.Map.Fields[i].Type
	}
	return fields, def.Map.ElementRelationship == smdschema.Atomic
}

// schemaOf is the schema of a value of type t where it appears: scalars
// and containers inline, named structs by reference.
func (d *definitions) schemaOf(t reflect.Type) (spec.Schema, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" && (t.Kind() == reflect.Struct || selfDescribing(t)) {
		name, err := d.define(t)
		if err != nil {
			return spec.Schema{}, err
		}
		return ref(name), nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return typed("boolean", ""), nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Uint8, reflect.Uint16, reflect.Int:
		return typed("integer", "int32"), nil
	case reflect.Int64, reflect.Uint32, reflect.Uint64, reflect.Uint:
		return typed("integer", "int64"), nil
	case reflect.Float32:
		return typed("number", "float"), nil
	case reflect.Float64:
		return typed("number", "double"), nil
	case reflect.String:
		return typed("string", ""), nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return typed("string", "byte"), nil
		}
		items, err := d.schemaOf(t.Elem())
		if err != nil {
			return spec.Schema{}, err
		}
		s := typed("array", "")
		s.Items = &spec.SchemaOrArray{Schema: &items}
		return s, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return spec.Schema{}, fmt.Errorf("map key %v is not a string", t.Key())
		}
		values, err := d.schemaOf(t.Elem())
		if err != nil {
			return spec.Schema{}, err
		}
		s := typed("object", "")
		s.AdditionalProperties = &spec.SchemaOrBool{Allows: true, Schema: &values}
		return s, nil
	case reflect.Struct:
		// An anonymous struct: describe it in place.
		fields, err := jsonFields(t)
		if err != nil {
			return spec.Schema{}, err
		}
		s := typed("object", "")
		for _, f := range fields {
			prop, err := d.property(f, nil)
			if err != nil {
				return s, err
			}
			if s.Properties == nil {
				s.Properties = map[string]spec.Schema{}
			}
			s.Properties[f.name] = prop
		}
		return s, nil
	case reflect.Interface:
		// Any JSON value.
		return spec.Schema{}, nil
	}
	return spec.Schema{}, fmt.Errorf("no OpenAPI schema for %v", t)
}

func typed(typ, format string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}, Format: format}}
}

// finish writes the kinds onto the definitions that are served as such.
func (d *definitions) finish() {
	for name, gvks := range d.gvks {
		sort.Slice(gvks, func(i, j int) bool { return gvks[i].String() < gvks[j].String() })
		list := make([]interface{}, len(gvks))
		for i, gvk := range gvks {
			list[i] = map[string]interface{}{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
		}
		s := d.defs[name]
		s.AddExtension(extGVK, list)
		d.defs[name] = s
	}
}

// reachable returns the definitions that the schemas in roots refer to,
// directly or not.
func (d *definitions) reachable(roots []string) spec.Definitions {
	out := spec.Definitions{}
	var visit func(name string)
	var walk func(s *spec.Schema)
	visit = func(name string) {
		if _, done := out[name]; done {
			return
		}
		s, ok := d.defs[name]
		if !ok {
			return
		}
		out[name] = s
		walk(&s)
	}
	walk = func(s *spec.Schema) {
		if s == nil {
			return
		}
		if r := s.Ref.String(); r != "" {
			visit(strings.TrimPrefix(r, "#/definitions/"))
		}
		for _, p := range s.Properties {
			walk(&p)
		}
		if s.Items != nil {
			walk(s.Items.Schema)
		}
		if s.AdditionalProperties != nil {
			walk(s.AdditionalProperties.Schema)
		}
		for i := range s.AllOf {
			walk(&s.AllOf[i])
		}
	}
	for _, r := range roots {
		visit(r)
	}
	return out
}
