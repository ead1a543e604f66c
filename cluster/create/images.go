package create

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ImageLoader puts images from the local engine into nodes, as `kindish
// load docker-image` does.
type ImageLoader interface {
	// Ensure makes every image present locally, building those kindish
	// knows how to build, and fails naming the first it cannot provide.
	Ensure(ctx context.Context, refs []string) error
	// Load puts the images into the runtimes of the named nodes.
	Load(ctx context.Context, refs []string, nodes []string) error
}

// ensurePreloadImages makes the images to preload present before any node
// exists, so that a missing one fails the create with nothing to undo.
func ensurePreloadImages(ctx context.Context, c *Context) error {
	refs := c.Options.Config.PreloadImages
	if len(refs) == 0 {
		return nil
	}
	if c.Options.Images == nil {
		return errors.New("images to preload, but no way to load them")
	}
	return c.Options.Images.Ensure(ctx, refs)
}

func preloadStatus(c *Context) string {
	refs := c.Options.Config.PreloadImages
	if len(refs) == 0 {
		return ""
	}
	return fmt.Sprintf("Loading images (%s)", strings.Join(refs, ", "))
}

// preloadImages loads the images into every node as soon as their
// runtimes answer. The control plane boots meanwhile: its images travel in
// the node image, and the kubelets start it without waiting for this.
func preloadImages(ctx context.Context, c *Context) error {
	refs := c.Options.Config.PreloadImages
	if len(refs) == 0 {
		return nil
	}
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		names[i] = n.Name
	}
	if err := c.Options.Images.Load(ctx, refs, names); err != nil {
		return fmt.Errorf("preload images: %w", err)
	}
	return nil
}

func registryStatus(c *Context) string {
	if c.Options.Registry == nil {
		return ""
	}
	return "Ensuring image registry"
}

// ensureRegistry starts the registry the nodes pull through (a no-op when
// it runs) before any node exists: a node's containerd is configured for
// it from its first start.
func ensureRegistry(ctx context.Context, c *Context) error {
	if c.Options.Registry == nil {
		return nil
	}
	files, err := c.Options.Registry(ctx)
	if err != nil {
		return fmt.Errorf("image registry: %w", err)
	}
	c.RegistryFiles = files
	return nil
}
