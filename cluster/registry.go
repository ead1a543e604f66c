package cluster

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kindish/kindish/cluster/pki"
	"github.com/kindish/kindish/cluster/registry"
	"github.com/kindish/kindish/images/nodeimage"
	imageregistry "github.com/kindish/kindish/images/registry"
)

// imageRegistry is what kindish does with the registry the nodes pull
// through; *registry.Registry is the real one.
type imageRegistry interface {
	HasImage(ctx context.Context, ref, id string) (bool, error)
	Push(ctx context.Context, ref string) (v1.Hash, error)
	NodeFiles() map[string]pki.File
}

// registry returns the host's image registry, starting it, and building
// its image when missing, on first use.
func (m *Manager) registry(ctx context.Context) (imageRegistry, error) {
	if m.reg != nil {
		return m.reg, nil
	}
	reg, err := registry.Ensure(ctx, m.docker.Client(), m.docker, registry.Options{
		EnsureImage: m.ensureRegistryImage,
		Logger:      m.log,
	})
	if err != nil {
		return nil, err
	}
	m.reg = reg
	return reg, nil
}

// registryNodeFiles starts the registry and returns the files that make a
// new node's containerd pull through it.
func (m *Manager) registryNodeFiles(ctx context.Context) (map[string]pki.File, error) {
	reg, err := m.registry(ctx)
	if err != nil {
		return nil, err
	}
	return reg.NodeFiles(), nil
}

// ensureRegistryImage builds the registry image from the kindish source
// tree when it is missing, as the node image is.
func (m *Manager) ensureRegistryImage(ctx context.Context, image string) error {
	ok, err := nodeimage.ImageExists(ctx, m.docker.Client(), image)
	if err != nil || ok {
		return err
	}
	src, err := sourceDir()
	if err != nil {
		return fmt.Errorf("registry image %s is missing and cannot be built: %w", image, err)
	}
	m.log.Info("registry image missing: building it", "image", image, "source", src)
	_, err = imageregistry.Build(ctx, m.docker.Client(), imageregistry.BuildOptions{Image: image, SourceDir: src, Logger: m.log})
	return err
}
