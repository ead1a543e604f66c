package kuberuntime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// PodLogsDir is a pod's log directory under root, upstream's layout:
// <root>/<namespace>_<name>_<uid>.
func PodLogsDir(root, namespace, name string, uid types.UID) string {
	return filepath.Join(root, fmt.Sprintf("%s_%s_%s", namespace, name, uid))
}

// containerLogPath is a container instance's log file relative to its
// pod's log directory: <container>/<restartCount>.log.
func containerLogPath(name string, restartCount int) string {
	return filepath.Join(name, fmt.Sprintf("%d.log", restartCount))
}

// namespacesFor is the pod's namespace modes: host network, PID and IPC
// when asked for; a PID namespace shared across the pod when
// shareProcessNamespace is set, one per container otherwise.
func namespacesFor(pod *corev1.Pod) *runtimeapi.NamespaceOption {
	ipc := runtimeapi.NamespaceMode_POD
	if pod.Spec.HostIPC {
		ipc = runtimeapi.NamespaceMode_NODE
	}
	pid := runtimeapi.NamespaceMode_CONTAINER
	switch {
	case pod.Spec.HostPID:
		pid = runtimeapi.NamespaceMode_NODE
	case pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace:
		pid = runtimeapi.NamespaceMode_POD
	}
	return &runtimeapi.NamespaceOption{Network: networkNamespaceFor(pod), Pid: pid, Ipc: ipc}
}

// portMappings lists every container port, as upstream's MakePortMappings;
// the runtime's port-map plugin forwards those with a host port. A port
// name repeated in one container is kept once.
func portMappings(pod *corev1.Pod) []*runtimeapi.PortMapping {
	var out []*runtimeapi.PortMapping
	for _, c := range pod.Spec.Containers {
		names := map[string]bool{}
		for _, p := range c.Ports {
			name := fmt.Sprintf("%s-%s-%d", c.Name, p.Protocol, p.ContainerPort)
			if p.Name != "" {
				name = c.Name + "-" + p.Name
			}
			if names[name] {
				continue
			}
			names[name] = true
			out = append(out, &runtimeapi.PortMapping{
				Protocol:      toRuntimeProtocol(p.Protocol),
				ContainerPort: p.ContainerPort,
				HostPort:      p.HostPort,
				HostIp:        p.HostIP,
			})
		}
	}
	return out
}

func toRuntimeProtocol(p corev1.Protocol) runtimeapi.Protocol {
	switch p {
	case corev1.ProtocolUDP:
		return runtimeapi.Protocol_UDP
	case corev1.ProtocolSCTP:
		return runtimeapi.Protocol_SCTP
	}
	return runtimeapi.Protocol_TCP
}

// sysctlWithDots rewrites a sysctl written with slashes ("net/ipv4/ip_forward")
// with dots, which is the only form runc accepts; a name whose first
// separator is a dot is left as is.
func sysctlWithDots(name string) string {
	i := strings.IndexAny(name, "./")
	if i == -1 || name[i] == '.' {
		return name
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, name)
}

func hasPrivilegedContainer(pod *corev1.Pod) bool {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
				return true
			}
		}
	}
	return false
}

// fqdnMaxLen is the kernel's nodename field: 64 bytes with the terminator.
const fqdnMaxLen = 64

// podHostname is the sandbox's hostname: the pod's, or its FQDN when
// setHostnameAsFQDN asks for it.
func (m *Manager) podHostname(pod *corev1.Pod) (string, error) {
	hostname, domain := truncateHostname(pod.Name), ""
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if m.hostname != nil {
		var err error
		if hostname, domain, err = m.hostname(pod); err != nil {
			return "", err
		}
	}
	if domain == "" || pod.Spec.SetHostnameAsFQDN == nil || !*pod.Spec.SetHostnameAsFQDN {
		return hostname, nil
	}
	fqdn := hostname + "." + domain
	if len(fqdn) > fqdnMaxLen {
		return "", fmt.Errorf("failed to construct FQDN from pod hostname and cluster domain, FQDN %s is too long (%d characters is the max, %d characters requested)", fqdn, fqdnMaxLen, len(fqdn))
	}
	return fqdn, nil
}

// hostnameMaxLen is the kernel's limit on a hostname.
const hostnameMaxLen = 63

// truncateHostname shortens a pod name that is too long to be a hostname,
// as upstream does, without leaving a trailing '-' or '.'.
func truncateHostname(name string) string {
	if len(name) <= hostnameMaxLen {
		return name
	}
	return strings.TrimRight(name[:hostnameMaxLen], "-.")
}

// SandboxConfig builds the pod's sandbox config for the given attempt.
func (m *Manager) SandboxConfig(pod *corev1.Pod, attempt uint32) (*runtimeapi.PodSandboxConfig, error) {
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name:      pod.Name,
			Namespace: pod.Namespace,
			Uid:       string(pod.UID),
			Attempt:   attempt,
		},
		LogDirectory: PodLogsDir(m.podLogsDir, pod.Namespace, pod.Name, pod.UID),
		Labels:       podLabels(pod),
		Annotations:  copyStrings(pod.Annotations),
		PortMappings: portMappings(pod),
	}
	if m.dnsConfig != nil {
		dns, err := m.dnsConfig(pod)
		if err != nil {
			return nil, fmt.Errorf("DNS config: %w", err)
		}
		cfg.DnsConfig = dns
	}
	// A host-network pod keeps the node's hostname.
	if !IsHostNetwork(pod) {
		hostname, err := m.podHostname(pod)
		if err != nil {
			return nil, err
		}
		cfg.Hostname = hostname
	}

	sc := &runtimeapi.LinuxSandboxSecurityContext{
		NamespaceOptions: namespacesFor(pod),
		Privileged:       hasPrivilegedContainer(pod),
		// The sandbox itself runs the runtime's default profile, so that
		// pods can use strict profiles (upstream #84623).
		Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
	}
	sysctls := map[string]string{}
	if psc := pod.Spec.SecurityContext; psc != nil {
		for _, s := range psc.Sysctls {
			sysctls[sysctlWithDots(s.Name)] = s.Value
		}
		if psc.RunAsUser != nil {
			sc.RunAsUser = &runtimeapi.Int64Value{Value: *psc.RunAsUser}
		}
		if psc.RunAsGroup != nil {
			sc.RunAsGroup = &runtimeapi.Int64Value{Value: *psc.RunAsGroup}
		}
		if psc.FSGroup != nil {
			sc.SupplementalGroups = append(sc.SupplementalGroups, *psc.FSGroup)
		}
		sc.SupplementalGroups = append(sc.SupplementalGroups, psc.SupplementalGroups...)
		if o := psc.SELinuxOptions; o != nil {
			sc.SelinuxOptions = &runtimeapi.SELinuxOption{User: o.User, Role: o.Role, Type: o.Type, Level: o.Level}
		}
	}
	cfg.Linux = &runtimeapi.LinuxPodSandboxConfig{
		CgroupParent:    CgroupParent(pod),
		SecurityContext: sc,
		Sysctls:         sysctls,
	}
	return cfg, nil
}

// createSandbox starts a sandbox for the pod and returns its ID.
func (m *Manager) createSandbox(ctx context.Context, pod *corev1.Pod, attempt uint32) (string, error) {
	cfg, err := m.SandboxConfig(pod, attempt)
	if err != nil {
		return "", fmt.Errorf("generate sandbox config for pod %q: %w", FormatPod(pod), err)
	}
	if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
		return "", fmt.Errorf("create log directory for pod %q: %w", FormatPod(pod), err)
	}
	resp, err := m.runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		// The runtime's own text is what users look for in the event.
		return "", err
	}
	return resp.GetPodSandboxId(), nil
}

func copyStrings(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
