package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/kindish/kindish/controlplane/etcd"
)

// runEtcd is a control-plane node's etcd member, run as the static pod
// etcd. Its flags are etcd's own, so the manifest reads like kubeadm's.
func runEtcd(ctx context.Context, args []string) error {
	cfg := etcd.DefaultConfig()
	// The node's name is its container's hostname.
	cfg.Name, _ = os.Hostname()

	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	fs.StringVar(&cfg.Name, "name", cfg.Name, "member name, the node's name")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "data directory; it must survive restarts")
	urlsVar(fs, &cfg.ListenClientURLs, "listen-client-urls", "https URLs, on loopback only, to serve clients (gRPC) on")
	urlsVar(fs, &cfg.AdvertiseClientURLs, "advertise-client-urls", "client URLs to advertise (default: --listen-client-urls)")
	urlsVar(fs, &cfg.ListenClientHTTPURLs, "listen-client-http-urls", "https URLs, on loopback only, for the HTTP endpoints, keeping the client URLs for gRPC alone; empty serves both on the client URLs")
	urlsVar(fs, &cfg.ListenPeerURLs, "listen-peer-urls", fmt.Sprintf("https URLs on the node's IP to serve other members on (https://<node IP>:%d); required", etcd.PeerPort))
	urlsVar(fs, &cfg.InitialAdvertisePeerURLs, "initial-advertise-peer-urls", "peer URLs to advertise (default: --listen-peer-urls)")
	fs.StringVar(&cfg.InitialCluster, "initial-cluster", cfg.InitialCluster, "the initial members, name=https://ip:2380,... (default: this member alone); read only on an empty data directory")
	fs.StringVar(&cfg.InitialClusterState, "initial-cluster-state", cfg.InitialClusterState, "new, or existing to join a running cluster")
	fs.StringVar(&cfg.ClientTLS.CertFile, "cert-file", cfg.ClientTLS.CertFile, "the client URLs' certificate")
	fs.StringVar(&cfg.ClientTLS.KeyFile, "key-file", cfg.ClientTLS.KeyFile, "the client URLs' key")
	fs.StringVar(&cfg.ClientTLS.TrustedCAFile, "trusted-ca-file", cfg.ClientTLS.TrustedCAFile, "the CA that signs clients' certificates")
	clientCertAuth := fs.Bool("client-cert-auth", true, "require client certificates (always: false is refused)")
	fs.StringVar(&cfg.PeerTLS.CertFile, "peer-cert-file", cfg.PeerTLS.CertFile, "the peer URLs' certificate, also presented to other members")
	fs.StringVar(&cfg.PeerTLS.KeyFile, "peer-key-file", cfg.PeerTLS.KeyFile, "the peer certificate's key")
	fs.StringVar(&cfg.PeerTLS.TrustedCAFile, "peer-trusted-ca-file", cfg.PeerTLS.TrustedCAFile, "the CA that signs other members' certificates")
	peerCertAuth := fs.Bool("peer-client-cert-auth", true, "require certificates from other members (always: false is refused)")
	urlsVar(fs, &cfg.ListenMetricsURLs, "listen-metrics-urls", "http URLs, on loopback only, serving /health, /livez, /readyz and /metrics without authentication, for probes")
	fs.StringVar(&cfg.AutoCompactionMode, "auto-compaction-mode", cfg.AutoCompactionMode, "periodic or revision")
	fs.StringVar(&cfg.AutoCompactionRetention, "auto-compaction-retention", cfg.AutoCompactionRetention, "history to keep: a duration in periodic mode, a number of revisions in revision mode; 0 turns compaction off")
	fs.Uint64Var(&cfg.SnapshotCount, "snapshot-count", cfg.SnapshotCount, "committed entries between two snapshots")
	fs.Int64Var(&cfg.QuotaBackendBytes, "quota-backend-bytes", cfg.QuotaBackendBytes, "database size at which writes are refused; 0 is etcd's default, 2 GiB")
	fs.UintVar(&cfg.MaxRequestBytes, "max-request-bytes", cfg.MaxRequestBytes, "largest request accepted, in bytes")
	heartbeatMs := fs.Uint("heartbeat-interval", 0, fmt.Sprintf("raft heartbeat, in ms (0: %v for a lone member, %v for a cluster)", etcd.LoneMemberHeartbeatInterval, etcd.DefaultHeartbeatInterval))
	electionMs := fs.Uint("election-timeout", 0, fmt.Sprintf("raft election timeout, in ms (0: %v for a lone member, %v for a cluster)", etcd.LoneMemberElectionTimeout, etcd.DefaultElectionTimeout))
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: etcd [flags]\n\nA control-plane node's etcd member: clients on loopback only, certificates required everywhere.\n\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*clientCertAuth || !*peerCertAuth {
		return errors.New("--client-cert-auth and --peer-client-cert-auth cannot be false: etcd holds every secret of the cluster")
	}
	cfg.HeartbeatInterval = time.Duration(*heartbeatMs) * time.Millisecond
	cfg.ElectionTimeout = time.Duration(*electionMs) * time.Millisecond

	member, err := etcd.New(cfg)
	if err != nil {
		return err
	}
	started := time.Now()
	if err := member.Start(ctx); err != nil {
		return err
	}
	// etcd itself logs the details at info; one line at any level says
	// the member is up, for kubectl logs.
	select {
	case <-member.Ready():
		fmt.Fprintf(os.Stderr, "etcd member %s ready in %v, serving clients on %s\n",
			cfg.Name, time.Since(started).Round(time.Millisecond), etcd.FormatURLs(cfg.ListenClientURLs))
	case <-member.Done():
	}
	return member.Wait()
}

// urlsVar defines a flag holding a comma-separated list of URLs.
func urlsVar(fs *flag.FlagSet, p *[]url.URL, name, usage string) {
	if len(*p) > 0 {
		usage = fmt.Sprintf("%s (default %q)", usage, etcd.FormatURLs(*p))
	}
	fs.Func(name, usage, func(s string) error {
		urls, err := etcd.ParseURLs(s)
		if err != nil {
			return err
		}
		*p = urls
		return nil
	})
}
