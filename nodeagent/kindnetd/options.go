package kindnetd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Options configure kindnetd. In the kindnet DaemonSet they come from the
// environment (see OptionsFromEnv), as kind's kindnetd reads them.
type Options struct {
	// NodeName is this node's Node (NODE_NAME, from spec.nodeName).
	NodeName string
	// HostIP is this node's IP (HOST_IP, from status.hostIP). A Node whose
	// InternalIP is HostIP is this node too, as kind decides it.
	HostIP string
	// PodIP is the pod's IP (POD_IP, from status.podIP); it must equal
	// HostIP, since kindnetd only works in the host's network namespace.
	PodIP string
	// PodSubnet is the cluster's pod range (POD_SUBNET), comma-separated
	// for more than one family. Routes inside it that go through a
	// gateway are kindnetd's own: it removes those no Node asks for.
	PodSubnet string
	// ServiceSubnet is the Service range (SERVICE_SUBNET); traffic to it,
	// as to the pod range, is never masqueraded. Default 10.96.0.0/16.
	ServiceSubnet string
	// ControlPlaneEndpoint (CONTROL_PLANE_ENDPOINT, host:port) is where
	// the API server is reached. Empty falls back to the kubernetes
	// Service (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT).
	ControlPlaneEndpoint string
	// KubernetesService is the kubernetes Service's host:port, as the
	// kubelet puts it in every container's environment.
	KubernetesService string
	// ServiceAccountDir holds the token and CA the kubelet mounts.
	ServiceAccountDir string
	// CNIConfigPath is the conflist kindnetd writes.
	CNIConfigPath string
	// RouteSyncPeriod is how often routes and the CNI configuration are
	// reconciled in full, besides on every change to a Node.
	RouteSyncPeriod time.Duration
	// MasqSyncPeriod is how often the masquerade rules are re-applied.
	MasqSyncPeriod time.Duration

	Log *slog.Logger
}

// Defaults are kind's settings.
const (
	DefaultServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"
	DefaultCNIConfigPath     = "/etc/cni/net.d/10-kindnet.conflist"
	DefaultServiceSubnet     = "10.96.0.0/16"
	DefaultRouteSyncPeriod   = 10 * time.Second
	DefaultMasqSyncPeriod    = 60 * time.Second
)

// OptionsFromEnv reads the Options from the environment the kindnet
// DaemonSet gives its container; getenv is os.Getenv outside tests.
func OptionsFromEnv(getenv func(string) string) Options {
	o := Options{
		NodeName:             getenv("NODE_NAME"),
		HostIP:               getenv("HOST_IP"),
		PodIP:                getenv("POD_IP"),
		PodSubnet:            getenv("POD_SUBNET"),
		ServiceSubnet:        getenv("SERVICE_SUBNET"),
		ControlPlaneEndpoint: getenv("CONTROL_PLANE_ENDPOINT"),
	}
	if host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT"); host != "" && port != "" {
		o.KubernetesService = net.JoinHostPort(host, port)
	}
	return o
}

// settings are Options parsed and defaulted.
type settings struct {
	nodeName      string
	hostIP        netip.Addr
	podSubnets    []netip.Prefix
	serviceSubnet []netip.Prefix
	cniConfigPath string
	routeSync     time.Duration
	masqSync      time.Duration
	log           *slog.Logger
}

func (o Options) settings() (settings, error) {
	s := settings{
		nodeName:      o.NodeName,
		cniConfigPath: o.CNIConfigPath,
		routeSync:     o.RouteSyncPeriod,
		masqSync:      o.MasqSyncPeriod,
		log:           o.Log,
	}
	if s.cniConfigPath == "" {
		s.cniConfigPath = DefaultCNIConfigPath
	}
	if s.routeSync <= 0 {
		s.routeSync = DefaultRouteSyncPeriod
	}
	if s.masqSync <= 0 {
		s.masqSync = DefaultMasqSyncPeriod
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	if o.HostIP == "" {
		return settings{}, errors.New("HOST_IP is empty: set it from the downward API (status.hostIP)")
	}
	var err error
	if s.hostIP, err = netip.ParseAddr(o.HostIP); err != nil {
		return settings{}, fmt.Errorf("HOST_IP %q: %w", o.HostIP, err)
	}
	if o.PodIP != "" && o.PodIP != o.HostIP {
		return settings{}, fmt.Errorf("hostIP(= %q) != podIP(= %q) but must be running with host network", o.HostIP, o.PodIP)
	}
	if o.PodSubnet == "" {
		return settings{}, errors.New("POD_SUBNET is empty: set it to the cluster's pod range")
	}
	if s.podSubnets, err = parsePrefixes(o.PodSubnet); err != nil {
		return settings{}, fmt.Errorf("POD_SUBNET: %w", err)
	}
	serviceSubnet := o.ServiceSubnet
	if serviceSubnet == "" {
		serviceSubnet = DefaultServiceSubnet
	}
	if s.serviceSubnet, err = parsePrefixes(serviceSubnet); err != nil {
		return settings{}, fmt.Errorf("SERVICE_SUBNET: %w", err)
	}
	return s, nil
}

// parsePrefixes parses a comma-separated list of CIDRs, masking each to
// its network.
func parsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, field := range strings.Split(list, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(field))
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
