package kubeproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"

	"github.com/kindish/kindish/nodeagent/kubeproxy/config"
	"github.com/kindish/kindish/nodeagent/kubeproxy/conntrack"
	"github.com/kindish/kindish/nodeagent/kubeproxy/iptables"
	"github.com/kindish/kindish/nodeagent/kubeproxy/rules"
)

// componentName is kube-proxy's name as a client and an event source.
const componentName = "kube-proxy"

// tcpBeLiberalSysctl is read to decide whether INVALID packets are dropped.
const tcpBeLiberalSysctl = "/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal"

// shutdownTimeout bounds how long the HTTP endpoints wait for their
// requests when kube-proxy stops.
const shutdownTimeout = 5 * time.Second

// Options are kube-proxy's flags, as kubeadm's DaemonSet passes them.
type Options struct {
	// ConfigFile is --config, a KubeProxyConfiguration file; empty uses
	// upstream's defaults.
	ConfigFile string
	// HostnameOverride is --hostname-override, the Node's name; empty
	// uses the file's hostnameOverride, then the hostname.
	HostnameOverride string
	// Kubeconfig is --kubeconfig; it overrides the file's
	// clientConnection.kubeconfig. Both empty means in-cluster.
	Kubeconfig string
	Log        *slog.Logger
}

// Run is kube-proxy: it serves /healthz and /metrics and keeps the node's
// iptables rules in step with the cluster's Services until ctx ends.
func Run(ctx context.Context, o Options) error {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	cfg := &config.KubeProxyConfiguration{}
	if o.ConfigFile != "" {
		var err error
		if cfg, err = config.Load(o.ConfigFile); err != nil {
			return err
		}
	} else {
		config.SetDefaults(cfg)
	}
	nodeName, err := nodeNameFor(o.HostnameOverride, cfg.HostnameOverride)
	if err != nil {
		return err
	}
	clusterCIDR, err := cfg.ClusterCIDRv4()
	if err != nil {
		return err
	}
	if clusterCIDR.IsValid() {
		log.Info("masquerading traffic to services from outside the cluster CIDR", "clusterCIDR", clusterCIDR)
	} else {
		log.Warn("no clusterCIDR: traffic to ClusterIPs from outside the pod range is not masqueraded")
	}
	serviceCIDR, err := cfg.ServiceClusterIPRangeV4()
	if err != nil {
		return err
	}
	if serviceCIDR.IsValid() {
		log.Info("rejecting traffic to the service range that no Service takes", "serviceClusterIPRange", serviceCIDR)
	} else {
		log.Warn("no serviceClusterIPRange: traffic to unallocated ClusterIPs follows the node's routes")
	}

	client, err := newClient(o.Kubeconfig, cfg)
	if err != nil {
		return err
	}
	ipt, err := iptables.New(ctx, iptables.OSExecutor{})
	if err != nil {
		return err
	}
	if !ipt.IsNFT() {
		log.Warn("iptables does not use the nf_tables backend; the node's other rules are in nf_tables", "version", ipt.Version())
	}
	var ct conntrackCleaner
	if c, err := conntrack.New(iptables.OSExecutor{}); err != nil {
		log.Warn("conntrack binary not found: stale UDP conntrack entries of removed endpoints will not be deleted", "err", err)
	} else {
		ct = c
	}

	healthLn, err := net.Listen("tcp", cfg.HealthzBindAddress)
	if err != nil {
		return fmt.Errorf("listen on healthzBindAddress %s: %w", cfg.HealthzBindAddress, err)
	}
	defer healthLn.Close()
	metricsLn, err := net.Listen("tcp", cfg.MetricsBindAddress)
	if err != nil {
		return fmt.Errorf("listen on metricsBindAddress %s: %w", cfg.MetricsBindAddress, err)
	}
	defer metricsLn.Close()

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := newMetrics(registry)
	clk := clock.RealClock{}
	h := newHealth(clk, 2*cfg.IPTables.SyncPeriod.Duration, m)
	p, err := newProxier(proxierConfig{
		Client:    client,
		NodeName:  nodeName,
		IPTables:  ipt,
		Conntrack: ct,
		Rules: rules.Config{
			ClusterCIDR:   clusterCIDR,
			ServiceCIDR:   serviceCIDR,
			MasqueradeAll: cfg.IPTables.MasqueradeAll,
			MasqueradeBit: int(*cfg.IPTables.MasqueradeBit),
			RandomFully:   ipt.HasRandomFully(),
			TCPBeLiberal:  conntrackTCPBeLiberal(tcpBeLiberalSysctl),
		},
		MinSyncPeriod: cfg.IPTables.MinSyncPeriod.Duration,
		SyncPeriod:    cfg.IPTables.SyncPeriod.Duration,
		Clock:         clk,
		Log:           log,
		Metrics:       m,
		Health:        h,
	})
	if err != nil {
		return err
	}
	log.Info("starting kube-proxy", "node", nodeName, "mode", cfg.Mode, "iptables", ipt.Version(),
		"minSyncPeriod", cfg.IPTables.MinSyncPeriod.Duration, "syncPeriod", cfg.IPTables.SyncPeriod.Duration)

	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: client.EventsV1()})
	broadcaster.StartRecordingToSink(ctx.Done())
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, componentName)
	// Upstream refers to the Node by name, with its name as UID.
	nodeRef := &corev1.ObjectReference{Kind: "Node", Name: nodeName, UID: types.UID(nodeName)}
	recorder.Eventf(nodeRef, nil, corev1.EventTypeNormal, "Starting", "StartKubeProxy", "")

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	servers := []*server{
		{name: "healthz", ln: healthLn, handler: healthMux(h)},
		{name: "metrics", ln: metricsLn, handler: metricsMux(registry, cfg.Mode)},
	}
	errc := make(chan error, len(servers))
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.serve(ctx); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	p.run(ctx)
	cancel()
	wg.Wait()
	close(errc)
	return <-errc
}

// nodeNameFor is upstream's: the override, lower-cased and trimmed, or the
// hostname.
func nodeNameFor(flag, fromConfig string) (string, error) {
	name := flag
	if name == "" {
		name = fromConfig
	}
	if name == "" {
		var err error
		if name, err = os.Hostname(); err != nil {
			return "", fmt.Errorf("node name: %w", err)
		}
	}
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return "", errors.New("node name: empty --hostname-override")
	}
	return name, nil
}

// newClient reaches the API server as the configuration says: kubeadm's
// kubeconfig.conf uses the pod's ServiceAccount token file, which
// client-go rereads as the kubelet rotates it.
func newClient(kubeconfigFlag string, cfg *config.KubeProxyConfiguration) (kubernetes.Interface, error) {
	path := kubeconfigFlag
	if path == "" {
		path = cfg.ClientConnection.Kubeconfig
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %q: %w", path, err)
	}
	restConfig = rest.AddUserAgent(restConfig, componentName)
	restConfig.QPS = cfg.ClientConnection.QPS
	restConfig.Burst = int(cfg.ClientConnection.Burst)
	if cfg.ClientConnection.ContentType != "" {
		restConfig.ContentType = cfg.ClientConnection.ContentType
	}
	if cfg.ClientConnection.AcceptContentTypes != "" {
		restConfig.AcceptContentTypes = cfg.ClientConnection.AcceptContentTypes
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return nil, fmt.Errorf("client for kubeconfig %q: %w", path, err)
	}
	return client, nil
}

// metricsMux serves metricsBindAddress as upstream does: /metrics, a
// plain /healthz, and /proxyMode.
func metricsMux(registry *prometheus.Registry, mode string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/proxyMode", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, mode)
	})
	return mux
}

// server is one plain-HTTP endpoint of kube-proxy.
type server struct {
	name    string
	ln      net.Listener
	handler http.Handler
}

// serve serves until ctx ends, then shuts down.
func (s *server) serve(ctx context.Context) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s on %s: %w", s.name, s.ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down %s on %s: %w", s.name, s.ln.Addr(), err)
	}
	return nil
}
