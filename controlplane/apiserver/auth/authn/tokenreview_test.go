package authn

import (
	"context"
	"slices"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

func TestTokenReview(t *testing.T) {
	tr := &TokenReviewer{Tokens: testTokens(), APIAudiences: []string{"https://kubernetes.default.svc.cluster.local"}}
	ctx := context.Background()

	out, err := tr.Review(ctx, "", &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "good"}})
	if err != nil {
		t.Fatal(err)
	}
	s := out.Status
	if !s.Authenticated || s.Error != "" || s.User.Username != "system:serviceaccount:default:builder" || s.User.UID != "sa-uid" {
		t.Errorf("status = %+v", s)
	}
	if want := []string{"system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"}; !slices.Equal(s.User.Groups, want) {
		t.Errorf("groups = %q", s.User.Groups)
	}
	if !slices.Equal(s.Audiences, []string{"https://kubernetes.default.svc.cluster.local"}) {
		t.Errorf("audiences = %q", s.Audiences)
	}
	if out.Spec.Token != "good" {
		t.Error("spec not echoed")
	}

	out, err = tr.Review(ctx, "", &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "expired"}})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status.Authenticated || out.Status.Error != "service account token has expired" || out.Status.User.Username != "" {
		t.Errorf("status = %+v", out.Status)
	}
	out, _ = tr.Review(ctx, "", &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "unknown"}})
	if out.Status.Authenticated || out.Status.Error != "invalid bearer token" {
		t.Errorf("status = %+v", out.Status)
	}

	for ns, spec := range map[string]authenticationv1.TokenReviewSpec{"default": {Token: "good"}, "": {}} {
		_, err := tr.Review(ctx, ns, &authenticationv1.TokenReview{Spec: spec})
		if !apierrors.IsBadRequest(err) {
			t.Errorf("namespace %q spec %+v: err = %v", ns, spec, err)
		}
	}
}
