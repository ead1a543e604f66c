package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"
)

var errInvalidToken = errors.New("invalid bearer token")

// Bearer authenticates requests by their "Authorization: Bearer" token, as
// upstream's bearertoken authenticator.
type Bearer struct {
	Tokens TokenAuthenticator
}

// AuthenticateRequest implements RequestAuthenticator. A token that no
// token authenticator accepts is an error ("invalid bearer token"), so the
// request fails rather than falling back to anonymous.
func (b *Bearer) AuthenticateRequest(r *http.Request) (*Response, bool, error) {
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	if auth == "" {
		return nil, false, nil
	}
	parts := strings.SplitN(auth, " ", 3)
	if len(parts) < 2 || !strings.EqualFold(parts[0], "bearer") {
		return nil, false, nil
	}
	token := parts[1]
	// "Bearer  token" (two spaces) leaves an empty token: not valid.
	if token == "" {
		return nil, false, nil
	}
	resp, ok, err := b.Tokens.AuthenticateToken(r.Context(), token, nil)
	if ok {
		// Nothing past authentication needs the credential; removing it
		// keeps it from being forwarded or logged.
		r.Header.Del("Authorization")
		return resp, true, nil
	}
	if err == nil {
		err = errInvalidToken
	}
	return nil, false, err
}

// TokenUnion tries token authenticators in order, as upstream's
// tokenunion: the first to accept the token wins; if none does, their
// errors are returned together.
type TokenUnion []TokenAuthenticator

// AuthenticateToken implements TokenAuthenticator.
func (u TokenUnion) AuthenticateToken(ctx context.Context, token string, audiences []string) (*Response, bool, error) {
	var errs []error
	for _, a := range u {
		resp, ok, err := a.AuthenticateToken(ctx, token, audiences)
		if ok {
			return resp, true, nil
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return nil, false, aggregate(errs)
}
