// Package rules writes kube-proxy's iptables rules as upstream's iptables
// proxier (pkg/proxy/iptables/proxier.go) writes them: the same chains,
// chain names, comments and order, as one iptables-restore batch for the
// filter and nat tables. Rendering is a pure function of the Services,
// their endpoints and the node, so it is tested as text.
//
// The batch is meant for iptables-restore --noflush: it declares, and so
// flushes and rewrites, only kube-proxy's own chains; the built-in chains
// it is reached from are left to the Jumps.
package rules

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/kindish/kindish/nodeagent/kubeproxy/servicemap"
)

// largeClusterEndpointsThreshold is upstream's: past this many endpoints,
// per-endpoint comments are left out to keep the batch small.
const largeClusterEndpointsThreshold = 1000

// Config is what the rules depend on besides the Services.
type Config struct {
	// ClusterCIDR is the pod range. Traffic to a ClusterIP from outside it
	// is masqueraded (upstream's --cluster-cidr local-traffic detector);
	// the zero Prefix turns that off, as upstream's no-op detector does.
	ClusterCIDR netip.Prefix
	// ServiceCIDR is the range ClusterIPs come from (the API server's
	// --service-cluster-ip-range). New connections to it that no
	// Service's rule DNATed are rejected: the address is free, or the
	// port is not one of its Service's. Without this they would follow
	// the node's default route off the node and time out. The zero
	// Prefix leaves them alone.
	ServiceCIDR netip.Prefix
	// MasqueradeAll masquerades all traffic to ClusterIPs.
	MasqueradeAll bool
	// MasqueradeBit is the fwmark bit that flags packets for SNAT (14).
	MasqueradeBit int
	// NodeIPs are the addresses NodePorts answer on. Empty, while the
	// Node's addresses are unknown, means every local non-loopback
	// address, as upstream's default.
	NodeIPs []netip.Addr
	// RandomFully adds --random-fully to MASQUERADE (iptables >= 1.6.2).
	RandomFully bool
	// TCPBeLiberal is the node's nf_conntrack_tcp_be_liberal. When it is
	// off, packets conntrack deems INVALID are dropped rather than
	// forwarded un-NATed (upstream's KUBE-FORWARD rule).
	TCPBeLiberal bool
}

// Result is one rendered batch and what the metrics report of it.
type Result struct {
	// Data is the iptables-restore input.
	Data []byte
	// FilterRules and NATRules count the rules written per table.
	FilterRules, NATRules int
	// DeletedChains are the stale service chains the batch removes.
	DeletedChains []string
	// ServicesWithoutEndpoints counts the service ports answered with
	// REJECT.
	ServicesWithoutEndpoints int
}

// MasqueradeMark is the mark value for a bit, formatted as upstream's.
func MasqueradeMark(bit int) string {
	return fmt.Sprintf("%#08x", 1<<uint(bit))
}

// Probability is the statistic match's probability for picking the first
// of n remaining endpoints. The kernel keeps it as a 31-bit fraction;
// this is that fraction as iptables-save prints it back ("%.11f"), so
// that the batch reads exactly as the rules do once loaded
// (1/3 -> 0.33333333349). Upstream writes 1/n with ten digits, which the
// kernel rounds to the same fraction.
func Probability(n int) string {
	fraction := math.Round(float64(1<<31) / float64(n))
	return fmt.Sprintf("%.11f", fraction/float64(1<<31))
}

// lines accumulates iptables-restore lines of one kind (chains or rules).
type lines struct {
	buf bytes.Buffer
	n   int
}

func (l *lines) write(words ...string) {
	for i, w := range words {
		if i > 0 {
			l.buf.WriteByte(' ')
		}
		l.buf.WriteString(w)
	}
	l.buf.WriteByte('\n')
	l.n++
}

func (l *lines) chain(name string) { l.write(":" + name + " - [0:0]") }

// renderer holds one render's buffers, in upstream's four parts.
type renderer struct {
	cfg                       Config
	mark                      string
	largeCluster              bool
	filterChains, filterRules lines
	natChains, natRules       lines
	activeNATChains           map[string]bool
}

// Render writes the restore batch for snap. existingNATChains are the nat
// table's current chains (from iptables-save): kube-proxy's service
// chains among them that no longer back a service are flushed and deleted.
func Render(cfg Config, snap servicemap.Snapshot, existingNATChains []string) Result {
	r := &renderer{cfg: cfg, mark: MasqueradeMark(cfg.MasqueradeBit), activeNATChains: map[string]bool{}}
	services := snap.SortedServicePorts()
	total := 0
	for _, svc := range services {
		total += len(snap.Endpoints[svc.Name])
	}
	r.largeCluster = total > largeClusterEndpointsThreshold

	for _, c := range []string{ServicesChain, ExternalServicesChain, ForwardChain, NodePortsChain, ProxyFirewallChain} {
		r.filterChains.chain(c)
	}
	for _, c := range []string{ServicesChain, NodePortsChain, PostroutingChain, MarkMasqChain} {
		r.natChains.chain(c)
	}
	r.writeMasqueradeRules()

	var result Result
	for _, svc := range services {
		if !r.writeService(svc, servicemap.Usable(snap.Endpoints[svc.Name])) {
			result.ServicesWithoutEndpoints++
		}
	}
	r.writeServiceCIDRRejects()
	result.DeletedChains = r.deleteStaleChains(existingNATChains)
	r.writeNodePortsJump()
	r.writeForwardRules()

	var data bytes.Buffer
	data.WriteString("*filter\n")
	data.Write(r.filterChains.buf.Bytes())
	data.Write(r.filterRules.buf.Bytes())
	data.WriteString("COMMIT\n*nat\n")
	data.Write(r.natChains.buf.Bytes())
	data.Write(r.natRules.buf.Bytes())
	data.WriteString("COMMIT\n")
	result.Data = data.Bytes()
	result.FilterRules = r.filterRules.n
	result.NATRules = r.natRules.n - len(result.DeletedChains)
	return result
}

// writeMasqueradeRules are KUBE-POSTROUTING and KUBE-MARK-MASQ: packets
// marked on the way in are masqueraded on the way out, and the mark is
// cleared so that a packet that re-traverses the stack is not masqueraded
// twice.
func (r *renderer) writeMasqueradeRules() {
	r.natRules.write("-A", PostroutingChain, "-m", "mark", "!", "--mark", r.mark+"/"+r.mark, "-j", "RETURN")
	r.natRules.write("-A", PostroutingChain, "-j", "MARK", "--xor-mark", r.mark)
	masq := []string{"-A", PostroutingChain, "-m", "comment", "--comment", `"kubernetes service traffic requiring SNAT"`, "-j", "MASQUERADE"}
	if r.cfg.RandomFully {
		masq = append(masq, "--random-fully")
	}
	r.natRules.write(masq...)
	r.natRules.write("-A", MarkMasqChain, "-j", "MARK", "--or-mark", r.mark)
}

// writeService writes one service port's rules and reports whether it has
// endpoints. Only the Cluster traffic policy exists here: every usable
// endpoint, local or not, backs every way into the service.
func (r *renderer) writeService(svc servicemap.ServicePort, endpoints []servicemap.Endpoint) bool {
	protocol := strings.ToLower(string(svc.Protocol()))
	name := svc.Name.String()
	svcChain := ServicePortChain(name, protocol)
	extChain := ExternalChain(name, protocol)
	clusterIP := svc.ClusterIP.String()
	port := strconv.Itoa(svc.Port)
	hasEndpoints := len(endpoints) > 0

	if hasEndpoints {
		r.natRules.write("-A", ServicesChain,
			"-m", "comment", "--comment", fmt.Sprintf(`"%s cluster IP"`, name),
			"-m", protocol, "-p", protocol, "-d", clusterIP, "--dport", port,
			"-j", svcChain)
	} else {
		r.filterRules.write(append([]string{"-A", ServicesChain,
			"-m", "comment", "--comment", fmt.Sprintf(`"%s has no endpoints"`, name),
			"-m", protocol, "-p", protocol, "-d", clusterIP, "--dport", port},
			reject()...)...)
	}

	if svc.NodePort != 0 {
		nodePort := strconv.Itoa(svc.NodePort)
		if hasEndpoints {
			r.natRules.write("-A", NodePortsChain,
				"-m", "comment", "--comment", name,
				"-m", protocol, "-p", protocol, "--dport", nodePort,
				"-j", extChain)
		} else {
			r.filterRules.write(append([]string{"-A", ExternalServicesChain,
				"-m", "comment", "--comment", fmt.Sprintf(`"%s has no endpoints"`, name),
				"-m", "addrtype", "--dst-type", "LOCAL",
				"-m", protocol, "-p", protocol, "--dport", nodePort},
				reject()...)...)
		}
	}
	if !hasEndpoints {
		return false
	}

	// Traffic to the ClusterIP from outside the pod range (the node
	// itself, other hosts routing the service range here) may leave the
	// node towards a remote endpoint: masquerade it so replies come back.
	match := []string{
		"-m", "comment", "--comment", fmt.Sprintf(`"%s cluster IP"`, name),
		"-m", protocol, "-p", protocol, "-d", clusterIP, "--dport", port,
	}
	switch {
	case r.cfg.MasqueradeAll:
		r.natRules.write(slices.Concat([]string{"-A", svcChain}, match, []string{"-j", MarkMasqChain})...)
	case r.cfg.ClusterCIDR.IsValid():
		r.natRules.write(slices.Concat([]string{"-A", svcChain}, match,
			[]string{"!", "-s", r.cfg.ClusterCIDR.String(), "-j", MarkMasqChain})...)
	}

	if svc.NodePort != 0 {
		// NodePort traffic may come from anywhere and go to any node's
		// endpoint: it is always masqueraded (externalTrafficPolicy
		// Cluster).
		r.natChains.chain(extChain)
		r.activeNATChains[extChain] = true
		r.natRules.write("-A", extChain,
			"-m", "comment", "--comment", fmt.Sprintf(`"masquerade traffic for %s external destinations"`, name),
			"-j", MarkMasqChain)
		r.natRules.write("-A", extChain, "-j", svcChain)
	}

	r.natChains.chain(svcChain)
	r.activeNATChains[svcChain] = true
	r.writeServiceToEndpointRules(svc, name, protocol, svcChain, endpoints)

	for _, ep := range endpoints {
		sepChain := EndpointChain(name, protocol, ep.String())
		r.natChains.chain(sepChain)
		r.activeNATChains[sepChain] = true
		head := r.withComment([]string{"-A", sepChain}, name)
		// A pod reaching itself through its service is DNATed back to its
		// own address; without SNAT the reply would skip the reverse NAT.
		r.natRules.write(slices.Concat(head, []string{"-s", ep.IP.String(), "-j", MarkMasqChain})...)
		if svc.StickyMaxAgeSeconds > 0 {
			head = append(head, "-m", "recent", "--name", sepChain, "--set")
		}
		r.natRules.write(slices.Concat(head, []string{"-m", protocol, "-p", protocol, "-j", "DNAT", "--to-destination", ep.String()})...)
	}
	return true
}

// writeServiceToEndpointRules balances over the endpoints: with session
// affinity, a client seen recently goes back to its endpoint; otherwise
// endpoint i of n is picked with probability 1/(n-i), which is uniform.
func (r *renderer) writeServiceToEndpointRules(svc servicemap.ServicePort, name, protocol, svcChain string, endpoints []servicemap.Endpoint) {
	if svc.StickyMaxAgeSeconds > 0 {
		for _, ep := range endpoints {
			sepChain := EndpointChain(name, protocol, ep.String())
			args := r.withComment([]string{"-A", svcChain}, fmt.Sprintf(`"%s -> %s"`, name, ep.String()))
			r.natRules.write(append(args,
				"-m", "recent", "--name", sepChain,
				"--rcheck", "--seconds", strconv.Itoa(svc.StickyMaxAgeSeconds), "--reap",
				"-j", sepChain)...)
		}
	}
	n := len(endpoints)
	for i, ep := range endpoints {
		sepChain := EndpointChain(name, protocol, ep.String())
		args := r.withComment([]string{"-A", svcChain}, fmt.Sprintf(`"%s -> %s"`, name, ep.String()))
		if i < n-1 {
			args = append(args, "-m", "statistic", "--mode", "random", "--probability", Probability(n-i))
		}
		r.natRules.write(append(args, "-j", sepChain)...)
	}
}

// withComment adds a comment unless the cluster is large enough for
// upstream to leave per-endpoint comments out.
func (r *renderer) withComment(args []string, comment string) []string {
	if r.largeCluster {
		return args
	}
	return append(args, "-m", "comment", "--comment", comment)
}

// writeServiceCIDRRejects ends the filter table's KUBE-SERVICES, which
// FORWARD (pods) and OUTPUT (the node, hostNetwork pods) send NEW
// connections to, with upstream's nftables "cluster-ips-check": a
// connection still addressed to the service range there was not DNATed
// (nat runs before filter), so no Service port takes it. Upstream
// rejects invalid ports of allocated ClusterIPs and drops unallocated
// ones; here both are rejected, so that a client of a deleted Service
// sees "connection refused" at once, as for a Service without endpoints.
// TCP gets a reset: REJECT's ICMP errors are rate-limited per
// destination (icmp_ratelimit), a reset is not, so a client retrying fast
// never times out. Anything else gets icmp-port-unreachable.
func (r *renderer) writeServiceCIDRRejects() {
	if !r.cfg.ServiceCIDR.IsValid() {
		return
	}
	head := []string{"-A", ServicesChain,
		"-m", "comment", "--comment", `"reject traffic to unallocated ClusterIPs and invalid ports of ClusterIPs"`}
	// Masked, as iptables-save prints it back.
	cidr := r.cfg.ServiceCIDR.Masked().String()
	r.filterRules.write(slices.Concat(head, []string{"-p", "tcp", "-d", cidr, "-j", "REJECT", "--reject-with", "tcp-reset"})...)
	r.filterRules.write(slices.Concat(head, []string{"-d", cidr}, reject())...)
}

// deleteStaleChains flushes and deletes kube-proxy's service chains that
// exist but back nothing any more. Chains that are not kube-proxy's are
// never touched.
func (r *renderer) deleteStaleChains(existing []string) []string {
	var stale []string
	for _, c := range existing {
		if IsServiceChain(c) && !r.activeNATChains[c] {
			stale = append(stale, c)
		}
	}
	slices.Sort(stale)
	stale = slices.Compact(stale)
	for _, c := range stale {
		r.natChains.chain(c)
		r.natRules.write("-X", c)
	}
	return stale
}

// writeNodePortsJump sends traffic for the node's addresses to
// KUBE-NODEPORTS; it must stay the last rule of KUBE-SERVICES so that
// ClusterIPs match first.
func (r *renderer) writeNodePortsJump() {
	comment := `"kubernetes service nodeports; NOTE: this must be the last rule in this chain"`
	if len(r.cfg.NodeIPs) == 0 {
		r.natRules.write("-A", ServicesChain, "-m", "comment", "--comment", comment,
			"-m", "addrtype", "--dst-type", "LOCAL", "!", "-d", "127.0.0.0/8", "-j", NodePortsChain)
		return
	}
	for _, ip := range r.cfg.NodeIPs {
		r.natRules.write("-A", ServicesChain, "-m", "comment", "--comment", comment, "-d", ip.String(), "-j", NodePortsChain)
	}
}

func (r *renderer) writeForwardRules() {
	if !r.cfg.TCPBeLiberal {
		r.filterRules.write("-A", ForwardChain, "-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP")
	}
	// Forward what was marked for masquerade even when FORWARD's policy
	// is DROP (NodePort traffic to another node's endpoint).
	r.filterRules.write("-A", ForwardChain, "-m", "comment", "--comment", `"kubernetes forwarding rules"`,
		"-m", "mark", "--mark", r.mark+"/"+r.mark, "-j", "ACCEPT")
	r.filterRules.write("-A", ForwardChain, "-m", "comment", "--comment", `"kubernetes forwarding conntrack rule"`,
		"-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
}

// reject is the target for services without endpoints: the client gets
// "connection refused" at once rather than a timeout. icmp-port-unreachable
// is REJECT's default, spelled out as iptables-save prints it.
func reject() []string {
	return []string{"-j", "REJECT", "--reject-with", "icmp-port-unreachable"}
}
