package etcd

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func urls(t *testing.T, ss ...string) []url.URL {
	t.Helper()
	out := make([]url.URL, len(ss))
	for i, s := range ss {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = *u
	}
	return out
}

// validConfig is a member that New accepts; it is never started.
func validConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.Name = "kindish-control-plane"
	cfg.ListenPeerURLs = urls(t, "https://172.18.0.2:2380")
	return cfg
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string
	}{
		{name: "a client URL on the node's address", change: func(c *Config) { c.ListenClientURLs = urls(t, "https://172.18.0.2:2379") }, wantErr: "loopback only"},
		{name: "a client URL on every address", change: func(c *Config) { c.ListenClientURLs = urls(t, "https://0.0.0.0:2379") }, wantErr: "loopback only"},
		{name: "a loopback client URL next to a node one", change: func(c *Config) { c.ListenClientURLs = urls(t, "https://127.0.0.1:2379", "https://172.18.0.2:2379") }, wantErr: "172.18.0.2:2379: etcd serves clients on loopback only"},
		{name: "a client URL by name, which could resolve anywhere", change: func(c *Config) { c.ListenClientURLs = urls(t, "https://localhost:2379") }, wantErr: "loopback only"},
		{name: "an advertised client URL off loopback", change: func(c *Config) { c.AdvertiseClientURLs = urls(t, "https://172.18.0.2:2379") }, wantErr: "advertise client URL"},
		{name: "a client HTTP URL off loopback", change: func(c *Config) { c.ListenClientHTTPURLs = urls(t, "https://172.18.0.2:2382") }, wantErr: "listen client HTTP URL"},
		{name: "a metrics URL off loopback", change: func(c *Config) { c.ListenMetricsURLs = urls(t, "http://0.0.0.0:2381") }, wantErr: "listen metrics URL"},
		{name: "clients without TLS", change: func(c *Config) { c.ListenClientURLs = urls(t, "http://127.0.0.1:2379") }, wantErr: "scheme must be https"},
		{name: "peers without TLS", change: func(c *Config) { c.ListenPeerURLs = urls(t, "http://172.18.0.2:2380") }, wantErr: "scheme must be https"},
		{name: "no trusted CA for clients", change: func(c *Config) { c.ClientTLS.TrustedCAFile = "" }, wantErr: "client TLS: certificate, key and trusted CA files are all required"},
		{name: "no peer key", change: func(c *Config) { c.PeerTLS.KeyFile = "" }, wantErr: "peer TLS"},
		{name: "no peer URL", change: func(c *Config) { c.ListenPeerURLs = nil }, wantErr: "no peer URL"},
		{name: "no name", change: func(c *Config) { c.Name = "" }, wantErr: "no member name"},
		{name: "an unknown cluster state", change: func(c *Config) { c.InitialClusterState = "joining" }, wantErr: `initial cluster state "joining"`},
		{name: "an unknown log level", change: func(c *Config) { c.LogLevel = "chatty" }, wantErr: "log level"},
		{name: "a malformed initial cluster", change: func(c *Config) { c.InitialCluster = "cp:https://172.18.0.2:2380" }, wantErr: "initial cluster"},
		{name: "an initial cluster without this member", change: func(c *Config) { c.InitialCluster = "other=https://172.18.0.3:2380" }, wantErr: "no member named kindish-control-plane"},
		{name: "an election timeout under five heartbeats", change: func(c *Config) { c.HeartbeatInterval = 300 * time.Millisecond }, wantErr: "five heartbeats"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig(t)
			tt.change(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New: got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestNewAcceptsIPv6Loopback(t *testing.T) {
	cfg := validConfig(t)
	cfg.ListenClientURLs = urls(t, "https://127.0.0.1:2379", "https://[::1]:2379")
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultsReachEmbed(t *testing.T) {
	// The zero Config's tuning fields, not DefaultConfig's, so that the
	// defaults New fills in are what is checked.
	cfg := Config{
		Name:             "cp",
		DataDir:          t.TempDir(),
		ListenClientURLs: urls(t, "https://127.0.0.1:2379"),
		ListenPeerURLs:   urls(t, "https://172.18.0.2:2380"),
		ClientTLS:        TLSFiles{"server.crt", "server.key", "ca.crt"},
		PeerTLS:          TLSFiles{"peer.crt", "peer.key", "ca.crt"},
		Logger:           zap.NewNop(),
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := s.Config().embedConfig(zap.NewNop(), nil)
	checks := []struct {
		what      string
		got, want any
	}{
		{"auto-compaction mode", e.AutoCompactionMode, "periodic"},
		{"auto-compaction retention", e.AutoCompactionRetention, "5m"},
		{"snapshot count", e.SnapshotCount, uint64(10000)},
		{"max request bytes", e.MaxRequestBytes, uint(4 << 20)},
		{"log level", e.LogLevel, "warn"},
		{"fsync on every commit", e.UnsafeNoFsync, false},
		{"watch progress notify interval", e.WatchProgressNotifyInterval, 5 * time.Second},
		{"client certificates required", e.ClientTLSInfo.ClientCertAuth, true},
		{"peer certificates required", e.PeerTLSInfo.ClientCertAuth, true},
		{"advertised client URLs", e.AdvertiseClientUrls[0].String(), "https://127.0.0.1:2379"},
		{"advertised peer URLs", e.AdvertisePeerUrls[0].String(), "https://172.18.0.2:2380"},
		{"initial cluster of one", e.InitialCluster, "cp=https://172.18.0.2:2380"},
		{"initial cluster state", e.ClusterState, "new"},
		{"a lone member's heartbeat", e.TickMs, uint(25)},
		{"a lone member's election timeout", e.ElectionMs, uint(125)},
		{"gRPC on its own port", len(e.ListenClientHttpUrls), 0},
		{"only slow requests logged", e.WarningUnaryRequestDuration, 300 * time.Millisecond},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	if err := e.Validate(); err != nil {
		t.Errorf("etcd refuses the configuration: %v", err)
	}
}

func TestRaftTimingsFollowClusterSize(t *testing.T) {
	tests := []struct {
		name                string
		initialCluster      string
		heartbeat, election time.Duration
		wantHB, wantElect   time.Duration
	}{
		{name: "a lone member elects itself fast", wantHB: 25 * time.Millisecond, wantElect: 125 * time.Millisecond},
		{name: "three members keep etcd's defaults", initialCluster: "cp=https://172.18.0.2:2380,cp2=https://172.18.0.3:2380,cp3=https://172.18.0.4:2380", wantHB: 100 * time.Millisecond, wantElect: time.Second},
		{name: "an explicit heartbeat keeps etcd's election timeout", heartbeat: 50 * time.Millisecond, wantHB: 50 * time.Millisecond, wantElect: time.Second},
		{name: "both explicit", heartbeat: 10 * time.Millisecond, election: 50 * time.Millisecond, wantHB: 10 * time.Millisecond, wantElect: 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig(t)
			cfg.Name = "cp"
			cfg.InitialCluster = tt.initialCluster
			cfg.HeartbeatInterval, cfg.ElectionTimeout = tt.heartbeat, tt.election
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Config()
			if got.HeartbeatInterval != tt.wantHB || got.ElectionTimeout != tt.wantElect {
				t.Errorf("got %v/%v, want %v/%v", got.HeartbeatInterval, got.ElectionTimeout, tt.wantHB, tt.wantElect)
			}
		})
	}
}

func TestStopBeforeStart(t *testing.T) {
	s, err := New(validConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Stop()
	if err := s.Wait(); err != nil {
		t.Errorf("Wait after Stop: %v", err)
	}
	if err := s.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "stopped before it started") {
		t.Errorf("Start after Stop: got %v", err)
	}
}
