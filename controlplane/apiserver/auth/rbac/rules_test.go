package rbac

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
)

func resourceReq(verb, group, resource, subresource, name string) *authz.Attributes {
	return &authz.Attributes{Verb: verb, APIGroup: group, Resource: resource, Subresource: subresource, Name: name, ResourceRequest: true}
}

func pathReq(verb, path string) *authz.Attributes {
	return &authz.Attributes{Verb: verb, Path: path}
}

func TestRuleAllows(t *testing.T) {
	tests := []struct {
		name  string
		rule  rbacv1.PolicyRule
		req   *authz.Attributes
		allow bool
	}{
		{"exact verb", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, resourceReq("get", "", "pods", "", "p"), true},
		{"other verb", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, resourceReq("list", "", "pods", "", ""), false},
		{"verb wildcard", rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{""}, Resources: []string{"pods"}}, resourceReq("deletecollection", "", "pods", "", ""), true},
		{"other group", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"deployments"}}, resourceReq("get", "apps", "deployments", "", ""), false},
		{"group wildcard", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"*"}, Resources: []string{"deployments"}}, resourceReq("get", "apps", "deployments", "", ""), true},
		{"resource wildcard covers subresources", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"*"}}, resourceReq("get", "", "pods", "log", "p"), true},
		{"resource does not cover its subresources", rbacv1.PolicyRule{Verbs: []string{"update"}, APIGroups: []string{""}, Resources: []string{"pods"}}, resourceReq("update", "", "pods", "status", "p"), false},
		{"subresource exact", rbacv1.PolicyRule{Verbs: []string{"update"}, APIGroups: []string{""}, Resources: []string{"pods/status"}}, resourceReq("update", "", "pods", "status", "p"), true},
		{"subresource does not cover the resource", rbacv1.PolicyRule{Verbs: []string{"update"}, APIGroups: []string{""}, Resources: []string{"pods/status"}}, resourceReq("update", "", "pods", "", "p"), false},
		{"subresource of another resource", rbacv1.PolicyRule{Verbs: []string{"update"}, APIGroups: []string{""}, Resources: []string{"nodes/status"}}, resourceReq("update", "", "pods", "status", "p"), false},
		{"prefix is not a resource", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pod"}}, resourceReq("get", "", "pods", "", ""), false},
		{"similar subresource", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/statusx"}}, resourceReq("get", "", "pods", "status", ""), false},
		{"any resource's subresource", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"*"}, Resources: []string{"*/scale"}}, resourceReq("get", "apps", "deployments", "scale", "d"), true},
		{"any resource's subresource, not others", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"*"}, Resources: []string{"*/scale"}}, resourceReq("get", "apps", "deployments", "status", "d"), false},
		{"any resource's subresource, not the resource", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"*"}, Resources: []string{"*/scale"}}, resourceReq("get", "apps", "deployments", "", "d"), false},
		{"resource name", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"a", "b"}}, resourceReq("get", "", "configmaps", "", "b"), true},
		{"other resource name", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"a"}}, resourceReq("get", "", "configmaps", "", "c"), false},
		{"resource names never allow list", rbacv1.PolicyRule{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"a"}}, resourceReq("list", "", "configmaps", "", ""), false},
		{"non-resource exact", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, pathReq("get", "/healthz"), true},
		{"non-resource exact is exact", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, pathReq("get", "/healthz/etcd"), false},
		{"non-resource prefix", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}}, pathReq("get", "/apis/apps/v1"), true},
		{"non-resource prefix needs the prefix", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}}, pathReq("get", "/apis"), false},
		{"non-resource bare prefix", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz*"}}, pathReq("get", "/healthzfoo"), true},
		{"non-resource wildcard", rbacv1.PolicyRule{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}, pathReq("post", "/anything"), true},
		{"non-resource verb", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, pathReq("post", "/healthz"), false},
		{"resource rule never allows paths", rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}, pathReq("get", "/healthz"), false},
		{"path rule never allows resources", rbacv1.PolicyRule{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}, resourceReq("get", "", "pods", "", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RuleAllows(tt.req, &tt.rule); got != tt.allow {
				t.Errorf("RuleAllows = %v, want %v", got, tt.allow)
			}
		})
	}
}
