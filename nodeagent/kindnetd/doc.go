// Package kindnetd is the node side of kindish's pod network, as kind's
// kindnetd: it runs on every node as the kindnet DaemonSet's pod
// (hostNetwork) and
//
//   - writes the node's CNI configuration, /etc/cni/net.d/10-kindnet.conflist
//     (ptp with host-local IPAM over the Node's spec.podCIDR, then portmap),
//     once the controller manager has given the Node its range; containerd
//     watches that directory and reports the network ready, which turns
//     the Node Ready;
//   - keeps a route to every other node's pod range via that node's
//     InternalIP, so pods reach pods on other nodes without NAT;
//   - masquerades traffic that leaves the pod range for anything outside
//     the pod and Service ranges (kind's ip-masq-agent, the KIND-MASQ-AGENT
//     chain in the nat table).
//
// It reaches the API server with its ServiceAccount's credentials, through
// the control plane's own address (CONTROL_PLANE_ENDPOINT) rather than the
// kubernetes Service, whose ClusterIP needs kube-proxy, which may not run
// yet.
package kindnetd
