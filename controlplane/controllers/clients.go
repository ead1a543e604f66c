package controllers

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// The manager's client talks to an API server on the same machine:
// upstream's defaults (20/30) would only slow it down.
const (
	clientQPS   = 100
	clientBurst = 200
)

// userAgent names the manager in the API server's logs and audit.
const userAgent = "kube-controller-manager"

// restConfig is the manager's own client configuration.
func restConfig(o Options) (*rest.Config, error) {
	var cfg *rest.Config
	switch {
	case o.RestConfig != nil:
		cfg = rest.CopyConfig(o.RestConfig)
	case o.Kubeconfig != "":
		var err error
		if cfg, err = clientcmd.BuildConfigFromFlags("", o.Kubeconfig); err != nil {
			return nil, fmt.Errorf("--kubeconfig %s: %w", o.Kubeconfig, err)
		}
	default:
		return nil, errors.New("no --kubeconfig")
	}
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	// Protobuf, as upstream's components speak: much cheaper to encode and
	// decode than JSON.
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.UserAgent = userAgent
	return cfg, nil
}

// rootCA is the bundle published as kube-root-ca.crt: --root-ca-file, or
// the CA the manager itself trusts.
func rootCA(o Options, cfg *rest.Config) ([]byte, error) {
	var data []byte
	var err error
	switch {
	case o.RootCAFile != "":
		if data, err = os.ReadFile(o.RootCAFile); err != nil {
			return nil, fmt.Errorf("--root-ca-file: %w", err)
		}
	case len(cfg.CAData) > 0:
		data = cfg.CAData
	case cfg.CAFile != "":
		if data, err = os.ReadFile(cfg.CAFile); err != nil {
			return nil, fmt.Errorf("kubeconfig CA file: %w", err)
		}
	default:
		return nil, nil
	}
	if err := checkCertificates(data); err != nil {
		return nil, fmt.Errorf("root CA: %w", err)
	}
	return data, nil
}

// checkCertificates rejects a bundle without a parsable certificate, which
// every pod would otherwise be given.
func checkCertificates(data []byte) error {
	found := false
	for remaining := data; ; {
		var block *pem.Block
		block, remaining = pem.Decode(remaining)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return err
		}
		found = true
	}
	if !found {
		return errors.New("no PEM certificate")
	}
	return nil
}

// tokenLifetime is how long the controllers' tokens live, upstream's
// (the DynamicControllerClientBuilder's defaultExpirationSeconds).
const tokenLifetime = time.Hour

// tokenRenewAt is the share of a token's lifetime after which it is
// replaced, so that a token never expires in flight.
const tokenRenewAt = 0.8

// serviceAccountClients builds clients that act as ServiceAccounts in
// kube-system, upstream's DynamicControllerClientBuilder: the manager
// creates the account if needed and asks TokenRequest for its tokens.
type serviceAccountClients struct {
	// manager is the manager's own client, which may create accounts in
	// kube-system and request their tokens.
	manager kubernetes.Interface
	base    *rest.Config
	now     func() time.Time
}

// configFor returns a client configuration acting as kube-system/<name>.
// Its first token is fetched now, so that a broken setup fails at start.
func (b serviceAccountClients) configFor(ctx context.Context, name string) (*rest.Config, error) {
	src := &tokenSource{client: b.manager, name: name, now: b.now}
	if _, err := src.token(ctx); err != nil {
		return nil, err
	}
	cfg := rest.AnonymousClientConfig(b.base)
	cfg.QPS, cfg.Burst = b.base.QPS, b.base.Burst
	cfg.UserAgent = b.base.UserAgent + "/" + name
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &bearerTransport{source: src, next: rt} })
	return cfg, nil
}

// tokenSource caches one account's token and replaces it before it runs
// out, or when the API server rejected it.
type tokenSource struct {
	client kubernetes.Interface
	name   string
	now    func() time.Time

	mu      sync.Mutex
	cached  string
	renewAt time.Time
}

func (s *tokenSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != "" && s.now().Before(s.renewAt) {
		return s.cached, nil
	}
	issued := s.now()
	tr, err := s.request(ctx)
	if apierrors.IsNotFound(err) {
		// The account is gone (deleted, or never made): make it, once.
		if err = s.ensureAccount(ctx); err == nil {
			tr, err = s.request(ctx)
		}
	}
	if err != nil {
		return "", fmt.Errorf("token for serviceaccount %s/%s: %w", metav1.NamespaceSystem, s.name, err)
	}
	lifetime := tr.Status.ExpirationTimestamp.Sub(issued)
	s.cached = tr.Status.Token
	s.renewAt = issued.Add(time.Duration(float64(lifetime) * tokenRenewAt))
	return s.cached, nil
}

func (s *tokenSource) request(ctx context.Context) (*authenticationv1.TokenRequest, error) {
	seconds := int64(tokenLifetime / time.Second)
	return s.client.CoreV1().ServiceAccounts(metav1.NamespaceSystem).CreateToken(ctx, s.name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}, metav1.CreateOptions{})
}

func (s *tokenSource) ensureAccount(ctx context.Context) error {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: s.name}}
	_, err := s.client.CoreV1().ServiceAccounts(metav1.NamespaceSystem).Create(ctx, sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create serviceaccount: %w", err)
	}
	return nil
}

// reset drops the cached token; the next request fetches a new one.
func (s *tokenSource) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cached = ""
}

// bearerTransport puts the account's token on every request.
type bearerTransport struct {
	source *tokenSource
	next   http.RoundTripper
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := t.source.token(req.Context())
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := t.next.RoundTrip(req)
	// A token the server no longer takes (its key rotated, or the
	// account was recreated) is replaced on the next request.
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		t.source.reset()
	}
	return resp, err
}
