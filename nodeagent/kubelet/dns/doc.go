// Package dns computes a pod's resolver configuration, which the container
// runtime writes into the sandbox's /etc/resolv.conf, and the hostname and
// domain of the pod's sandbox and /etc/hosts, following the kubelet's rules
// for each dnsPolicy and its limits on nameservers and search paths.
package dns
