package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/kindish/kindish/cluster/kubeconfig"
)

// Delete removes a cluster's nodes with their volumes and its kubeconfig
// entries. Deleting a cluster that does not exist is not an error, as in
// kind, so that cleanup scripts can run it unconditionally.
func (m *Manager) Delete(ctx context.Context, name, kubeconfigPath string) error {
	name = m.ResolveName(name)
	m.status.Start(fmt.Sprintf("Deleting cluster %q", name))
	err := m.delete(ctx, name, kubeconfigPath)
	m.status.End(err == nil)
	return err
}

// DeleteMany deletes several clusters, all of them even when one fails.
func (m *Manager) DeleteMany(ctx context.Context, names []string, kubeconfigPath string) error {
	var errs []error
	for _, name := range names {
		errs = append(errs, m.Delete(ctx, name, kubeconfigPath))
	}
	return errors.Join(errs...)
}

func (m *Manager) delete(ctx context.Context, name, kubeconfigPath string) error {
	nodes, err := m.provider.ListNodes(ctx, name)
	if err != nil {
		return fmt.Errorf("delete cluster %s: %w", name, err)
	}
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	errs := []error{m.provider.DeleteNodes(ctx, names)}
	// Every file kubectl reads, as kind does: the entries may have been
	// merged into any of them.
	for _, path := range kubeconfig.Paths(kubeconfigPath) {
		errs = append(errs, kubeconfig.Remove(path, name))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete cluster %s: %w", name, err)
	}
	return nil
}
