package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

const (
	// ClusterKind is the only kind a config file may have.
	ClusterKind = "Cluster"
	// KindAPIVersion is kind's config version, accepted as is.
	KindAPIVersion = "kind.x-k8s.io/v1alpha4"
	// APIVersion is kindish's own config version: the same schema.
	APIVersion = "kindish.dev/v1alpha1"
)

// supportedAPIVersions is listed in error messages, kind's first since it is
// what most files say.
var supportedAPIVersions = []string{KindAPIVersion, APIVersion}

// Load reads the config file at path ("-" reads standard input) and decodes
// it like Parse, without defaulting or validating. Errors name the file.
func Load(path string) (*Cluster, []string, error) {
	name := path
	var data []byte
	var err error
	if path == "-" {
		name = "<stdin>"
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read config %s: %w", name, err)
	}
	return parse(data, "config "+name)
}

// Parse decodes a config file: kind Cluster, apiVersion kind.x-k8s.io/v1alpha4
// or kindish.dev/v1alpha1. Decoding is strict: an unknown field or a value of
// the wrong type is an error naming its full path, and every such problem is
// reported at once. The warnings name the fields that were accepted but will
// be ignored.
//
// Parse does not default or validate; see the package documentation.
func Parse(data []byte) (*Cluster, []string, error) {
	return parse(data, "config")
}

// parse prefixes every problem with prefix, one problem a line, so that each
// line of a long error still says where it comes from.
func parse(data []byte, prefix string) (*Cluster, []string, error) {
	fail := func(problems ...string) (*Cluster, []string, error) {
		errs := make([]error, len(problems))
		for i, p := range problems {
			errs[i] = fmt.Errorf("%s: %s", prefix, p)
		}
		return nil, nil, errors.Join(errs...)
	}

	// YAMLToJSONStrict rejects duplicate keys, which plain YAML decoding
	// would resolve silently in favour of the last one.
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return fail("invalid YAML: " + yamlProblem(err))
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return fail(fmt.Sprintf("invalid YAML: %v", err))
	}
	if doc == nil {
		return fail(fmt.Sprintf("the file is empty: it needs at least \"kind: %s\" and \"apiVersion: %s\"", ClusterKind, KindAPIVersion))
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return fail(fmt.Sprintf("expected a mapping with kind: %s at the top level, got %s", ClusterKind, describeValue(doc)))
	}

	// The schema depends on kind and apiVersion, so they are checked before
	// anything else is looked at.
	if problems := checkTypeMeta(obj); len(problems) > 0 {
		return fail(problems...)
	}
	if problems := checkShape(obj, reflect.TypeFor[Cluster](), nil); len(problems) > 0 {
		return fail(problems...)
	}

	c := &Cluster{}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		// checkShape has accepted the document, so this is a gap in it.
		return fail(fmt.Sprintf("decode: %v", err))
	}
	// The patches are documents of their own, inside strings: checked
	// once the file around them is known to be right.
	if problems := kubeadmPatchProblems(c); len(problems) > 0 {
		return fail(problems...)
	}
	return c, ignoredFields(c), nil
}

// yamlProblem flattens the YAML library's message to one line, without its
// "yaml: " prefix: "line 4: key "name" already set in map".
func yamlProblem(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "unmarshal errors:\n"); ok {
		lines := strings.Split(rest, "\n")
		for i := range lines {
			lines[i] = strings.TrimSpace(lines[i])
		}
		msg = strings.Join(lines, "; ")
	}
	return msg
}

// checkTypeMeta reports a missing or unsupported kind or apiVersion, naming
// the accepted values.
func checkTypeMeta(obj map[string]any) []string {
	var problems []string
	kind, kindOK := obj["kind"].(string)
	switch {
	case obj["kind"] == nil:
		problems = append(problems, field.Required(field.NewPath("kind"), fmt.Sprintf("must be %q", ClusterKind)).Error())
	case !kindOK || kind != ClusterKind:
		problems = append(problems, field.NotSupported(field.NewPath("kind"), obj["kind"], []string{ClusterKind}).Error())
	}

	version, versionOK := obj["apiVersion"].(string)
	switch {
	case obj["apiVersion"] == nil:
		problems = append(problems, field.Required(field.NewPath("apiVersion"), fmt.Sprintf("must be %q or %q", KindAPIVersion, APIVersion)).Error())
	case !versionOK || (version != KindAPIVersion && version != APIVersion):
		e := field.NotSupported(field.NewPath("apiVersion"), obj["apiVersion"], supportedAPIVersions)
		if versionOK && isOldKindVersion(version) {
			e.Detail += fmt.Sprintf(" (kind's older config versions are not read: update the file to %s)", KindAPIVersion)
		}
		problems = append(problems, e.Error())
	}
	return problems
}

func isOldKindVersion(v string) bool {
	switch v {
	case "kind.sigs.k8s.io/v1alpha1", "kind.sigs.k8s.io/v1alpha2", "kind.sigs.k8s.io/v1alpha3",
		"kind.x-k8s.io/v1alpha3":
		return true
	}
	return false
}
