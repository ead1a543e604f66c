// Package impersonation lets a user act as another through the
// Impersonate-User, -Group, -Uid and -Extra-<key> headers, as upstream's
// WithImpersonation filter: each part of the impersonated identity must be
// authorized for the requester with the "impersonate" verb, on users,
// groups, serviceaccounts, uids or userextras.
package impersonation

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
	"github.com/kindish/kindish/controlplane/apiserver/auth/serviceaccount"
	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// request is one part of the identity asked for.
type request struct {
	kind      string // ServiceAccount, User, Group, UserExtra, UID
	namespace string
	name      string
	extraKey  string
}

func (r request) String() string {
	return fmt.Sprintf("{Kind:%s Namespace:%s Name:%s Extra:%s}", r.kind, r.namespace, r.name, r.extraKey)
}

// Impersonate returns the user r acts as: requester itself if r has no
// Impersonate-* headers, else the impersonated user, once az has allowed
// requester to impersonate every part of it. The headers are removed from
// r. Errors are API status errors: Forbidden with upstream's message for
// an impersonation that is not allowed.
func Impersonate(ctx context.Context, az authz.Authorizer, requester *user.User, r *http.Request) (*user.User, error) {
	requests, err := parseHeaders(r.Header)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if len(requests) == 0 {
		return requester, nil
	}

	var (
		username        string
		uid             string
		groups          []string
		extra           map[string][]string
		groupsSpecified = len(r.Header[authenticationv1.ImpersonateGroupHeader]) > 0
	)
	for _, req := range requests {
		attrs := &authz.Attributes{
			User:            requester,
			Verb:            "impersonate",
			Namespace:       req.namespace,
			Name:            req.name,
			ResourceRequest: true,
		}
		switch req.kind {
		case "ServiceAccount":
			attrs.Resource = "serviceaccounts"
			username = serviceaccount.MakeUsername(req.namespace, req.name)
			if !groupsSpecified {
				// A ServiceAccount's groups follow from its name.
				groups = serviceaccount.MakeGroupNames(req.namespace)
			}
		case "User":
			attrs.Resource = "users"
			username = req.name
		case "Group":
			attrs.Resource = "groups"
			groups = append(groups, req.name)
		case "UserExtra":
			attrs.APIGroup, attrs.APIVersion = authenticationv1.SchemeGroupVersion.Group, authenticationv1.SchemeGroupVersion.Version
			attrs.Resource, attrs.Subresource = "userextras", req.extraKey
			if extra == nil {
				extra = map[string][]string{}
			}
			extra[req.extraKey] = append(extra[req.extraKey], req.name)
		case "UID":
			attrs.APIGroup, attrs.APIVersion = authenticationv1.SchemeGroupVersion.Group, authenticationv1.SchemeGroupVersion.Version
			attrs.Resource = "uids"
			uid = req.name
		}
		if res := az.Authorize(ctx, attrs); res.Decision != authz.Allow || res.Err != nil {
			return nil, authz.Forbidden(attrs, res.Reason())
		}
	}

	if username != user.Anonymous {
		// Impersonated users are authenticated users, unless asked to be
		// otherwise.
		if !slices.Contains(groups, user.AllAuthenticated) && !slices.Contains(groups, user.AllUnauthenticated) {
			groups = append(groups, user.AllAuthenticated)
		}
	} else if !slices.Contains(groups, user.AllUnauthenticated) {
		groups = append(groups, user.AllUnauthenticated)
	}

	r.Header.Del(authenticationv1.ImpersonateUserHeader)
	r.Header.Del(authenticationv1.ImpersonateGroupHeader)
	r.Header.Del(authenticationv1.ImpersonateUIDHeader)
	for name := range r.Header {
		if strings.HasPrefix(name, authenticationv1.ImpersonateUserExtraHeaderPrefix) {
			r.Header.Del(name)
		}
	}
	return &user.User{Name: username, UID: uid, Groups: groups, Extra: extra}, nil
}

// parseHeaders is upstream's buildImpersonationRequests: the user first,
// then groups, extras (by key) and the UID.
func parseHeaders(h http.Header) ([]request, error) {
	var requests []request
	requestedUser := h.Get(authenticationv1.ImpersonateUserHeader)
	hasUser := requestedUser != ""
	if hasUser {
		if ns, name, err := serviceaccount.SplitUsername(requestedUser); err == nil {
			requests = append(requests, request{kind: "ServiceAccount", namespace: ns, name: name})
		} else {
			requests = append(requests, request{kind: "User", name: requestedUser})
		}
	}
	groups := h[authenticationv1.ImpersonateGroupHeader]
	for _, g := range groups {
		requests = append(requests, request{kind: "Group", name: g})
	}
	hasExtra := false
	var extraHeaders []string
	for name := range h {
		if strings.HasPrefix(name, authenticationv1.ImpersonateUserExtraHeaderPrefix) {
			extraHeaders = append(extraHeaders, name)
		}
	}
	slices.Sort(extraHeaders)
	for _, name := range extraHeaders {
		hasExtra = true
		key := unescapeExtraKey(strings.ToLower(name[len(authenticationv1.ImpersonateUserExtraHeaderPrefix):]))
		for _, v := range h[name] {
			requests = append(requests, request{kind: "UserExtra", name: v, extraKey: key})
		}
	}
	requestedUID := h.Get(authenticationv1.ImpersonateUIDHeader)
	hasUID := requestedUID != ""
	if hasUID {
		requests = append(requests, request{kind: "UID", name: requestedUID})
	}
	if (len(groups) > 0 || hasExtra || hasUID) && !hasUser {
		return nil, fmt.Errorf("requested %v without impersonating a user", requests)
	}
	return requests, nil
}

// unescapeExtraKey undoes the percent-encoding clients apply to extra keys,
// which may hold characters headers cannot ("/").
func unescapeExtraKey(key string) string {
	k, err := url.PathUnescape(key)
	if err != nil {
		return key
	}
	return k
}
