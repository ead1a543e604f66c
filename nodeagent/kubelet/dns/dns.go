package dns

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The limits the API server validates pod.spec.dnsConfig against, applied
// again to the merged result, which no resolver handles beyond them.
const (
	MaxNameservers     = 3
	MaxSearchPaths     = 32
	MaxSearchLineChars = 2048
)

// DefaultHostResolvConf is the node's resolver configuration.
const DefaultHostResolvConf = "/etc/resolv.conf"

// clusterOptions are the options of ClusterFirst pods: five dots before a
// name is tried as absolute, so that "svc.ns" and "svc.ns.svc" go through
// the cluster's search domains first.
var clusterOptions = []string{"ndots:5"}

// Config is the node's DNS setup.
type Config struct {
	// ClusterDNS are the cluster DNS service's addresses (10.96.0.10). When
	// empty, ClusterFirst pods fall back to the Default policy.
	ClusterDNS []string
	// ClusterDomain is the cluster's DNS domain (cluster.local). When empty,
	// ClusterFirst pods get no cluster search domains.
	ClusterDomain string
	// HostResolvConf is the resolv.conf that the Default policy copies and
	// whose search domains ClusterFirst appends. When empty, Default pods
	// get nameserver 127.0.0.1 and search ".", as upstream does for an
	// empty --resolv-conf.
	HostResolvConf string
	// Events, when set, receives upstream's warnings: DNSConfigForming on
	// the pod when limits cut the configuration, MissingClusterDNS on the
	// pod and on NodeRef when a ClusterFirst pod has to fall back.
	Events  EventRecorder
	NodeRef *corev1.ObjectReference
}

// EventRecorder is the part of client-go's record.EventRecorder used here.
type EventRecorder interface {
	Eventf(object runtime.Object, eventtype, reason, messageFmt string, args ...any)
}

type dnsType int

const (
	dnsCluster dnsType = iota
	dnsHost
	dnsNone
)

// podDNSType maps the pod's dnsPolicy to where its configuration starts
// from. ClusterFirst on the host network is Default: before
// ClusterFirstWithHostNet existed, host-network pods could not reach the
// cluster DNS. An empty policy is the API server's default, ClusterFirst.
func podDNSType(pod *corev1.Pod) dnsType {
	switch pod.Spec.DNSPolicy {
	case corev1.DNSNone:
		return dnsNone
	case corev1.DNSClusterFirstWithHostNet:
		return dnsCluster
	case corev1.DNSDefault:
		return dnsHost
	case corev1.DNSClusterFirst, "":
		if pod.Spec.HostNetwork {
			return dnsHost
		}
		return dnsCluster
	}
	// Validation rejects other policies; upstream treats them as
	// ClusterFirst.
	return dnsCluster
}

// PodDNS returns the DNS configuration of the pod's sandbox.
//
// The policy gives the base: ClusterFirst (ClusterFirstWithHostNet, or
// ClusterFirst off the host network) uses the cluster DNS servers, the
// search domains <ns>.svc.<domain>, svc.<domain> and <domain> followed by
// the host's, and ndots:5; Default copies the host's resolv.conf; None
// starts empty. pod.spec.dnsConfig is then merged in: nameservers and
// searches appended without duplicates, options merged by name with the
// pod's values winning. Last, the result is cut to MaxNameservers, and the
// search list to MaxSearchPaths domains of at most 253 characters and
// MaxSearchLineChars in all.
func PodDNS(pod *corev1.Pod, cfg Config) (*runtimeapi.DNSConfig, error) {
	conf := &runtimeapi.DNSConfig{}
	if cfg.HostResolvConf != "" {
		host, err := readResolvConf(cfg.HostResolvConf)
		if err != nil {
			return nil, fmt.Errorf("read host DNS configuration %s: %w", cfg.HostResolvConf, err)
		}
		conf = &runtimeapi.DNSConfig{Servers: host.nameservers, Searches: host.searches, Options: host.options}
	}

	switch podDNSType(pod) {
	case dnsNone:
		conf = &runtimeapi.DNSConfig{}
	case dnsCluster:
		if len(cfg.ClusterDNS) > 0 {
			// The cluster DNS server is the only nameserver: it forwards
			// what it cannot answer to the servers it is configured with.
			conf.Servers = append([]string(nil), cfg.ClusterDNS...)
			conf.Searches = clusterSearches(pod.Namespace, cfg.ClusterDomain, conf.Searches)
			conf.Options = append([]string(nil), clusterOptions...)
			break
		}
		msg := fmt.Sprintf("kubelet does not have ClusterDNS IP configured and cannot create Pod using %q policy. Falling back to %q policy.", corev1.DNSClusterFirst, corev1.DNSDefault)
		cfg.event(cfg.NodeRef, "MissingClusterDNS", "%s", msg)
		cfg.event(pod, "MissingClusterDNS", "pod: %q. %s", podDesc(pod), msg)
		hostDefaults(conf, cfg)
	case dnsHost:
		hostDefaults(conf, cfg)
	}

	if pod.Spec.DNSConfig != nil {
		conf.Servers = omitDuplicates(append(conf.Servers, pod.Spec.DNSConfig.Nameservers...))
		conf.Searches = omitDuplicates(append(conf.Searches, pod.Spec.DNSConfig.Searches...))
		conf.Options = mergeOptions(conf.Options, pod.Spec.DNSConfig.Options)
	}

	conf.Servers = cfg.fitNameservers(pod, conf.Servers)
	conf.Searches = cfg.fitSearches(pod, conf.Searches)
	return conf, nil
}

// hostDefaults stands in for a host resolv.conf when there is none: the
// resolver then asks the local machine, and "." searches nothing.
func hostDefaults(conf *runtimeapi.DNSConfig, cfg Config) {
	if cfg.HostResolvConf != "" {
		return
	}
	conf.Servers = []string{"127.0.0.1"}
	conf.Searches = []string{"."}
}

// clusterSearches puts the cluster's search domains before the host's.
func clusterSearches(namespace, domain string, hostSearches []string) []string {
	if domain == "" {
		return hostSearches
	}
	cluster := []string{namespace + ".svc." + domain, "svc." + domain, domain}
	return omitDuplicates(append(cluster, hostSearches...))
}

func omitDuplicates(in []string) []string {
	seen := make(map[string]bool, len(in))
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergeOptions merges the pod's options into the base ones by name, the
// pod's value replacing the base's in its place and new names following.
func mergeOptions(base []string, podOptions []corev1.PodDNSConfigOption) []string {
	var names []string
	values := map[string]string{}
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			names = append(names, name)
		}
		values[name] = value
	}
	for _, op := range base {
		name, value, _ := strings.Cut(op, ":")
		set(name, value)
	}
	for _, op := range podOptions {
		value := ""
		if op.Value != nil {
			value = *op.Value
		}
		set(op.Name, value)
	}
	out := []string{}
	for _, name := range names {
		if values[name] == "" {
			out = append(out, name)
		} else {
			out = append(out, name+":"+values[name])
		}
	}
	return out
}

func (cfg Config) fitNameservers(pod *corev1.Pod, servers []string) []string {
	if len(servers) <= MaxNameservers {
		return servers
	}
	servers = servers[:MaxNameservers]
	cfg.event(pod, "DNSConfigForming", "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: %s", strings.Join(servers, " "))
	return servers
}

func (cfg Config) fitSearches(pod *corev1.Pod, searches []string) []string {
	exceeded := false
	if len(searches) > MaxSearchPaths {
		searches = searches[:MaxSearchPaths]
		exceeded = true
	}
	// Some resolvers (glibc 2.28) abort on a search path longer than a DNS
	// name can be.
	kept := make([]string, 0, len(searches))
	for _, s := range searches {
		if len(s) > validation.DNS1123SubdomainMaxLength {
			exceeded = true
			continue
		}
		kept = append(kept, s)
	}
	searches = kept
	if lineLen := len(strings.Join(searches, " ")); lineLen > MaxSearchLineChars {
		// Drop domains from the end until the line fits.
		cut, cutLen := 0, 0
		for i := len(searches) - 1; i >= 0; i-- {
			cutLen += len(searches[i]) + 1
			cut++
			if lineLen-cutLen <= MaxSearchLineChars {
				break
			}
		}
		searches = searches[:len(searches)-cut]
		exceeded = true
	}
	if exceeded {
		cfg.event(pod, "DNSConfigForming", "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: %s", strings.Join(searches, " "))
	}
	return searches
}

func (cfg Config) event(obj runtime.Object, reason, format string, args ...any) {
	if cfg.Events == nil {
		return
	}
	if ref, ok := obj.(*corev1.ObjectReference); ok && ref == nil {
		return
	}
	cfg.Events.Eventf(obj, corev1.EventTypeWarning, reason, format, args...)
}

// podDesc names a pod in messages as the kubelet does: name_namespace(uid).
func podDesc(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
