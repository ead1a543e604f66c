package subresource

import (
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

var tokenRequestKind = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")

func (h *Handler) addServiceAccounts() {
	h.add(corev1.SchemeGroupVersion.WithResource("serviceaccounts"), "token", verbs{"create": h.createToken})
}

// createToken issues a bound ServiceAccount token (kubectl create token,
// the kubelet's projected tokens): the TokenRequest comes back with
// status.token and status.expirationTimestamp.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request, info *request.Info) {
	if h.cfg.Issuer == nil {
		rest.WriteError(w, unavailable("serviceaccounts/token"))
		return
	}
	req := &authenticationv1.TokenRequest{}
	if err := decode(w, r, info.Namespace, req, tokenRequestKind); err != nil {
		rest.WriteError(w, err)
		return
	}
	out, warnings, err := h.cfg.Issuer.Create(info.Namespace, info.Name, req)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	rest.AddWarnings(w, warnings)
	writeObject(w, http.StatusCreated, out, tokenRequestKind)
}
