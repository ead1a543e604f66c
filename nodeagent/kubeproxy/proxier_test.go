package kubeproxy

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/kindish/kindish/nodeagent/kubeproxy/conntrack"
	"github.com/kindish/kindish/nodeagent/kubeproxy/iptables"
	"github.com/kindish/kindish/nodeagent/kubeproxy/rules"
)

const testNode = "kindish-worker"

func testNodeObject() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: testNode},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: "172.18.0.3"},
			{Type: corev1.NodeHostName, Address: testNode},
		}},
	}
}

// dnsService is kube-dns: UDP and TCP 53 to the pods' named ports.
func dnsService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns", Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  "10.96.0.10",
			ClusterIPs: []string{"10.96.0.10"},
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
			},
		},
	}
}

func dnsSlice(triggered time.Time, ips ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   "kube-system",
			Name:        "kube-dns-5xqfk",
			Labels:      map[string]string{discoveryv1.LabelServiceName: "kube-dns"},
			Annotations: map[string]string{corev1.EndpointsLastChangeTriggerTime: triggered.UTC().Format(time.RFC3339Nano)},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To("dns"), Port: ptr.To[int32](53), Protocol: ptr.To(corev1.ProtocolUDP)},
			{Name: ptr.To("dns-tcp"), Port: ptr.To[int32](53), Protocol: ptr.To(corev1.ProtocolTCP)},
		},
	}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	return s
}

// recordingConntrack records the deletions asked for.
type recordingConntrack struct {
	mu   sync.Mutex
	dels []string
}

func (r *recordingConntrack) Delete(_ context.Context, dels []conntrack.Deletion) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range dels {
		r.dels = append(r.dels, d.String())
	}
	return nil
}

func (r *recordingConntrack) deletions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.dels)
}

// testProxier runs a proxier on a fake clientset and fake iptables until
// the test ends.
type testProxier struct {
	*proxier
	client    *fake.Clientset
	conntrack *recordingConntrack
	registry  *prometheus.Registry
	stop      func()
}

func startProxier(t *testing.T, client *fake.Clientset, ipt *fakeIptables) *testProxier {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, err := iptables.New(ctx, ipt)
	if err != nil {
		t.Fatal(err)
	}
	ct := &recordingConntrack{}
	registry := prometheus.NewRegistry()
	m := newMetrics(registry)
	p, err := newProxier(proxierConfig{
		Client:    client,
		NodeName:  testNode,
		IPTables:  c,
		Conntrack: ct,
		Rules: rules.Config{
			ClusterCIDR:   netip.MustParsePrefix("10.244.0.0/16"),
			ServiceCIDR:   netip.MustParsePrefix("10.96.0.0/16"),
			MasqueradeBit: 14,
			RandomFully:   c.HasRandomFully(),
		},
		MinSyncPeriod: 10 * time.Millisecond,
		SyncPeriod:    time.Hour,
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:       m,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.run(ctx); close(done) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return &testProxier{proxier: p, client: client, conntrack: ct, registry: registry, stop: stop}
}

// eventually waits for cond, failing with what describe says.
func eventually(t *testing.T, what string, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s never happened; %s", what, describe())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// metricValue is a metric's value as reg exposes it: a counter's or
// gauge's value, a histogram's sample count; 0 when it is absent.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name || len(f.GetMetric()) == 0 {
			continue
		}
		m := f.GetMetric()[0]
		switch {
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func networkProgrammingSamples(t *testing.T, reg *prometheus.Registry) uint64 {
	return uint64(metricValue(t, reg, "kubeproxy_network_programming_duration_seconds"))
}

// TestProxierFollowsServicesAndEndpointSlices drives the whole flow:
// informers on a fake clientset, syncs through the iptables client into
// fake iptables, and the bookkeeping around them.
func TestProxierFollowsServicesAndEndpointSlices(t *testing.T) {
	ctx := context.Background()
	triggered := time.Now().Add(-2 * time.Second)
	client := fake.NewClientset(testNodeObject(), dnsService(), dnsSlice(triggered, "10.244.1.2", "10.244.2.3"))
	ipt := newFakeIptables()
	p := startProxier(t, client, ipt)

	udpChain := rules.ServicePortChain("kube-system/kube-dns:dns", "udp")
	sepA := rules.EndpointChain("kube-system/kube-dns:dns", "udp", "10.244.1.2:53")
	eventually(t, "first sync", func() bool { return strings.Contains(ipt.lastRestore(), "-j "+sepA) },
		func() string { return "last restore:\n" + ipt.lastRestore() })

	// The built-in chains now lead to kube-proxy's, and Docker's rule
	// is still there.
	if got := ipt.rulesOf("nat", "PREROUTING"); !slices.Contains(got, `-m comment --comment "kubernetes service portals" -j KUBE-SERVICES`) {
		t.Errorf("nat PREROUTING = %q, want the jump to KUBE-SERVICES", got)
	}
	if got := ipt.rulesOf("nat", "OUTPUT"); len(got) != 2 || got[1] != "-d 127.0.0.11/32 -j DOCKER_OUTPUT" {
		t.Errorf("nat OUTPUT = %q, want kube-proxy's jump first and Docker's rule kept", got)
	}
	if got := ipt.rulesOf("nat", "KUBE-SERVICES"); !slices.Contains(got,
		`-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -d 172.18.0.3 -j KUBE-NODEPORTS`) {
		t.Errorf("KUBE-SERVICES = %q, want NodePorts on the Node's InternalIP", got)
	}
	if got := ipt.rulesOf("nat", udpChain); len(got) != 3 {
		t.Errorf("%s = %q, want the masquerade rule and two endpoints", udpChain, got)
	}
	if n := networkProgrammingSamples(t, p.registry); n != 0 {
		t.Errorf("network programming latency samples = %d, want none for a slice older than kube-proxy", n)
	}
	if v := metricValue(t, p.registry, "kubeproxy_sync_proxy_rules_last_timestamp_seconds"); v == 0 {
		t.Error("sync_proxy_rules_last_timestamp_seconds not set")
	}

	// An endpoint goes away: its chain is deleted, and its UDP conntrack
	// entries with it.
	if _, err := client.DiscoveryV1().EndpointSlices("kube-system").Update(ctx, dnsSlice(time.Now(), "10.244.2.3"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "sync without 10.244.1.2", func() bool {
		r := ipt.lastRestore()
		return strings.Contains(r, "-X "+sepA+"\n") && !strings.Contains(r, "10.244.1.2:53")
	}, func() string { return "last restore:\n" + ipt.lastRestore() })
	eventually(t, "conntrack cleanup", func() bool { return len(p.conntrack.deletions()) > 0 }, func() string { return "" })
	if got, want := p.conntrack.deletions(), []string{"-D --orig-dst 10.96.0.10 --dst-nat 10.244.1.2 -p udp"}; !slices.Equal(got, want) {
		t.Errorf("conntrack deletions = %q, want %q (UDP only)", got, want)
	}
	if n := networkProgrammingSamples(t, p.registry); n != 1 {
		t.Errorf("network programming latency samples = %d, want 1 for the slice's change", n)
	}

	// The service goes away: its rules with it.
	if err := client.CoreV1().Services("kube-system").Delete(ctx, "kube-dns", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "sync without kube-dns", func() bool {
		return !strings.Contains(ipt.lastRestore(), "kube-dns") && strings.Contains(ipt.lastRestore(), "-X "+udpChain)
	}, func() string { return "last restore:\n" + ipt.lastRestore() })
}

// TestProxierRejectsTheServiceRangeNoServiceTakes follows new connections
// through the fake's tables, from a pod and from the node: a Service's
// ports are DNATed and pass the filter table, while its other ports,
// free addresses of the service range and, once it is deleted, the
// Service's own address are rejected instead of leaving the node by its
// default route. Addresses outside the range are none of kube-proxy's
// business.
func TestProxierRejectsTheServiceRangeNoServiceTakes(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(testNodeObject(), dnsService(), dnsSlice(time.Now(), "10.244.1.2"))
	ipt := newFakeIptables()
	startProxier(t, client, ipt)
	eventually(t, "first sync", func() bool { return strings.Contains(ipt.lastRestore(), "kube-dns") },
		func() string { return "last restore:\n" + ipt.lastRestore() })

	served := verdict{DNAT: true, Filter: "ACCEPT"}
	reset := verdict{Filter: "REJECT --reject-with tcp-reset"}
	unreachable := verdict{Filter: "REJECT --reject-with icmp-port-unreachable"}
	passed := verdict{Filter: "ACCEPT"}
	check := func(t *testing.T, proto, dst string, dport int, want verdict) {
		t.Helper()
		for _, fromPod := range []bool{true, false} {
			c := newConn{fromPod: fromPod, proto: proto, src: netip.MustParseAddr("10.244.1.9"), dst: netip.MustParseAddr(dst), dport: dport}
			if !fromPod {
				c.src = netip.MustParseAddr("172.18.0.3")
			}
			got, err := ipt.follow(c)
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			if got != want {
				t.Errorf("%s: %+v, want %+v", c, got, want)
			}
		}
	}

	check(t, "udp", "10.96.0.10", 53, served)
	check(t, "tcp", "10.96.0.10", 53, served)
	check(t, "tcp", "10.96.0.10", 80, reset)
	check(t, "tcp", "10.96.111.129", 80, reset)
	check(t, "udp", "10.96.111.129", 53, unreachable)
	check(t, "tcp", "10.97.0.1", 80, passed)

	if err := client.CoreV1().Services("kube-system").Delete(ctx, "kube-dns", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "sync without kube-dns", func() bool { return !strings.Contains(ipt.lastRestore(), "kube-dns") },
		func() string { return "last restore:\n" + ipt.lastRestore() })
	check(t, "tcp", "10.96.0.10", 53, reset)
	check(t, "udp", "10.96.0.10", 53, unreachable)
	check(t, "tcp", "10.97.0.1", 80, passed)
}

func TestProxierRestartRewritesTheSameRules(t *testing.T) {
	client := fake.NewClientset(testNodeObject(), dnsService(), dnsSlice(time.Now(), "10.244.1.2", "10.244.2.3"))
	ipt := newFakeIptables()
	first := startProxier(t, client, ipt)
	sep := rules.EndpointChain("kube-system/kube-dns:dns-tcp", "tcp", "10.244.2.3:53")
	eventually(t, "first sync", func() bool { return strings.Contains(ipt.lastRestore(), sep) }, func() string { return ipt.lastRestore() })
	first.stop()
	before := ipt.lastRestore()
	restored := len(ipt.appliedRestores())

	second := startProxier(t, client, ipt)
	eventually(t, "sync after the restart", func() bool { return len(ipt.appliedRestores()) > restored }, func() string { return "" })
	if after := ipt.lastRestore(); after != withoutJumps(before) {
		t.Errorf("the restarted kube-proxy wrote other rules:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// The jumps were there already: none was inserted again.
	for _, batch := range ipt.appliedRestores()[restored:] {
		if strings.Contains(batch, "\n-I ") {
			t.Errorf("the restarted kube-proxy inserted jumps again:\n%s", batch)
		}
	}
	// iptables itself ran only to tell its version, once per start.
	if cmds := ipt.commandsRun(); !slices.Equal(cmds, []string{"--version", "--version"}) {
		t.Errorf("iptables commands %q, want only --version at each start", cmds)
	}
	if dels := append(first.conntrack.deletions(), second.conntrack.deletions()...); len(dels) > 0 {
		t.Errorf("conntrack deletions %q: a restart must leave every flow alone", dels)
	}
}

// withoutJumps drops a batch's leading sections that insert jumps, which
// only a kube-proxy that found them missing writes.
func withoutJumps(batch string) string {
	var kept strings.Builder
	for _, section := range strings.SplitAfter(batch, "COMMIT\n") {
		if !strings.Contains(section, "\n-I ") {
			kept.WriteString(section)
		}
	}
	return kept.String()
}

func TestProxierRepairsFlushedJumps(t *testing.T) {
	client := fake.NewClientset(testNodeObject(), dnsService())
	ipt := newFakeIptables()
	p := startProxier(t, client, ipt)
	eventually(t, "first sync", func() bool { return ipt.lastRestore() != "" }, func() string { return "" })

	// Someone flushes nat PREROUTING; the next sync puts the jump back.
	ipt.mu.Lock()
	ipt.tables["nat"].rules["PREROUTING"] = nil
	ipt.mu.Unlock()
	p.runner.Run()
	eventually(t, "jump restored", func() bool { return len(ipt.rulesOf("nat", "PREROUTING")) == 1 },
		func() string { return strings.Join(ipt.appliedRestores(), "\n") })
}

func TestProxierFollowsTheNodeAddresses(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(testNodeObject(), dnsService())
	ipt := newFakeIptables()
	startProxier(t, client, ipt)
	eventually(t, "first sync", func() bool { return strings.Contains(ipt.lastRestore(), "-d 172.18.0.3 -j KUBE-NODEPORTS") },
		func() string { return ipt.lastRestore() })

	node := testNodeObject()
	node.Status.Addresses = append(node.Status.Addresses,
		corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "192.168.10.4"},
		corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "127.0.0.1"},
	)
	if _, err := client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "NodePorts on the new address", func() bool { return strings.Contains(ipt.lastRestore(), "-d 192.168.10.4 -j KUBE-NODEPORTS") },
		func() string { return ipt.lastRestore() })
	if strings.Contains(ipt.lastRestore(), "-d 127.0.0.1 -j KUBE-NODEPORTS") {
		t.Error("NodePorts answer on a loopback address")
	}
}

func TestProxierRetriesAFailedRestore(t *testing.T) {
	client := fake.NewClientset(testNodeObject(), dnsService())
	ipt := newFakeIptables()
	ipt.failRestore = 1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := iptables.New(ctx, ipt)
	if err != nil {
		t.Fatal(err)
	}
	registry := prometheus.NewRegistry()
	m := newMetrics(registry)
	p, err := newProxier(proxierConfig{
		Client: client, NodeName: testNode, IPTables: c,
		Rules:         rules.Config{MasqueradeBit: 14},
		MinSyncPeriod: time.Millisecond, SyncPeriod: 50 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: m,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	eventually(t, "a restore after the failed one", func() bool { return ipt.lastRestore() != "" }, func() string { return "" })
	if got := metricValue(t, registry, "kubeproxy_sync_proxy_rules_iptables_restore_failures_total"); got != 1 {
		t.Errorf("restore failures = %v, want 1", got)
	}
}

func TestNodePortAddresses(t *testing.T) {
	node := &corev1.Node{Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{
		{Type: corev1.NodeHostName, Address: "kindish-worker"},
		{Type: corev1.NodeExternalIP, Address: "192.168.10.4"},
		{Type: corev1.NodeInternalIP, Address: "fc00:f853:ccd:e793::3"},
		{Type: corev1.NodeInternalIP, Address: "172.18.0.3"},
		{Type: corev1.NodeExternalIP, Address: "172.18.0.3"},
		{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
	}}}
	ips, loopback := nodePortAddresses(node)
	if want := []netip.Addr{netip.MustParseAddr("172.18.0.3"), netip.MustParseAddr("192.168.10.4")}; !slices.Equal(ips, want) {
		t.Errorf("addresses = %v, want %v (IPv4, InternalIP first, no duplicates)", ips, want)
	}
	if want := []netip.Addr{netip.MustParseAddr("127.0.0.1")}; !slices.Equal(loopback, want) {
		t.Errorf("loopback = %v, want %v", loopback, want)
	}
}
