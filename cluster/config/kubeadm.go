package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kindish/kindish/cluster/manifests"
	"github.com/kindish/kindish/images"
)

// kind users tune the control plane through kubeadm config patches. kindish
// runs no kubeadm, but the part of a ClusterConfiguration that maps onto
// its own control plane is honoured: the extraArgs of apiServer,
// controllerManager, scheduler and etcd.local become flags of those static
// pods. Everything else in the patches is reported as ignored.

const clusterConfigurationKind = "ClusterConfiguration"

// kubeadmAPIVersions are those of the kubeadm configs kind generates; a
// patch that names another matches none of them, in kind as here.
var kubeadmAPIVersions = []string{"kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4"}

// extraArgsOwners are the fields of a ClusterConfiguration whose extraArgs
// kindish uses, and the component each is for.
var extraArgsOwners = map[string]string{
	"apiServer":         images.KubeAPIServer.Name,
	"controllerManager": images.KubeControllerManager.Name,
	"scheduler":         images.KubeScheduler.Name,
	"etcd.local":        images.Etcd.Name,
}

const usedPart = "only apiServer, controllerManager, scheduler and etcd.local extraArgs of a ClusterConfiguration are used"

// patchList is one kubeadmConfigPatches list of the file: the cluster's or
// a node's.
type patchList struct {
	patches []string
	path    *field.Path
	// controlPlane is false for a worker's own patches: kubeadm reads a
	// ClusterConfiguration on the control-plane node only.
	controlPlane bool
}

func clusterPatches(c *Cluster) patchList {
	return patchList{patches: c.KubeadmConfigPatches, path: field.NewPath("kubeadmConfigPatches"), controlPlane: true}
}

// nodePatches are node i's own patches. The role is read before defaults
// apply, so an empty one is the default, control-plane.
func nodePatches(c *Cluster, i int) patchList {
	return patchList{
		patches:      c.Nodes[i].KubeadmConfigPatches,
		path:         field.NewPath("nodes").Index(i).Child("kubeadmConfigPatches"),
		controlPlane: c.Nodes[i].Role != WorkerRole,
	}
}

// readPatches is what kindish takes from a patch list.
type readPatches struct {
	args     manifests.ExtraArgs
	warnings []string
	problems []string
}

// read reads every patch of the list in order, a later value of a flag
// replacing an earlier one as kind's merge does. Each warning and problem
// starts with the patch's path.
func (l patchList) read() readPatches {
	r := readPatches{args: manifests.ExtraArgs{}}
	for i, patch := range l.patches {
		docs, err := splitDocuments(patch)
		if err != nil {
			r.problems = append(r.problems, fmt.Sprintf("%s: invalid YAML: %v", l.path.Index(i), err))
			continue
		}
		for d, doc := range docs {
			// kind splits a patch holding several documents into patches.
			where := l.path.Index(i).String()
			if len(docs) > 1 {
				where += fmt.Sprintf(" (document %d)", d+1)
			}
			r.readDocument(doc, where, l.controlPlane)
		}
	}
	return r
}

// readDocument reads one document of a patch; where names it in warnings
// and problems.
func (r *readPatches) readDocument(doc []byte, where string, controlPlane bool) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		r.problems = append(r.problems, fmt.Sprintf("%s: invalid YAML: %s", where, yamlProblem(err)))
		return
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		r.problems = append(r.problems, fmt.Sprintf("%s: invalid YAML: %v", where, err))
		return
	}
	if v == nil {
		return // an empty document: nothing to apply
	}
	obj, ok := v.(map[string]any)
	if !ok {
		r.problems = append(r.problems, fmt.Sprintf("%s: expected a kubeadm config mapping, got %s", where, describeValue(v)))
		return
	}
	ignore := func(why string, args ...any) {
		r.warnings = append(r.warnings, fmt.Sprintf("%s: ignored (%s)", where, fmt.Sprintf(why, args...)))
	}
	kind, _ := obj["kind"].(string)
	apiVersion, _ := obj["apiVersion"].(string)
	switch {
	case kind == "":
		ignore("no kind: a patch applies to the kubeadm config of its kind")
	case kind != clusterConfigurationKind:
		ignore("%s: %s", kind, noKubeadm)
	case apiVersion != "" && !slices.Contains(kubeadmAPIVersions, apiVersion):
		ignore("apiVersion %s: kind's kubeadm configs are %s, so it matches none", apiVersion, strings.Join(kubeadmAPIVersions, " or "))
	case !controlPlane:
		ignore("ClusterConfiguration of a worker node: kubeadm reads it on the control-plane node only")
	default:
		cc := clusterConfiguration{args: manifests.ExtraArgs{}}
		cc.walk(obj, nil)
		mergeExtraArgs(r.args, cc.args)
		for _, p := range cc.problems {
			r.problems = append(r.problems, where+": "+p)
		}
		if len(cc.ignored) > 0 {
			r.warnings = append(r.warnings, fmt.Sprintf("%s: %s; ignored: %s", where, usedPart, strings.Join(cc.ignored, ", ")))
		}
	}
}

// splitDocuments splits a patch into its YAML documents.
func splitDocuments(patch string) ([][]byte, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(patch)))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
}

// clusterConfiguration collects what one ClusterConfiguration patch says.
type clusterConfiguration struct {
	args manifests.ExtraArgs
	// ignored are the paths of the fields kindish does not use, each
	// down to its leaf ("networking.dnsDomain").
	ignored  []string
	problems []string
}

// walk visits obj, found at path (nil for the document), in key order.
func (cc *clusterConfiguration) walk(obj map[string]any, path *field.Path) {
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		if path == nil && (key == "kind" || key == "apiVersion") {
			continue
		}
		child := path.Child(key)
		v := obj[key]
		if component, ok := extraArgsOwners[pathString(path)]; ok && key == "extraArgs" {
			cc.readExtraArgs(component, v, child)
			continue
		}
		m, isMap := v.(map[string]any)
		switch {
		case isMap && len(m) > 0:
			cc.walk(m, child)
		case v == nil || isMap:
			// Sets nothing.
		case leadsToExtraArgs(child):
			cc.problems = append(cc.problems, fmt.Sprintf("%s: expected a mapping, got %s", child, describeValue(v)))
		default:
			cc.ignored = append(cc.ignored, child.String())
		}
	}
}

// leadsToExtraArgs reports a field on the way to extraArgs kindish uses:
// apiServer, etcd, etcd.local...
func leadsToExtraArgs(p *field.Path) bool {
	s := p.String()
	for owner := range extraArgsOwners {
		if owner == s || strings.HasPrefix(owner, s+".") {
			return true
		}
	}
	return false
}

// readExtraArgs reads extraArgs in either of kubeadm's shapes, a map of
// name to value (v1beta3) or a list of {name, value} (v1beta4), and checks
// each name against the component's flags.
func (cc *clusterConfiguration) readExtraArgs(component string, v any, path *field.Path) {
	problem := func(p *field.Path, format string, args ...any) {
		cc.problems = append(cc.problems, fmt.Sprintf("%s: %s", p, fmt.Sprintf(format, args...)))
	}
	args := map[string]string{}
	set := func(name string, value any, p *field.Path) {
		s, ok := scalarString(value)
		if !ok {
			problem(p, "expected a string value, got %s", describeValueOrNull(value))
			return
		}
		if err := manifests.CheckFlag(component, name); err != nil {
			problem(path, "%v", err)
			return
		}
		args[name] = s
	}
	switch x := v.(type) {
	case nil:
	case map[string]any:
		for _, name := range slices.Sorted(maps.Keys(x)) {
			set(name, x[name], path.Key(name))
		}
	case []any:
		for i, item := range x {
			p := path.Index(i)
			arg, ok := item.(map[string]any)
			if !ok {
				problem(p, "expected a mapping with name and value, got %s", describeValueOrNull(item))
				continue
			}
			for _, key := range slices.Sorted(maps.Keys(arg)) {
				if key != "name" && key != "value" {
					problem(p, "unknown field %q", key)
				}
			}
			name, _ := arg["name"].(string)
			if name == "" {
				problem(p.Child("name"), "a flag name is required")
				continue
			}
			// A repeated name: the later value wins, as it would on the
			// component's command line.
			set(name, arg["value"], p.Child("value"))
		}
	default:
		problem(path, "expected a map of flag names to values or a list of {name, value}, got %s", describeValue(v))
	}
	mergeExtraArgs(cc.args, manifests.ExtraArgs{component: args})
}

// mergeExtraArgs adds src's flags to dst's, replacing a value dst has.
func mergeExtraArgs(dst, src manifests.ExtraArgs) {
	for component, args := range src {
		if len(args) == 0 {
			continue
		}
		if dst[component] == nil {
			dst[component] = map[string]string{}
		}
		maps.Copy(dst[component], args)
	}
}

// scalarString is a flag value as the YAML wrote it: kubeadm's values are
// strings, and YAML makes 10 or true of an unquoted one.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

func describeValueOrNull(v any) string {
	if v == nil {
		return "nothing"
	}
	return describeValue(v)
}

// ControlPlaneExtraArgs returns the flags that the kubeadm config patches
// add to the control plane's static pods on the node named node: the
// cluster's patches, then the node's own, a later value of a flag
// replacing an earlier one, in the order kind applies them. Parse reports
// the patches' problems; an error here means the config did not come
// through Parse.
func (c *Cluster) ControlPlaneExtraArgs(node string) (manifests.ExtraArgs, error) {
	i := slices.Index(NodeNames(c), node)
	if i < 0 {
		return nil, fmt.Errorf("no node %q in the config", node)
	}
	args := manifests.ExtraArgs{}
	var problems []error
	for _, l := range []patchList{clusterPatches(c), nodePatches(c, i)} {
		r := l.read()
		for _, p := range r.problems {
			problems = append(problems, errors.New(p))
		}
		mergeExtraArgs(args, r.args)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return args, nil
}

// kubeadmPatchProblems are the problems of every patch list in the file.
func kubeadmPatchProblems(c *Cluster) []string {
	problems := clusterPatches(c).read().problems
	for i := range c.Nodes {
		problems = append(problems, nodePatches(c, i).read().problems...)
	}
	return problems
}
