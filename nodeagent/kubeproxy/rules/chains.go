package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
)

// The top-level chains, upstream's names.
const (
	ServicesChain         = "KUBE-SERVICES"
	ExternalServicesChain = "KUBE-EXTERNAL-SERVICES"
	NodePortsChain        = "KUBE-NODEPORTS"
	PostroutingChain      = "KUBE-POSTROUTING"
	MarkMasqChain         = "KUBE-MARK-MASQ"
	ForwardChain          = "KUBE-FORWARD"
	ProxyFirewallChain    = "KUBE-PROXY-FIREWALL"
	// KubeletFirewallChain is the kubelet's anti-martian chain; upstream's
	// kube-proxy creates it too (and never deletes it).
	KubeletFirewallChain = "KUBE-FIREWALL"
)

// Prefixes of the per-service and per-endpoint chains.
const (
	servicePortChainPrefix  = "KUBE-SVC-"
	localPolicyChainPrefix  = "KUBE-SVL-"
	firewallChainPrefix     = "KUBE-FW-"
	externalChainPrefix     = "KUBE-EXT-"
	endpointChainNamePrefix = "KUBE-SEP-"
)

// Tables kube-proxy writes.
const (
	TableFilter = "filter"
	TableNAT    = "nat"
)

// portProtoHash is upstream's: sha256 of the service port name and the
// lower-case protocol, base32, 16 characters (chain names must stay
// within 28 characters).
func portProtoHash(servicePortName, protocol string) string {
	hash := sha256.Sum256([]byte(servicePortName + protocol))
	return base32.StdEncoding.EncodeToString(hash[:])[:16]
}

// ServicePortChain is the KUBE-SVC-XXXX chain that balances a service port
// over its endpoints. protocol is lower case ("tcp").
func ServicePortChain(servicePortName, protocol string) string {
	return servicePortChainPrefix + portProtoHash(servicePortName, protocol)
}

// ExternalChain is the KUBE-EXT-XXXX chain that NodePort traffic enters.
func ExternalChain(servicePortName, protocol string) string {
	return externalChainPrefix + portProtoHash(servicePortName, protocol)
}

// EndpointChain is the KUBE-SEP-XXXX chain that DNATs to one endpoint
// ("ip:port") of a service port.
func EndpointChain(servicePortName, protocol, endpoint string) string {
	hash := sha256.Sum256([]byte(servicePortName + protocol + endpoint))
	return endpointChainNamePrefix + base32.StdEncoding.EncodeToString(hash[:])[:16]
}

// IsServiceChain says whether a chain is one of the per-service or
// per-endpoint chains kube-proxy owns, which it deletes once unused.
func IsServiceChain(chain string) bool {
	for _, p := range []string{servicePortChainPrefix, localPolicyChainPrefix, endpointChainNamePrefix, firewallChainPrefix, externalChainPrefix} {
		if strings.HasPrefix(chain, p) {
			return true
		}
	}
	return false
}

// Jump is a rule in a built-in chain that sends packets into one of
// kube-proxy's chains. Those rules are not part of the sync's batch, which
// rewrites the chains it declares: a built-in chain is shared with other
// programs. They are checked against iptables-save and the missing ones
// inserted first in their chain (RenderJumps).
type Jump struct {
	Table   string
	From    string // the built-in chain
	To      string // kube-proxy's chain
	Comment string
	Extra   []string // matches before the comment
}

// RenderJumps is the iptables-restore batch, for --noflush, that inserts
// jumps first in their built-in chains, in order (so the last is first,
// as with one `iptables -I` each). It declares the target chains for which
// missing says so, and no other: a declared chain is flushed. The
// built-in chains are not declared, so their other rules stay. One batch
// runs one program where inserting the jumps one by one ran about thirty,
// on every node while the cluster starts.
func RenderJumps(jumps []Jump, missing func(table, chain string) bool) []byte {
	var out bytes.Buffer
	for _, table := range []string{TableFilter, TableNAT} {
		var chains, inserts lines
		declared := map[string]bool{}
		for _, j := range jumps {
			if j.Table != table {
				continue
			}
			if !declared[j.To] && missing(table, j.To) {
				chains.chain(j.To)
				declared[j.To] = true
			}
			args := append([]string(nil), j.Extra...)
			if j.Comment != "" {
				args = append(args, "-m", "comment", "--comment", `"`+j.Comment+`"`)
			}
			inserts.write(append(append([]string{"-I", j.From}, args...), "-j", j.To)...)
		}
		if inserts.n == 0 {
			continue
		}
		fmt.Fprintf(&out, "*%s\n", table)
		out.Write(chains.buf.Bytes())
		out.Write(inserts.buf.Bytes())
		out.WriteString("COMMIT\n")
	}
	return out.Bytes()
}

// Jumps are upstream's iptablesJumpChains and iptablesKubeletJumpChains,
// in upstream's order.
func Jumps() []Jump {
	newConn := []string{"-m", "conntrack", "--ctstate", "NEW"}
	return []Jump{
		{TableFilter, "INPUT", ExternalServicesChain, "kubernetes externally-visible service portals", newConn},
		{TableFilter, "FORWARD", ExternalServicesChain, "kubernetes externally-visible service portals", newConn},
		{TableFilter, "INPUT", NodePortsChain, "kubernetes health check service ports", nil},
		{TableFilter, "FORWARD", ServicesChain, "kubernetes service portals", newConn},
		{TableFilter, "OUTPUT", ServicesChain, "kubernetes service portals", newConn},
		{TableFilter, "FORWARD", ForwardChain, "kubernetes forwarding rules", nil},
		{TableFilter, "INPUT", ProxyFirewallChain, "kubernetes load balancer firewall", newConn},
		{TableFilter, "OUTPUT", ProxyFirewallChain, "kubernetes load balancer firewall", newConn},
		{TableFilter, "FORWARD", ProxyFirewallChain, "kubernetes load balancer firewall", newConn},
		{TableNAT, "OUTPUT", ServicesChain, "kubernetes service portals", nil},
		{TableNAT, "PREROUTING", ServicesChain, "kubernetes service portals", nil},
		{TableNAT, "POSTROUTING", PostroutingChain, "kubernetes postrouting rules", nil},
		{TableFilter, "INPUT", KubeletFirewallChain, "", nil},
		{TableFilter, "OUTPUT", KubeletFirewallChain, "", nil},
	}
}
