package cluster

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/kindish/kindish/cluster/config"
	"github.com/kindish/kindish/cluster/create"
	"github.com/kindish/kindish/cluster/kubeconfig"
)

// CreateOptions are `kindish create cluster`'s flags.
type CreateOptions struct {
	// Name overrides the config file's name; empty keeps it.
	Name string
	// ConfigPath is a cluster config file; "-" is stdin; empty is the
	// default one-node cluster.
	ConfigPath string
	// Image overrides every node's image.
	Image string
	// PreloadImages are added to the config file's preloadImages.
	PreloadImages  []string
	Wait           time.Duration
	Retain         bool
	KubeconfigPath string
}

// Create creates a cluster.
func (m *Manager) Create(ctx context.Context, opts CreateOptions) error {
	cfg, err := m.loadConfig(opts)
	if err != nil {
		return err
	}
	path := kubeconfig.Path(opts.KubeconfigPath)
	m.status.Info(fmt.Sprintf("Creating cluster %q ...", cfg.Name))
	err = create.Run(ctx, m.provider, m.log, m.status, create.Options{
		Config:         cfg,
		Retain:         opts.Retain,
		Wait:           opts.Wait,
		KubeconfigPath: path,
		EnsureImage:    m.ensureImage,
		Images:         preloader{m},
		Registry:       m.registryNodeFiles,
	})
	if err != nil {
		return err
	}
	m.log.Info("kubeconfig written", "path", path)
	m.status.Info(fmt.Sprintf("Set kubectl context to %q", kubeconfig.ContextName(cfg.Name)))
	return nil
}

// loadConfig reads, overrides, defaults and validates the cluster config.
// The name follows kind's precedence: flag, environment, file, default.
func (m *Manager) loadConfig(opts CreateOptions) (*config.Cluster, error) {
	cfg := config.Default()
	if opts.ConfigPath != "" {
		loaded, warnings, err := config.Load(opts.ConfigPath)
		if err != nil {
			return nil, err
		}
		for _, w := range warnings {
			m.log.Warn(w)
		}
		cfg = loaded
	}
	config.OverrideName(cfg, opts.Name, os.Getenv(NameEnv))
	if opts.Image != "" {
		for i := range cfg.Nodes {
			cfg.Nodes[i].Image = opts.Image
		}
	}
	cfg.PreloadImages = uniq(append(cfg.PreloadImages, opts.PreloadImages...))
	config.SetDefaults(cfg, DefaultImage())
	if err := config.Validate(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}
