package dns

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// maxHostnameLen is the kernel's limit on a hostname: 64 bytes with the
// terminating NUL.
const maxHostnameLen = 63

// HostnameAndDomain returns the hostname of the pod's sandbox and the
// domain /etc/hosts qualifies it with. The hostname is
// spec.hostnameOverride when set, else spec.hostname, else the pod's name,
// cut to 63 characters without a trailing '-' or '.'. The domain is
// <subdomain>.<namespace>.svc.<cluster domain> when spec.subdomain is set
// (and no override is), and empty otherwise.
//
// The API server validates these fields; the checks here catch static pods,
// with upstream's messages.
func (cfg Config) HostnameAndDomain(pod *corev1.Pod) (hostname, domain string, err error) {
	if pod.Spec.HostnameOverride != nil {
		override := *pod.Spec.HostnameOverride
		if msgs := validation.IsDNS1123Subdomain(override); len(msgs) != 0 {
			return "", "", fmt.Errorf("pod HostnameOverride %q is not a valid DNS subdomain: %s", override, strings.Join(msgs, ";"))
		}
		hostname, err := truncateHostname(pod.Name, override)
		return hostname, "", err
	}

	hostname = pod.Name
	if pod.Spec.Hostname != "" {
		if msgs := validation.IsDNS1123Label(pod.Spec.Hostname); len(msgs) != 0 {
			return "", "", fmt.Errorf("pod Hostname %q is not a valid DNS label: %s", pod.Spec.Hostname, strings.Join(msgs, ";"))
		}
		hostname = pod.Spec.Hostname
	}
	hostname, err = truncateHostname(pod.Name, hostname)
	if err != nil {
		return "", "", err
	}

	if pod.Spec.Subdomain != "" {
		if msgs := validation.IsDNS1123Label(pod.Spec.Subdomain); len(msgs) != 0 {
			return "", "", fmt.Errorf("pod Subdomain %q is not a valid DNS label: %s", pod.Spec.Subdomain, strings.Join(msgs, ";"))
		}
		domain = fmt.Sprintf("%s.%s.svc.%s", pod.Spec.Subdomain, pod.Namespace, cfg.ClusterDomain)
	}
	return hostname, domain, nil
}

func truncateHostname(podName, hostname string) (string, error) {
	if len(hostname) <= maxHostnameLen {
		return hostname, nil
	}
	truncated := strings.TrimRight(hostname[:maxHostnameLen], "-.")
	if truncated == "" {
		return "", fmt.Errorf("hostname for pod %q was invalid: %q", podName, hostname)
	}
	return truncated, nil
}
