package discovery

import (
	"sort"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
)

// priority orders groups in /apis and versions within a group. Clients
// resolve an unqualified resource name ("kubectl get events") to the first
// group that has it, so the order is part of the API, and kubectl's output
// lists groups in it.
type priority struct {
	group   int
	version int
}

// priorities are kube-apiserver's APIService priorities (the aggregator's
// table) for the group-versions a cluster may serve.
var priorities = map[schema.GroupVersion]priority{
	{Group: "", Version: "v1"}:                                   {18000, 1},
	{Group: "apiregistration.k8s.io", Version: "v1"}:             {18000, 15},
	{Group: "apps", Version: "v1"}:                               {17800, 15},
	{Group: "events.k8s.io", Version: "v1"}:                      {17750, 15},
	{Group: "authentication.k8s.io", Version: "v1"}:              {17700, 15},
	{Group: "authorization.k8s.io", Version: "v1"}:               {17600, 15},
	{Group: "autoscaling", Version: "v2"}:                        {17500, 30},
	{Group: "autoscaling", Version: "v1"}:                        {17500, 15},
	{Group: "batch", Version: "v1"}:                              {17400, 15},
	{Group: "certificates.k8s.io", Version: "v1"}:                {17300, 15},
	{Group: "networking.k8s.io", Version: "v1"}:                  {17200, 15},
	{Group: "policy", Version: "v1"}:                             {17100, 15},
	{Group: "rbac.authorization.k8s.io", Version: "v1"}:          {17000, 15},
	{Group: "storage.k8s.io", Version: "v1"}:                     {16800, 15},
	{Group: "apiextensions.k8s.io", Version: "v1"}:               {16700, 15},
	{Group: "admissionregistration.k8s.io", Version: "v1"}:       {16700, 15},
	{Group: "scheduling.k8s.io", Version: "v1"}:                  {16600, 15},
	{Group: "coordination.k8s.io", Version: "v1"}:                {16500, 15},
	{Group: "node.k8s.io", Version: "v1"}:                        {16300, 15},
	{Group: "discovery.k8s.io", Version: "v1"}:                   {16200, 15},
	{Group: "resource.k8s.io", Version: "v1"}:                    {16200, 15},
	{Group: "flowcontrol.apiserver.k8s.io", Version: "v1"}:       {16100, 21},
	{Group: "internal.apiserver.k8s.io", Version: "v1alpha1"}:    {16000, 9},
	{Group: "storagemigration.k8s.io", Version: "v1alpha1"}:      {15800, 9},
	{Group: "admissionregistration.k8s.io", Version: "v1beta1"}:  {16700, 12},
	{Group: "admissionregistration.k8s.io", Version: "v1alpha1"}: {16700, 9},
	{Group: "coordination.k8s.io", Version: "v1beta1"}:           {16500, 13},
	{Group: "coordination.k8s.io", Version: "v1alpha2"}:          {16500, 12},
}

// unlistedPriority is what upstream gives a group it has no entry for
// (custom resources' APIServices).
var unlistedPriority = priority{group: 1000, version: 100}

func priorityOf(gv schema.GroupVersion) priority {
	if p, ok := priorities[gv]; ok {
		return p
	}
	// A version missing from the table still sorts with its group.
	for known, p := range priorities {
		if known.Group == gv.Group {
			return priority{group: p.group, version: unlistedPriority.version}
		}
	}
	return unlistedPriority
}

// sortVersions puts a group's versions in preference order: the table's
// version priority, then Kubernetes' version ordering (v2 > v1 > v1beta1).
func sortVersions(group string, versions []string) {
	sort.SliceStable(versions, func(i, j int) bool {
		pi := priorityOf(schema.GroupVersion{Group: group, Version: versions[i]}).version
		pj := priorityOf(schema.GroupVersion{Group: group, Version: versions[j]}).version
		if pi != pj {
			return pi > pj
		}
		return version.CompareKubeAwareVersionStrings(versions[i], versions[j]) > 0
	})
}

// sortGroups orders groups by priority, highest first, then by name.
func sortGroups(groups []string) {
	groupPriority := func(g string) int {
		best := 0
		for gv, p := range priorities {
			if gv.Group == g && p.group > best {
				best = p.group
			}
		}
		if best == 0 {
			return unlistedPriority.group
		}
		return best
	}
	sort.SliceStable(groups, func(i, j int) bool {
		pi, pj := groupPriority(groups[i]), groupPriority(groups[j])
		if pi != pj {
			return pi > pj
		}
		return groups[i] < groups[j]
	})
}
