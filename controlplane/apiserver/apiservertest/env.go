// Package apiservertest runs kindish's API server in process on an
// embedded etcd, for tests of the server itself and of its clients
// (controllers, scheduler, kubelet) without Docker.
package apiservertest

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kindish/kindish/controlplane/apiserver"
)

// Env is a running API server and clients for it.
type Env struct {
	URL    string
	Config *rest.Config
	Client kubernetes.Interface
	Etcd   *clientv3.Client
	Server *apiserver.Server
}

// Start starts etcd and the API server; both stop when the test ends.
func Start(t testing.TB) *Env {
	t.Helper()
	etcd := startEtcd(t)
	srv, err := apiserver.New(apiserver.Config{Etcd: etcd})
	if err != nil {
		t.Fatalf("api server: %v", err)
	}
	if err := srv.Bootstrap(context.Background()); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	cfg := &rest.Config{Host: hs.URL, QPS: -1}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{URL: hs.URL, Config: cfg, Client: client, Etcd: etcd, Server: srv}
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
