package discovery_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientdiscovery "k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/kindish/kindish/controlplane/apiserver/discovery"
	"github.com/kindish/kindish/controlplane/apiserver/discovery/discoverytest"
)

const (
	acceptClientGo = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
	aggregatedV2   = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
)

func build(t *testing.T) *discovery.Documents {
	t.Helper()
	docs, err := discovery.Build(discoverytest.Resources(), "10.0.0.1:6443")
	if err != nil {
		t.Fatal(err)
	}
	return docs
}

func get(t *testing.T, h http.Handler, path, accept string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPlainDocumentsHaveUpstreamShapes(t *testing.T) {
	docs := build(t)
	for _, tc := range []struct {
		path, prefix string
	}{
		// The legacy group's documents carry no apiVersion.
		{"/api", `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"10.0.0.1:6443"}]}`},
		{"/api/v1", `{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"configmaps","singularName":"configmap","namespaced":true,"kind":"ConfigMap","verbs":["create","delete","deletecollection","get","list","patch","update","watch"],"shortNames":["cm"],"storageVersionHash":`},
		{"/apis", `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}},{"name":"rbac.authorization.k8s.io"`},
		{"/apis/apps", `{"kind":"APIGroup","apiVersion":"v1","name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}`},
		{"/apis/apps/v1", `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"apps/v1","resources":[{"name":"deployments"`},
		{"/apis/apps/v1/", `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"apps/v1"`},
	} {
		resp := get(t, docs, tc.path, "application/json, */*")
		got := body(t, resp)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !strings.HasPrefix(got, tc.prefix) {
			t.Errorf("%s:\n got %s\nwant %s...", tc.path, got, tc.prefix)
		}
	}
}

func TestSubresourcesAreListedAfterTheirParentWithForeignKindsQualified(t *testing.T) {
	docs := build(t)
	var list metav1.APIResourceList
	if err := json.Unmarshal([]byte(body(t, get(t, docs, "/apis/apps/v1", ""))), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range list.APIResources {
		names = append(names, r.Name)
		if r.Name == "deployments/scale" && (r.Group != "autoscaling" || r.Version != "v1" || r.Kind != "Scale" || r.SingularName != "") {
			t.Errorf("deployments/scale: %+v", r)
		}
		if r.Name == "deployments/status" && (r.Group != "" || r.Version != "" || r.Kind != "Deployment") {
			t.Errorf("deployments/status: %+v", r)
		}
	}
	if want := []string{"deployments", "deployments/scale", "deployments/status"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
}

func TestGroupsAreInUpstreamPriorityOrder(t *testing.T) {
	docs := build(t)
	var list metav1.APIGroupList
	if err := json.Unmarshal([]byte(body(t, get(t, docs, "/apis", ""))), &list); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range list.Groups {
		got = append(got, g.Name)
	}
	want := []string{"apps", "rbac.authorization.k8s.io", "coordination.k8s.io"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}
}

func TestAggregatedDiscoveryIsNegotiatedAndCacheable(t *testing.T) {
	docs := build(t)
	resp := get(t, docs, "/apis", acceptClientGo)
	if ct := resp.Header.Get("Content-Type"); ct != aggregatedV2 {
		t.Fatalf("Content-Type %q", ct)
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) != 130 || resp.Header.Get("Vary") != "Accept" {
		t.Errorf("headers %v", resp.Header)
	}
	var list apidiscoveryv2.APIGroupDiscoveryList
	if err := json.Unmarshal([]byte(body(t, resp)), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "APIGroupDiscoveryList" || list.APIVersion != "apidiscovery.k8s.io/v2" || len(list.Items) != 3 {
		t.Fatalf("list %+v", list)
	}
	deploy := list.Items[0].Versions[0].Resources[0]
	if deploy.Resource != "deployments" || deploy.Scope != apidiscoveryv2.ScopeNamespace || len(deploy.Subresources) != 2 ||
		deploy.Subresources[0].Subresource != "scale" || deploy.Subresources[0].ResponseKind.Group != "autoscaling" {
		t.Errorf("deployments %+v", deploy)
	}

	if resp := get(t, docs, "/apis", acceptClientGo, "If-None-Match", etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d", resp.StatusCode)
	}
	if resp := get(t, docs, "/apis", acceptClientGo, "If-None-Match", `"stale"`); resp.StatusCode != http.StatusOK {
		t.Errorf("stale revalidation: %d", resp.StatusCode)
	}

	// Older clients list v2beta1 only.
	resp = get(t, docs, "/api", "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList" {
		t.Errorf("v2beta1 Content-Type %q", ct)
	}
	if b := body(t, resp); !strings.Contains(b, `"apiVersion":"apidiscovery.k8s.io/v2beta1"`) {
		t.Errorf("v2beta1 body %s", b)
	}

	// Aggregated discovery exists for /api and /apis only.
	if resp := get(t, docs, "/apis/apps", acceptClientGo); resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("/apis/apps Content-Type %q", resp.Header.Get("Content-Type"))
	}
	if resp := get(t, docs, "/apis/apps", aggregatedV2); resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("/apis/apps aggregated only: %d", resp.StatusCode)
	}
}

func TestProtobufDecodes(t *testing.T) {
	docs := build(t)
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, metav1.SchemeGroupVersion)
	if err := apidiscoveryv2.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	codecs := serializer.NewCodecFactory(scheme)
	decode := func(path, accept string, into runtime.Object) {
		resp := get(t, docs, path, accept)
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/vnd.kubernetes.protobuf") {
			t.Fatalf("%s: Content-Type %q", path, resp.Header.Get("Content-Type"))
		}
		if _, _, err := codecs.UniversalDeserializer().Decode([]byte(body(t, resp)), nil, into); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	var list metav1.APIResourceList
	decode("/api/v1", "application/vnd.kubernetes.protobuf", &list)
	if list.GroupVersion != "v1" || len(list.APIResources) != 13 {
		t.Errorf("protobuf /api/v1: %s, %d resources", list.GroupVersion, len(list.APIResources))
	}
	var agg apidiscoveryv2.APIGroupDiscoveryList
	decode("/apis", "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", &agg)
	if len(agg.Items) != 3 {
		t.Errorf("protobuf /apis: %d groups", len(agg.Items))
	}
}

func TestUnknownPathsAreNotFoundStatuses(t *testing.T) {
	docs := build(t)
	for _, path := range []string{"/apis/batch", "/apis/apps/v2", "/api/v2", "/apis/apps/v1/deployments", "/healthz"} {
		resp := get(t, docs, path, "")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
		var status metav1.Status
		if err := json.Unmarshal([]byte(body(t, resp)), &status); err != nil || status.Reason != metav1.StatusReasonNotFound || status.Code != 404 {
			t.Errorf("%s: %+v %v", path, status, err)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/api", nil)
	rec := httptest.NewRecorder()
	docs.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /api: %d", rec.Code)
	}
}

func TestIsDiscoveryPath(t *testing.T) {
	for path, want := range map[string]bool{
		"/api": true, "/api/": true, "/api/v1": true, "/apis": true, "/apis/apps": true, "/apis/apps/v1": true, "/apis/apps/v1/": true,
		"/api/v1/pods": false, "/apis/apps/v1/deployments": false, "/version": false, "/": false,
	} {
		if got := discovery.IsDiscoveryPath(path); got != want {
			t.Errorf("IsDiscoveryPath(%q) = %v", path, got)
		}
	}
}

// clientGoView is what client-go's discovery client makes of a server:
// every group-version's resources, by name.
func clientGoView(t *testing.T, url string, legacy bool) map[string][]string {
	t.Helper()
	dc, err := clientdiscovery.NewDiscoveryClientForConfig(&rest.Config{Host: url})
	if err != nil {
		t.Fatal(err)
	}
	dc.UseLegacyDiscovery = legacy
	_, lists, err := dc.ServerGroupsAndResources()
	if err != nil {
		t.Fatal(err)
	}
	view := map[string][]string{}
	for _, l := range lists {
		for _, r := range l.APIResources {
			view[l.GroupVersion] = append(view[l.GroupVersion], r.Name+" "+r.Kind+" "+strings.Join(r.Verbs, ",")+" "+strings.Join(r.ShortNames, ","))
		}
		sort.Strings(view[l.GroupVersion])
	}
	return view
}

func TestClientGoSeesTheSameAggregatedAndPlain(t *testing.T) {
	srv := httptest.NewServer(build(t))
	defer srv.Close()
	aggregated := clientGoView(t, srv.URL, false)
	plain := clientGoView(t, srv.URL, true)
	if !reflect.DeepEqual(aggregated, plain) {
		t.Errorf("aggregated %v\nplain %v", aggregated, plain)
	}
	want := []string{
		"pods Pod create,delete,deletecollection,get,list,patch,update,watch po",
		"pods/binding Binding create ",
		"pods/eviction Eviction create ",
		"pods/exec PodExecOptions create,get ",
		"pods/log Pod get ",
		"pods/status Pod get,patch,update ",
	}
	var pods []string
	for _, r := range aggregated["v1"] {
		if strings.HasPrefix(r, "pods") {
			pods = append(pods, r)
		}
	}
	if !reflect.DeepEqual(pods, want) {
		t.Errorf("pods %q\nwant %q", pods, want)
	}
}

func TestBuildRejectsBrokenTables(t *testing.T) {
	twice := append(discoverytest.Resources(), discoverytest.Resources()[0])
	if _, err := discovery.Build(twice, "x:1"); err == nil {
		t.Error("a resource listed twice was accepted")
	}
	noKind := discoverytest.Resources()[:1]
	noKind[0].Kind = ""
	if _, err := discovery.Build(noKind, "x:1"); err == nil {
		t.Error("a resource without kind was accepted")
	}
}

func BenchmarkBuild(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := discovery.Build(discoverytest.Resources(), "10.0.0.1:6443"); err != nil {
			b.Fatal(err)
		}
	}
}
