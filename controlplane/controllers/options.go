package controllers

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
)

// Options are kube-controller-manager's flags as kubeadm's manifest sets
// them. Upstream's --pod-eviction-timeout is gone: eviction is by taints.
type Options struct {
	// Kubeconfig is the manager's own identity
	// (system:kube-controller-manager).
	Kubeconfig string
	// AuthenticationKubeconfig, AuthorizationKubeconfig, ClientCAFile and
	// RequestheaderClientCAFile are accepted for kubeadm's manifest; the
	// health and metrics endpoints are served without delegated
	// authentication.
	AuthenticationKubeconfig  string
	AuthorizationKubeconfig   string
	ClientCAFile              string
	RequestheaderClientCAFile string

	// BindAddress and SecurePort are where HTTPS is served; port 0 turns
	// serving off, as upstream.
	BindAddress string
	SecurePort  int

	ClusterName string
	// ClusterCIDR is the pod range, one CIDR per IP family separated by
	// commas; node IPAM cuts it into NodeCIDRMaskSize ranges (IPv6 ranges
	// are /64) when AllocateNodeCIDRs is set.
	ClusterCIDR       string
	AllocateNodeCIDRs bool
	NodeCIDRMaskSize  int
	// ServiceClusterIPRange is kept out of the node ranges.
	ServiceClusterIPRange string

	// ClusterSigningCertFile and ClusterSigningKeyFile are accepted;
	// kindish has no CSR signing controller yet.
	ClusterSigningCertFile string
	ClusterSigningKeyFile  string
	// RootCAFile is the CA bundle published as kube-root-ca.crt; empty
	// means the kubeconfig's CA.
	RootCAFile string
	// ServiceAccountPrivateKeyFile is accepted; kindish has no legacy
	// ServiceAccount token controller.
	ServiceAccountPrivateKeyFile string
	// UseServiceAccountCredentials runs each controller as its own
	// ServiceAccount in kube-system, with tokens from TokenRequest.
	UseServiceAccountCredentials bool

	// Controllers is upstream's --controllers: "*" for every controller
	// on by default, "name" to enable, "-name" to disable; canonical names
	// and upstream's aliases both work.
	Controllers []string
	LeaderElect bool

	NodeMonitorPeriod      time.Duration
	NodeMonitorGracePeriod time.Duration
	NodeStartupGracePeriod time.Duration

	Log *slog.Logger

	// RestConfig, when set, replaces Kubeconfig: for embedding the
	// manager and for tests.
	RestConfig *rest.Config
	// Clock drives node lifecycle and taint eviction; nil is the real one.
	Clock clock.WithTicker
}

// DefaultOptions are upstream's defaults with kind's pod range.
func DefaultOptions() Options {
	return Options{
		BindAddress:            "127.0.0.1",
		SecurePort:             10257,
		ClusterName:            "kubernetes",
		ClusterCIDR:            "10.244.0.0/16",
		NodeCIDRMaskSize:       24,
		Controllers:            []string{"*"},
		NodeMonitorPeriod:      5 * time.Second,
		NodeMonitorGracePeriod: 40 * time.Second,
		NodeStartupGracePeriod: 60 * time.Second,
	}
}

// withDefaults fills the zero fields that have a default. SecurePort is
// left alone: zero turns serving off.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.BindAddress == "" {
		o.BindAddress = d.BindAddress
	}
	if o.ClusterName == "" {
		o.ClusterName = d.ClusterName
	}
	if o.NodeCIDRMaskSize == 0 {
		o.NodeCIDRMaskSize = d.NodeCIDRMaskSize
	}
	if len(o.Controllers) == 0 {
		o.Controllers = d.Controllers
	}
	if o.NodeMonitorPeriod == 0 {
		o.NodeMonitorPeriod = d.NodeMonitorPeriod
	}
	if o.NodeMonitorGracePeriod == 0 {
		o.NodeMonitorGracePeriod = d.NodeMonitorGracePeriod
	}
	if o.NodeStartupGracePeriod == 0 {
		o.NodeStartupGracePeriod = d.NodeStartupGracePeriod
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return o
}

// AddFlags binds the options to upstream's flag names, so that kubeadm's
// manifest runs unchanged.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig of the manager's own identity")
	fs.StringVar(&o.AuthenticationKubeconfig, "authentication-kubeconfig", o.AuthenticationKubeconfig, "accepted; the endpoints do not delegate authentication")
	fs.StringVar(&o.AuthorizationKubeconfig, "authorization-kubeconfig", o.AuthorizationKubeconfig, "accepted; the endpoints do not delegate authorization")
	fs.StringVar(&o.ClientCAFile, "client-ca-file", o.ClientCAFile, "accepted; the endpoints do not check client certificates")
	fs.StringVar(&o.RequestheaderClientCAFile, "requestheader-client-ca-file", o.RequestheaderClientCAFile, "accepted; the endpoints do not check front proxies")
	fs.StringVar(&o.BindAddress, "bind-address", o.BindAddress, "address to serve HTTPS on")
	fs.IntVar(&o.SecurePort, "secure-port", o.SecurePort, "port to serve HTTPS on; 0 serves nothing")
	fs.StringVar(&o.ClusterName, "cluster-name", o.ClusterName, "the cluster's name")
	fs.StringVar(&o.ClusterCIDR, "cluster-cidr", o.ClusterCIDR, "pod range(s), comma-separated, one per IP family")
	fs.BoolVar(&o.AllocateNodeCIDRs, "allocate-node-cidrs", o.AllocateNodeCIDRs, "give each node a pod range from --cluster-cidr")
	fs.IntVar(&o.NodeCIDRMaskSize, "node-cidr-mask-size", o.NodeCIDRMaskSize, "prefix length of each node's IPv4 pod range")
	fs.StringVar(&o.ServiceClusterIPRange, "service-cluster-ip-range", o.ServiceClusterIPRange, "service range(s), kept out of node pod ranges")
	fs.StringVar(&o.ClusterSigningCertFile, "cluster-signing-cert-file", o.ClusterSigningCertFile, "accepted; no CSR signing controller")
	fs.StringVar(&o.ClusterSigningKeyFile, "cluster-signing-key-file", o.ClusterSigningKeyFile, "accepted; no CSR signing controller")
	fs.StringVar(&o.RootCAFile, "root-ca-file", o.RootCAFile, "CA bundle published to every namespace as kube-root-ca.crt")
	fs.StringVar(&o.ServiceAccountPrivateKeyFile, "service-account-private-key-file", o.ServiceAccountPrivateKeyFile, "accepted; no legacy token controller")
	fs.BoolVar(&o.UseServiceAccountCredentials, "use-service-account-credentials", o.UseServiceAccountCredentials, "run each controller as its own ServiceAccount")
	fs.Func("controllers", `controllers to run: "*" for the default set, "foo" to enable, "-foo" to disable (default "*")`, func(s string) error {
		o.Controllers = strings.Split(s, ",")
		return nil
	})
	fs.BoolVar(&o.LeaderElect, "leader-elect", o.LeaderElect, "elect a leader through the Lease kube-system/kube-controller-manager")
	fs.DurationVar(&o.NodeMonitorPeriod, "node-monitor-period", o.NodeMonitorPeriod, "how often node health is checked")
	fs.DurationVar(&o.NodeMonitorGracePeriod, "node-monitor-grace-period", o.NodeMonitorGracePeriod, "how long a silent node stays Ready")
	fs.DurationVar(&o.NodeStartupGracePeriod, "node-startup-grace-period", o.NodeStartupGracePeriod, "how long a new node may go without posting status")
}

// validate checks what the node IPAM and serving settings need.
func (o Options) validate() error {
	var errs []error
	if o.AllocateNodeCIDRs {
		if o.ClusterCIDR == "" {
			errs = append(errs, errors.New("--allocate-node-cidrs needs --cluster-cidr"))
		} else if _, err := parseCIDRs(o.ClusterCIDR); err != nil {
			errs = append(errs, fmt.Errorf("--cluster-cidr: %w", err))
		}
		if o.NodeCIDRMaskSize < 1 || o.NodeCIDRMaskSize > 32 {
			errs = append(errs, fmt.Errorf("--node-cidr-mask-size %d: not an IPv4 prefix length", o.NodeCIDRMaskSize))
		}
	}
	if o.ServiceClusterIPRange != "" {
		if _, err := parseCIDRs(o.ServiceClusterIPRange); err != nil {
			errs = append(errs, fmt.Errorf("--service-cluster-ip-range: %w", err))
		}
	}
	if o.SecurePort < 0 || o.SecurePort > 65535 {
		errs = append(errs, fmt.Errorf("--secure-port %d: not a TCP port", o.SecurePort))
	}
	if o.NodeMonitorGracePeriod <= o.NodeMonitorPeriod {
		errs = append(errs, fmt.Errorf("--node-monitor-grace-period %v must be longer than --node-monitor-period %v", o.NodeMonitorGracePeriod, o.NodeMonitorPeriod))
	}
	return errors.Join(errs...)
}

// parseCIDRs parses a comma-separated list of at most one CIDR per
// family.
func parseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	if len(out) > 2 || (len(out) == 2 && out[0].Addr().Is4() == out[1].Addr().Is4()) {
		return nil, fmt.Errorf("%q: at most one CIDR per IP family", s)
	}
	return out, nil
}
