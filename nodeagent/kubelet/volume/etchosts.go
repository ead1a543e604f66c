package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

const (
	etcHostsPath = "/etc/hosts"

	managedHostsHeader                = "# Kubernetes-managed hosts file.\n"
	managedHostsHeaderWithHostNetwork = "# Kubernetes-managed hosts file (host network).\n"

	// hostnameMaxLen is the kernel's limit on a hostname.
	hostnameMaxLen = 63
)

func (m *Manager) etcHostsFile(pod *corev1.Pod) string {
	return filepath.Join(m.PodDir(pod.UID), "etc-hosts")
}

// WriteEtcHosts writes the pod's /etc/hosts to <pod dir>/etc-hosts, which
// Mounts then binds into every container that does not mount its own. A pod
// on the pod network gets localhost entries, its IPs with its hostname (and
// FQDN when it has a subdomain) and its hostAliases; a hostNetwork pod gets
// the node's hosts file plus its hostAliases. A pod on the pod network
// without IPs yet gets nothing, as upstream.
//
// The file is rewritten in place, not replaced: running containers have it
// bind-mounted, and would keep seeing a replaced file's old inode.
func (m *Manager) WriteEtcHosts(pod *corev1.Pod, podIPs []string) error {
	if !pod.Spec.HostNetwork && len(podIPs) == 0 {
		return nil
	}
	if err := validUID(pod.UID); err != nil {
		return fmt.Errorf("write /etc/hosts of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	unlock := m.locks.lock(pod.UID)
	defer unlock()

	var content []byte
	if pod.Spec.HostNetwork {
		node, err := os.ReadFile(m.nodeHostsFile)
		if err != nil {
			return fmt.Errorf("write /etc/hosts of pod %s/%s: read node hosts file: %w", pod.Namespace, pod.Name, err)
		}
		content = hostNetworkHostsContent(node, pod.Spec.HostAliases)
	} else {
		hostname, domain, err := podHostnameAndDomain(pod, m.clusterDomain)
		if err != nil {
			return fmt.Errorf("write /etc/hosts of pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
		content = managedHostsContent(podIPs, hostname, domain, pod.Spec.HostAliases)
	}

	file := m.etcHostsFile(pod)
	if old, err := os.ReadFile(file); err == nil && bytes.Equal(old, content) {
		return nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write /etc/hosts of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
		return fmt.Errorf("write /etc/hosts of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if err := os.WriteFile(file, content, 0o644); err != nil {
		return fmt.Errorf("write /etc/hosts of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	if err := os.Chmod(file, 0o644); err != nil {
		return fmt.Errorf("write /etc/hosts of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

func managedHostsContent(podIPs []string, hostname, domain string, aliases []corev1.HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString(managedHostsHeader)
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	for _, ip := range podIPs {
		if domain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, hostname, domain, hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
		}
	}
	b.Write(hostAliasesEntries(aliases))
	return b.Bytes()
}

func hostNetworkHostsContent(node []byte, aliases []corev1.HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString(managedHostsHeaderWithHostNetwork)
	b.Write(node)
	b.Write(hostAliasesEntries(aliases))
	return b.Bytes()
}

func hostAliasesEntries(aliases []corev1.HostAlias) []byte {
	if len(aliases) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	return b.Bytes()
}

// podHostnameAndDomain is upstream's GeneratePodHostNameAndDomain: the
// hostname is spec.hostnameOverride, else spec.hostname, else the pod's
// name, cut to 63 characters; a subdomain makes the domain
// <subdomain>.<namespace>.svc.<cluster domain>.
func podHostnameAndDomain(pod *corev1.Pod, clusterDomain string) (string, string, error) {
	if o := pod.Spec.HostnameOverride; o != nil {
		if msgs := validation.IsDNS1123Subdomain(*o); len(msgs) != 0 {
			return "", "", fmt.Errorf("pod HostnameOverride %q is not a valid DNS subdomain: %s", *o, strings.Join(msgs, ";"))
		}
		h, err := truncateHostname(pod.Name, *o)
		return h, "", err
	}
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		if msgs := validation.IsDNS1123Label(pod.Spec.Hostname); len(msgs) != 0 {
			return "", "", fmt.Errorf("pod Hostname %q is not a valid DNS label: %s", pod.Spec.Hostname, strings.Join(msgs, ";"))
		}
		hostname = pod.Spec.Hostname
	}
	hostname, err := truncateHostname(pod.Name, hostname)
	if err != nil {
		return "", "", err
	}
	domain := ""
	if pod.Spec.Subdomain != "" {
		if msgs := validation.IsDNS1123Label(pod.Spec.Subdomain); len(msgs) != 0 {
			return "", "", fmt.Errorf("pod Subdomain %q is not a valid DNS label: %s", pod.Spec.Subdomain, strings.Join(msgs, ";"))
		}
		domain = fmt.Sprintf("%s.%s.svc.%s", pod.Spec.Subdomain, pod.Namespace, clusterDomain)
	}
	return hostname, domain, nil
}

func truncateHostname(podName, hostname string) (string, error) {
	if len(hostname) <= hostnameMaxLen {
		return hostname, nil
	}
	// A hostname must not end with '-' or '.'.
	truncated := strings.TrimRight(hostname[:hostnameMaxLen], "-.")
	if truncated == "" {
		return "", fmt.Errorf("hostname for pod %q was invalid: %q", podName, hostname)
	}
	return truncated, nil
}
