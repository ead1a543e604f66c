package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// testCA issues certificates for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kubernetes"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) issue(t testing.TB, cn string, orgs []string, usage ...x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// requestWithCert is a request as the TLS layer hands it over after
// verifying cert (verified) or merely receiving it.
func requestWithCert(ca *testCA, cert *x509.Certificate, verified bool) *http.Request {
	r := httptest.NewRequest("GET", "/api/v1/pods", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	if verified {
		r.TLS.VerifiedChains = [][]*x509.Certificate{{cert, ca.cert}}
	}
	return r
}

func TestClientCertificateUser(t *testing.T) {
	ca := newTestCA(t)
	cert := ca.issue(t, "kubernetes-admin", []string{"kubeadm:cluster-admins", "system:masters"}, x509.ExtKeyUsageClientAuth)
	a := &Authenticator{Authenticators: []RequestAuthenticator{&X509{}}}
	u, ok, err := a.Authenticate(requestWithCert(ca, cert, true))
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if u.Name != "kubernetes-admin" {
		t.Errorf("name = %q", u.Name)
	}
	// The groups are the certificate's O values in the order the
	// certificate holds them (DER sorts a SET), then system:authenticated.
	if want := append(slices.Clone(cert.Subject.Organization), "system:authenticated"); !slices.Equal(u.Groups, want) || len(want) != 3 {
		t.Errorf("groups = %q, want %q", u.Groups, want)
	}
	if id := u.Extra[user.CredentialIDKey]; len(id) != 1 || !strings.HasPrefix(id[0], "X509SHA256=") || len(id[0]) != len("X509SHA256=")+64 {
		t.Errorf("credential id = %q", id)
	}
	// The certificate's own Organization is not modified.
	if len(cert.Subject.Organization) != 2 {
		t.Errorf("certificate organizations became %q", cert.Subject.Organization)
	}
}

func TestClientCertificateRejections(t *testing.T) {
	ca := newTestCA(t)
	otherCA := newTestCA(t)
	tests := []struct {
		name    string
		x       *X509
		req     *http.Request
		wantErr string
		wantOK  bool
	}{
		{
			name:    "not verified by the TLS layer",
			x:       &X509{},
			req:     requestWithCert(ca, ca.issue(t, "jane", nil, x509.ExtKeyUsageClientAuth), false),
			wantErr: "client certificate was not verified against the cluster CA",
		},
		{
			name:    "serving certificate",
			x:       &X509{},
			req:     requestWithCert(ca, ca.issue(t, "kube-apiserver", nil, x509.ExtKeyUsageServerAuth), true),
			wantErr: "incompatible key usage",
		},
		{
			name:    "verifying itself: other CA",
			x:       &X509{Roots: ca.pool},
			req:     requestWithCert(otherCA, otherCA.issue(t, "jane", nil, x509.ExtKeyUsageClientAuth), false),
			wantErr: "certificate signed by unknown authority",
		},
		{
			name:    "verifying itself: serving certificate",
			x:       &X509{Roots: ca.pool},
			req:     requestWithCert(ca, ca.issue(t, "kube-apiserver", nil, x509.ExtKeyUsageServerAuth), false),
			wantErr: "incompatible key usage",
		},
		{
			name:    "verifying itself: expired",
			x:       &X509{Roots: ca.pool, Now: func() time.Time { return time.Now().Add(2 * time.Hour) }},
			req:     requestWithCert(ca, ca.issue(t, "jane", nil, x509.ExtKeyUsageClientAuth), false),
			wantErr: "certificate has expired",
		},
		{
			name:   "verifying itself: valid",
			x:      &X509{Roots: ca.pool},
			req:    requestWithCert(ca, ca.issue(t, "jane", []string{"devs"}, x509.ExtKeyUsageClientAuth), false),
			wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, ok, err := tt.x.AuthenticateRequest(tt.req)
			if tt.wantOK {
				if !ok || resp.User.Name != "jane" || !slices.Equal(resp.User.Groups, []string{"devs"}) {
					t.Fatalf("ok=%v err=%v resp=%+v", ok, err, resp)
				}
				return
			}
			if ok || err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ok=%v err=%v, want error containing %q", ok, err, tt.wantErr)
			}
		})
	}
}

// A certificate without a CN names no one: not an error, not a user.
func TestCertificateWithoutCommonName(t *testing.T) {
	ca := newTestCA(t)
	resp, ok, err := (&X509{}).AuthenticateRequest(requestWithCert(ca, ca.issue(t, "", []string{"devs"}, x509.ExtKeyUsageClientAuth), true))
	if ok || resp != nil || err != nil {
		t.Errorf("ok=%v err=%v", ok, err)
	}
}

// tokens is a TokenAuthenticator that knows fixed tokens.
type tokens map[string]*user.User

func (ts tokens) AuthenticateToken(_ context.Context, token string, audiences []string) (*Response, bool, error) {
	if token == "expired" {
		return nil, false, errors.New("service account token has expired")
	}
	u, ok := ts[token]
	if !ok {
		return nil, false, nil
	}
	if audiences == nil {
		audiences = []string{"https://kubernetes.default.svc.cluster.local"}
	}
	return &Response{User: u, Audiences: audiences}, true, nil
}

func testTokens() tokens {
	return tokens{"good": {Name: "system:serviceaccount:default:builder", UID: "sa-uid", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:default"}}}
}

func TestAuthenticate(t *testing.T) {
	ca := newTestCA(t)
	a := New(&X509{}, testTokens())
	tests := []struct {
		name      string
		path      string
		header    string
		cert      bool
		wantUser  string
		wantOK    bool
		wantError string
	}{
		{name: "bearer token", path: "/api/v1/pods", header: "Bearer good", wantUser: "system:serviceaccount:default:builder", wantOK: true},
		{name: "bearer, any case", path: "/api/v1/pods", header: "bearer good", wantUser: "system:serviceaccount:default:builder", wantOK: true},
		{name: "certificate before token", path: "/api/v1/pods", header: "Bearer good", cert: true, wantUser: "jane", wantOK: true},
		{name: "unknown token", path: "/api/v1/pods", header: "Bearer nope", wantError: "invalid bearer token"},
		{name: "rejected token", path: "/api/v1/pods", header: "Bearer expired", wantError: "service account token has expired"},
		{name: "rejected token on a health check", path: "/healthz", header: "Bearer nope", wantError: "invalid bearer token"},
		{name: "other scheme is no credential", path: "/api/v1/pods", header: "Basic amFuZTpzZWNyZXQ="},
		{name: "empty token is no credential", path: "/api/v1/pods", header: "Bearer  good"},
		{name: "anonymous API request", path: "/api/v1/pods"},
		{name: "anonymous version", path: "/version"},
		{name: "anonymous discovery", path: "/apis"},
		{name: "anonymous healthz", path: "/healthz", wantUser: user.Anonymous, wantOK: true},
		{name: "anonymous livez", path: "/livez", wantUser: user.Anonymous, wantOK: true},
		{name: "anonymous readyz check", path: "/readyz/etcd", wantUser: user.Anonymous, wantOK: true},
		{name: "not a health check", path: "/healthzz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.path, nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			if tt.cert {
				r.TLS = requestWithCert(ca, ca.issue(t, "jane", nil, x509.ExtKeyUsageClientAuth), true).TLS
			}
			u, ok, err := a.Authenticate(r)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v (err %v), want %v", ok, err, tt.wantOK)
			}
			if tt.wantError != "" {
				if err == nil || err.Error() != tt.wantError {
					t.Fatalf("err = %v, want %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !ok {
				return
			}
			if u.Name != tt.wantUser {
				t.Errorf("user = %q, want %q", u.Name, tt.wantUser)
			}
			switch {
			case u.Name == user.Anonymous:
				if !slices.Equal(u.Groups, []string{user.AllUnauthenticated}) {
					t.Errorf("anonymous groups = %q", u.Groups)
				}
			case u.Groups[len(u.Groups)-1] != user.AllAuthenticated:
				t.Errorf("groups = %q, want system:authenticated last", u.Groups)
			}
			if tt.header != "" && !tt.cert && r.Header.Get("Authorization") != "" {
				t.Error("the accepted token was left on the request")
			}
		})
	}
}

func TestIsHealthPath(t *testing.T) {
	for path, want := range map[string]bool{
		"/healthz": true, "/livez": true, "/readyz": true, "/readyz/etcd": true, "/livez/ping": true,
		"/": false, "/version": false, "/api": false, "/healthz2": false, "/metrics": false, "/readyzz/x": false,
	} {
		if got := IsHealthPath(path); got != want {
			t.Errorf("IsHealthPath(%q) = %v", path, got)
		}
	}
}

func BenchmarkAuthenticateCertificate(b *testing.B) {
	ca := newTestCA(b)
	r := requestWithCert(ca, ca.issue(b, "kubernetes-admin", []string{"system:masters"}, x509.ExtKeyUsageClientAuth), true)
	a := New(&X509{}, testTokens())
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := a.Authenticate(r); !ok {
			b.Fatal(err)
		}
	}
}
