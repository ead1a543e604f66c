package auth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/cluster/pki"
	"github.com/kindish/kindish/controlplane/apiserver/auth/authz"
	"github.com/kindish/kindish/controlplane/apiserver/auth/bootstrappolicy"
	"github.com/kindish/kindish/controlplane/apiserver/auth/rbac"
)

type serviceAccounts map[string]*corev1.ServiceAccount

func (s serviceAccounts) GetServiceAccount(ns, name string) (*corev1.ServiceAccount, error) {
	if sa, ok := s[ns+"/"+name]; ok {
		return sa, nil
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccount"), name)
}
func (serviceAccounts) GetPod(_, name string) (*corev1.Pod, error) {
	return nil, apierrors.NewNotFound(corev1.Resource("pod"), name)
}
func (serviceAccounts) GetSecret(_, name string) (*corev1.Secret, error) {
	return nil, apierrors.NewNotFound(corev1.Resource("secret"), name)
}
func (serviceAccounts) GetNode(name string) (*corev1.Node, error) {
	return nil, apierrors.NewNotFound(corev1.Resource("node"), name)
}

// A TLS server set up as the API server will be, with the cluster's own
// certificates: who each of the cluster's credentials is, and what it may
// do with the bootstrap policy.
func TestClusterCredentialsThroughTLS(t *testing.T) {
	bundle, err := pki.Generate(pki.Options{Nodes: []pki.Node{
		{Name: "kindish-control-plane", IP: net.ParseIP("127.0.0.1"), ControlPlane: true},
		{Name: "kindish-worker", IP: net.ParseIP("127.0.0.2")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	files, err := bundle.NodeFiles("kindish-control-plane")
	if err != nil {
		t.Fatal(err)
	}
	store := rbac.NewStore()
	store.Load(bootstrappolicy.Policy())
	a, err := New(Config{
		ServiceAccountKey:        files[pki.ServiceAccountKeyPath].Data,
		ServiceAccountPublicKeys: files[pki.ServiceAccountPublicKeyPath].Data,
		Getter: serviceAccounts{"default/default": {
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "default", UID: "default-uid"},
		}},
		RBAC: store,
	})
	if err != nil {
		t.Fatal(err)
	}

	// The handler lists pods in the namespace of the path, as a stand-in
	// for the API server's handlers.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok, err := a.Authenticator.Authenticate(r)
		if !ok {
			http.Error(w, fmt.Sprint("Unauthorized: ", err), http.StatusUnauthorized)
			return
		}
		attrs := &authz.Attributes{User: u, Verb: "get", Path: r.URL.Path}
		if ns, ok := strings.CutPrefix(r.URL.Path, "/api/v1/namespaces/"); ok {
			attrs = &authz.Attributes{User: u, Verb: "list", Namespace: strings.TrimSuffix(ns, "/pods"), Resource: "pods", APIVersion: "v1", ResourceRequest: true}
		}
		if res := a.Authorizer.Authorize(r.Context(), attrs); !res.Allowed() {
			http.Error(w, authz.Forbidden(attrs, res.Reason()).Error(), http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "%s %q", u.Name, u.Groups)
	}))
	serving, err := tls.X509KeyPair(files[pki.APIServerCertPath].Data, files[pki.APIServerKeyPath].Data)
	if err != nil {
		t.Fatal(err)
	}
	ca := x509.NewCertPool()
	ca.AppendCertsFromPEM(bundle.CACert())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serving}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca}
	srv.StartTLS()
	defer srv.Close()

	client := func(certPEM, keyPEM []byte) *http.Client {
		cfg := &tls.Config{RootCAs: ca}
		if certPEM != nil {
			cert, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	get := func(c *http.Client, path, token string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}

	adminCert, adminKey := bundle.AdminClient()
	kubeletCert, kubeletKey, err := bundle.Client(pki.NodeUser("kindish-worker"))
	if err != nil {
		t.Fatal(err)
	}
	tr, _, err := a.TokenRequests.Create("default", "default", &authenticationv1.TokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	anonymous := client(nil, nil)

	tests := []struct {
		name     string
		client   *http.Client
		token    string
		path     string
		wantCode int
		wantBody string
	}{
		{"admin certificate", client(adminCert, adminKey), "", "/api/v1/namespaces/kube-system/pods", 200,
			// The certificate holds its O values in DER order.
			`kubernetes-admin ["system:masters" "kubeadm:cluster-admins" "system:authenticated"]`},
		{"kubelet certificate", client(kubeletCert, kubeletKey), "", "/api/v1/namespaces/default/pods", 200,
			`system:node:kindish-worker ["system:nodes" "system:authenticated"]`},
		{"ServiceAccount token without bindings", anonymous, tr.Status.Token, "/api/v1/namespaces/default/pods", 403,
			`pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" in API group "" in the namespace "default"`},
		{"ServiceAccount token on discovery", anonymous, tr.Status.Token, "/apis", 200,
			`system:serviceaccount:default:default ["system:serviceaccounts" "system:serviceaccounts:default" "system:authenticated"]`},
		{"forged token", anonymous, tr.Status.Token + "x", "/healthz", 401, "Unauthorized: token signature is invalid"},
		{"anonymous health check", anonymous, "", "/healthz", 200, `system:anonymous ["system:unauthenticated"]`},
		{"anonymous API request", anonymous, "", "/api/v1/namespaces/default/pods", 401, "Unauthorized: <nil>"},
		{"anonymous version", anonymous, "", "/version", 401, "Unauthorized: <nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(tt.client, tt.path, tt.token)
			if code != tt.wantCode || body != tt.wantBody {
				t.Errorf("got %d %s\nwant %d %s", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}

	review, err := a.TokenReviews.Review(t.Context(), "", &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token}})
	if err != nil || !review.Status.Authenticated || review.Status.User.Username != "system:serviceaccount:default:default" {
		t.Errorf("TokenReview: %v %+v", err, review)
	}
}
