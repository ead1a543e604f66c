// Package apiservertest runs kindish's API server in process on an
// embedded etcd, with TLS and authentication as in a cluster, for tests of
// the server itself and of its clients (controllers, scheduler, kubelet)
// without Docker.
package apiservertest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kindish/kindish/cluster/pki"
	"github.com/kindish/kindish/controlplane/apiserver"
)

// Env is a running API server and clients for it.
type Env struct {
	URL string
	// Config is the cluster admin's (system:masters).
	Config *rest.Config
	Client kubernetes.Interface
	Etcd   *clientv3.Client
	Server *apiserver.Server
	PKI    *pki.Bundle
	ca     *certAuthority
	http   *httptest.Server
}

// DropConnections cuts every client connection, as a restarting API server
// or a flaky network would: watches end and clients must resume them.
func (e *Env) DropConnections() { e.http.CloseClientConnections() }

// Start starts etcd and the API server; both stop when the test ends.
func Start(t testing.TB) *Env {
	t.Helper()
	etcd := startEtcd(t)
	bundle, err := pki.Generate(pki.Options{Nodes: []pki.Node{{Name: "test-control-plane", IP: net.ParseIP("127.0.0.1"), ControlPlane: true}}})
	if err != nil {
		t.Fatal(err)
	}
	files, err := bundle.NodeFiles("test-control-plane")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, etcd, bundle)

	ca, err := parseCA(files[pki.CACertPath].Data, files[pki.CAKeyPath].Data)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := tls.X509KeyPair(files[pki.APIServerCertPath].Data, files[pki.APIServerKeyPath].Data)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	hs := httptest.NewUnstartedServer(srv)
	hs.TLS = &tls.Config{
		Certificates: []tls.Certificate{serving},
		ClientCAs:    pool,
		// Client certificates are one way to authenticate; tokens are
		// another, so a certificate is verified when given, not required.
		ClientAuth: tls.VerifyClientCertIfGiven,
		MinVersion: tls.VersionTLS12,
	}
	hs.StartTLS()
	t.Cleanup(hs.Close)

	env := &Env{URL: hs.URL, Etcd: etcd, Server: srv, PKI: bundle, ca: ca, http: hs}
	certPEM, keyPEM := bundle.AdminClient()
	env.Config = env.config(certPEM, keyPEM)
	if env.Client, err = kubernetes.NewForConfig(env.Config); err != nil {
		t.Fatal(err)
	}
	return env
}

// startServer makes an API server on etcd and starts it: the bootstrap of
// the built-in objects, then its RBAC feed, which lives as long as the test.
func startServer(t testing.TB, etcd *clientv3.Client, bundle *pki.Bundle) *apiserver.Server {
	t.Helper()
	files, err := bundle.NodeFiles("test-control-plane")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := apiserver.New(apiserver.Config{
		Etcd: etcd,
		Auth: apiserver.AuthConfig{
			ServiceAccountKey:        files[pki.ServiceAccountKeyPath].Data,
			ServiceAccountPublicKeys: files[pki.ServiceAccountPublicKeyPath].Data,
		},
	})
	if err != nil {
		t.Fatalf("api server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("start api server: %v", err)
	}
	return srv
}

// StartAnotherServer starts a second API server on the same etcd, as a
// restarted one starts: what its start writes is visible through e.Client.
// It serves no requests.
func (e *Env) StartAnotherServer(t testing.TB) {
	t.Helper()
	startServer(t, e.Etcd, e.PKI)
}

// config is a client configuration for a certificate.
func (e *Env) config(certPEM, keyPEM []byte) *rest.Config {
	return &rest.Config{
		Host: e.URL,
		// Tests make bursts of requests; client-side throttling would only
		// slow them down.
		QPS: -1,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:     e.PKI.CACert(),
			CertData:   certPEM,
			KeyData:    keyPEM,
			ServerName: "127.0.0.1",
		},
	}
}

// ConfigFor returns a client configuration authenticating as user with
// groups, by a client certificate from the cluster CA.
func (e *Env) ConfigFor(t testing.TB, user string, groups ...string) *rest.Config {
	certPEM, keyPEM, err := e.ca.issueClient(user, groups)
	if err != nil {
		t.Fatal(err)
	}
	return e.config(certPEM, keyPEM)
}

// AnonymousConfig returns a client configuration without credentials.
func (e *Env) AnonymousConfig() *rest.Config {
	return &rest.Config{Host: e.URL, QPS: -1, TLSClientConfig: rest.TLSClientConfig{CAData: e.PKI.CACert(), ServerName: "127.0.0.1"}}
}

func startEtcd(t testing.TB) *clientv3.Client {
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.Name = "apiservertest"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	local := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg.ListenClientUrls = []url.URL{local}
	cfg.AdvertiseClientUrls = []url.URL{local}
	cfg.ListenPeerUrls = []url.URL{local}
	cfg.AdvertisePeerUrls = []url.URL{local}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.WatchProgressNotifyInterval = time.Second
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("etcd did not become ready")
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{"http://" + e.Clients[0].Addr().String()},
		DialTimeout: 10 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}
