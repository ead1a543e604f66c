package etcd

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/kindish/kindish/cluster/pki"
)

const nodeName = "kindish-control-plane"

// testPKI is a cluster's PKI, each control-plane node's files written under
// its own root as kubeadm lays them out in a node.
type testPKI struct {
	roots  map[string]string // by node name
	bundle *pki.Bundle
}

// newTestPKI generates the PKI of control-plane nodes named nodes, or of
// one named nodeName; all of them are on 127.0.0.1.
func newTestPKI(t *testing.T, nodes ...string) testPKI {
	t.Helper()
	if len(nodes) == 0 {
		nodes = []string{nodeName}
	}
	var opts pki.Options
	for _, n := range nodes {
		opts.Nodes = append(opts.Nodes, pki.Node{Name: n, IP: net.IPv4(127, 0, 0, 1), ControlPlane: true})
	}
	b, err := pki.Generate(opts)
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{roots: make(map[string]string), bundle: b}
	for _, n := range nodes {
		files, err := b.NodeFiles(n)
		if err != nil {
			t.Fatal(err)
		}
		root := t.TempDir()
		for path, f := range files {
			path = filepath.Join(root, path)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, f.Data, f.Mode); err != nil {
				t.Fatal(err)
			}
		}
		p.roots[n] = root
	}
	return p
}

// path is where nodePath of the first node is on this machine.
func (p testPKI) path(nodePath string) string {
	return p.nodePath(nodeName, nodePath)
}

func (p testPKI) nodePath(node, nodePath string) string {
	return filepath.Join(p.roots[node], nodePath)
}

// freePorts returns n distinct loopback ports nothing listens on right
// now. They are held open together: ports taken one after the other may
// come back the same.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports
}

// memberConfig is DefaultConfig on free loopback ports, with the PKI's files
// and a fresh data directory.
func memberConfig(t *testing.T, p testPKI) Config {
	t.Helper()
	return nodeMemberConfig(t, p, nodeName)
}

func nodeMemberConfig(t *testing.T, p testPKI, node string) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name = node
	cfg.DataDir = filepath.Join(t.TempDir(), "etcd")
	ports := freePorts(t, 4)
	cfg.ListenClientURLs = urls(t, fmt.Sprintf("https://127.0.0.1:%d", ports[0]))
	cfg.ListenClientHTTPURLs = urls(t, fmt.Sprintf("https://127.0.0.1:%d", ports[1]))
	cfg.ListenPeerURLs = urls(t, fmt.Sprintf("https://127.0.0.1:%d", ports[2]))
	cfg.ListenMetricsURLs = urls(t, fmt.Sprintf("http://127.0.0.1:%d", ports[3]))
	cfg.ClientTLS = TLSFiles{p.nodePath(node, pki.EtcdServerCertPath), p.nodePath(node, pki.EtcdServerKeyPath), p.nodePath(node, pki.EtcdCACertPath)}
	cfg.PeerTLS = TLSFiles{p.nodePath(node, pki.EtcdPeerCertPath), p.nodePath(node, pki.EtcdPeerKeyPath), p.nodePath(node, pki.EtcdCACertPath)}
	cfg.Logger = zap.NewNop()
	return cfg
}

// startMember starts cfg's member, waits until it serves clients and stops
// it when the test ends. It returns how long Ready took.
func startMember(t *testing.T, ctx context.Context, cfg Config) (*Server, time.Duration) {
	t.Helper()
	begin := time.Now()
	s := launchMember(t, ctx, cfg)
	waitReady(t, s)
	return s, time.Since(begin)
}

// launchMember starts cfg's member without waiting for it to be ready, and
// stops it when the test ends.
func launchMember(t *testing.T, ctx context.Context, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func waitReady(t *testing.T, s *Server) {
	t.Helper()
	select {
	case <-s.Ready():
	case <-s.Done():
		t.Fatalf("member %s stopped before it was ready: %v", s.Config().Name, s.Wait())
	case <-time.After(30 * time.Second):
		t.Fatalf("member %s not ready after 30s", s.Config().Name)
	}
}

// apiServerClient connects to the member as the API server does, with its
// etcd client certificate.
func apiServerClient(t *testing.T, p testPKI, cfg Config) *clientv3.Client {
	t.Helper()
	tlsInfo := transport.TLSInfo{
		CertFile:      p.path(pki.APIServerEtcdClientCertPath),
		KeyFile:       p.path(pki.APIServerEtcdClientKeyPath),
		TrustedCAFile: p.path(pki.EtcdCACertPath),
	}
	tlsConfig, err := tlsInfo.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return newClient(t, cfg, tlsConfig)
}

func newClient(t *testing.T, cfg Config, tlsConfig *tls.Config) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{cfg.ListenClientURLs[0].String()},
		TLS:         tlsConfig,
		DialTimeout: 5 * time.Second,
		// Room for the largest request the member accepts.
		MaxCallSendMsgSize: int(DefaultMaxRequestBytes) + 1<<20,
		Logger:             zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestPutAndGetWithTheAPIServersCertificate(t *testing.T) {
	p := newTestPKI(t)
	cfg := memberConfig(t, p)
	startMember(t, t.Context(), cfg)
	c := apiServerClient(t, p, cfg)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c.Put(ctx, "/registry/namespaces/default", `{"kind":"Namespace"}`); err != nil {
		t.Fatalf("put: %v", err)
	}
	resp, err := c.Get(ctx, "/registry/namespaces/default")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != `{"kind":"Namespace"}` {
		t.Errorf("get: %v", resp.Kvs)
	}

	// The API server accepts 3 MiB bodies; etcd must store them.
	big := bytes.Repeat([]byte("x"), 3<<20)
	if _, err := c.Put(ctx, "/registry/configmaps/default/big", string(big)); err != nil {
		t.Errorf("put a 3 MiB value: %v", err)
	}
}

func TestClientsWithoutAnEtcdCertificateAreRefused(t *testing.T) {
	p := newTestPKI(t)
	cfg := memberConfig(t, p)
	startMember(t, t.Context(), cfg)

	roots := x509.NewCertPool()
	caPEM, err := os.ReadFile(p.path(pki.EtcdCACertPath))
	if err != nil {
		t.Fatal(err)
	}
	roots.AppendCertsFromPEM(caPEM)
	// The admin's certificate is good for the API server, which trusts the
	// cluster CA, and worthless here: etcd trusts only its own CA.
	adminCert, adminKey := p.bundle.AdminClient()
	admin, err := tls.X509KeyPair(adminCert, adminKey)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		cert      *tls.Certificate
		wantAlert string
	}{
		{name: "no client certificate", cert: &tls.Certificate{}, wantAlert: "certificate required"},
		{name: "a certificate from the cluster CA", cert: &admin, wantAlert: "unknown certificate authority"},
	}
	ports := []struct {
		name string
		url  url.URL
	}{
		{"client port", cfg.ListenClientURLs[0]},
		{"client HTTP port", cfg.ListenClientHTTPURLs[0]},
		{"peer port", cfg.ListenPeerURLs[0]},
	}
	for _, tt := range tests {
		for _, port := range ports {
			t.Run(tt.name+" on the "+port.name, func(t *testing.T) {
				conn, err := tls.Dial("tcp", port.url.Host, &tls.Config{
					RootCAs:    roots,
					NextProtos: []string{"h2"},
					// Offered whatever CAs the server names, as an attacker would.
					GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return tt.cert, nil },
				})
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				// TLS 1.3 clients finish their handshake before the
				// server checks their certificate; its alert comes next.
				_, err = conn.Read(make([]byte, 1))
				if err == nil || !strings.Contains(err.Error(), tt.wantAlert) {
					t.Errorf("read: got %v, want the server's %q alert", err, tt.wantAlert)
				}
			})
		}
	}

	// And through a real client, which must fail rather than retry forever.
	c := newClient(t, cfg, &tls.Config{RootCAs: roots})
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := c.Get(ctx, "/registry/", clientv3.WithPrefix()); err == nil {
		t.Error("a client without a certificate read the registry")
	}
}

func TestDataSurvivesARestart(t *testing.T) {
	p := newTestPKI(t)
	cfg := memberConfig(t, p)

	// The first run ends with its context, as when the kubelet stops the pod.
	ctx, cancel := context.WithCancel(t.Context())
	first, _ := startMember(t, ctx, cfg)
	c := apiServerClient(t, p, cfg)
	put, err := c.Put(t.Context(), "/registry/pods/default/web", "v1")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	cancel()
	if err := first.Wait(); err != nil {
		t.Fatalf("first run: %v", err)
	}

	startMember(t, t.Context(), cfg)
	c = apiServerClient(t, p, cfg)
	resp, err := c.Get(t.Context(), "/registry/pods/default/web")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v1" {
		t.Fatalf("after the restart: %v", resp.Kvs)
	}
	// resourceVersions are revisions: they must carry on, not restart.
	if got, want := resp.Kvs[0].ModRevision, put.Header.Revision; got != want {
		t.Errorf("mod revision %d after the restart, %d before", got, want)
	}
}

func TestThreeMembersFormACluster(t *testing.T) {
	nodes := []string{nodeName, nodeName + "2", nodeName + "3"}
	p := newTestPKI(t, nodes...)
	cfgs := make([]Config, len(nodes))
	var initial []string
	for i, n := range nodes {
		cfgs[i] = nodeMemberConfig(t, p, n)
		initial = append(initial, n+"="+cfgs[i].ListenPeerURLs[0].String())
	}
	members := make([]*Server, len(nodes))
	for i := range cfgs {
		cfgs[i].InitialCluster = strings.Join(initial, ",")
		members[i] = launchMember(t, t.Context(), cfgs[i])
	}
	for _, m := range members {
		waitReady(t, m)
		if hb := m.Config().HeartbeatInterval; hb != DefaultHeartbeatInterval {
			t.Errorf("member %s: heartbeat %v, want etcd's default for a cluster", m.Config().Name, hb)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	put, err := apiServerClient(t, p, cfgs[0]).Put(ctx, "/registry/namespaces/kube-system", "v1")
	if err != nil {
		t.Fatal(err)
	}
	// A linearizable read on another member sees the write.
	c := apiServerClient(t, p, cfgs[2])
	resp, err := c.Get(ctx, "/registry/namespaces/kube-system")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || resp.Kvs[0].ModRevision != put.Header.Revision {
		t.Errorf("read on the third member: %v", resp.Kvs)
	}
	list, err := c.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Members) != 3 {
		t.Errorf("%d members, want 3", len(list.Members))
	}

	// All at once, as when every node of the cluster stops.
	begin := time.Now()
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Go(m.Stop)
	}
	wg.Wait()
	t.Logf("three members stopped together in %v", ms(time.Since(begin)))
}

func TestStopDoesNotWaitForWatches(t *testing.T) {
	p := newTestPKI(t)
	cfg := memberConfig(t, p)
	s, _ := startMember(t, t.Context(), cfg)
	// What the API server holds open: a watch and a lease's keepalive.
	c := apiServerClient(t, p, cfg)
	watch := c.Watch(t.Context(), "/registry/", clientv3.WithPrefix())
	if _, err := c.Put(t.Context(), "/registry/pods/default/web", "v1"); err != nil {
		t.Fatal(err)
	}
	<-watch
	lease, err := c.Grant(t.Context(), 40)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.KeepAlive(t.Context(), lease.ID); err != nil {
		t.Fatal(err)
	}

	begin := time.Now()
	s.Stop()
	// A graceful gRPC stop would wait for the streams to end, up to etcd's
	// five-second request timeout.
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("Stop took %v with a watch open", took)
	}
}

func TestStartFailsOnABusyPort(t *testing.T) {
	p := newTestPKI(t)
	cfg := memberConfig(t, p)
	busy, err := net.Listen("tcp", cfg.ListenClientURLs[0].Host)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start: got %v, want the port's error", err)
	}
	if werr := s.Wait(); werr != err {
		t.Errorf("Wait: got %v, want Start's error", werr)
	}
}

func TestStartTwiceIsRefused(t *testing.T) {
	p := newTestPKI(t)
	s, _ := startMember(t, t.Context(), memberConfig(t, p))
	if err := s.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "already started") {
		t.Errorf("second Start: got %v", err)
	}
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Errorf("Wait after Stop: %v", err)
	}
}

func TestAutoCompactionRuns(t *testing.T) {
	p := newTestPKI(t)
	cfg := memberConfig(t, p)
	cfg.AutoCompactionRetention = "1s" // compact every second, keeping one
	startMember(t, t.Context(), cfg)
	c := apiServerClient(t, p, cfg)

	first, err := c.Put(t.Context(), "/registry/leases/kube-node-lease/cp", "1")
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		if _, err := c.Put(t.Context(), "/registry/leases/kube-node-lease/cp", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
		_, err := c.Get(t.Context(), "/registry/leases/kube-node-lease/cp", clientv3.WithRev(first.Header.Revision))
		if errors.Is(err, rpctypes.ErrCompacted) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("revision %d still readable after 15s of one-second compactions", first.Header.Revision)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestMetricsURLAnswersHealthWithoutCertificate(t *testing.T) {
	p := newTestPKI(t)
	cfg := memberConfig(t, p)
	startMember(t, t.Context(), cfg)

	for _, path := range []string{"/health", "/livez", "/readyz"} {
		resp, err := http.Get(cfg.ListenMetricsURLs[0].String() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s %s", path, resp.Status, body)
		}
		if path == "/health" && !strings.Contains(string(body), `"health":"true"`) {
			t.Errorf("GET /health: %s", body)
		}
	}
}

// TestLatencyFloor measures what the API server's benchmark cannot beat:
// a member's startup, and writes from 16 concurrent callers sharing one
// client, as the API server's handlers do. It logs, never asserts.
func TestLatencyFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	p := newTestPKI(t)

	t.Run("startup", func(t *testing.T) {
		const starts = 5
		var fresh, again, stops []time.Duration
		for range starts {
			cfg := memberConfig(t, p)
			for _, into := range []*[]time.Duration{&fresh, &again} {
				s, ready := startMember(t, t.Context(), cfg)
				*into = append(*into, ready)
				begin := time.Now()
				s.Stop()
				stops = append(stops, time.Since(begin))
			}
		}
		t.Logf("New to Ready over %d starts: new data directory %s; existing one %s; Stop %s",
			starts, spread(fresh), spread(again), spread(stops))
	})

	for _, split := range []bool{true, false} {
		name := "puts, gRPC alone on the client port"
		if !split {
			name = "puts, gRPC and HTTP on one port"
		}
		t.Run(name, func(t *testing.T) {
			cfg := memberConfig(t, p)
			if !split {
				cfg.ListenClientHTTPURLs = nil
			}
			startMember(t, t.Context(), cfg)
			c := apiServerClient(t, p, cfg)
			if _, err := c.Put(t.Context(), "/warmup", "x"); err != nil {
				t.Fatal(err)
			}

			const puts, callers = 1000, 16
			value := strings.Repeat("v", 1024) // about a small pod's JSON
			latencies := make([]time.Duration, puts)
			var wg sync.WaitGroup
			begin := time.Now()
			for w := range callers {
				wg.Go(func() {
					for i := w; i < puts; i += callers {
						start := time.Now()
						if _, err := c.Put(t.Context(), fmt.Sprintf("/registry/pods/default/p%d", i), value); err != nil {
							t.Error(err)
							return
						}
						latencies[i] = time.Since(start)
					}
				})
			}
			wg.Wait()
			total := time.Since(begin)
			slices.Sort(latencies)
			t.Logf("%d puts of 1 KiB by %d callers in %v (%.0f/s): p50 %v, p99 %v, max %v",
				puts, callers, ms(total), puts/total.Seconds(),
				ms(latencies[puts/2]), ms(latencies[puts*99/100]), ms(latencies[puts-1]))
		})
	}
}

// spread is "min m median m max m".
func spread(ds []time.Duration) string {
	ds = slices.Sorted(slices.Values(ds))
	return fmt.Sprintf("min %s median %s max %s", ms(ds[0]), ms(ds[len(ds)/2]), ms(ds[len(ds)-1]))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
