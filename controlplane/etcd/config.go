// Package etcd runs a control-plane node's etcd member in process, through
// go.etcd.io/etcd/server/v3/embed. The API server is its only client, on the
// same node, so clients are served on loopback alone and must present a
// certificate from the etcd CA; members talk to each other on the node's IP,
// with certificates too.
package etcd

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kindish/kindish/cluster/pki"
)

// Where a member listens, as on a kubeadm node. ClientURL is what the API
// server's --etcd-servers names. ClientHTTPURL is kindish's own: it takes
// etcd's HTTP endpoints off the client port (see Config.ListenClientHTTPURLs).
const (
	DefaultDataDir = "/var/lib/etcd"
	ClientURL      = "https://127.0.0.1:2379"
	PeerPort       = 2380
	MetricsURL     = "http://127.0.0.1:2381"
	ClientHTTPURL  = "https://127.0.0.1:2382"
)

// Tuning defaults, used for the zero values of the matching Config fields.
const (
	// DefaultAutoCompactionRetention matches kube-apiserver's own default
	// compaction interval: watches can resume from five minutes back.
	DefaultAutoCompactionMode      = "periodic"
	DefaultAutoCompactionRetention = "5m"
	// DefaultSnapshotCount is etcd 3.6's own default (3.5 had 100000): it
	// bounds the raft entries kept in memory and replayed from the WAL
	// when the member restarts.
	DefaultSnapshotCount uint64 = 10000
	// DefaultMaxRequestBytes fits the 3 MiB request bodies the API server
	// accepts, with room for the metadata it adds and the transaction around
	// the write. A client must raise its send limit to match
	// (clientv3.Config.MaxCallSendMsgSize defaults to 2 MiB).
	DefaultMaxRequestBytes uint = 4 << 20
	// A lone member has nobody to hear heartbeats from, but waits between
	// one heartbeat and one election timeout at every start before it
	// elects itself: short ones make it ready sooner (25-125 ms instead of
	// 100-1000 ms) for a negligible cost in idle ticks.
	LoneMemberHeartbeatInterval = 25 * time.Millisecond
	LoneMemberElectionTimeout   = 5 * LoneMemberHeartbeatInterval
	// Members of a cluster keep etcd's defaults, which tolerate a loaded
	// machine's slow fsyncs without needless elections.
	DefaultHeartbeatInterval = 100 * time.Millisecond
	DefaultElectionTimeout   = 1000 * time.Millisecond
	// DefaultLogLevel keeps a healthy member quiet: etcd logs every step of
	// its startup at info.
	DefaultLogLevel = "warn"
)

// TLSFiles name a listener's certificate, its key and the CA that its
// clients' certificates must be signed by. Client certificates are always
// required.
type TLSFiles struct {
	CertFile      string
	KeyFile       string
	TrustedCAFile string
}

// Config is one etcd member. URLs, TLS and the data directory have no usable
// zero value; the tuning fields (compaction, snapshot count, request size,
// log level) fall back to the Default* constants when left zero.
type Config struct {
	// Name is the member's name, the node's name.
	Name string
	// DataDir holds the WAL and the database. It must survive restarts of
	// the member: a member that loses it cannot rejoin its cluster.
	DataDir string

	// ListenClientURLs must be https on a loopback address: only the API
	// server on the same node talks to etcd.
	ListenClientURLs []url.URL
	// AdvertiseClientURLs defaults to ListenClientURLs, and is on loopback
	// too: advertising an address nothing listens on would send clients
	// that sync their endpoints astray.
	AdvertiseClientURLs []url.URL
	// ListenClientHTTPURLs, when set, serve etcd's HTTP endpoints (health,
	// metrics, version) to clients with certificates on their own loopback
	// port, and ListenClientURLs serve gRPC alone, through gRPC's own
	// HTTP/2 transport rather than through net/http: puts are about a third
	// faster, and Stop closes open watches at once. When empty,
	// ListenClientURLs serve both, and Stop may wait out etcd's request
	// timeout (five seconds) for the API server's watches to end.
	ListenClientHTTPURLs []url.URL

	// ListenPeerURLs are https on the node's IP, where the other members
	// of a cluster reach this one. A single member needs one too: the
	// cluster's membership records its peer URL.
	ListenPeerURLs []url.URL
	// InitialAdvertisePeerURLs defaults to ListenPeerURLs.
	InitialAdvertisePeerURLs []url.URL
	// InitialCluster is "name=https://ip:2380,..."; it defaults to this
	// member alone. It is read only when DataDir is empty.
	InitialCluster string
	// InitialClusterState is "new" (the default) or "existing" (a member
	// added to a running cluster).
	InitialClusterState string

	ClientTLS TLSFiles
	PeerTLS   TLSFiles

	// HeartbeatInterval and ElectionTimeout are raft's. When both are
	// zero they are the LoneMember* values if InitialCluster names one
	// member, the Default* ones otherwise; one left zero alone takes its
	// Default*. ElectionTimeout must be at least five heartbeats.
	HeartbeatInterval time.Duration
	ElectionTimeout   time.Duration

	// ListenMetricsURLs serve /health, /livez, /readyz and /metrics without
	// authentication, for the kubelet's probes, as kubeadm configures it.
	// They must be on loopback.
	ListenMetricsURLs []url.URL

	// AutoCompactionMode is "periodic" or "revision".
	AutoCompactionMode string
	// AutoCompactionRetention is a duration ("5m") in periodic mode, a
	// number of revisions in revision mode; "0" turns compaction off.
	AutoCompactionRetention string
	// QuotaBackendBytes is the database size at which etcd refuses writes;
	// 0 is etcd's default, 2 GiB.
	QuotaBackendBytes int64
	SnapshotCount     uint64
	MaxRequestBytes   uint

	// Logger receives etcd's logs. When nil, they go to stderr at LogLevel
	// (debug, info, warn, error), one readable line each.
	Logger   *zap.Logger
	LogLevel string
}

// DefaultConfig is a control-plane node's member as kindish runs it, on
// kubeadm's paths, but without a name or peer URLs, which depend on the node.
func DefaultConfig() Config {
	return Config{
		DataDir:              DefaultDataDir,
		ListenClientURLs:     []url.URL{mustParseURL(ClientURL)},
		ListenClientHTTPURLs: []url.URL{mustParseURL(ClientHTTPURL)},
		ListenMetricsURLs:    []url.URL{mustParseURL(MetricsURL)},
		ClientTLS: TLSFiles{
			CertFile:      pki.EtcdServerCertPath,
			KeyFile:       pki.EtcdServerKeyPath,
			TrustedCAFile: pki.EtcdCACertPath,
		},
		PeerTLS: TLSFiles{
			CertFile:      pki.EtcdPeerCertPath,
			KeyFile:       pki.EtcdPeerKeyPath,
			TrustedCAFile: pki.EtcdCACertPath,
		},
		InitialClusterState:     "new",
		AutoCompactionMode:      DefaultAutoCompactionMode,
		AutoCompactionRetention: DefaultAutoCompactionRetention,
		SnapshotCount:           DefaultSnapshotCount,
		MaxRequestBytes:         DefaultMaxRequestBytes,
		LogLevel:                DefaultLogLevel,
	}
}

func mustParseURL(s string) url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return *u
}

// withDefaults fills the fields whose zero value means "the default".
func (c Config) withDefaults() Config {
	if len(c.AdvertiseClientURLs) == 0 {
		c.AdvertiseClientURLs = c.ListenClientURLs
	}
	if len(c.InitialAdvertisePeerURLs) == 0 {
		c.InitialAdvertisePeerURLs = c.ListenPeerURLs
	}
	if c.InitialCluster == "" && c.Name != "" {
		peers := make([]string, len(c.InitialAdvertisePeerURLs))
		for i, u := range c.InitialAdvertisePeerURLs {
			peers[i] = c.Name + "=" + u.String()
		}
		c.InitialCluster = strings.Join(peers, ",")
	}
	switch {
	case c.HeartbeatInterval == 0 && c.ElectionTimeout == 0:
		c.HeartbeatInterval, c.ElectionTimeout = DefaultHeartbeatInterval, DefaultElectionTimeout
		if members, err := types.NewURLsMap(c.InitialCluster); err == nil && len(members) == 1 {
			c.HeartbeatInterval, c.ElectionTimeout = LoneMemberHeartbeatInterval, LoneMemberElectionTimeout
		}
	case c.HeartbeatInterval == 0:
		c.HeartbeatInterval = DefaultHeartbeatInterval
	case c.ElectionTimeout == 0:
		c.ElectionTimeout = DefaultElectionTimeout
	}
	if c.InitialClusterState == "" {
		c.InitialClusterState = "new"
	}
	if c.AutoCompactionMode == "" {
		c.AutoCompactionMode = DefaultAutoCompactionMode
	}
	if c.AutoCompactionRetention == "" {
		c.AutoCompactionRetention = DefaultAutoCompactionRetention
	}
	if c.SnapshotCount == 0 {
		c.SnapshotCount = DefaultSnapshotCount
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	}
	return c
}

// validate checks what kindish requires beyond etcd's own checks, which
// run when the member starts: loopback-only clients and mutual TLS.
func (c Config) validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("no member name"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("no data directory"))
	}
	if len(c.ListenClientURLs) == 0 {
		errs = append(errs, errors.New("no client URL to listen on"))
	}
	if len(c.ListenPeerURLs) == 0 {
		errs = append(errs, errors.New("no peer URL to listen on"))
	}
	errs = append(errs,
		checkURLs("listen client URL", c.ListenClientURLs, "https", true),
		checkURLs("advertise client URL", unlessSame(c.AdvertiseClientURLs, c.ListenClientURLs), "https", true),
		checkURLs("listen client HTTP URL", c.ListenClientHTTPURLs, "https", true),
		checkURLs("listen peer URL", c.ListenPeerURLs, "https", false),
		checkURLs("initial advertise peer URL", unlessSame(c.InitialAdvertisePeerURLs, c.ListenPeerURLs), "https", false),
		checkURLs("listen metrics URL", c.ListenMetricsURLs, "http", true),
		c.ClientTLS.check("client TLS"),
		c.PeerTLS.check("peer TLS"),
	)
	// Empty only when the name or the peer URLs are missing, said above.
	if c.InitialCluster != "" {
		if members, err := types.NewURLsMap(c.InitialCluster); err != nil {
			errs = append(errs, fmt.Errorf("initial cluster %q: %w", c.InitialCluster, err))
		} else if _, ok := members[c.Name]; !ok {
			errs = append(errs, fmt.Errorf("initial cluster %q: no member named %s", c.InitialCluster, c.Name))
		}
	}
	if c.HeartbeatInterval < time.Millisecond || c.ElectionTimeout < 5*c.HeartbeatInterval {
		errs = append(errs, fmt.Errorf("heartbeat interval %v and election timeout %v: want at least 1ms and five heartbeats", c.HeartbeatInterval, c.ElectionTimeout))
	}
	if c.InitialClusterState != "new" && c.InitialClusterState != "existing" {
		errs = append(errs, fmt.Errorf("initial cluster state %q: want new or existing", c.InitialClusterState))
	}
	if c.Logger == nil {
		if _, err := zapcore.ParseLevel(c.LogLevel); err != nil {
			errs = append(errs, fmt.Errorf("log level: %w", err))
		}
	}
	return errors.Join(errs...)
}

// checkURLs wants every URL on scheme, and on a loopback address when
// loopbackOnly: etcd's data is the whole cluster's secrets, so nothing off
// the node may even try to connect to it.
func checkURLs(what string, urls []url.URL, scheme string, loopbackOnly bool) error {
	for _, u := range urls {
		if u.Scheme != scheme {
			return fmt.Errorf("%s %s: scheme must be %s", what, u.String(), scheme)
		}
		host, _, err := net.SplitHostPort(u.Host)
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, u.String(), err)
		}
		if !loopbackOnly {
			continue
		}
		// A literal address: a name could resolve to anything.
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("%s %s: etcd serves clients on loopback only (127.0.0.1 or ::1), never on a node or wildcard address", what, u.String())
		}
	}
	return nil
}

// unlessSame returns advertised, or nothing when it is the listen URLs it
// defaulted to, which are checked already.
func unlessSame(advertised, listen []url.URL) []url.URL {
	if slices.Equal(advertised, listen) {
		return nil
	}
	return advertised
}

func (t TLSFiles) check(what string) error {
	if t.CertFile == "" || t.KeyFile == "" || t.TrustedCAFile == "" {
		return fmt.Errorf("%s: certificate, key and trusted CA files are all required", what)
	}
	return nil
}
