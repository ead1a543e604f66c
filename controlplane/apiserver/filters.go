package apiserver

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authn"
	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
	"github.com/kindish/kindish/controlplane/apiserver/auth/impersonation"
	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

// withRequestInfo parses the request once, for every layer after it
// (metrics, authorization, routing), which read it from the context.
func withRequestInfo(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := request.Parse(r)
		if err != nil {
			rest.WriteError(w, apierrors.NewBadRequest(err.Error()))
			return
		}
		next.ServeHTTP(w, r.WithContext(request.WithInfo(r.Context(), info)))
	})
}

// requestInfo is what withRequestInfo parsed.
func requestInfo(r *http.Request) *request.Info {
	info, ok := request.InfoFrom(r.Context())
	if !ok {
		panic("request not parsed: withRequestInfo must run first")
	}
	return info
}

// withAuth authenticates and authorizes every request before it reaches a
// handler: 401 without valid credentials (health checks excepted), 403
// when RBAC does not allow the request, as upstream.
func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := requestInfo(r)
		u, ok, err := s.auth.Authenticator.Authenticate(r)
		if err != nil || !ok {
			if authn.AnonymousHealthChecks(r) {
				next.ServeHTTP(w, r)
				return
			}
			if err != nil {
				s.log.Debug("authentication failed", "path", r.URL.Path, "error", err)
			}
			unauthorized(w)
			return
		}
		ctx := r.Context()
		if u, err = impersonation.Impersonate(ctx, s.auth.Authorizer, u, r); err != nil {
			rest.WriteError(w, err)
			return
		}
		attrs := attributesOf(u, info)
		res := s.auth.Authorizer.Authorize(ctx, attrs)
		if res.Err != nil && !res.Allowed() {
			rest.WriteError(w, apierrors.NewInternalError(res.Err))
			return
		}
		if !res.Allowed() {
			rest.WriteError(w, authz.Forbidden(attrs, res.Reason()))
			return
		}
		ctx = request.WithUser(ctx, u)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func attributesOf(u *user.User, info *request.Info) *authz.Attributes {
	return &authz.Attributes{
		User:            u,
		Verb:            info.Verb,
		Namespace:       info.Namespace,
		APIGroup:        info.APIGroup,
		APIVersion:      info.APIVersion,
		Resource:        info.Resource,
		Subresource:     info.Subresource,
		Name:            info.Name,
		Path:            info.Path,
		ResourceRequest: info.IsResourceRequest,
	}
}

// unauthorized is upstream's 401 body.
func unauthorized(w http.ResponseWriter) {
	rest.WriteError(w, &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Message: "Unauthorized",
		Reason:  metav1.StatusReasonUnauthorized,
		Code:    http.StatusUnauthorized,
	}})
}
