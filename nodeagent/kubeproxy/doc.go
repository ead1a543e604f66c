// Package kubeproxy is kindish's kube-proxy: it gives Services their
// virtual IPs on each node, in upstream's iptables mode, with upstream's
// chains, names, flags, health endpoint and metrics, so that whoever knows
// kube-proxy recognises it.
//
// It runs as kubeadm runs it: a hostNetwork, privileged DaemonSet pod
// reading a KubeProxyConfiguration (package config) and reaching the API
// server with its ServiceAccount token. Informers watch Services,
// EndpointSlices and the node's own Node; a bounded-frequency runner
// (package runner) syncs at most every minSyncPeriod and at least every
// syncPeriod. A sync computes the service map (package servicemap),
// renders every rule (package rules), and applies them with one
// iptables-nft-restore --noflush (package iptables), which rewrites
// kube-proxy's own chains atomically and leaves everything else, conntrack
// included, alone. UDP conntrack entries of removed endpoints are then
// deleted (package conntrack). Given serviceClusterIPRange, new
// connections to the service range that no Service port took are
// rejected, as upstream's nftables mode does, rather than routed off the
// node.
//
// Left out, compared with upstream: the Local traffic policies (every
// service is treated as Cluster), LoadBalancer ingress IPs, externalIPs,
// loadBalancerSourceRanges, health-check NodePorts, topology hints,
// NodePorts on 127.0.0.1 (they would need route_localnet), IPv6, partial
// syncs (each sync rewrites all of kube-proxy's chains, which a kindish
// cluster's size makes cheap) and the canary-chain monitor (the periodic
// sync checks the jump rules with iptables-save instead).
package kubeproxy
