package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kindConfig is a kube-proxy config.conf as a kind cluster's ConfigMap
// holds it: kubeadm's marshalled defaults with kind's settings.
const kindConfig = `apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: 10.244.0.0/16
configSyncPeriod: 0s
conntrack:
  maxPerCore: 0
  min: null
  tcpBeLiberal: false
  tcpCloseWaitTimeout: 0s
  tcpEstablishedTimeout: 0s
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 1s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
kind: KubeProxyConfiguration
logging:
  flushFrequency: 0
  verbosity: 0
metricsBindAddress: ""
mode: iptables
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
`

func TestParseKindConfigAppliesUpstreamDefaults(t *testing.T) {
	cfg, err := Parse([]byte(kindConfig))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"kubeconfig", cfg.ClientConnection.Kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf"},
		{"qps", cfg.ClientConnection.QPS, float32(5)},
		{"burst", cfg.ClientConnection.Burst, int32(10)},
		{"clusterCIDR", cfg.ClusterCIDR, "10.244.0.0/16"},
		{"mode", cfg.Mode, ModeIPTables},
		{"masqueradeBit", *cfg.IPTables.MasqueradeBit, int32(14)},
		{"minSyncPeriod", cfg.IPTables.MinSyncPeriod.Duration, time.Second},
		{"syncPeriod", cfg.IPTables.SyncPeriod.Duration, 30 * time.Second},
		{"healthzBindAddress", cfg.HealthzBindAddress, "0.0.0.0:10256"},
		{"metricsBindAddress", cfg.MetricsBindAddress, "127.0.0.1:10249"},
		{"bindAddress", cfg.BindAddress, "0.0.0.0"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	cidr, err := cfg.ClusterCIDRv4()
	if err != nil || cidr != netip.MustParsePrefix("10.244.0.0/16") {
		t.Errorf("ClusterCIDRv4() = %v, %v; want 10.244.0.0/16", cidr, err)
	}
	// kind's file has no service range: nothing beyond the Services'
	// own rules is rejected.
	if r, err := cfg.ServiceClusterIPRangeV4(); err != nil || r.IsValid() {
		t.Errorf("ServiceClusterIPRangeV4() = %v, %v; want none", r, err)
	}
}

func TestParseKeepsExplicitSettings(t *testing.T) {
	cfg, err := Parse([]byte(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
healthzBindAddress: 127.0.0.1
metricsBindAddress: 0.0.0.0:9999
clusterCIDR: fd00:10:244::/56,10.244.0.0/16
serviceClusterIPRange: 10.96.0.0/16,fd00:10:96::/112
iptables:
  masqueradeAll: true
  masqueradeBit: 0
  minSyncPeriod: 0s
  syncPeriod: 1m
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.HealthzBindAddress != "127.0.0.1:10256" {
		t.Errorf("healthzBindAddress without a port = %q, want the default port added", cfg.HealthzBindAddress)
	}
	if cfg.MetricsBindAddress != "0.0.0.0:9999" {
		t.Errorf("metricsBindAddress = %q, want it kept", cfg.MetricsBindAddress)
	}
	if *cfg.IPTables.MasqueradeBit != 0 || !cfg.IPTables.MasqueradeAll {
		t.Errorf("iptables = %+v, want masqueradeBit 0 and masqueradeAll kept", cfg.IPTables)
	}
	if cfg.IPTables.MinSyncPeriod.Duration != time.Second {
		// Upstream treats a zero minSyncPeriod as unset.
		t.Errorf("minSyncPeriod 0s = %v, want the 1s default", cfg.IPTables.MinSyncPeriod.Duration)
	}
	if cfg.IPTables.SyncPeriod.Duration != time.Minute {
		t.Errorf("syncPeriod = %v, want 1m", cfg.IPTables.SyncPeriod.Duration)
	}
	if cidr, _ := cfg.ClusterCIDRv4(); cidr != netip.MustParsePrefix("10.244.0.0/16") {
		t.Errorf("dual-stack clusterCIDR gave %v, want the IPv4 range", cidr)
	}
	if r, _ := cfg.ServiceClusterIPRangeV4(); r != netip.MustParsePrefix("10.96.0.0/16") {
		t.Errorf("dual-stack serviceClusterIPRange gave %v, want the IPv4 range", r)
	}
}

func TestParseRejects(t *testing.T) {
	base := "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
	cases := []struct {
		name, yaml, wantErr string
	}{
		{"ipvs mode", base + "mode: ipvs\n", "iptables mode only"},
		{"nftables mode", base + "mode: nftables\n", "iptables mode only"},
		{"another kind", "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n", "want kubeproxy.config.k8s.io/v1alpha1"},
		{"no type", "clusterCIDR: 10.244.0.0/16\n", "want kubeproxy.config.k8s.io/v1alpha1"},
		{"bad cluster CIDR", base + "clusterCIDR: 10.244.0.0\n", "clusterCIDR"},
		{"bad service range", base + "serviceClusterIPRange: 10.96.0.0/33\n", "serviceClusterIPRange"},
		{"masquerade bit out of range", base + "iptables:\n  masqueradeBit: 32\n", "masqueradeBit"},
		{"minSyncPeriod above syncPeriod", base + "iptables:\n  minSyncPeriod: 1m\n  syncPeriod: 30s\n", "minSyncPeriod"},
		{"not YAML", "{", "decode"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Parse() error = %v, want one mentioning %q", err, c.wantErr)
			}
		})
	}
}

func TestLoadNamesTheFileInErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.conf")
	if err := os.WriteFile(path, []byte("apiVersion: v1\nkind: ConfigMap\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load() error = %v, want it to name %s", err, path)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("Load() of a missing file succeeded")
	}
}

func TestMarshalRoundTrips(t *testing.T) {
	bit := int32(14)
	zero := int32(0)
	in := KubeProxyConfiguration{
		ClientConnection:      ClientConnection{Kubeconfig: "/var/lib/kube-proxy/kubeconfig.conf"},
		ClusterCIDR:           "10.244.0.0/16",
		ServiceClusterIPRange: "10.96.0.0/16",
		Mode:                  ModeIPTables,
		IPTables:              IPTables{MasqueradeBit: &bit, MinSyncPeriod: metav1.Duration{Duration: time.Second}},
		Conntrack:             Conntrack{MaxPerCore: &zero, TCPEstablishedTimeout: &metav1.Duration{}},
	}
	data, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: kubeproxy.config.k8s.io/v1alpha1", "kind: KubeProxyConfiguration", "maxPerCore: 0", "tcpEstablishedTimeout: 0s", "minSyncPeriod: 1s", "serviceClusterIPRange: 10.96.0.0/16"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("Marshal output lacks %q:\n%s", want, data)
		}
	}
	out, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(Marshal()) = %v", err)
	}
	if out.ClusterCIDR != in.ClusterCIDR || out.ServiceClusterIPRange != in.ServiceClusterIPRange || out.ClientConnection.Kubeconfig != in.ClientConnection.Kubeconfig {
		t.Errorf("round trip changed the configuration: %+v", out)
	}
}
