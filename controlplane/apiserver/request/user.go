package request

import (
	"context"

	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

type userKey struct{}

// WithUser returns a context carrying the request's authenticated user.
func WithUser(ctx context.Context, u *user.User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the request's authenticated user, if any.
func UserFrom(ctx context.Context) (*user.User, bool) {
	u, ok := ctx.Value(userKey{}).(*user.User)
	return u, ok && u != nil
}

type infoKey struct{}

// WithInfo returns a context carrying the parsed request.
func WithInfo(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// InfoFrom returns the parsed request, if any.
func InfoFrom(ctx context.Context) (*Info, bool) {
	info, ok := ctx.Value(infoKey{}).(*Info)
	return info, ok
}
