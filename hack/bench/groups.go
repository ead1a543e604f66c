package main

import (
	"fmt"
	"slices"
	"strings"
)

// Figure groups, which -only selects; each measures on its own setup.
const (
	groupImage     = "image"     // node image builds and size
	groupCluster   = "cluster"   // create and delete of a 3-node cluster
	groupAPIServer = "apiserver" // kube-apiserver and etcd under a pod workload
	groupPods      = "pods"      // pod startup latency and image loading on a 3-node cluster
	groupScheduler = "scheduler" // kube-scheduler and a Deployment on 1000 simulated nodes
	groupNetwork   = "network"   // Service programming and DNS latency on a 3-node cluster
)

// figureGroups are in the order a run measures them.
var figureGroups = []string{groupImage, groupCluster, groupPods, groupAPIServer, groupNetwork, groupScheduler}

// groups is the -only flag: the selected groups, none meaning all.
type groups []string

func (g *groups) String() string { return strings.Join(*g, ",") }

func (g *groups) Set(s string) error {
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if !slices.Contains(figureGroups, name) {
			return fmt.Errorf("unknown figure group %q (want %s)", name, strings.Join(figureGroups, ", "))
		}
		*g = append(*g, name)
	}
	return nil
}

func (g groups) has(name string) bool {
	return len(g) == 0 || slices.Contains(g, name)
}
