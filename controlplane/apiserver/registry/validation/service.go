package validation

import (
	"fmt"
	"net"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

var (
	supportedSessionAffinity = []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}
	supportedServiceTypes    = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort}
	supportedIPFamilies      = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	supportedIPFamilyPolicy  = []corev1.IPFamilyPolicy{corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack}
	trafficPolicies          = []corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}
	internalTrafficPolicies  = []corev1.ServiceInternalTrafficPolicy{corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}
	trafficDistributions     = []string{corev1.ServiceTrafficDistributionPreferClose, corev1.ServiceTrafficDistributionPreferSameZone, corev1.ServiceTrafficDistributionPreferSameNode}
)

// Upstream's service type and defaults.
const (
	topologyModeAnnotation        = corev1.AnnotationTopologyMode
	topologyAwareHintsAnnotation  = corev1.DeprecatedAnnotationTopologyAwareHints
	loadBalancerSourceRangesAnnot = corev1.AnnotationLoadBalancerSourceRangesKey
	maxClientIPAffinitySeconds    = 86400
)

// serviceClusterIPs returns the cluster IPs as upstream's strategy leaves
// them before validation: clusterIPs follows a lone clusterIP.
func serviceClusterIPs(svc *corev1.Service) []string {
	if len(svc.Spec.ClusterIPs) == 0 && svc.Spec.ClusterIP != "" {
		return []string{svc.Spec.ClusterIP}
	}
	return svc.Spec.ClusterIPs
}

func isHeadless(ips []string) bool { return len(ips) == 1 && ips[0] == corev1.ClusterIPNone }

// serviceType is the type after defaulting.
func serviceType(svc *corev1.Service) corev1.ServiceType {
	if svc.Spec.Type == "" {
		return corev1.ServiceTypeClusterIP
	}
	return svc.Spec.Type
}

func validateService(svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	ms := root("metadata")
	ns := ms.child("name")
	// Service names become DNS labels; the server only checks them as
	// subdomains.
	errs = validateName(errs, svc.Name, nameIsDNSLabel, &ns)

	hints, hintsSet := svc.Annotations[topologyAwareHintsAnnotation]
	mode, modeSet := svc.Annotations[topologyModeAnnotation]
	if modeSet && hintsSet && mode != hints {
		errs = append(errs, field.Invalid(ms.path("annotations").Key(topologyModeAnnotation), mode,
			fmt.Sprintf("must match annotations[%s] when both are specified", topologyAwareHintsAnnotation)))
	}

	sp := root("spec")
	spec := &svc.Spec
	ips := serviceClusterIPs(svc)
	headless := isHeadless(ips)
	typ := serviceType(svc)
	if len(spec.Ports) == 0 && !headless && typ != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(sp.path("ports"), ""))
	}
	switch typ {
	case corev1.ServiceTypeLoadBalancer:
		if headless {
			errs = append(errs, field.Invalid(sp.path("clusterIPs").Index(0), ips[0], "may not be set to 'None' for LoadBalancer services"))
		}
	case corev1.ServiceTypeNodePort:
		if headless {
			errs = append(errs, field.Invalid(sp.path("clusterIPs").Index(0), ips[0], "may not be set to 'None' for NodePort services"))
		}
	case corev1.ServiceTypeExternalName:
		if len(ips) > 0 {
			errs = append(errs, field.Forbidden(sp.path("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(sp.path("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(sp.path("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		// A trailing dot marks the name as fully qualified.
		en := sp.child("externalName")
		if cname := strings.TrimSuffix(spec.ExternalName, "."); len(cname) > 0 {
			errs = validateDNSSubdomain(errs, cname, &en)
		} else {
			errs = append(errs, field.Required(en.path(), ""))
		}
	}

	ps := sp.child("ports")
	for i := range spec.Ports {
		pi := ps.index(i)
		errs = validateServicePort(errs, spec.Ports, i, &pi)
	}
	if spec.Selector != nil {
		ss := sp.child("selector")
		errs = validateLabels(errs, spec.Selector, &ss)
	}
	switch spec.SessionAffinity {
	case "", corev1.ServiceAffinityNone:
		if spec.SessionAffinityConfig != nil {
			errs = append(errs, field.Forbidden(sp.path("sessionAffinityConfig"), fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone)))
		}
	case corev1.ServiceAffinityClientIP:
		errs = validateClientIPAffinityConfig(errs, spec.SessionAffinityConfig, &sp)
	default:
		errs = append(errs, field.NotSupported(sp.path("sessionAffinity"), spec.SessionAffinity, supportedSessionAffinity))
	}

	errs = validateServiceClusterIPs(errs, svc, ips, &sp)

	eis := sp.child("externalIPs")
	for i, ip := range spec.ExternalIPs {
		ei := eis.index(i)
		if ipErrs := validation.IsValidIPForLegacyField(ei.path(), ip, true, nil); len(ipErrs) != 0 {
			errs = append(errs, ipErrs...)
		} else {
			errs = validateNonSpecialIP(errs, ip, &ei)
		}
	}
	if !contains(supportedServiceTypes, typ) {
		errs = append(errs, field.NotSupported(sp.path("type"), spec.Type, supportedServiceTypes))
	}
	if typ == corev1.ServiceTypeClusterIP {
		for i := range spec.Ports {
			if spec.Ports[i].NodePort != 0 {
				errs = append(errs, field.Forbidden(ps.path().Index(i).Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			}
		}
	}
	// Node ports and ports are unique per protocol.
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.NodePort == 0 {
			continue
		}
		for j := 0; j < i; j++ {
			q := &spec.Ports[j]
			if q.NodePort == p.NodePort && protocolOrTCP(q.Protocol) == protocolOrTCP(p.Protocol) {
				errs = append(errs, field.Duplicate(ps.path().Index(i).Child("nodePort"), p.NodePort))
				break
			}
		}
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		for j := 0; j < i; j++ {
			q := &spec.Ports[j]
			if q.Port == p.Port && protocolOrTCP(q.Protocol) == protocolOrTCP(p.Protocol) {
				errs = append(errs, field.Duplicate(ps.path().Index(i), internalServicePort{Protocol: protocolOrTCP(p.Protocol), Port: p.Port}))
				break
			}
		}
	}

	if len(spec.LoadBalancerSourceRanges) > 0 {
		// Upstream spells this path in Go's case.
		rs := sp.child("LoadBalancerSourceRanges")
		if typ != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(rs.path(), "may only be used when `type` is 'LoadBalancer'"))
		}
		for i, v := range spec.LoadBalancerSourceRanges {
			// Historically these may be padded with spaces.
			errs = append(errs, validation.IsValidCIDRForLegacyField(rs.path().Index(i), strings.TrimSpace(v), true, nil)...)
		}
	} else if v, ok := svc.Annotations[loadBalancerSourceRangesAnnot]; ok {
		p := ms.path("annotations").Key(loadBalancerSourceRangesAnnot)
		if typ != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(p, "may only be used when `type` is 'LoadBalancer'"))
		}
		if v = strings.TrimSpace(v); v != "" {
			for _, cidr := range strings.Split(v, ",") {
				errs = append(errs, validation.IsValidCIDRForLegacyField(p, strings.TrimSpace(cidr), true, nil)...)
			}
		}
	}
	if spec.AllocateLoadBalancerNodePorts != nil && typ != corev1.ServiceTypeLoadBalancer {
		errs = append(errs, field.Forbidden(sp.path("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if spec.LoadBalancerClass != nil {
		if typ == corev1.ServiceTypeLoadBalancer {
			lc := sp.child("loadBalancerClass")
			errs = validateQualifiedName(errs, *spec.LoadBalancerClass, &lc)
		} else {
			errs = append(errs, field.Forbidden(sp.path("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
		}
	}
	errs = validateServiceTrafficPolicies(errs, svc, typ, &sp)
	return errs
}

// internalServicePort renders a duplicate port as upstream does: its
// internal type, which has no JSON names.
type internalServicePort struct {
	Name        string
	Protocol    corev1.Protocol
	AppProtocol *string
	Port        int32
	TargetPort  intstr.IntOrString
	NodePort    int32
}

func validateServicePort(errs field.ErrorList, ports []corev1.ServicePort, i int, s *step) field.ErrorList {
	p := &ports[i]
	ns := s.child("name")
	if len(ports) > 1 && len(p.Name) == 0 {
		errs = append(errs, field.Required(ns.path(), ""))
	} else if len(p.Name) != 0 {
		errs = validateDNSLabel(errs, p.Name, &ns)
		for j := 0; j < i; j++ {
			if ports[j].Name == p.Name {
				errs = append(errs, field.Duplicate(ns.path(), p.Name))
				break
			}
		}
	}
	pp := s.child("port")
	errs = validatePortNum(errs, int(p.Port), &pp)
	if p.Protocol != "" && !contains(supportedPortProtocols, p.Protocol) {
		errs = append(errs, field.NotSupported(s.path("protocol"), p.Protocol, supportedPortProtocols))
	}
	// An unset target port is defaulted to the port.
	if p.TargetPort != (intstr.IntOrString{}) {
		ts := s.child("targetPort")
		errs = validatePortNumOrName(errs, p.TargetPort, &ts)
	}
	if p.AppProtocol != nil {
		as := s.child("appProtocol")
		errs = validateQualifiedName(errs, *p.AppProtocol, &as)
	}
	return errs
}

func validateClientIPAffinityConfig(errs field.ErrorList, c *corev1.SessionAffinityConfig, sp *step) field.ErrorList {
	msg := fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP)
	cs := sp.child("sessionAffinityConfig")
	switch {
	case c == nil:
		// Upstream's defaulting fills the whole config for ClientIP.
	case c.ClientIP == nil:
		errs = append(errs, field.Required(cs.path("clientIP"), msg))
	case c.ClientIP.TimeoutSeconds == nil:
		errs = append(errs, field.Required(cs.path("clientIP", "timeoutSeconds"), msg))
	case *c.ClientIP.TimeoutSeconds <= 0 || *c.ClientIP.TimeoutSeconds > maxClientIPAffinitySeconds:
		errs = append(errs, field.Invalid(cs.path("clientIP", "timeoutSeconds"), c.ClientIP.TimeoutSeconds,
			fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds)))
	}
	return errs
}

// validateServiceClusterIPs checks clusterIPs, ipFamilies and
// ipFamilyPolicy together.
func validateServiceClusterIPs(errs field.ErrorList, svc *corev1.Service, ips []string, sp *step) field.ErrorList {
	spec := &svc.Spec
	if serviceType(svc) == corev1.ServiceTypeExternalName {
		return errs
	}
	cs := sp.child("clusterIPs")
	if spec.ClusterIP != "" && ips[0] != spec.ClusterIP {
		errs = append(errs, field.Invalid(cs.path(), ips, "first value must match `clusterIP`"))
	} else if spec.ClusterIP == "" && len(ips) != 0 {
		errs = append(errs, field.Invalid(cs.path(), ips, "must be empty when `clusterIP` is not specified"))
	}
	fs := sp.child("ipFamilies")
	for i, f := range spec.IPFamilies {
		if !contains(supportedIPFamilies, f) {
			errs = append(errs, field.NotSupported(fs.path().Index(i), f, supportedIPFamilies))
		}
		for j := 0; j < i; j++ {
			if spec.IPFamilies[j] == f {
				errs = append(errs, field.Duplicate(fs.path().Index(i), f))
				break
			}
		}
	}
	if p := spec.IPFamilyPolicy; p != nil && !contains(supportedIPFamilyPolicy, *p) {
		errs = append(errs, field.NotSupported(sp.path("ipFamilyPolicy"), p, supportedIPFamilyPolicy))
	}
	invalidIPs := false
	for i, ip := range ips {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(ips) > 1 {
				invalidIPs = true
				errs = append(errs, field.Invalid(cs.path(), ips, "'None' must be the first and only value"))
			}
			continue
		}
		ipErrs := validation.IsValidIPForLegacyField(cs.path().Index(i), ip, true, nil)
		invalidIPs = invalidIPs || len(ipErrs) != 0
		errs = append(errs, ipErrs...)
	}
	if len(ips) > 2 {
		errs = append(errs, field.Invalid(cs.path(), ips, "may only hold up to 2 values"))
	}
	// Further checks would only repeat what is wrong with the IPs.
	if invalidIPs {
		return errs
	}
	if len(ips) > 1 && !dualStack(ips...) {
		errs = append(errs, field.Invalid(cs.path(), ips, "may specify no more than one IP for each IP family"))
	}
	if !isHeadless(ips) {
		for i, ip := range ips {
			if i >= len(spec.IPFamilies) {
				break
			}
			if spec.IPFamilies[i] == corev1.IPv4Protocol && netutils.IsIPv6String(ip) {
				errs = append(errs, field.Invalid(cs.path().Index(i), ip, fmt.Sprintf("expected an IPv4 value as indicated by `ipFamilies[%v]`", i)))
			}
			if spec.IPFamilies[i] == corev1.IPv6Protocol && !netutils.IsIPv6String(ip) {
				errs = append(errs, field.Invalid(cs.path().Index(i), ip, fmt.Sprintf("expected an IPv6 value as indicated by `ipFamilies[%v]`", i)))
			}
		}
	}
	return errs
}

// dualStack reports whether the IPs hold exactly one of each family.
func dualStack(ips ...string) bool {
	v4, v6 := 0, 0
	for _, ip := range ips {
		if netutils.IsIPv6String(ip) {
			v6++
		} else {
			v4++
		}
	}
	return v4 == 1 && v6 == 1
}

func externallyAccessible(svc *corev1.Service, typ corev1.ServiceType) bool {
	return typ == corev1.ServiceTypeLoadBalancer || typ == corev1.ServiceTypeNodePort ||
		typ == corev1.ServiceTypeClusterIP && len(svc.Spec.ExternalIPs) > 0
}

func validateServiceTrafficPolicies(errs field.ErrorList, svc *corev1.Service, typ corev1.ServiceType, sp *step) field.ErrorList {
	spec := &svc.Spec
	etp := spec.ExternalTrafficPolicy
	if !externallyAccessible(svc, typ) {
		if etp != "" {
			errs = append(errs, field.Invalid(sp.path("externalTrafficPolicy"), etp, "may only be set for externally-accessible services"))
		}
	} else if etp != "" && !contains(trafficPolicies, etp) {
		// An unset policy is defaulted to Cluster upstream.
		errs = append(errs, field.NotSupported(sp.path("externalTrafficPolicy"), etp, trafficPolicies))
	}
	needsHealthCheck := typ == corev1.ServiceTypeLoadBalancer && etp == corev1.ServiceExternalTrafficPolicyLocal
	if !needsHealthCheck {
		if spec.HealthCheckNodePort != 0 {
			errs = append(errs, field.Invalid(sp.path("healthCheckNodePort"), spec.HealthCheckNodePort,
				"may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		}
	} else if spec.HealthCheckNodePort != 0 && (spec.HealthCheckNodePort < 1 || spec.HealthCheckNodePort > 65535) {
		// An unset port is allocated upstream.
		hs := sp.child("healthCheckNodePort")
		errs = invalidEach(errs, &hs, spec.HealthCheckNodePort, validation.IsValidPortNum(int(spec.HealthCheckNodePort)))
	}
	if p := spec.InternalTrafficPolicy; p != nil && !contains(internalTrafficPolicies, *p) {
		errs = append(errs, field.NotSupported(sp.path("internalTrafficPolicy"), *p, internalTrafficPolicies))
	}
	if d := spec.TrafficDistribution; d != nil && !contains(trafficDistributions, *d) {
		errs = append(errs, field.NotSupported(sp.path("trafficDistribution"), *d, trafficDistributions))
	}
	return errs
}

// validateNonSpecialIP rejects addresses that make no sense as a service or
// endpoint address.
func validateNonSpecialIP(errs field.ErrorList, ip string, s *step) field.ErrorList {
	parsed := netutils.ParseIPSloppy(ip)
	if parsed == nil {
		return append(errs, field.Invalid(s.path(), ip, "must be a valid IP address"))
	}
	if parsed.IsUnspecified() {
		errs = append(errs, field.Invalid(s.path(), ip, fmt.Sprintf("may not be unspecified (%v)", ip)))
	}
	if parsed.IsLoopback() {
		errs = append(errs, field.Invalid(s.path(), ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if parsed.IsLinkLocalUnicast() {
		errs = append(errs, field.Invalid(s.path(), ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if parsed.IsLinkLocalMulticast() {
		errs = append(errs, field.Invalid(s.path(), ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return errs
}

func validateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	sp := root("spec")
	ips, oldIPs := serviceClusterIPs(svc), serviceClusterIPs(old)
	typ, oldTyp := serviceType(svc), serviceType(old)
	external := typ == corev1.ServiceTypeExternalName || oldTyp == corev1.ServiceTypeExternalName
	if !external && !(isHeadless(ips) && isHeadless(oldIPs)) {
		cs := sp.child("clusterIPs")
		switch {
		case len(oldIPs) == len(ips):
			for i, ip := range oldIPs {
				if ip != ips[i] {
					errs = append(errs, field.Invalid(cs.path().Index(i), ips, "may not change once set"))
				}
			}
		case len(oldIPs) > len(ips):
			if len(ips) == 0 {
				errs = append(errs, field.Invalid(cs.path().Index(0), ips, "primary clusterIP can not be unset"))
			}
			if len(oldIPs) > 0 && len(ips) > 0 && ips[0] != oldIPs[0] {
				errs = append(errs, field.Invalid(cs.path().Index(0), ips, "may not change once set"))
			}
			if len(ips) == 1 && (svc.Spec.IPFamilyPolicy == nil || *svc.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
				errs = append(errs, field.Invalid(sp.path("ipFamilyPolicy"), svc.Spec.IPFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary clusterIP"))
			}
		default:
			if len(oldIPs) > 0 && ips[0] != oldIPs[0] {
				errs = append(errs, field.Invalid(cs.path().Index(0), ips, "may not change once set"))
			}
		}
	}
	if !external && isHeadless(ips) == isHeadless(oldIPs) && !isHeadless(ips) {
		fams, oldFams := svc.Spec.IPFamilies, old.Spec.IPFamilies
		fs := sp.child("ipFamilies")
		switch {
		case len(oldFams) == len(fams):
			for i := range oldFams {
				if oldFams[i] != fams[i] {
					errs = append(errs, field.Invalid(fs.path().Index(0), fams, "may not change once set"))
				}
			}
		case len(oldFams) > len(fams):
			if len(ips) == 0 {
				errs = append(errs, field.Invalid(fs.path().Index(0), fams, "primary ipFamily can not be unset"))
			}
			if len(fams) > 0 && fams[0] != oldFams[0] {
				errs = append(errs, field.Invalid(fs.path().Index(0), ips, "may not change once set"))
			}
			if len(fams) == 1 && (svc.Spec.IPFamilyPolicy == nil || *svc.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack) {
				errs = append(errs, field.Invalid(sp.path("ipFamilyPolicy"), svc.Spec.IPFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary ipFamily"))
			}
		default:
			if len(oldFams) > 0 && len(fams) > 0 && fams[0] != oldFams[0] {
				errs = append(errs, field.Invalid(fs.path().Index(0), ips, "may not change once set"))
			}
		}
	}
	if typ == corev1.ServiceTypeLoadBalancer && oldTyp == corev1.ServiceTypeLoadBalancer &&
		deref(svc.Spec.LoadBalancerClass, "\x00") != deref(old.Spec.LoadBalancerClass, "\x00") {
		errs = append(errs, field.Invalid(sp.path("loadBalancerClass"), svc.Spec.LoadBalancerClass, "may not change once set"))
	}
	needsHC := func(s *corev1.Service, t corev1.ServiceType) bool {
		return t == corev1.ServiceTypeLoadBalancer && s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	}
	if needsHC(old, oldTyp) && needsHC(svc, typ) && svc.Spec.HealthCheckNodePort != old.Spec.HealthCheckNodePort {
		errs = append(errs, field.Forbidden(sp.path("healthCheckNodePort"), "field is immutable"))
	}
	return append(errs, validateService(svc)...)
}

// validateServiceStatusUpdate checks the load balancer's addresses.
func validateServiceStatusUpdate(svc, _ *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	is := root("status.loadBalancer.ingress")
	for i, ing := range svc.Status.LoadBalancer.Ingress {
		ii := is.index(i)
		if len(ing.IP) > 0 {
			errs = append(errs, validation.IsValidIPForLegacyField(ii.path("ip"), ing.IP, true, nil)...)
		}
		switch {
		case ing.IPMode != nil && len(ing.IP) == 0:
			errs = append(errs, field.Forbidden(ii.path("ipMode"), "may not be specified when `ip` is not set"))
		case ing.IPMode != nil && *ing.IPMode != corev1.LoadBalancerIPModeVIP && *ing.IPMode != corev1.LoadBalancerIPModeProxy:
			errs = append(errs, field.NotSupported(ii.path("ipMode"), ing.IPMode, []corev1.LoadBalancerIPMode{corev1.LoadBalancerIPModeProxy, corev1.LoadBalancerIPModeVIP}))
		}
		if len(ing.Hostname) > 0 {
			hs := ii.child("hostname")
			errs = validateDNSSubdomain(errs, ing.Hostname, &hs)
			if net.ParseIP(ing.Hostname) != nil {
				errs = append(errs, field.Invalid(hs.path(), ing.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}
