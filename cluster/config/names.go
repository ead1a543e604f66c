package config

import "strconv"

// NodeName is the container name (and hostname) of the ordinal-th node of a
// role, counting from 1, as kind names them: the first has no number
// ("kindish-control-plane", "kindish-worker"), the next ones count from 2
// ("kindish-worker2", "kindish-worker3"). Users and scripts written for kind
// rely on these names, so they are kept exactly.
func NodeName(cluster string, role NodeRole, ordinal int) string {
	name := cluster + "-" + string(role)
	if ordinal > 1 {
		name += strconv.Itoa(ordinal)
	}
	return name
}

// NodeNames returns the container name of each node, in the order of
// c.Nodes: nodes of a role are numbered in the order they appear.
func NodeNames(c *Cluster) []string {
	seen := map[NodeRole]int{}
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		seen[n.Role]++
		names[i] = NodeName(c.Name, n.Role, seen[n.Role])
	}
	return names
}

// ControlPlanes returns the control-plane nodes, in file order.
func (c *Cluster) ControlPlanes() []Node {
	return c.nodesWithRole(ControlPlaneRole)
}

// Workers returns the worker nodes, in file order.
func (c *Cluster) Workers() []Node {
	return c.nodesWithRole(WorkerRole)
}

func (c *Cluster) nodesWithRole(role NodeRole) []Node {
	var nodes []Node
	for _, n := range c.Nodes {
		if n.Role == role {
			nodes = append(nodes, n)
		}
	}
	return nodes
}
