package server

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// user is who a client certificate says the client is: its common name and
// its organizations, as the API server's x509 authenticator reads it.
type user struct {
	name   string
	groups []string
}

// authorize lets in the allowed clients and answers the others as upstream's
// auth filter: 401 when the client is not authenticated, 403 when it is not
// authorized. /healthz is open so that probes need no certificate.
func (s *Server) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isSubpath(r.URL.Path, "/healthz") {
			next.ServeHTTP(w, r)
			return
		}
		u, err := s.authenticate(r)
		if err != nil {
			s.log.Debug("kubelet API request not authenticated", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
			writeText(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		if u.name != s.cfg.AllowedClientCN && !slices.Contains(u.groups, MastersGroup) {
			verb, subresources := apiVerb(r.Method), subresourcesOf(r.URL.Path)
			s.log.Debug("kubelet API request forbidden", "user", u.name, "verb", verb, "subresources", subresources)
			writeText(w, http.StatusForbidden, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=%s, subresource(s)=%v)\n",
				u.name, verb, "nodes", subresources))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate verifies the client's certificate against the client CA.
func (s *Server) authenticate(r *http.Request) (user, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return user{}, errors.New("no client certificate")
	}
	chain := r.TLS.PeerCertificates
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	leaf := chain[0]
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:         s.clientCAs,
		Intermediates: intermediates,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return user{}, fmt.Errorf("verify client certificate %q: %w", leaf.Subject.CommonName, err)
	}
	if leaf.Subject.CommonName == "" {
		return user{}, errors.New("client certificate has no common name")
	}
	return user{name: leaf.Subject.CommonName, groups: leaf.Subject.Organization}, nil
}

// apiVerb is the API verb upstream authorizes an HTTP method as.
func apiVerb(method string) string {
	switch method {
	case http.MethodPost:
		return "create"
	case http.MethodGet:
		return "get"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	}
	return ""
}

// subresourcesOf are the nodes subresources upstream checks for a path, in
// the order it checks them (any of them allows); they appear in its
// Forbidden message.
func subresourcesOf(path string) []string {
	switch {
	case isSubpath(path, "/stats"):
		return []string{"stats"}
	case isSubpath(path, "/metrics"):
		return []string{"metrics"}
	case isSubpath(path, "/logs"):
		return []string{"log"}
	case isSubpath(path, "/pods"):
		return []string{"pods", "proxy"}
	case isSubpath(path, "/healthz"):
		return []string{"healthz", "proxy"}
	case isSubpath(path, "/configz"):
		return []string{"configz", "proxy"}
	}
	return []string{"proxy"}
}

// isSubpath reports whether sub is path or below it.
func isSubpath(sub, path string) bool {
	path = strings.TrimSuffix(path, "/")
	return sub == path || strings.HasPrefix(sub, path+"/")
}
