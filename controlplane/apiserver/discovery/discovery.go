// Package discovery builds and serves the API's discovery documents — /api,
// /api/v1, /apis, /apis/<group> and /apis/<group>/<version> — from the
// resource table, in the shapes kube-apiserver serves them: the plain
// documents that every client understands, and aggregated discovery (one
// APIGroupDiscoveryList for /api and one for /apis) that kubectl and
// client-go ask for first.
//
// Everything is encoded once, when the table is built; serving is a map
// lookup.
package discovery

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apidiscoveryv2beta1 "k8s.io/api/apidiscovery/v2beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"sigs.k8s.io/yaml"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

// Documents holds every discovery document of one resource table, encoded
// in each format a client may ask for. It is immutable and safe for
// concurrent use.
type Documents struct {
	byPath map[string]*entry
}

// entry is the document served at one path.
type entry struct {
	plain [numEncodings][]byte
	// aggregated is set for /api and /apis only, keyed by apidiscovery
	// version.
	aggregated map[string]*[numEncodings][]byte
	// etag names the aggregated document's content, whatever its version
	// or encoding (the response varies on Accept), as upstream's does.
	etag string
}

// Build computes the discovery documents of resources. serverAddress is the
// host:port clients reach the API server at; /api advertises it for every
// client network, as kube-apiserver does.
func Build(resources []registry.Resource, serverAddress string) (*Documents, error) {
	lists, err := resourceLists(resources)
	if err != nil {
		return nil, err
	}
	d := &Documents{byPath: map[string]*entry{}}

	groups := map[string][]string{} // group -> versions
	for gv := range lists {
		groups[gv.Group] = append(groups[gv.Group], gv.Version)
	}
	var names []string
	for g, versions := range groups {
		sortVersions(g, versions)
		if g != "" {
			names = append(names, g)
		}
	}
	sortGroups(names)

	// /api and /api/v1: the legacy group. Its documents carry no apiVersion,
	// a compatibility quirk upstream keeps (stripVersionEncoder).
	coreVersions := groups[""]
	apiVersions := &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: append([]string{}, coreVersions...),
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: serverAddress},
		},
	}
	if apiVersions.Versions == nil {
		apiVersions.Versions = []string{}
	}
	if err := d.addPlain("/api", apiVersions); err != nil {
		return nil, err
	}
	for _, v := range coreVersions {
		list := lists[schema.GroupVersion{Version: v}]
		list.TypeMeta = metav1.TypeMeta{Kind: "APIResourceList"}
		if err := d.addPlain("/api/"+v, list); err != nil {
			return nil, err
		}
	}

	// /apis, /apis/<group>, /apis/<group>/<version>.
	groupList := &metav1.APIGroupList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
		Groups:   []metav1.APIGroup{},
	}
	for _, g := range names {
		group := metav1.APIGroup{Name: g}
		for _, v := range groups[g] {
			group.Versions = append(group.Versions, metav1.GroupVersionForDiscovery{GroupVersion: g + "/" + v, Version: v})
		}
		group.PreferredVersion = group.Versions[0]
		groupList.Groups = append(groupList.Groups, group)

		doc := group
		doc.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
		if err := d.addPlain("/apis/"+g, &doc); err != nil {
			return nil, err
		}
		for _, v := range groups[g] {
			list := lists[schema.GroupVersion{Group: g, Version: v}]
			list.TypeMeta = metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}
			if err := d.addPlain("/apis/"+g+"/"+v, list); err != nil {
				return nil, err
			}
		}
	}
	if err := d.addPlain("/apis", groupList); err != nil {
		return nil, err
	}

	// Aggregated discovery: everything above in two documents.
	core := &apidiscoveryv2.APIGroupDiscoveryList{Items: []apidiscoveryv2.APIGroupDiscovery{}}
	if len(coreVersions) > 0 {
		item, err := groupDiscovery("", coreVersions, lists)
		if err != nil {
			return nil, err
		}
		core.Items = append(core.Items, item)
	}
	all := &apidiscoveryv2.APIGroupDiscoveryList{Items: []apidiscoveryv2.APIGroupDiscovery{}}
	for _, g := range names {
		item, err := groupDiscovery(g, groups[g], lists)
		if err != nil {
			return nil, err
		}
		all.Items = append(all.Items, item)
	}
	if err := d.addAggregated("/api", core); err != nil {
		return nil, err
	}
	if err := d.addAggregated("/apis", all); err != nil {
		return nil, err
	}
	return d, nil
}

// resourceLists turns the table into one APIResourceList per group-version,
// resources and their subresources in name order, as upstream lists them.
func resourceLists(resources []registry.Resource) (map[schema.GroupVersion]*metav1.APIResourceList, error) {
	lists := map[schema.GroupVersion]*metav1.APIResourceList{}
	seen := map[string]bool{}
	for _, r := range resources {
		gv := r.GroupVersion
		if gv.Version == "" || r.Name == "" || r.Kind == "" {
			return nil, fmt.Errorf("resource %q in %q: group version, name and kind are required", r.Name, gv)
		}
		if seen[gv.String()+"/"+r.Name] {
			return nil, fmt.Errorf("resource %q in %q is listed twice", r.Name, gv)
		}
		seen[gv.String()+"/"+r.Name] = true
		list := lists[gv]
		if list == nil {
			list = &metav1.APIResourceList{GroupVersion: gv.String()}
			lists[gv] = list
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name:               r.Name,
			SingularName:       r.SingularName,
			Namespaced:         r.Namespaced,
			Kind:               r.Kind,
			Verbs:              sortedVerbs(r.Verbs),
			ShortNames:         r.ShortNames,
			Categories:         r.Categories,
			StorageVersionHash: storageVersionHash(r.GroupVersionKind()),
		})
		for _, sub := range r.Subresources {
			name := r.Name + "/" + sub.Name
			if sub.Name == "" || seen[gv.String()+"/"+name] {
				return nil, fmt.Errorf("subresource %q of %q in %q is empty or listed twice", sub.Name, r.Name, gv)
			}
			seen[gv.String()+"/"+name] = true
			kind := subresourceKind(r, sub)
			res := metav1.APIResource{
				Name:       name,
				Namespaced: r.Namespaced,
				Kind:       kind.Kind,
				Verbs:      sortedVerbs(sub.Verbs),
			}
			// Only a kind from another group-version is qualified (autoscaling/v1
			// Scale under apps/v1 deployments/scale).
			if kind.GroupVersion() != gv {
				res.Group, res.Version = kind.Group, kind.Version
			}
			list.APIResources = append(list.APIResources, res)
		}
	}
	for _, list := range lists {
		sort.SliceStable(list.APIResources, func(i, j int) bool {
			return list.APIResources[i].Name < list.APIResources[j].Name
		})
	}
	return lists, nil
}

// subresourceKind is the kind exchanged on a subresource; an empty
// group-version means the parent's.
func subresourceKind(r registry.Resource, sub registry.Subresource) schema.GroupVersionKind {
	kind := sub.Kind
	if kind.Version == "" {
		kind.Group, kind.Version = r.GroupVersion.Group, r.GroupVersion.Version
	}
	if kind.Kind == "" {
		kind.Kind = r.Kind
	}
	return kind
}

func sortedVerbs(verbs []string) metav1.Verbs {
	out := append(metav1.Verbs{}, verbs...)
	sort.Strings(out)
	return out
}

// storageVersionHash is upstream's opaque digest of the version a resource
// is stored at, which lets storage-version migrators notice a change. We
// store every resource at the version we serve it at.
func storageVersionHash(gvk schema.GroupVersionKind) string {
	sum := sha256.Sum256([]byte(gvk.Group + "/" + gvk.Version + "/" + gvk.Kind))
	return base64.StdEncoding.EncodeToString(sum[:8])
}

// groupDiscovery is one group of aggregated discovery, its versions in
// preference order.
func groupDiscovery(group string, versions []string, lists map[schema.GroupVersion]*metav1.APIResourceList) (apidiscoveryv2.APIGroupDiscovery, error) {
	item := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: group}}
	for _, v := range versions {
		gv := schema.GroupVersion{Group: group, Version: v}
		resources, err := aggregatedResources(gv, lists[gv].APIResources)
		if err != nil {
			return item, err
		}
		item.Versions = append(item.Versions, apidiscoveryv2.APIVersionDiscovery{
			Version:   v,
			Resources: resources,
			Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
		})
	}
	return item, nil
}

// aggregatedResources folds subresources into their parents, as
// kube-apiserver's ConvertGroupVersionIntoToDiscovery does.
func aggregatedResources(gv schema.GroupVersion, list []metav1.APIResource) ([]apidiscoveryv2.APIResourceDiscovery, error) {
	var out []apidiscoveryv2.APIResourceDiscovery
	parents := map[string]int{}
	kindOf := func(r metav1.APIResource) *metav1.GroupVersionKind {
		k := &metav1.GroupVersionKind{Group: gv.Group, Version: gv.Version, Kind: r.Kind}
		if r.Version != "" {
			k.Group, k.Version = r.Group, r.Version
		}
		return k
	}
	for _, r := range list {
		if strings.Contains(r.Name, "/") {
			continue
		}
		scope := apidiscoveryv2.ScopeCluster
		if r.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		parents[r.Name] = len(out)
		out = append(out, apidiscoveryv2.APIResourceDiscovery{
			Resource:         r.Name,
			ResponseKind:     kindOf(r),
			Scope:            scope,
			SingularResource: r.SingularName,
			Verbs:            r.Verbs,
			ShortNames:       r.ShortNames,
			Categories:       r.Categories,
		})
	}
	for _, r := range list {
		parent, sub, ok := strings.Cut(r.Name, "/")
		if !ok {
			continue
		}
		i, found := parents[parent]
		if !found {
			return nil, fmt.Errorf("subresource %q in %q has no parent", r.Name, gv)
		}
		out[i].Subresources = append(out[i].Subresources, apidiscoveryv2.APISubresourceDiscovery{
			Subresource:  sub,
			ResponseKind: kindOf(r),
			Verbs:        r.Verbs,
		})
	}
	return out, nil
}

// addPlain encodes obj for path in every format.
func (d *Documents) addPlain(path string, obj runtime.Object) error {
	bodies, err := encodeAll(obj)
	if err != nil {
		return fmt.Errorf("encode discovery document %s: %w", path, err)
	}
	d.entry(path).plain = bodies
	return nil
}

// addAggregated encodes an aggregated document at v2 and v2beta1 (whose
// types have the same fields) in every format.
func (d *Documents) addAggregated(path string, list *apidiscoveryv2.APIGroupDiscoveryList) error {
	list.TypeMeta = metav1.TypeMeta{Kind: aggregatedKind, APIVersion: apidiscoveryv2.SchemeGroupVersion.String()}
	e := d.entry(path)
	e.aggregated = map[string]*[numEncodings][]byte{}
	v2, err := encodeAll(list)
	if err != nil {
		return fmt.Errorf("encode aggregated discovery %s: %w", path, err)
	}
	e.aggregated[aggregatedV2] = &v2

	raw, err := json.Marshal(list)
	if err != nil {
		return err
	}
	var beta apidiscoveryv2beta1.APIGroupDiscoveryList
	if err := json.Unmarshal(raw, &beta); err != nil {
		return fmt.Errorf("convert aggregated discovery %s to v2beta1: %w", path, err)
	}
	beta.TypeMeta = metav1.TypeMeta{Kind: aggregatedKind, APIVersion: apidiscoveryv2beta1.SchemeGroupVersion.String()}
	v2beta1, err := encodeAll(&beta)
	if err != nil {
		return fmt.Errorf("encode aggregated discovery %s: %w", path, err)
	}
	e.aggregated[aggregatedV2Beta1] = &v2beta1
	e.etag = strconv.Quote(fmt.Sprintf("%X", sha512.Sum512(v2[encJSON])))
	return nil
}

func (d *Documents) entry(path string) *entry {
	e := d.byPath[path]
	if e == nil {
		e = &entry{}
		d.byPath[path] = e
	}
	return e
}

var protobufSerializer = protobuf.NewSerializer(nil, nil)

func encodeAll(obj runtime.Object) ([numEncodings][]byte, error) {
	var out [numEncodings][]byte
	j, err := json.Marshal(obj)
	if err != nil {
		return out, err
	}
	// The API server's JSON serializer ends every document with a newline.
	out[encJSON] = append(j, '\n')
	if out[encYAML], err = yaml.JSONToYAML(j); err != nil {
		return out, err
	}
	var buf bytes.Buffer
	if err := protobufSerializer.Encode(obj, &buf); err != nil {
		return out, err
	}
	out[encProtobuf] = buf.Bytes()
	return out, nil
}

// IsDiscoveryPath reports whether path is one of the discovery paths, served
// or not: /api, /api/<version>, /apis, /apis/<group> or
// /apis/<group>/<version>. Deeper paths are resources.
func IsDiscoveryPath(path string) bool {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch parts[0] {
	case "api":
		return len(parts) <= 2
	case "apis":
		return len(parts) <= 3
	}
	return false
}

// ServeHTTP answers the discovery paths. A group or version that is not
// served is a 404 with a Status body, as any unknown path is upstream.
func (d *Documents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	e, ok := d.byPath[path]
	if !ok || !IsDiscoveryPath(path) {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
			fmt.Sprintf("%s is not supported on %s", r.Method, path))
		return
	}
	c, ok := negotiate(r.Header.Get("Accept"), e.aggregated != nil)
	if !ok {
		writeStatus(w, http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable,
			"only the following media types are accepted: "+strings.Join(mediaTypes[:], ", "))
		return
	}
	body := e.plain[c.enc]
	if c.aggregated != "" {
		body = e.aggregated[c.aggregated][c.enc]
		// Aggregated discovery is cacheable: clients revalidate with the
		// ETag and get a 304 while nothing changed.
		w.Header().Set("ETag", e.etag)
		w.Header().Set("Vary", "Accept")
		w.Header().Set("Cache-Control", "public")
		if r.Header.Get("If-None-Match") == e.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Type", c.contentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// writeStatus writes a failure Status the way the API server writes errors.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, message string) {
	status := metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  message,
		Reason:   reason,
		Code:     int32(code),
	}
	if reason == metav1.StatusReasonNotFound {
		status.Details = &metav1.StatusDetails{}
	}
	body, _ := json.Marshal(status)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}
