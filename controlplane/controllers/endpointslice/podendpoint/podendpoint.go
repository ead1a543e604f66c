// Package podendpoint is how a pod appears as an endpoint of the Services
// that select it, shared by the Endpoints and EndpointSlice controllers so
// that both publish the same pods, addresses, ports and hostnames, as
// upstream's k8s.io/endpointslice/util does for its two controllers.
package podendpoint

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Include reports whether pod belongs in a Service's endpoints at all:
// terminal pods and pods without an IP never do, and terminating ones
// only when includeTerminating is set.
func Include(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	if !includeTerminating && pod.DeletionTimestamp != nil {
		return false
	}
	return true
}

// IsReady reports whether the pod's Ready condition is True.
func IsReady(pod *corev1.Pod) bool {
	c := readyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

func readyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// Hostname is the hostname a pod publishes in svc's endpoints: its own,
// when its subdomain names svc in the pod's namespace; that is what lets
// CoreDNS answer <hostname>.<subdomain>.<namespace>.svc.
func Hostname(pod *corev1.Pod, svc *corev1.Service) (string, bool) {
	if pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && pod.Namespace == svc.Namespace {
		return pod.Spec.Hostname, true
	}
	return "", false
}

// IsHeadless reports whether svc has no cluster IP.
func IsHeadless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == ""
}

// FindPort resolves a Service port's targetPort on pod: a number is
// taken as is; a name is looked up among the ports of the pod's
// containers and sidecars (restartable init containers) with the
// Service port's protocol.
func FindPort(pod *corev1.Pod, port *corev1.ServicePort) (int32, error) {
	target := port.TargetPort
	if target.Type == intstr.Int {
		return target.IntVal, nil
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == target.StrVal && p.Protocol == port.Protocol {
				return p.ContainerPort, nil
			}
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			continue
		}
		for _, p := range c.Ports {
			if p.Name == target.StrVal && p.Protocol == port.Protocol {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("find port %q of pod %s/%s: no container port of that name and protocol %s", target.StrVal, pod.Namespace, pod.Name, port.Protocol)
}

// IPs returns the pod's IPs of one family, in the pod's order. Pods
// written before dual stack carry only status.podIP.
func IPs(pod *corev1.Pod, family corev1.IPFamily) []string {
	var ips []string
	add := func(s string) {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		ip = ip.Unmap()
		if ip.Is6() == (family == corev1.IPv6Protocol) {
			ips = append(ips, ip.String())
		}
	}
	if len(pod.Status.PodIPs) == 0 {
		add(pod.Status.PodIP)
	}
	for _, p := range pod.Status.PodIPs {
		add(p.IP)
	}
	return ips
}

// Families are the IP families of svc's endpoints: its spec.ipFamilies,
// which the API server fills. Without them the cluster IP's family
// decides, and a headless Service gets both, as upstream does for
// Services written by API servers older than dual stack.
func Families(svc *corev1.Service) []corev1.IPFamily {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies
	}
	if !IsHeadless(svc) {
		if ip, err := netip.ParseAddr(svc.Spec.ClusterIP); err == nil && ip.Unmap().Is6() {
			return []corev1.IPFamily{corev1.IPv6Protocol}
		}
		return []corev1.IPFamily{corev1.IPv4Protocol}
	}
	return []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
}
