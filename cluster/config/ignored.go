package config

import "fmt"

// Reasons given in the warnings for the fields kindish accepts but does not
// act on. They are accepted at all so that a kind file loads unchanged.
const (
	noKubeadm    = "kindish does not run kubeadm"
	ownContainer = "kindish writes its own containerd config"
	noRuntimeCfg = "kindish's API server takes no --runtime-config"
	noDNSSearch  = "nodes keep the container engine's DNS settings"
)

// ignoredFields returns one warning line for each ignored field that is set,
// cluster fields first, then each node's in order. A kubeadm patch gets a
// line of its own naming what of it is ignored, since part of it may be
// used (see kubeadm.go).
func ignoredFields(c *Cluster) []string {
	var warnings []string
	warn := func(set bool, path, why string) {
		if set {
			warnings = append(warnings, fmt.Sprintf("%s: ignored (%s)", path, why))
		}
	}
	warn(len(c.RuntimeConfig) > 0, "runtimeConfig", noRuntimeCfg)
	warnings = append(warnings, clusterPatches(c).read().warnings...)
	warn(len(c.KubeadmConfigPatchesJSON6902) > 0, "kubeadmConfigPatchesJSON6902", noKubeadm)
	warn(len(c.ContainerdConfigPatches) > 0, "containerdConfigPatches", ownContainer)
	warn(len(c.ContainerdConfigPatchesJSON6902) > 0, "containerdConfigPatchesJSON6902", ownContainer)
	warn(c.Networking.DNSSearch != nil, "networking.dnsSearch", noDNSSearch)
	for i, n := range c.Nodes {
		warnings = append(warnings, nodePatches(c, i).read().warnings...)
		warn(len(n.KubeadmConfigPatchesJSON6902) > 0, fmt.Sprintf("nodes[%d].kubeadmConfigPatchesJSON6902", i), noKubeadm)
	}
	return warnings
}
