package request

import (
	"net/http/httptest"
	"testing"
)

func TestParseMatchesUpstreamRequestInfo(t *testing.T) {
	tests := []struct {
		method, url                                      string
		verb, group, version, ns, resource, name, subres string
		resourceRequest                                  bool
	}{
		{"GET", "/api/v1/pods", "list", "", "v1", "", "pods", "", "", true},
		{"GET", "/api/v1/namespaces/default/pods", "list", "", "v1", "default", "pods", "", "", true},
		{"GET", "/api/v1/namespaces/default/pods?watch=true", "watch", "", "v1", "default", "pods", "", "", true},
		{"GET", "/api/v1/watch/namespaces/default/pods", "watch", "", "v1", "default", "pods", "", "", true},
		{"GET", "/api/v1/namespaces/default/pods/web", "get", "", "v1", "default", "pods", "web", "", true},
		{"GET", "/api/v1/namespaces/default/pods/web/log", "get", "", "v1", "default", "pods", "web", "log", true},
		{"PUT", "/api/v1/namespaces/default/pods/web/status", "update", "", "v1", "default", "pods", "web", "status", true},
		{"POST", "/api/v1/namespaces/default/pods/web/binding", "create", "", "v1", "default", "pods", "web", "binding", true},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale", "patch", "apps", "v1", "ns", "deployments", "d", "scale", true},
		{"DELETE", "/apis/apps/v1/namespaces/ns/deployments", "deletecollection", "apps", "v1", "ns", "deployments", "", "", true},
		{"DELETE", "/apis/apps/v1/namespaces/ns/deployments/d", "delete", "apps", "v1", "ns", "deployments", "d", "", true},
		{"POST", "/api/v1/namespaces", "create", "", "v1", "", "namespaces", "", "", true},
		{"GET", "/api/v1/namespaces/kube-system", "get", "", "v1", "kube-system", "namespaces", "kube-system", "", true},
		{"PUT", "/api/v1/namespaces/kube-system/finalize", "update", "", "v1", "kube-system", "namespaces", "kube-system", "finalize", true},
		{"GET", "/api/v1/nodes/n1/status", "get", "", "v1", "", "nodes", "n1", "status", true},
		{"GET", "/api/v1", "get", "", "v1", "", "", "", "", false},
		{"GET", "/apis/apps", "get", "", "", "", "", "", "", false},
		{"GET", "/healthz", "get", "", "", "", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.url, func(t *testing.T) {
			info, err := Parse(httptest.NewRequest(tt.method, tt.url, nil))
			if err != nil {
				t.Fatal(err)
			}
			got := [...]string{info.Verb, info.APIGroup, info.APIVersion, info.Namespace, info.Resource, info.Name, info.Subresource}
			want := [...]string{tt.verb, tt.group, tt.version, tt.ns, tt.resource, tt.name, tt.subres}
			if got != want || info.IsResourceRequest != tt.resourceRequest {
				t.Fatalf("got %q resource=%v, want %q resource=%v", got, info.IsResourceRequest, want, tt.resourceRequest)
			}
		})
	}
}
