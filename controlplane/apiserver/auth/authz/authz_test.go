package authz

import (
	"context"
	"errors"
	"testing"

	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

var jane = &user.User{Name: "jane", Groups: []string{user.AllAuthenticated}}

func TestForbiddenIsUpstreams(t *testing.T) {
	tests := []struct {
		attrs  Attributes
		reason string
		want   string
	}{
		{
			attrs: Attributes{User: jane, Verb: "list", Resource: "pods", Namespace: "default", APIVersion: "v1", ResourceRequest: true},
			want:  `pods is forbidden: User "jane" cannot list resource "pods" in API group "" in the namespace "default"`,
		},
		{
			attrs: Attributes{User: jane, Verb: "get", APIGroup: "apps", Resource: "deployments", Name: "web", Namespace: "prod", ResourceRequest: true},
			want:  `deployments.apps "web" is forbidden: User "jane" cannot get resource "deployments" in API group "apps" in the namespace "prod"`,
		},
		{
			attrs: Attributes{User: jane, Verb: "update", Resource: "nodes", Subresource: "status", Name: "n1", ResourceRequest: true},
			want:  `nodes "n1" is forbidden: User "jane" cannot update resource "nodes/status" in API group "" at the cluster scope`,
		},
		{
			attrs: Attributes{User: jane, Verb: "get", Path: "/metrics"},
			want:  `forbidden: User "jane" cannot get path "/metrics"`,
		},
		{
			attrs:  Attributes{User: jane, Verb: "delete", Resource: "namespaces", Name: "kube-system", Namespace: "kube-system", ResourceRequest: true},
			reason: `RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found`,
			want:   `namespaces "kube-system" is forbidden: User "jane" cannot delete resource "namespaces" in API group "" in the namespace "kube-system": RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found`,
		},
	}
	for _, tt := range tests {
		err := Forbidden(&tt.attrs, tt.reason)
		if err.Error() != tt.want {
			t.Errorf("got  %s\nwant %s", err.Error(), tt.want)
		}
		s := err.ErrStatus
		if s.Code != 403 || s.Reason != "Forbidden" || s.Details.Kind != tt.attrs.Resource || s.Details.Group != tt.attrs.APIGroup || s.Details.Name != tt.attrs.Name {
			t.Errorf("status = %+v", s)
		}
	}
}

type fixed Result

func (f fixed) Authorize(context.Context, *Attributes) Result { return Result(f) }

func TestUnion(t *testing.T) {
	errA := errors.New("webhook down")
	ctx := context.Background()
	a := &Attributes{User: jane}

	r := Union{fixed{Decision: NoOpinion, Why: Reason("first")}, fixed{Decision: NoOpinion, Why: Reason("second"), Err: errA}}.Authorize(ctx, a)
	if r.Decision != NoOpinion || r.Reason() != "first\nsecond" || r.Err == nil || r.Err.Error() != "webhook down" {
		t.Errorf("no opinions: %+v %q", r, r.Reason())
	}
	r = Union{fixed{Decision: NoOpinion, Why: Reason("first")}, fixed{Decision: Deny, Why: Reason("no")}, fixed{Decision: Allow}}.Authorize(ctx, a)
	if r.Decision != Deny || r.Reason() != "no" {
		t.Errorf("deny: %+v", r)
	}
	r = Union{fixed{Decision: Allow}, fixed{Decision: Deny}}.Authorize(ctx, a)
	if r.Decision != Allow {
		t.Errorf("allow: %+v", r)
	}
}

func TestSystemMastersBypassesAuthorization(t *testing.T) {
	az := New(fixed{Decision: NoOpinion})
	ctx := context.Background()
	admin := &user.User{Name: "kubernetes-admin", Groups: []string{"kubeadm:cluster-admins", user.SystemPrivilegedGroup, user.AllAuthenticated}}
	if !az.Authorize(ctx, &Attributes{User: admin, Verb: "delete", Resource: "nodes", ResourceRequest: true}).Allowed() {
		t.Error("system:masters denied")
	}
	if az.Authorize(ctx, &Attributes{User: jane, Verb: "delete", Resource: "nodes", ResourceRequest: true}).Allowed() {
		t.Error("jane allowed")
	}
	if az.Authorize(ctx, &Attributes{Verb: "get", Path: "/"}).Allowed() {
		t.Error("no user allowed")
	}
}
