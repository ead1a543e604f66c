package authz_test

import (
	"context"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
	"github.com/kindish/kindish/controlplane/apiserver/auth/bootstrappolicy"
	"github.com/kindish/kindish/controlplane/apiserver/auth/rbac"
	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// cluster is the bootstrap policy plus jane, who may view namespace team.
func cluster(t *testing.T) (authz.Authorizer, *rbac.Authorizer) {
	t.Helper()
	store := rbac.NewStore()
	store.Load(bootstrappolicy.Policy())
	store.Set(&rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "jane-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "jane"}},
	})
	r := rbac.New(store)
	return authz.New(r), r
}

var jane = &user.User{Name: "jane", Groups: []string{user.AllAuthenticated}}

func TestSubjectAccessReview(t *testing.T) {
	az, _ := cluster(t)
	ctx := context.Background()
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               "jane",
		Groups:             []string{user.AllAuthenticated},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "team", Verb: "list", Resource: "pods"},
	}}
	out, err := authz.SubjectAccessReview(ctx, az, sar)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Status.Allowed || out.Status.Reason != `RBAC: allowed by RoleBinding "jane-view/team" of ClusterRole "view" to User "jane"` {
		t.Errorf("status = %+v", out.Status)
	}
	sar.Spec.ResourceAttributes.Resource = "secrets"
	if out, _ = authz.SubjectAccessReview(ctx, az, sar); out.Status.Allowed || out.Status.Denied {
		t.Errorf("view reads secrets: %+v", out.Status)
	}

	bad := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get"},
	}}
	_, err = authz.SubjectAccessReview(ctx, az, bad)
	if !apierrors.IsInvalid(err) || err.Error() != `SubjectAccessReview.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified` {
		t.Errorf("err = %v", err)
	}
}

func TestLocalSubjectAccessReview(t *testing.T) {
	az, _ := cluster(t)
	ctx := context.Background()
	lsar := &authorizationv1.LocalSubjectAccessReview{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team"},
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               "jane",
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "team", Verb: "get", Resource: "configmaps"},
		},
	}
	out, err := authz.LocalSubjectAccessReview(ctx, az, "team", lsar)
	if err != nil || !out.Status.Allowed {
		t.Fatalf("err=%v status=%+v", err, out)
	}
	if _, err := authz.LocalSubjectAccessReview(ctx, az, "other", lsar); !apierrors.IsBadRequest(err) {
		t.Errorf("other namespace: %v", err)
	}
	lsar.Spec.ResourceAttributes.Namespace = "elsewhere"
	if _, err := authz.LocalSubjectAccessReview(ctx, az, "team", lsar); !apierrors.IsInvalid(err) {
		t.Errorf("mismatched namespace: %v", err)
	}
}

func TestSelfSubjectAccessReview(t *testing.T) {
	az, _ := cluster(t)
	ctx := context.Background()
	for _, tt := range []struct {
		attrs authorizationv1.SelfSubjectAccessReviewSpec
		allow bool
	}{
		{authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "team", Verb: "watch", Resource: "deployments", Group: "apps"}}, true},
		{authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "team", Verb: "create", Resource: "deployments", Group: "apps"}}, false},
		{authorizationv1.SelfSubjectAccessReviewSpec{NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/version"}}, true},
		{authorizationv1.SelfSubjectAccessReviewSpec{NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: "get", Path: "/metrics"}}, false},
	} {
		out, err := authz.SelfSubjectAccessReview(ctx, az, jane, &authorizationv1.SelfSubjectAccessReview{Spec: tt.attrs})
		if err != nil {
			t.Fatal(err)
		}
		if out.Status.Allowed != tt.allow {
			t.Errorf("%+v: allowed = %v", tt.attrs, out.Status.Allowed)
		}
	}
	_, err := authz.SelfSubjectAccessReview(ctx, az, jane, &authorizationv1.SelfSubjectAccessReview{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("empty spec: %v", err)
	}
}

// What kubectl auth can-i --list shows jane in team: the rules of the
// cluster-wide bindings every authenticated user has, then view's.
func TestSelfSubjectRulesReview(t *testing.T) {
	_, rr := cluster(t)
	out, err := authz.SelfSubjectRulesReview(context.Background(), rr, jane, &authorizationv1.SelfSubjectRulesReview{
		Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: "team"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := out.Status
	if s.Incomplete || s.EvaluationError != "" {
		t.Errorf("incomplete=%v error=%q", s.Incomplete, s.EvaluationError)
	}
	wantFirst := []authorizationv1.ResourceRule{
		// system:basic-user
		{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectaccessreviews", "selfsubjectrulesreviews"}},
		{Verbs: []string{"create"}, APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"selfsubjectreviews"}},
	}
	if !equality.Semantic.DeepEqual(s.ResourceRules[:2], wantFirst) {
		t.Errorf("first rules = %+v", s.ResourceRules[:2])
	}
	var view []authorizationv1.ResourceRule
	for _, r := range bootstrappolicy.ClusterRoles() {
		if r.Name == "view" {
			for _, pr := range r.Rules {
				view = append(view, authorizationv1.ResourceRule{Verbs: pr.Verbs, APIGroups: pr.APIGroups, Resources: pr.Resources, ResourceNames: pr.ResourceNames})
			}
		}
	}
	if got := s.ResourceRules[2:]; !equality.Semantic.DeepEqual(got, view) {
		t.Errorf("namespace rules = %+v\nwant view's %+v", got, view)
	}
	wantNonResource := []authorizationv1.NonResourceRule{
		// system:discovery, then system:public-info-viewer
		{Verbs: []string{"get"}, NonResourceURLs: []string{"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"}},
		{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz", "/livez", "/readyz", "/version", "/version/"}},
	}
	if !equality.Semantic.DeepEqual(s.NonResourceRules, wantNonResource) {
		t.Errorf("non-resource rules = %+v", s.NonResourceRules)
	}

	if _, err := authz.SelfSubjectRulesReview(context.Background(), rr, jane, &authorizationv1.SelfSubjectRulesReview{}); !apierrors.IsBadRequest(err) || err.Error() != "no namespace on request" {
		t.Errorf("no namespace: %v", err)
	}
}
