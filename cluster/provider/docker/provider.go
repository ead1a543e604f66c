// Package docker implements provider.Provider on the Docker Engine API.
package docker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/docker/docker/client"

	"github.com/kindish/kindish/cluster/provider"
)

// NetworkName is the bridge network every kindish node joins. It is shared
// by all clusters, created on first use and never deleted, as kind does.
const NetworkName = "kindish"

// Provider runs nodes as Docker containers.
type Provider struct {
	docker *client.Client
	log    *slog.Logger
	// privilegedRefused remembers that this daemon refused --privileged, so
	// that later nodes go straight to the explicit capability set.
	privilegedRefused atomic.Bool
	refusalOnce       sync.Once
	refusalFile       string
}

var _ provider.Provider = (*Provider)(nil)

// New connects to the Docker engine named by the environment (DOCKER_HOST,
// or the default socket) and checks that it answers.
func New(ctx context.Context, log *slog.Logger) (*Provider, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	if _, err := c.Ping(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("cannot reach the Docker engine at %s (is dockerd running? `docker info` must work): %w", c.DaemonHost(), err)
	}
	return &Provider{docker: c, log: log}, nil
}

// Client exposes the engine client to the image builder, which shares the
// connection.
func (p *Provider) Client() *client.Client { return p.docker }

// Close releases the connection.
func (p *Provider) Close() error { return p.docker.Close() }
