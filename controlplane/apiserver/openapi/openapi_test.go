package openapi_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/util/proto"
	protovalidation "k8s.io/kube-openapi/pkg/util/proto/validation"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/yaml"

	"github.com/kindish/kindish/controlplane/apiserver/discovery/discoverytest"
	"github.com/kindish/kindish/controlplane/apiserver/openapi"
	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

var (
	buildOnce sync.Once
	built     *openapi.Documents
	buildErr  error
)

// documents builds the test table's documents once for all tests.
func documents(t *testing.T) *openapi.Documents {
	t.Helper()
	buildOnce.Do(func() {
		start := time.Now()
		built, buildErr = openapi.Build(discoverytest.Resources())
		t.Logf("Build took %v", time.Since(start))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func serve(t *testing.T) (*httptest.Server, discovery.DiscoveryInterface) {
	t.Helper()
	srv := httptest.NewServer(documents(t))
	t.Cleanup(srv.Close)
	dc, err := discovery.NewDiscoveryClientForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return srv, dc
}

func definition(t *testing.T, name string) spec.Schema {
	t.Helper()
	s, ok := documents(t).V2().Definitions[name]
	if !ok {
		t.Fatalf("no definition %s", name)
	}
	return s
}

func TestDefinitionsAreNamedAndTypedAsUpstream(t *testing.T) {
	for name, want := range map[string]string{
		"io.k8s.apimachinery.pkg.api.resource.Quantity":      `{"type":"string"}`,
		"io.k8s.apimachinery.pkg.util.intstr.IntOrString":    `{"type":"string","format":"int-or-string"}`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.Time":          `"type":"string","format":"date-time"}`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime":     `"type":"string","format":"date-time"}`,
		"io.k8s.apimachinery.pkg.runtime.RawExtension":       `"type":"object"}`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1":      `"type":"object"}`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.Patch":         `"type":"object"}`,
		"io.k8s.api.core.v1.Pod":                             `"x-kubernetes-group-version-kind":[{"group":"","kind":"Pod","version":"v1"}]`,
		"io.k8s.api.autoscaling.v1.Scale":                    `"x-kubernetes-group-version-kind":[{"group":"autoscaling","kind":"Scale","version":"v1"}]`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector": `"x-kubernetes-map-type":"atomic"`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions": `{"group":"apps","kind":"DeleteOptions","version":"v1"}`,
		"io.k8s.apimachinery.pkg.apis.meta.v1.Status":        `"x-kubernetes-group-version-kind":[{"group":"","kind":"Status","version":"v1"}]`,
	} {
		b, err := json.Marshal(definition(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s = %s, want it to contain %s", name, b, want)
		}
	}
	pod := definition(t, "io.k8s.api.core.v1.Pod")
	if pod.Description == "" || pod.Properties["spec"].Description == "" {
		t.Error("Pod lacks the descriptions SwaggerDoc gives")
	}
	for name, s := range documents(t).V2().Definitions {
		if len(s.Required) > 0 {
			t.Errorf("%s requires %v: no field is marked required", name, s.Required)
		}
	}
}

func TestListsCarryMergeAndListSemantics(t *testing.T) {
	for _, tc := range []struct {
		def, field string
		want       map[string]interface{}
	}{
		{"io.k8s.api.core.v1.PodSpec", "containers", map[string]interface{}{
			"x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "name",
			"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": []interface{}{"name"}}},
		// Keyed by more than the merge key: only the schema knows.
		{"io.k8s.api.core.v1.Container", "ports", map[string]interface{}{
			"x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "containerPort",
			"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": []interface{}{"containerPort", "protocol"}}},
		{"io.k8s.api.core.v1.PodSpec", "volumes", map[string]interface{}{
			"x-kubernetes-patch-strategy": "merge,retainKeys", "x-kubernetes-patch-merge-key": "name"}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", map[string]interface{}{
			"x-kubernetes-patch-strategy": "merge", "x-kubernetes-list-type": "set"}},
		{"io.k8s.api.core.v1.Container", "command", map[string]interface{}{"x-kubernetes-list-type": "atomic"}},
		{"io.k8s.api.apps.v1.DeploymentSpec", "strategy", map[string]interface{}{"x-kubernetes-patch-strategy": "retainKeys"}},
		{"io.k8s.api.core.v1.PodSpec", "nodeSelector", map[string]interface{}{"x-kubernetes-map-type": "atomic"}},
	} {
		got := definition(t, tc.def).Properties[tc.field].Extensions
		for k, v := range tc.want {
			if !reflect.DeepEqual(got[k], v) {
				t.Errorf("%s.%s %s = %#v, want %#v", tc.def, tc.field, k, got[k], v)
			}
		}
	}
}

func TestOperationsAreUpstreamShaped(t *testing.T) {
	paths := documents(t).V2().Paths.Paths
	for _, tc := range []struct {
		path, method, id, action string
		gvk                      string
	}{
		{"/api/v1/namespaces/{namespace}/pods", "GET", "listCoreV1NamespacedPod", "list", "/v1, Kind=Pod"},
		{"/api/v1/pods", "GET", "listCoreV1PodForAllNamespaces", "list", "/v1, Kind=Pod"},
		{"/api/v1/namespaces/{namespace}/pods", "DELETE", "deleteCoreV1CollectionNamespacedPod", "deletecollection", "/v1, Kind=Pod"},
		{"/api/v1/namespaces/{namespace}/pods/{name}", "PATCH", "patchCoreV1NamespacedPod", "patch", "/v1, Kind=Pod"},
		{"/api/v1/namespaces/{namespace}/pods/{name}/status", "PUT", "replaceCoreV1NamespacedPodStatus", "put", "/v1, Kind=Pod"},
		{"/api/v1/namespaces/{namespace}/pods/{name}/log", "GET", "readCoreV1NamespacedPodLog", "get", "/v1, Kind=Pod"},
		{"/api/v1/namespaces/{namespace}/pods/{name}/exec", "POST", "connectCoreV1PostNamespacedPodExec", "connect", "/v1, Kind=PodExecOptions"},
		{"/api/v1/namespaces/{namespace}/pods/{name}/binding", "POST", "createCoreV1NamespacedPodBinding", "post", "/v1, Kind=Binding"},
		{"/api/v1/namespaces/{namespace}/pods/{name}/eviction", "POST", "createCoreV1NamespacedPodEviction", "post", "policy/v1, Kind=Eviction"},
		{"/api/v1/watch/namespaces/{namespace}/pods/{name}", "GET", "watchCoreV1NamespacedPod", "watch", "/v1, Kind=Pod"},
		{"/api/v1/watch/pods", "GET", "watchCoreV1PodListForAllNamespaces", "watchlist", "/v1, Kind=Pod"},
		{"/api/v1/nodes/{name}", "DELETE", "deleteCoreV1Node", "delete", "/v1, Kind=Node"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "PATCH", "patchAppsV1NamespacedDeploymentScale", "patch", "autoscaling/v1, Kind=Scale"},
		{"/apis/rbac.authorization.k8s.io/v1/clusterroles", "POST", "createRbacAuthorizationV1ClusterRole", "post", "rbac.authorization.k8s.io/v1, Kind=ClusterRole"},
		{"/apis/apps/v1/", "GET", "getAppsV1APIResources", "", ""},
		{"/api/", "GET", "getCoreAPIVersions", "", ""},
		{"/apis/", "GET", "getAPIVersions", "", ""},
	} {
		item, ok := paths[tc.path]
		if !ok {
			t.Errorf("no path %s", tc.path)
			continue
		}
		op := map[string]*spec.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete}[tc.method]
		if op == nil {
			t.Errorf("no %s %s", tc.method, tc.path)
			continue
		}
		if op.ID != tc.id {
			t.Errorf("%s %s: operationId %s, want %s", tc.method, tc.path, op.ID, tc.id)
		}
		gvk := ""
		if v, ok := op.Extensions["x-kubernetes-group-version-kind"].(map[string]interface{}); ok {
			gvk = schema.GroupVersionKind{Group: v["group"].(string), Version: v["version"].(string), Kind: v["kind"].(string)}.String()
		}
		if action, _ := op.Extensions["x-kubernetes-action"].(string); action != tc.action || gvk != tc.gvk {
			t.Errorf("%s %s: action %q gvk %q, want %q %q", tc.method, tc.path, action, gvk, tc.action, tc.gvk)
		}
	}
	if _, ok := paths["/api/v1/namespaces/{namespace}/nodes"]; ok {
		t.Error("a cluster-scoped resource is served under namespaces")
	}
}

// supportsFieldValidation is kubectl's check (cli-runtime's
// supportsQueryParamV3): the first PATCH operation for the kind must take a
// fieldValidation parameter of its own.
func supportsFieldValidation(doc *spec3.OpenAPI, gvk schema.GroupVersionKind) bool {
	for _, path := range doc.Paths.Paths {
		op := path.Patch
		if op == nil {
			continue
		}
		var got map[string]string
		if err := op.Extensions.GetObject("x-kubernetes-group-version-kind", &got); err != nil ||
			got["group"] != gvk.Group || got["version"] != gvk.Version || got["kind"] != gvk.Kind {
			continue
		}
		for _, p := range op.Parameters {
			if p.Name == "fieldValidation" {
				return true
			}
		}
		return false
	}
	return false
}

func TestKubectlFindsServerSideFieldValidationInV3(t *testing.T) {
	_, dc := serve(t)
	root := openapi3.NewRoot(dc.OpenAPIV3())
	for _, gvk := range []schema.GroupVersionKind{
		{Version: "v1", Kind: "Pod"},
		{Version: "v1", Kind: "Namespace"},
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "autoscaling", Version: "v1", Kind: "Scale"},
		{Group: "coordination.k8s.io", Version: "v1", Kind: "Lease"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
	} {
		gv := gvk.GroupVersion()
		if gvk.Kind == "Scale" {
			gv = schema.GroupVersion{Group: "apps", Version: "v1"}
		}
		doc, err := root.GVSpec(gv)
		if err != nil {
			t.Fatalf("%s: %v", gv, err)
		}
		// Map order decides which PATCH kubectl looks at first: all must
		// pass, so check many orders.
		for i := 0; i < 20; i++ {
			if !supportsFieldValidation(doc, gvk) {
				t.Fatalf("kubectl would think %s does not support fieldValidation", gvk)
			}
		}
	}
}

const podYAML = `
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: web
    image: nginx
    imagePullPolicy: IfNotPresent
    ports: [{containerPort: 80}]
    resources: {limits: {cpu: 500m, memory: 1Gi}}
    livenessProbe: {httpGet: {port: http, path: /}}
`

// TestV2ValidatesAsKubectlsClientSideValidation runs the validation kubectl
// falls back to (and helm runs) on the v2 document as client-go fetches it:
// protobuf, through gnostic.
func TestV2ValidatesAsKubectlsClientSideValidation(t *testing.T) {
	_, dc := serve(t)
	doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatal(err)
	}
	models, err := proto.NewOpenAPIData(doc)
	if err != nil {
		t.Fatal(err)
	}
	pod := models.LookupModel("io.k8s.api.core.v1.Pod")
	if pod == nil {
		t.Fatal("no Pod model")
	}
	validate := func(y string) []error {
		var obj interface{}
		if err := yaml.Unmarshal([]byte(y), &obj); err != nil {
			t.Fatal(err)
		}
		return protovalidation.ValidateModel(obj, pod, "Pod")
	}
	if errs := validate(podYAML); len(errs) > 0 {
		t.Errorf("a valid pod is refused: %v", errs)
	}
	errs := validate(strings.Replace(podYAML, "imagePullPolicy", "imagePullPolicyy", 1))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `unknown field "imagePullPolicyy" in io.k8s.api.core.v1.Container`) {
		t.Errorf("unknown field: %v", errs)
	}
	errs = validate(strings.Replace(podYAML, "containerPort: 80", "containerPort: eighty", 1))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "containerPort") {
		t.Errorf("wrong type: %v", errs)
	}
}

// TestStrategicMergePatchMetadataMatchesTheGoTypes computes kubectl apply's
// three-way patch from the v3 document, as kubectl does, and from the Go
// struct tags, and expects the same patch.
func TestStrategicMergePatchMetadataMatchesTheGoTypes(t *testing.T) {
	_, dc := serve(t)
	doc, err := openapi3.NewRoot(dc.OpenAPIV3()).GVSpec(corev1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	fromV3 := strategicpatch.PatchMetaFromOpenAPIV3{Schema: doc.Components.Schemas["io.k8s.api.core.v1.Pod"], SchemaList: doc.Components.Schemas}
	fromStruct, err := strategicpatch.NewPatchMetaFromStruct(&corev1.Pod{})
	if err != nil {
		t.Fatal(err)
	}
	toJSON := func(y string) []byte {
		j, err := yaml.YAMLToJSON([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	original := toJSON(podYAML)
	modified := toJSON(strings.NewReplacer("image: nginx", "image: nginx:2", "containerPort: 80", "containerPort: 8080",
		"app: web", "app: web, tier: front").Replace(podYAML) + `
  - name: sidecar
    image: busybox
  volumes: [{name: data, emptyDir: {}}]
`)
	current := toJSON(strings.Replace(podYAML, "  containers:", "  nodeName: n1\n  containers:", 1))

	want, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, fromStruct, false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, fromV3, false)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("patch from OpenAPI v3:\n%s\nfrom the Go types:\n%s", got, want)
	}
	t.Logf("patch: %s", got)
	if !strings.Contains(string(got), `"$setElementOrder/containers"`) {
		t.Errorf("the patch does not merge containers by name: %s", got)
	}
}

func get(t *testing.T, url, accept string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestServingHonorsHashesETagsAndAccept(t *testing.T) {
	srv, _ := serve(t)
	resp, body := get(t, srv.URL+"/openapi/v3", "application/json, */*")
	var index struct {
		Paths map[string]struct{ ServerRelativeURL string }
	}
	if err := json.Unmarshal(body, &index); err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range index.Paths {
		names = append(names, name)
	}
	for _, want := range []string{"api", "api/v1", "apis", "apis/apps", "apis/apps/v1", "apis/coordination.k8s.io/v1", "apis/rbac.authorization.k8s.io/v1", "version"} {
		if _, ok := index.Paths[want]; !ok {
			t.Errorf("index lacks %s: %v", want, names)
		}
	}
	if resp.Header.Get("Etag") == "" {
		t.Error("the index has no ETag")
	}

	current := index.Paths["apis/apps/v1"].ServerRelativeURL
	resp, body = get(t, srv.URL+current, "application/json")
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, immutable" || resp.Header.Get("Expires") == "" || len(body) == 0 {
		t.Errorf("hashed fetch: %d %v", resp.StatusCode, resp.Header)
	}
	etag := resp.Header.Get("Etag")
	if resp, _ := get(t, srv.URL+current, "application/json", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/openapi/v3/apis/apps/v1?hash=OLD", "application/json"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != current {
		t.Errorf("stale hash: %d -> %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, srv.URL+"/openapi/v3/apis/apps/v1", "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"); resp.StatusCode != 200 ||
		resp.Header.Get("Content-Type") != "application/com.github.proto-openapi.spec.v3.v1.0+protobuf" {
		t.Errorf("v3 protobuf: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp, _ := get(t, srv.URL+"/openapi/v3/apis/batch/v1", "application/json"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown group: %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/openapi/v2", "text/html"); resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("v2 as HTML: %d", resp.StatusCode)
	}
	resp, body = get(t, srv.URL+"/openapi/v2", "application/json")
	if resp.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(string(body), `{"swagger":"2.0"`) {
		t.Errorf("v2 as JSON: %s %.40s", resp.Header.Get("Content-Type"), body)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	srv, _ := serve(t)
	again, err := openapi.Build(discoverytest.Resources())
	if err != nil {
		t.Fatal(err)
	}
	other := httptest.NewServer(again)
	defer other.Close()
	for _, path := range []string{"/openapi/v2", "/openapi/v3"} {
		a, _ := get(t, srv.URL+path, "application/json")
		b, _ := get(t, other.URL+path, "application/json")
		if a.Header.Get("Etag") != b.Header.Get("Etag") {
			t.Errorf("%s differs between two builds of one table", path)
		}
	}
}

// BenchmarkBuild measures building every document of the test table, and
// reports their sizes.
func BenchmarkBuild(b *testing.B) {
	var docs *openapi.Documents
	for i := 0; i < b.N; i++ {
		var err error
		if docs, err = openapi.Build(discoverytest.Resources()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	size := func(path, accept string) float64 {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		docs.ServeHTTP(rec, req)
		return float64(rec.Body.Len())
	}
	b.ReportMetric(size("/openapi/v2", "application/json"), "v2-json-bytes")
	b.ReportMetric(size("/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"), "v2-protobuf-bytes")
	b.ReportMetric(size("/openapi/v3/api/v1", "application/json"), "v3-core-json-bytes")
}

// everyBuiltinKind is a table of every kind client-go knows that has a
// list: far more than kindish serves, to show the reflection copes with
// whatever the table grows to.
func everyBuiltinKind() []registry.Resource {
	var out []registry.Resource
	for gvk := range clientgoscheme.Scheme.AllKnownTypes() {
		if strings.HasSuffix(gvk.Kind, "List") || !clientgoscheme.Scheme.Recognizes(gvk.GroupVersion().WithKind(gvk.Kind+"List")) {
			continue
		}
		out = append(out, registry.Resource{
			GroupVersion: gvk.GroupVersion(), Name: strings.ToLower(gvk.Kind) + "s", Kind: gvk.Kind, Namespaced: true,
			Verbs: registry.AllVerbs,
			New:   func() runtime.Object { o, _ := clientgoscheme.Scheme.New(gvk); return o },
			NewList: func() runtime.Object {
				o, _ := clientgoscheme.Scheme.New(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
				return o
			},
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GroupVersionKind().String() < out[j].GroupVersionKind().String() })
	return out
}

func TestBuildDescribesEveryBuiltinKind(t *testing.T) {
	resources := everyBuiltinKind()
	start := time.Now()
	docs, err := openapi.Build(resources)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kinds described in %v: %d definitions", len(resources), time.Since(start), len(docs.V2().Definitions))
	// The protobuf form is made on first request: it must parse.
	req := httptest.NewRequest(http.MethodGet, "/openapi/v2", nil)
	req.Header.Set("Accept", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
	rec := httptest.NewRecorder()
	docs.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("v2 as protobuf: %d %s", rec.Code, rec.Body)
	}

	served := map[schema.GroupVersionKind]bool{}
	for _, def := range docs.V2().Definitions {
		var gvks []map[string]string
		if err := def.Extensions.GetObject("x-kubernetes-group-version-kind", &gvks); err == nil {
			for _, g := range gvks {
				served[schema.GroupVersionKind{Group: g["group"], Version: g["version"], Kind: g["kind"]}] = true
			}
		}
	}
	for _, r := range resources {
		if !served[r.GroupVersionKind()] || !served[r.GroupVersion.WithKind(r.Kind+"List")] {
			t.Errorf("%s or its list has no definition", r.GroupVersionKind())
		}
	}
}

func TestConnectionsWithPathsAndForeignKinds(t *testing.T) {
	core := corev1.SchemeGroupVersion
	docs, err := openapi.Build([]registry.Resource{
		{
			GroupVersion: core, Name: "nodes", Kind: "Node", Verbs: []string{"get"},
			Subresources: []registry.Subresource{{Name: "proxy", Kind: core.WithKind("NodeProxyOptions"), Verbs: []string{"create", "delete", "get", "patch", "update"}}},
			New:          func() runtime.Object { return &corev1.Node{} },
		},
		{
			GroupVersion: core, Name: "serviceaccounts", Kind: "ServiceAccount", Namespaced: true, Verbs: []string{"get"},
			Subresources: []registry.Subresource{{Name: "token", Kind: schema.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}, Verbs: []string{"create"}}},
			New:          func() runtime.Object { return &corev1.ServiceAccount{} },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	paths := docs.V2().Paths.Paths
	withPath, ok := paths["/api/v1/nodes/{name}/proxy/{path}"]
	if !ok || withPath.Put == nil || withPath.Put.ID != "connectCoreV1PutNodeProxyWithPath" {
		t.Errorf("node proxy with a path: %+v", withPath)
	}
	if params := paths["/api/v1/nodes/{name}/proxy"].Get.Parameters; len(params) != 1 || params[0].Name != "path" || params[0].In != "query" {
		t.Errorf("node proxy options: %+v", params)
	}
	token := paths["/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token"].Post
	if token == nil || token.ID != "createCoreV1NamespacedServiceAccountToken" ||
		token.Parameters[0].Schema.Ref.String() != "#/definitions/io.k8s.api.authentication.v1.TokenRequest" {
		t.Errorf("serviceaccounts/token: %+v", token)
	}
	if _, err := openapi.Build([]registry.Resource{{
		GroupVersion: core, Name: "nodes", Kind: "Node", Verbs: []string{"get"},
		Subresources: []registry.Subresource{{Name: "x", Kind: core.WithKind("NoSuchKind"), Verbs: []string{"get"}}},
		New:          func() runtime.Object { return &corev1.Node{} },
	}}); err == nil {
		t.Error("a subresource of an unknown kind was described")
	}
}

func TestDocumentsGoOutCompressedOnlyToClientsThatAcceptGzip(t *testing.T) {
	docs := documents(t)
	fetch := func(acceptEncoding string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/openapi/v2", nil)
		req.Header.Set("Accept", "application/json")
		if acceptEncoding != "" {
			req.Header.Set("Accept-Encoding", acceptEncoding)
		}
		rec := httptest.NewRecorder()
		docs.ServeHTTP(rec, req)
		return rec
	}
	plain := fetch("")
	if plain.Header().Get("Content-Encoding") != "" || !json.Valid(plain.Body.Bytes()) {
		t.Fatalf("a client without gzip got Content-Encoding %q and a body that is not JSON", plain.Header().Get("Content-Encoding"))
	}
	for _, refuses := range []string{"identity", "gzip;q=0", "br"} {
		if got := fetch(refuses).Header().Get("Content-Encoding"); got != "" {
			t.Errorf("Accept-Encoding %q got Content-Encoding %q", refuses, got)
		}
	}
	for _, accepts := range []string{"gzip", "deflate, gzip;q=0.5", "*"} {
		rec := fetch(accepts)
		if rec.Header().Get("Content-Encoding") != "gzip" {
			t.Errorf("Accept-Encoding %q got Content-Encoding %q, want gzip", accepts, rec.Header().Get("Content-Encoding"))
			continue
		}
		zr, err := gzip.NewReader(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain.Body.Bytes()) {
			t.Errorf("Accept-Encoding %q: the compressed body is not the document (%v)", accepts, err)
		}
		if rec.Header().Get("Etag") != plain.Header().Get("Etag") {
			t.Errorf("the ETag differs between encodings of one document")
		}
	}
}

// The lazy handler builds on the first request, once, and answers as the
// documents do; concurrent first requests share the one build.
func TestLazyBuildsOnFirstRequest(t *testing.T) {
	lazy := openapi.NewLazy(discoverytest.Resources())
	srv := httptest.NewServer(lazy)
	t.Cleanup(srv.Close)
	want := documents(t).V2()

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			resp, err := http.Get(srv.URL + "/openapi/v2")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /openapi/v2: %s", resp.Status)
			}
		})
	}
	wg.Wait()
	docs, err := lazy.Documents()
	if err != nil {
		t.Fatal(err)
	}
	if got := docs.V2(); !reflect.DeepEqual(got.Paths, want.Paths) || !reflect.DeepEqual(got.Definitions, want.Definitions) {
		t.Error("the lazy handler's v2 document differs from Build's")
	}
}

// A table that cannot be described is an internal error in the API's
// Status shape, at every request.
func TestLazyReportsABuildFailure(t *testing.T) {
	broken := discoverytest.Resources()
	broken[0].New = nil
	srv := httptest.NewServer(openapi.NewLazy(broken))
	t.Cleanup(srv.Close)
	for range 2 {
		resp, err := http.Get(srv.URL + "/openapi/v3")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var st metav1.Status
		if resp.StatusCode != http.StatusInternalServerError || json.Unmarshal(body, &st) != nil ||
			st.Kind != "Status" || st.Reason != metav1.StatusReasonInternalError || !strings.Contains(st.Message, "has no New") {
			t.Fatalf("GET /openapi/v3 of a broken table: %s %s", resp.Status, body)
		}
	}
}
