package create

import (
	"context"
	"fmt"

	"github.com/kindish/kindish/cluster/internal/parallel"
	"github.com/kindish/kindish/cluster/kubeconfig"
)

// Lines a node's PID 1 prints at its boot milestones (nodeagent/init).
const (
	runtimeReadyLine = "kindish-node: containerd is ready"
	nodeUpLine       = "kindish-node: node is up"
)

// waitForRuntimes waits until containerd answers in every node.
func waitForRuntimes(ctx context.Context, c *Context) error {
	return waitForLine(ctx, c, runtimeReadyLine)
}

func waitStatus(c *Context) string {
	if c.Options.Wait <= 0 {
		return ""
	}
	return fmt.Sprintf("Waiting ≤ %s for the nodes to be up", c.Options.Wait)
}

// waitForNodes waits, when asked, until every node finished its boot.
func waitForNodes(ctx context.Context, c *Context) error {
	if c.Options.Wait <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.Options.Wait)
	defer cancel()
	return waitForLine(ctx, c, nodeUpLine)
}

func waitForLine(ctx context.Context, c *Context, line string) error {
	return parallel.ForEach(c.Nodes, func(_ int, n PlannedNode) error {
		return c.Provider.WaitForLogLine(ctx, n.Name, line)
	})
}

// writeKubeconfig merges the admin's kubeconfig, pointed at the published
// API server port, into the user's kubeconfig file.
func writeKubeconfig(_ context.Context, c *Context) error {
	cert, key := c.PKI.AdminClient()
	cfg := kubeconfig.Build(c.Options.Config.Name, c.hostServer(), c.PKI.CACert(), cert, key)
	c.kubeconfigWritten = true
	if err := kubeconfig.Merge(c.Options.KubeconfigPath, cfg); err != nil {
		return err
	}
	return nil
}
