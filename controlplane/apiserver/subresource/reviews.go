package subresource

import (
	"maps"
	"net/http"
	"slices"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

// addReviews serves the review resources: each create is answered and
// nothing is stored.
func (h *Handler) addReviews() {
	authn := authenticationv1.SchemeGroupVersion
	h.add(authn.WithResource("tokenreviews"), "", verbs{"create": h.tokenReview})
	h.add(authn.WithResource("selfsubjectreviews"), "", verbs{"create": h.selfSubjectReview})
	authzv1 := authorizationv1.SchemeGroupVersion
	h.add(authzv1.WithResource("subjectaccessreviews"), "", verbs{"create": h.subjectAccessReview})
	h.add(authzv1.WithResource("localsubjectaccessreviews"), "", verbs{"create": h.localSubjectAccessReview})
	h.add(authzv1.WithResource("selfsubjectaccessreviews"), "", verbs{"create": h.selfSubjectAccessReview})
	h.add(authzv1.WithResource("selfsubjectrulesreviews"), "", verbs{"create": h.selfSubjectRulesReview})
}

// review decodes a review of kind gvk into in, answers it with answer,
// and writes the answer with 201, as upstream's create handler.
func review[T runtime.Object](w http.ResponseWriter, r *http.Request, info *request.Info, gvk schema.GroupVersionKind, in T, answer func(T) (T, error)) {
	namespace := ""
	if info.Resource == "localsubjectaccessreviews" {
		namespace = info.Namespace
	}
	if err := decode(w, r, namespace, in, gvk); err != nil {
		rest.WriteError(w, err)
		return
	}
	out, err := answer(in)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	writeObject(w, http.StatusCreated, out, gvk)
}

func (h *Handler) tokenReview(w http.ResponseWriter, r *http.Request, info *request.Info) {
	review(w, r, info, authenticationv1.SchemeGroupVersion.WithKind("TokenReview"), &authenticationv1.TokenReview{},
		func(in *authenticationv1.TokenReview) (*authenticationv1.TokenReview, error) {
			if h.cfg.Tokens == nil {
				return nil, unavailable("tokenreviews")
			}
			return h.cfg.Tokens.Review(r.Context(), info.Namespace, in)
		})
}

// selfSubjectReview tells the requester who the server takes them for
// (kubectl auth whoami).
func (h *Handler) selfSubjectReview(w http.ResponseWriter, r *http.Request, info *request.Info) {
	review(w, r, info, authenticationv1.SchemeGroupVersion.WithKind("SelfSubjectReview"), &authenticationv1.SelfSubjectReview{},
		func(*authenticationv1.SelfSubjectReview) (*authenticationv1.SelfSubjectReview, error) {
			u := userOf(r.Context())
			out := &authenticationv1.SelfSubjectReview{
				ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(h.now())},
				Status: authenticationv1.SelfSubjectReviewStatus{UserInfo: authenticationv1.UserInfo{
					Username: u.Name,
					UID:      u.UID,
					Groups:   slices.Clone(u.Groups),
				}},
			}
			if len(u.Extra) > 0 {
				out.Status.UserInfo.Extra = make(map[string]authenticationv1.ExtraValue, len(u.Extra))
				for _, k := range slices.Sorted(maps.Keys(u.Extra)) {
					out.Status.UserInfo.Extra[k] = slices.Clone(u.Extra[k])
				}
			}
			return out, nil
		})
}

func (h *Handler) subjectAccessReview(w http.ResponseWriter, r *http.Request, info *request.Info) {
	review(w, r, info, authorizationv1.SchemeGroupVersion.WithKind("SubjectAccessReview"), &authorizationv1.SubjectAccessReview{},
		func(in *authorizationv1.SubjectAccessReview) (*authorizationv1.SubjectAccessReview, error) {
			if h.cfg.Authorizer == nil {
				return nil, unavailable("authorization")
			}
			return authz.SubjectAccessReview(r.Context(), h.cfg.Authorizer, in)
		})
}

func (h *Handler) localSubjectAccessReview(w http.ResponseWriter, r *http.Request, info *request.Info) {
	review(w, r, info, authorizationv1.SchemeGroupVersion.WithKind("LocalSubjectAccessReview"), &authorizationv1.LocalSubjectAccessReview{},
		func(in *authorizationv1.LocalSubjectAccessReview) (*authorizationv1.LocalSubjectAccessReview, error) {
			if h.cfg.Authorizer == nil {
				return nil, unavailable("authorization")
			}
			return authz.LocalSubjectAccessReview(r.Context(), h.cfg.Authorizer, info.Namespace, in)
		})
}

// selfSubjectAccessReview answers kubectl auth can-i.
func (h *Handler) selfSubjectAccessReview(w http.ResponseWriter, r *http.Request, info *request.Info) {
	review(w, r, info, authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectAccessReview"), &authorizationv1.SelfSubjectAccessReview{},
		func(in *authorizationv1.SelfSubjectAccessReview) (*authorizationv1.SelfSubjectAccessReview, error) {
			if h.cfg.Authorizer == nil {
				return nil, unavailable("authorization")
			}
			return authz.SelfSubjectAccessReview(r.Context(), h.cfg.Authorizer, userOf(r.Context()), in)
		})
}

// selfSubjectRulesReview answers kubectl auth can-i --list.
func (h *Handler) selfSubjectRulesReview(w http.ResponseWriter, r *http.Request, info *request.Info) {
	review(w, r, info, authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectRulesReview"), &authorizationv1.SelfSubjectRulesReview{},
		func(in *authorizationv1.SelfSubjectRulesReview) (*authorizationv1.SelfSubjectRulesReview, error) {
			if h.cfg.Rules == nil {
				return nil, unavailable("selfsubjectrulesreviews")
			}
			return authz.SelfSubjectRulesReview(r.Context(), h.cfg.Rules, userOf(r.Context()), in)
		})
}
