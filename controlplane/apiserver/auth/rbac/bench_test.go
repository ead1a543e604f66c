package rbac

import (
	"context"
	"fmt"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// benchmarkStore holds n users, each with a RoleBinding of a large role
// (edit-sized) in their own namespace and a ClusterRoleBinding of a small
// one, plus the group bindings every user matches; req is a ServiceAccount
// allowed by the last rule of its role.
func benchmarkStore(n int) (*Store, *authz.Attributes) {
	s := NewStore()
	var editRules []rbacv1.PolicyRule
	for i := range 30 {
		editRules = append(editRules, rbacv1.PolicyRule{
			Verbs:     []string{"create", "update", "patch", "delete"},
			APIGroups: []string{"apps", fmt.Sprintf("group%d.example.com", i)},
			Resources: []string{"deployments", "replicasets", fmt.Sprintf("things%d", i), "statefulsets/scale"},
		})
	}
	editRules = append(editRules, rbacv1.PolicyRule{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}})
	s.Set(clusterRole("edit", editRules...))
	s.Set(clusterRole("basic", rbacv1.PolicyRule{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectaccessreviews"}}))
	s.Set(clusterBinding("basic", "basic", groupSubject(user.AllAuthenticated)))
	for i := range n {
		ns := fmt.Sprintf("ns%d", i)
		s.Set(binding(ns, "edit", "ClusterRole", "edit", saSubject(ns, "app"), userSubject(fmt.Sprintf("user%d", i))))
		s.Set(clusterBinding(fmt.Sprintf("user%d-basic", i), "basic", userSubject(fmt.Sprintf("user%d", i))))
	}
	u := &user.User{Name: "system:serviceaccount:ns7:app", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns7", user.AllAuthenticated}}
	return s, &authz.Attributes{User: u, Verb: "get", Namespace: "ns7", Resource: "pods", Subresource: "log", Name: "web", ResourceRequest: true}
}

func BenchmarkAuthorizeAllow(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("bindings=%d", 2*n), func(b *testing.B) {
			store, req := benchmarkStore(n)
			az := New(store)
			ctx := context.Background()
			az.Authorize(ctx, req) // builds the index
			b.ReportAllocs()
			for b.Loop() {
				if !az.Authorize(ctx, req).Allowed() {
					b.Fatal("denied")
				}
			}
		})
	}
}

func BenchmarkAuthorizeDeny(b *testing.B) {
	store, req := benchmarkStore(1000)
	deny := *req
	deny.Verb = "delete"
	az := New(store)
	ctx := context.Background()
	az.Authorize(ctx, req)
	b.ReportAllocs()
	for b.Loop() {
		if az.Authorize(ctx, &deny).Allowed() {
			b.Fatal("allowed")
		}
	}
}

func BenchmarkAuthorizeAllowParallel(b *testing.B) {
	store, req := benchmarkStore(1000)
	az := New(store)
	ctx := context.Background()
	az.Authorize(ctx, req)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !az.Authorize(ctx, req).Allowed() {
				b.Fatal("denied")
			}
		}
	})
}

// BenchmarkRebuild is the cost of the first request after a change to
// any RBAC object.
func BenchmarkRebuild(b *testing.B) {
	store, req := benchmarkStore(1000)
	az := New(store)
	ctx := context.Background()
	extra := clusterRole("extra")
	b.ReportAllocs()
	for b.Loop() {
		store.Set(extra)
		az.Authorize(ctx, req)
	}
}
