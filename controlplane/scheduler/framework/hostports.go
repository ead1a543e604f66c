package framework

import corev1 "k8s.io/api/core/v1"

// bindAllHostIP is what an empty hostIP means.
const bindAllHostIP = "0.0.0.0"

// HostPort is one port a pod takes on its node.
type HostPort struct {
	IP       string
	Protocol corev1.Protocol
	Port     int32
}

// hostPorts are the ports the pod's containers take on the node, with
// upstream's defaults for the IP (all addresses) and protocol (TCP).
func hostPorts(pod *corev1.Pod) []HostPort {
	var out []HostPort
	for i := range pod.Spec.Containers {
		for _, p := range pod.Spec.Containers[i].Ports {
			if p.HostPort <= 0 {
				continue
			}
			out = append(out, sanitize(HostPort{IP: p.HostIP, Protocol: p.Protocol, Port: p.HostPort}))
		}
	}
	return out
}

func sanitize(p HostPort) HostPort {
	if p.IP == "" {
		p.IP = bindAllHostIP
	}
	if p.Protocol == "" {
		p.Protocol = corev1.ProtocolTCP
	}
	return p
}

type protocolPort struct {
	protocol corev1.Protocol
	port     int32
}

// HostPortInfo is the ports taken on a node, by host IP.
type HostPortInfo map[string]map[protocolPort]int

// Add takes p; a port taken twice stays taken until removed twice.
func (h HostPortInfo) Add(p HostPort) {
	p = sanitize(p)
	if h[p.IP] == nil {
		h[p.IP] = map[protocolPort]int{}
	}
	h[p.IP][protocolPort{p.Protocol, p.Port}]++
}

// Remove releases p.
func (h HostPortInfo) Remove(p HostPort) {
	p = sanitize(p)
	pp := protocolPort{p.Protocol, p.Port}
	ports := h[p.IP]
	if ports == nil {
		return
	}
	if ports[pp]--; ports[pp] <= 0 {
		delete(ports, pp)
	}
	if len(ports) == 0 {
		delete(h, p.IP)
	}
}

// Conflicts is upstream's CheckConflict: a port on all addresses clashes
// with the same protocol and port on any address, and a port on one
// address with the same on that address or on all of them.
func (h HostPortInfo) Conflicts(p HostPort) bool {
	p = sanitize(p)
	pp := protocolPort{p.Protocol, p.Port}
	if p.IP == bindAllHostIP {
		for _, ports := range h {
			if ports[pp] > 0 {
				return true
			}
		}
		return false
	}
	return h[p.IP][pp] > 0 || h[bindAllHostIP][pp] > 0
}

func (h HostPortInfo) clone() HostPortInfo {
	c := make(HostPortInfo, len(h))
	for ip, ports := range h {
		m := make(map[protocolPort]int, len(ports))
		for k, v := range ports {
			m[k] = v
		}
		c[ip] = m
	}
	return c
}
