package authn

import (
	"context"
	"fmt"
	"maps"
	"slices"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// TokenReviewer serves the tokenreviews resource, as upstream's
// tokenreview REST storage.
type TokenReviewer struct {
	Tokens TokenAuthenticator
	// APIAudiences are checked when the review names no audiences.
	APIAudiences []string
}

// Review answers a TokenReview created in namespace (which must be empty:
// the resource is cluster-scoped). Errors are API status errors.
func (t *TokenReviewer) Review(ctx context.Context, namespace string, review *authenticationv1.TokenReview) (*authenticationv1.TokenReview, error) {
	if namespace != "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("namespace is not allowed on this type: %v", namespace))
	}
	if review.Spec.Token == "" {
		return nil, apierrors.NewBadRequest("token is required for TokenReview in authentication")
	}
	out := review.DeepCopy()
	out.Status = authenticationv1.TokenReviewStatus{}

	auds := review.Spec.Audiences
	if len(auds) == 0 {
		auds = t.APIAudiences
	}
	resp, ok, err := t.Tokens.AuthenticateToken(ctx, review.Spec.Token, auds)
	if !ok && err == nil {
		err = errInvalidToken
	}
	out.Status.Authenticated = ok
	if err != nil {
		out.Status.Error = err.Error()
	}
	if ok && resp.User != nil {
		u := withAuthenticatedGroup(resp.User)
		out.Status.User = authenticationv1.UserInfo{
			Username: u.Name,
			UID:      u.UID,
			Groups:   slices.Clone(u.Groups),
			Extra:    map[string]authenticationv1.ExtraValue{},
		}
		for _, k := range slices.Sorted(maps.Keys(u.Extra)) {
			out.Status.User.Extra[k] = slices.Clone(u.Extra[k])
		}
		out.Status.Audiences = resp.Audiences
	}
	return out, nil
}
