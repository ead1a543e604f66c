// Package config is kube-proxy's configuration file: the
// KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) that kubeadm
// and kind put in the kube-proxy ConfigMap as config.conf. It keeps the
// fields kindish's iptables proxy uses, with upstream's names and
// defaults; other fields, conntrack's among them, are accepted and
// ignored, so kubeadm's file loads unchanged.
package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// APIVersion and Kind identify the file's type.
const (
	APIVersion = "kubeproxy.config.k8s.io/v1alpha1"
	Kind       = "KubeProxyConfiguration"
)

// ModeIPTables is the only proxy mode kindish implements.
const ModeIPTables = "iptables"

// Upstream's defaults.
const (
	DefaultBindAddress        = "0.0.0.0"
	DefaultHealthzBindAddress = "0.0.0.0:10256"
	DefaultMetricsBindAddress = "127.0.0.1:10249"
	DefaultMasqueradeBit      = 14
	DefaultMinSyncPeriod      = time.Second
	DefaultSyncPeriod         = 30 * time.Second
	DefaultQPS                = 5
	DefaultBurst              = 10
	healthzPort               = "10256"
	metricsPort               = "10249"
)

// KubeProxyConfiguration is upstream's v1alpha1 type, cut to the fields
// kindish uses or writes.
type KubeProxyConfiguration struct {
	metav1.TypeMeta `json:",inline"`

	BindAddress string `json:"bindAddress,omitempty"`
	// HealthzBindAddress serves /healthz and /livez (ip:port; the port
	// defaults to 10256).
	HealthzBindAddress string `json:"healthzBindAddress,omitempty"`
	// MetricsBindAddress serves /metrics (ip:port; the port defaults to
	// 10249).
	MetricsBindAddress string           `json:"metricsBindAddress,omitempty"`
	ClientConnection   ClientConnection `json:"clientConnection"`
	// ClusterCIDR is the pod range; traffic to services from outside it
	// is masqueraded. Comma-separated for dual stack; kindish uses the
	// IPv4 range.
	ClusterCIDR string `json:"clusterCIDR,omitempty"`
	// ServiceClusterIPRange is the range ClusterIPs are allocated from,
	// the same value as the kube-apiserver's --service-cluster-ip-range
	// (comma-separated for dual stack; kindish uses the IPv4 range).
	// New connections to an address in it that no Service port takes
	// are rejected, so they fail at once instead of leaving the node by
	// its default route. Empty leaves such traffic alone.
	//
	// It is not an upstream field: upstream's nftables proxier learns the
	// ranges from ServiceCIDR objects (KEP-1880), which kindish's API
	// server does not serve. A configuration field, named after the flag
	// a cluster's operator already sets, keeps the DaemonSet's command
	// kubeadm's; upstream's lenient decoding ignores the field, so the
	// file still loads there.
	ServiceClusterIPRange string   `json:"serviceClusterIPRange,omitempty"`
	HostnameOverride      string   `json:"hostnameOverride,omitempty"`
	Mode                  string   `json:"mode,omitempty"`
	IPTables              IPTables `json:"iptables"`
	// Conntrack is written as kind writes it (zeros: leave the node's
	// sysctls alone) and ignored when read.
	Conntrack Conntrack `json:"conntrack"`
	// NodePortAddresses is accepted for kubeadm's files; NodePorts answer
	// on the Node's addresses.
	NodePortAddresses []string `json:"nodePortAddresses,omitempty"`
}

// ClientConnection is how kube-proxy reaches the API server.
type ClientConnection struct {
	Kubeconfig         string  `json:"kubeconfig,omitempty"`
	ContentType        string  `json:"contentType,omitempty"`
	AcceptContentTypes string  `json:"acceptContentTypes,omitempty"`
	QPS                float32 `json:"qps,omitempty"`
	Burst              int32   `json:"burst,omitempty"`
}

// IPTables are the iptables proxier's settings.
type IPTables struct {
	MasqueradeAll bool   `json:"masqueradeAll"`
	MasqueradeBit *int32 `json:"masqueradeBit,omitempty"`
	// LocalhostNodePorts is accepted and has no effect: NodePorts never
	// answer on 127.0.0.1 here (that would need route_localnet).
	LocalhostNodePorts *bool           `json:"localhostNodePorts,omitempty"`
	MinSyncPeriod      metav1.Duration `json:"minSyncPeriod"`
	SyncPeriod         metav1.Duration `json:"syncPeriod"`
}

// Conntrack holds the conntrack sysctl settings kube-proxy may apply.
type Conntrack struct {
	MaxPerCore            *int32           `json:"maxPerCore,omitempty"`
	Min                   *int32           `json:"min,omitempty"`
	TCPEstablishedTimeout *metav1.Duration `json:"tcpEstablishedTimeout,omitempty"`
	TCPCloseWaitTimeout   *metav1.Duration `json:"tcpCloseWaitTimeout,omitempty"`
}

// Load reads, defaults and validates a configuration file.
func Load(path string) (*KubeProxyConfiguration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read kube-proxy configuration: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("kube-proxy configuration %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes, defaults and validates a configuration. Unknown fields
// are ignored, as upstream's lenient v1alpha1 decoding ignores them.
func Parse(data []byte) (*KubeProxyConfiguration, error) {
	var cfg KubeProxyConfiguration
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if cfg.APIVersion != APIVersion || cfg.Kind != Kind {
		return nil, fmt.Errorf("apiVersion %q, kind %q: want %s %s", cfg.APIVersion, cfg.Kind, APIVersion, Kind)
	}
	SetDefaults(&cfg)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// SetDefaults fills unset fields with upstream's defaults.
func SetDefaults(c *KubeProxyConfiguration) {
	if c.BindAddress == "" {
		c.BindAddress = DefaultBindAddress
	}
	if c.HealthzBindAddress == "" {
		c.HealthzBindAddress = DefaultHealthzBindAddress
	} else {
		c.HealthzBindAddress = withPort(c.HealthzBindAddress, healthzPort)
	}
	if c.MetricsBindAddress == "" {
		c.MetricsBindAddress = DefaultMetricsBindAddress
	} else {
		c.MetricsBindAddress = withPort(c.MetricsBindAddress, metricsPort)
	}
	if c.Mode == "" {
		c.Mode = ModeIPTables
	}
	if c.IPTables.MasqueradeBit == nil {
		bit := int32(DefaultMasqueradeBit)
		c.IPTables.MasqueradeBit = &bit
	}
	if c.IPTables.MinSyncPeriod.Duration == 0 {
		c.IPTables.MinSyncPeriod.Duration = DefaultMinSyncPeriod
	}
	if c.IPTables.SyncPeriod.Duration == 0 {
		c.IPTables.SyncPeriod.Duration = DefaultSyncPeriod
	}
	if c.ClientConnection.QPS == 0 {
		c.ClientConnection.QPS = DefaultQPS
	}
	if c.ClientConnection.Burst == 0 {
		c.ClientConnection.Burst = DefaultBurst
	}
}

// withPort appends port to an address given without one, as upstream's
// defaulting does for the bind addresses.
func withPort(addr, port string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, port)
}

// Validate checks a defaulted configuration.
func (c *KubeProxyConfiguration) Validate() error {
	if c.Mode != ModeIPTables {
		return fmt.Errorf("mode %q: kindish's kube-proxy implements the iptables mode only", c.Mode)
	}
	if bit := *c.IPTables.MasqueradeBit; bit < 0 || bit > 31 {
		return fmt.Errorf("iptables.masqueradeBit %d: must be within [0, 31]", bit)
	}
	if c.IPTables.SyncPeriod.Duration <= 0 {
		return fmt.Errorf("iptables.syncPeriod %v: must be positive", c.IPTables.SyncPeriod.Duration)
	}
	if c.IPTables.MinSyncPeriod.Duration < 0 || c.IPTables.MinSyncPeriod.Duration > c.IPTables.SyncPeriod.Duration {
		return fmt.Errorf("iptables.minSyncPeriod %v: must be within [0, syncPeriod %v]", c.IPTables.MinSyncPeriod.Duration, c.IPTables.SyncPeriod.Duration)
	}
	if _, err := c.ClusterCIDRv4(); err != nil {
		return err
	}
	if _, err := c.ServiceClusterIPRangeV4(); err != nil {
		return err
	}
	for name, addr := range map[string]string{"healthzBindAddress": c.HealthzBindAddress, "metricsBindAddress": c.MetricsBindAddress} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s %q: %w", name, addr, err)
		}
	}
	return nil
}

// ClusterCIDRv4 is the IPv4 range of clusterCIDR; the zero Prefix when
// there is none, which leaves off-cluster traffic unmasqueraded.
func (c *KubeProxyConfiguration) ClusterCIDRv4() (netip.Prefix, error) {
	return ipv4Prefix("clusterCIDR", c.ClusterCIDR)
}

// ServiceClusterIPRangeV4 is the IPv4 range of serviceClusterIPRange; the
// zero Prefix when there is none, which rejects nothing beyond the
// Services' own rules.
func (c *KubeProxyConfiguration) ServiceClusterIPRangeV4() (netip.Prefix, error) {
	return ipv4Prefix("serviceClusterIPRange", c.ServiceClusterIPRange)
}

// ipv4Prefix is the first IPv4 CIDR, masked, of a field holding a
// comma-separated list of CIDRs (one per family, as dual stack has it).
func ipv4Prefix(field, value string) (netip.Prefix, error) {
	if strings.TrimSpace(value) == "" {
		return netip.Prefix{}, nil
	}
	for _, s := range strings.Split(value, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%s %q: %w", field, value, err)
		}
		if p.Addr().Is4() {
			return p.Masked(), nil
		}
	}
	return netip.Prefix{}, nil
}

// Marshal writes a configuration as YAML, with its type filled in, for
// the kube-proxy ConfigMap.
func Marshal(c KubeProxyConfiguration) ([]byte, error) {
	c.APIVersion, c.Kind = APIVersion, Kind
	data, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode kube-proxy configuration: %w", err)
	}
	return data, nil
}
