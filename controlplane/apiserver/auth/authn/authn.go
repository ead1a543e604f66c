// Package authn finds out who sent a request, as k8s.io/apiserver's
// authentication filters do: from the TLS client certificate, else from a
// bearer token, else (only for health checks) as system:anonymous.
package authn

import (
	"context"
	"net/http"

	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// Response is a successful authentication.
type Response struct {
	User *user.User
	// Audiences are the audiences both the credential and the caller
	// accept; nil for credentials without audiences, like certificates.
	Audiences []string
}

// TokenAuthenticator authenticates bearer tokens. audiences are those the
// token must be valid for; nil means the API server's own. ok is false
// with a nil error when the token is not one the authenticator handles.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string, audiences []string) (resp *Response, ok bool, err error)
}

// RequestAuthenticator authenticates a request by one kind of credential.
// ok is false with a nil error when the request carries no such credential.
type RequestAuthenticator interface {
	AuthenticateRequest(r *http.Request) (resp *Response, ok bool, err error)
}

// Intersect returns the audiences of a that are also in b, in a's order,
// as upstream's Audiences.Intersect.
func Intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		for _, y := range b {
			if x == y {
				out = append(out, x)
				break
			}
		}
	}
	return out
}
