// Package addons holds the cluster's own workloads that kindish installs
// while creating a cluster, as kind does: the CNI (kindnetd), kube-proxy
// and the cluster DNS (CoreDNS), each with its ServiceAccount and RBAC.
// Each addon is a function from Params to the API objects it consists of;
// Install applies them.
package addons

import (
	"k8s.io/apimachinery/pkg/runtime"
)

// Params describe the cluster the addons are for.
type Params struct {
	// ClusterName is the kindish cluster's name.
	ClusterName string
	// PodSubnet is the cluster's pod range (10.244.0.0/16); each node has
	// a /24 of it.
	PodSubnet string
	// ServiceSubnet is the Service range (10.96.0.0/16).
	ServiceSubnet string
	// DNSServiceIP is the cluster DNS Service's ClusterIP (10.96.0.10).
	DNSServiceIP string
	// ClusterDomain is the cluster's DNS domain (cluster.local).
	ClusterDomain string
	// APIServerHost and APIServerPort reach the API server from a node's
	// host network without DNS or Services (the control plane's IP and
	// 6443): kube-proxy and kindnetd start before any Service works.
	APIServerHost string
	APIServerPort int
}

// Addon is one addon: its name, for status lines and errors, and its
// objects in the order they are applied.
type Addon struct {
	Name    string
	Objects func(Params) ([]runtime.Object, error)
}
