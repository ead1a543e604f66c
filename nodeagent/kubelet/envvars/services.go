package envvars

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// kubernetesService, in the default namespace, is the API server's own
// service. Every container gets its variables, whatever enableServiceLinks
// says: in-cluster clients find the API server through
// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.
const kubernetesService = "kubernetes"

// envVar is one environment variable.
type envVar struct {
	name, value string
}

// serviceVariables returns the Docker-link style variables describing
// services, in the services' order: for each, <NAME>_SERVICE_HOST,
// <NAME>_SERVICE_PORT, <NAME>_SERVICE_PORT_<PORTNAME> for each named port,
// <NAME>_PORT for the first port, and <NAME>_PORT_<port>_<PROTO> with its
// _PROTO, _PORT and _ADDR for every port. Services without a cluster IP
// (headless, ExternalName) are skipped.
func serviceVariables(services []*corev1.Service) []envVar {
	var vars []envVar
	for _, svc := range services {
		if !hasClusterIP(svc) {
			continue
		}
		prefix := variableName(svc.Name)
		ip := svc.Spec.ClusterIP
		vars = append(vars, envVar{prefix + "_SERVICE_HOST", ip})
		// Validation requires a port on every service with a cluster IP;
		// a service without one has only an address to tell.
		if len(svc.Spec.Ports) == 0 {
			continue
		}
		portVar := prefix + "_SERVICE_PORT"
		vars = append(vars, envVar{portVar, strconv.Itoa(int(svc.Spec.Ports[0].Port))})
		for _, sp := range svc.Spec.Ports {
			if sp.Name != "" {
				vars = append(vars, envVar{portVar + "_" + variableName(sp.Name), strconv.Itoa(int(sp.Port))})
			}
		}
		vars = append(vars, linkVariables(prefix, svc)...)
	}
	return vars
}

// linkVariables are the variables Docker's container links defined, which
// images written for links still read.
func linkVariables(prefix string, svc *corev1.Service) []envVar {
	var vars []envVar
	ip := svc.Spec.ClusterIP
	for i, sp := range svc.Spec.Ports {
		protocol := string(corev1.ProtocolTCP)
		if sp.Protocol != "" {
			protocol = string(sp.Protocol)
		}
		lower := strings.ToLower(protocol)
		url := fmt.Sprintf("%s://%s:%d", lower, ip, sp.Port)
		if i == 0 {
			vars = append(vars, envVar{prefix + "_PORT", url})
		}
		portPrefix := fmt.Sprintf("%s_PORT_%d_%s", prefix, sp.Port, strings.ToUpper(protocol))
		vars = append(vars,
			envVar{portPrefix, url},
			envVar{portPrefix + "_PROTO", lower},
			envVar{portPrefix + "_PORT", strconv.Itoa(int(sp.Port))},
			envVar{portPrefix + "_ADDR", ip},
		)
	}
	return vars
}

// variableName turns a service or port name into the form it takes in a
// variable name: upper case, '-' as '_'. Service and port names are DNS
// labels, so nothing else needs replacing.
func variableName(name string) string {
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

func hasClusterIP(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP != corev1.ClusterIPNone && svc.Spec.ClusterIP != ""
}

// visibleServices picks the services whose variables a pod gets from those
// of its namespace and those of the default namespace: its namespace's when
// links are enabled, and default/kubernetes
// always, unless the pod's namespace has a service of the same name, which
// then wins as it does upstream. The result is sorted by name so that the
// environment is the same on every start.
func visibleServices(links bool, inNamespace, inDefault []*corev1.Service) []*corev1.Service {
	byName := make(map[string]*corev1.Service)
	if links {
		for _, svc := range inNamespace {
			if hasClusterIP(svc) {
				byName[svc.Name] = svc
			}
		}
	}
	for _, svc := range inDefault {
		if svc.Name != kubernetesService || !hasClusterIP(svc) {
			continue
		}
		if _, taken := byName[svc.Name]; !taken {
			byName[svc.Name] = svc
		}
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]*corev1.Service, 0, len(names))
	for _, name := range names {
		out = append(out, byName[name])
	}
	return out
}
