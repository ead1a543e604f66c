package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// checkShape walks a decoded JSON document next to the Go type it is meant
// for and reports every field the type does not have and every value of the
// wrong kind, each with its full path ("nodes[1].extraPortMappings[0].hostPrt").
//
// encoding/json stops at the first problem and names only the last key
// ("json: unknown field \"hostPrt\""), which leaves the user to guess where
// it is; a config file deserves better. The walk reports and never decodes:
// decoding stays with sigs.k8s.io/yaml once the shape is known to be right.
//
// v comes from a json.Decoder with UseNumber, so numbers are json.Number.
func checkShape(v any, t reflect.Type, path *field.Path) []string {
	var problems []string
	walkShape(v, t, path, &problems)
	return problems
}

func walkShape(v any, t reflect.Type, path *field.Path, problems *[]string) {
	// null decodes to the zero value for every type, as in encoding/json.
	if v == nil {
		return
	}
	wrong := func() {
		*problems = append(*problems, fmt.Sprintf("%s: expected %s, got %s", pathString(path), describeType(t), describeValue(v)))
	}
	switch t.Kind() {
	case reflect.Pointer:
		walkShape(v, t.Elem(), path, problems)
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			wrong()
			return
		}
		fields := jsonFields(t)
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			ft, known := fields[key]
			if !known {
				*problems = append(*problems, fmt.Sprintf("unknown field %q", pathString(path.Child(key))))
				continue
			}
			walkShape(obj[key], ft, path.Child(key), problems)
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			wrong()
			return
		}
		for _, key := range slices.Sorted(maps.Keys(obj)) {
			walkShape(obj[key], t.Elem(), path.Key(key), problems)
		}
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			wrong()
			return
		}
		for i, item := range list {
			walkShape(item, t.Elem(), path.Index(i), problems)
		}
	case reflect.String:
		// sigs.k8s.io/yaml turns a YAML scalar into the string a string field
		// wants (labels: {version: 1} gives "1"), as kind's decoder does, so
		// numbers and booleans are fine here.
		switch v.(type) {
		case string, json.Number, bool:
		default:
			wrong()
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			wrong()
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			wrong()
			return
		}
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil || reflect.Zero(t).OverflowInt(i) {
			wrong()
		}
	default:
		// Every field of Cluster is one of the kinds above; a new field of
		// another kind needs a case here, and this says so in tests.
		*problems = append(*problems, fmt.Sprintf("%s: cannot check a value of Go type %s", pathString(path), t))
	}
}

// jsonFields maps each JSON name of a struct to its field type, flattening
// embedded structs the way encoding/json does (TypeMeta in Cluster).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				fields[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}

// describeType names what a field wants, in the words of a YAML user.
func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.Struct:
		return "a mapping"
	case reflect.Map:
		return "a map of " + plural(t.Elem())
	case reflect.Slice:
		return "a list of " + plural(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("a %d-bit integer", t.Bits())
	}
	return t.String()
}

func plural(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		return "mappings"
	case reflect.String:
		return "strings"
	case reflect.Bool:
		return "booleans"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integers"
	}
	return "values of type " + t.String()
}

// describeValue names what the file holds, for the "got ..." half.
func describeValue(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("a string (%q)", x)
	case json.Number:
		return "a number (" + x.String() + ")"
	case bool:
		return "a boolean (" + strconv.FormatBool(x) + ")"
	}
	return fmt.Sprintf("%T", v)
}

// pathString prints a path; a nil one is the document itself, and
// (*field.Path)(nil).Child works, so the walk starts from nil.
func pathString(p *field.Path) string {
	if p == nil {
		return "<top level>"
	}
	return p.String()
}
