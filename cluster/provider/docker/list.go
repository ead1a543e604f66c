package docker

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/errdefs"

	"github.com/kindish/kindish/cluster/internal/parallel"
	"github.com/kindish/kindish/cluster/provider"
)

// ListClusters returns the sorted names of clusters with at least one node.
func (p *Provider) ListClusters(ctx context.Context) ([]string, error) {
	containers, err := p.docker.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", provider.ClusterLabel)),
	})
	if err != nil {
		return nil, fmt.Errorf("list node containers: %w", err)
	}
	var names []string
	for _, c := range containers {
		names = append(names, c.Labels[provider.ClusterLabel])
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// ListNodes returns the cluster's nodes sorted by name.
func (p *Provider) ListNodes(ctx context.Context, cluster string) ([]provider.Node, error) {
	containers, err := p.docker.ContainerList(ctx, container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", provider.ClusterLabel+"="+cluster)),
	})
	if err != nil {
		return nil, fmt.Errorf("list nodes of cluster %s: %w", cluster, err)
	}
	var nodes []provider.Node
	for _, c := range containers {
		n := provider.Node{
			Name:    strings.TrimPrefix(firstOr(c.Names, c.ID), "/"),
			Cluster: c.Labels[provider.ClusterLabel],
			Role:    c.Labels[provider.RoleLabel],
			Running: c.State == "running",
		}
		if c.NetworkSettings != nil {
			if ep := c.NetworkSettings.Networks[NetworkName]; ep != nil {
				n.IP, _ = netip.ParseAddr(ep.IPAddress)
			}
		}
		nodes = append(nodes, n)
	}
	slices.SortFunc(nodes, func(a, b provider.Node) int { return strings.Compare(a.Name, b.Name) })
	return nodes, nil
}

func firstOr(s []string, fallback string) string {
	if len(s) == 0 {
		return fallback
	}
	return s[0]
}

// DeleteNodes removes the containers with their anonymous volumes, in
// parallel. A node that is already gone is not an error.
func (p *Provider) DeleteNodes(ctx context.Context, names []string) error {
	return parallel.ForEach(names, func(_ int, name string) error {
		return p.remove(ctx, name)
	})
}

func (p *Provider) remove(ctx context.Context, name string) error {
	err := p.docker.ContainerRemove(ctx, name, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove node %s: %w", name, err)
	}
	return nil
}
