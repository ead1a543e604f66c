package etcd

import (
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// watchProgressNotifyInterval makes etcd tell idle watchers the current
// revision, so that a watch cache can answer consistent reads without
// waiting for an unrelated write (kube-apiserver's recommended setting).
const watchProgressNotifyInterval = 5 * time.Second

// embedConfig translates c, already defaulted and validated, into etcd's
// own configuration, logging to lg. etcd hands registerGRPC each gRPC
// server it creates. What Config does not expose is set here for a small
// local cluster where latency matters; everything else is etcd's default.
func (c Config) embedConfig(lg *zap.Logger, registerGRPC func(*grpc.Server)) *embed.Config {
	// NewConfig, not a literal: it sets unexported fields etcd relies on.
	e := embed.NewConfig()
	e.Name = c.Name
	e.Dir = c.DataDir

	e.ListenClientUrls = c.ListenClientURLs
	e.AdvertiseClientUrls = c.AdvertiseClientURLs
	e.ListenClientHttpUrls = c.ListenClientHTTPURLs
	e.ListenPeerUrls = c.ListenPeerURLs
	e.AdvertisePeerUrls = c.InitialAdvertisePeerURLs
	e.ListenMetricsUrls = c.ListenMetricsURLs
	e.InitialCluster = c.InitialCluster
	e.ClusterState = c.InitialClusterState

	e.ClientTLSInfo = c.ClientTLS.info()
	e.PeerTLSInfo = c.PeerTLS.info()
	// Every client and peer is a Go program of this project.
	e.TlsMinVersion = "TLS1.3"

	e.TickMs = uint(c.HeartbeatInterval.Milliseconds())
	e.ElectionMs = uint(c.ElectionTimeout.Milliseconds())

	e.AutoCompactionMode = c.AutoCompactionMode
	e.AutoCompactionRetention = c.AutoCompactionRetention
	e.QuotaBackendBytes = c.QuotaBackendBytes
	e.SnapshotCount = c.SnapshotCount
	e.MaxRequestBytes = c.MaxRequestBytes
	e.WatchProgressNotifyInterval = watchProgressNotifyInterval
	// NewConfig leaves this at zero (only etcd's flag sets the default),
	// and at zero etcd logs every request as an expensive one: a warning
	// with the request's content, per request.
	e.WarningUnaryRequestDuration = embed.DefaultWarningUnaryRequestDuration

	// The JSON gateway (/v3/kv/... over HTTP) has no client here: the API
	// server speaks gRPC. Without it etcd also skips dialing itself at
	// startup.
	e.EnableGRPCGateway = false

	// Every write is fsynced (UnsafeNoFsync stays false): the data
	// directory must survive a node's restart.

	// etcd's level too: at debug it also serves pprof to clients.
	e.LogLevel = c.LogLevel
	e.ZapLoggerBuilder = embed.NewZapLoggerBuilder(lg)
	e.ServiceRegister = registerGRPC
	return e
}

func (t TLSFiles) info() transport.TLSInfo {
	return transport.TLSInfo{
		CertFile:       t.CertFile,
		KeyFile:        t.KeyFile,
		TrustedCAFile:  t.TrustedCAFile,
		ClientCertAuth: true,
	}
}
