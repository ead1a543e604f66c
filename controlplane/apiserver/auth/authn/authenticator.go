package authn

import (
	"net/http"
	"strings"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// Authenticator is the API server's request authenticator: the first of
// its authenticators that recognises a credential decides; a request with
// no credential at all is anonymous where Anonymous allows it and
// unauthenticated (401) everywhere else.
type Authenticator struct {
	// Authenticators are tried in order, as kube-apiserver orders them:
	// client certificate, then bearer token.
	Authenticators []RequestAuthenticator
	// Anonymous says which credential-less requests are let through as
	// system:anonymous. The project's rule is health checks only:
	// AnonymousHealthChecks. nil lets none through.
	Anonymous func(*http.Request) bool
}

// New is the kube-apiserver chain: client certificates checked by x509,
// then bearer tokens checked by tokens, then anonymous health checks.
func New(x509 *X509, tokens TokenAuthenticator) *Authenticator {
	return &Authenticator{
		Authenticators: []RequestAuthenticator{x509, &Bearer{Tokens: tokens}},
		Anonymous:      AnonymousHealthChecks,
	}
}

// Authenticate returns the request's user. ok false means 401: either no
// credential was presented where anonymous is not allowed (err nil), or a
// credential was presented and rejected (err says why, for the log). A
// rejected credential never falls back to anonymous, as upstream.
func (a *Authenticator) Authenticate(r *http.Request) (u *user.User, ok bool, err error) {
	var errs []error
	for _, auth := range a.Authenticators {
		resp, ok, err := auth.AuthenticateRequest(r)
		if ok {
			return withAuthenticatedGroup(resp.User), true, nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, false, aggregate(errs)
	}
	if a.Anonymous != nil && a.Anonymous(r) {
		return user.NewAnonymous(), true, nil
	}
	return nil, false, nil
}

// withAuthenticatedGroup adds system:authenticated, as upstream's
// AuthenticatedGroupAdder: last, unless the user already has it or
// system:unauthenticated, and never for system:anonymous. Groups are
// copied, not appended to in place: they may be a certificate's.
func withAuthenticatedGroup(u *user.User) *user.User {
	if u.Name == user.Anonymous {
		return u
	}
	for _, g := range u.Groups {
		if g == user.AllAuthenticated || g == user.AllUnauthenticated {
			return u
		}
	}
	groups := make([]string, 0, len(u.Groups)+1)
	groups = append(groups, u.Groups...)
	groups = append(groups, user.AllAuthenticated)
	out := *u
	out.Groups = groups
	return &out
}

// HealthPaths are the endpoints anonymous requests may reach.
var HealthPaths = []string{"/healthz", "/livez", "/readyz"}

// IsHealthPath reports whether path is a health check: /healthz, /livez,
// /readyz or one of their individual checks (/readyz/etcd).
func IsHealthPath(path string) bool {
	for _, p := range HealthPaths {
		if rest, ok := strings.CutPrefix(path, p); ok && (rest == "" || rest[0] == '/') {
			return true
		}
	}
	return false
}

// AnonymousHealthChecks allows anonymous requests to the health checks and
// nothing else, as upstream's AuthenticationConfiguration does with
// "anonymous.conditions" listing them. Everything else, /version and
// discovery included, needs credentials.
func AnonymousHealthChecks(r *http.Request) bool {
	return IsHealthPath(r.URL.Path)
}

func aggregate(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return utilerrors.NewAggregate(errs)
}
