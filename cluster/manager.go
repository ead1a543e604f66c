// Package cluster is the kindish library: it creates, lists and deletes
// clusters whose nodes are containers, and hands out their kubeconfigs,
// images and logs. The CLI in cmd/kindish is a thin layer over Manager.
package cluster

import (
	"context"
	"log/slog"

	"github.com/kindish/kindish/cluster/config"
	"github.com/kindish/kindish/cluster/provider"
	"github.com/kindish/kindish/cluster/provider/docker"
	"github.com/kindish/kindish/cluster/status"
	"github.com/kindish/kindish/images"
)

const (
	// DefaultName is the cluster name when neither a flag, the environment
	// nor a config file names one.
	DefaultName = config.DefaultName
	// NameEnv names the default cluster, as KIND_CLUSTER_NAME does for kind.
	NameEnv = config.NameEnv
)

// DefaultImage is the node image a cluster runs unless told otherwise.
func DefaultImage() string { return images.NodeImage() }

// Manager carries what every operation needs: the provider that runs the
// nodes, a logger and a status printer.
type Manager struct {
	provider provider.Provider
	docker   *docker.Provider
	log      *slog.Logger
	status   *status.Printer
	// reg is the image registry, once an operation has needed it.
	reg imageRegistry
}

// NewManager connects to the container engine.
func NewManager(ctx context.Context, log *slog.Logger, st *status.Printer) (*Manager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if st == nil {
		st = status.Discard()
	}
	p, err := docker.New(ctx, log)
	if err != nil {
		return nil, err
	}
	return &Manager{provider: p, docker: p, log: log, status: st}, nil
}

// Close releases the engine connection.
func (m *Manager) Close() error { return m.docker.Close() }

// ResolveName returns name, or the default cluster name when it is empty.
func (m *Manager) ResolveName(name string) string {
	if name == "" {
		return DefaultName
	}
	return name
}

// List returns the names of the existing clusters.
func (m *Manager) List(ctx context.Context) ([]string, error) {
	return m.provider.ListClusters(ctx)
}

// ListNodes returns a cluster's node containers.
func (m *Manager) ListNodes(ctx context.Context, name string) ([]provider.Node, error) {
	return m.provider.ListNodes(ctx, m.ResolveName(name))
}
