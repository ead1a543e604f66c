package workload

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kindish/kindish/images/archive"
	"github.com/kindish/kindish/images/nodeimage"
	"github.com/kindish/kindish/images/rootfs"
)

// debianRecipe is an image made of files from the workload base.
type debianRecipe struct {
	name string
	// pick takes what the image needs from a Debian root file system, at
	// the paths it has there.
	pick func(c *rootfs.Collector) error
	// image makes the image from a root holding what pick takes: the
	// base's, or the cache's.
	image func(c *rootfs.Collector) (spec, error)
}

// debianRecipes are the images made of Debian's packages.
var debianRecipes = []debianRecipe{busyboxRecipe, nginxRecipe}

// sourcePaths are the paths of the base that hold everything the recipes
// pick, for copying them out of its image: the merged-/usr links they are
// reached through, the programs, the libraries and the configuration.
func sourcePaths(goarch string) ([]string, error) {
	t, err := rootfs.Triplet(goarch)
	if err != nil {
		return nil, err
	}
	return []string{
		"/bin", "/sbin", "/lib", "/lib64", "/usr/lib64",
		"/usr/bin/busybox", appletList,
		nginxBinary, "/usr/lib/" + t, "/usr/lib/nginx", nginxPrefix, nginxConf, nginxWebRoot, nsswitch,
	}, nil
}

// pickAll takes what every recipe needs from the root file system at root.
func pickAll(root, goarch string) ([]archive.File, error) {
	c, err := newCollector(root, goarch)
	if err != nil {
		return nil, err
	}
	for _, r := range debianRecipes {
		if err := r.pick(c); err != nil {
			return nil, err
		}
	}
	return c.Files(), nil
}

// imagesFrom makes every recipe's image from the root file system at root.
func imagesFrom(root, goarch string) ([]spec, error) {
	var out []spec
	for _, r := range debianRecipes {
		c, err := newCollector(root, goarch)
		if err != nil {
			return nil, err
		}
		img, err := r.image(c)
		if err != nil {
			return nil, fmt.Errorf("%s image from %s: %w", r.name, root, err)
		}
		out = append(out, img)
	}
	return out, nil
}

func newCollector(root, goarch string) (*rootfs.Collector, error) {
	libDirs, err := rootfs.DebianLibDirs(goarch)
	if err != nil {
		return nil, err
	}
	return rootfs.NewCollector(root, libDirs), nil
}

// debianImages makes the Debian images from the workload base, built when
// missing. What they take from the base is kept in the cache per base
// image ID: the base is its only input, so a warm build reads a few
// megabytes from the cache and copies nothing out of Docker.
func (b *builder) debianImages(ctx context.Context, work string) ([]spec, error) {
	ref, err := nodeimage.EnsureBase(ctx, Base, nodeimage.BaseOptions{
		Docker:       b.docker,
		Logger:       b.log,
		Mirror:       b.opts.Mirror,
		TempDir:      b.opts.TempDir,
		PackageCache: b.opts.PackageCache,
	})
	if err != nil {
		return nil, err
	}
	base, err := b.docker.ImageInspect(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("inspect base image %s: %w", ref, err)
	}
	key := strings.TrimPrefix(base.ID, "sha256:")
	if len(key) < 16 {
		return nil, fmt.Errorf("base image %s has an unexpected ID %q", ref, base.ID)
	}
	key = key[:16]

	parent := filepath.Join(work, "debian-cache")
	if b.cacheDir != "" {
		parent = filepath.Join(b.cacheDir, "workload")
	}
	dir := filepath.Join(parent, key)
	if _, err := os.Stat(dir); err == nil {
		imgs, err := imagesFrom(dir, b.goarch)
		if err == nil {
			b.log.Debug("busybox and nginx files from the cache", "dir", dir)
			return imgs, nil
		}
		// A damaged cache is taken again rather than trusted.
		b.log.Info("workload files cache unusable: taking them from the base image again", "dir", dir, "reason", err)
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("remove cache %s: %w", dir, err)
		}
	}

	start := time.Now()
	b.log.Info("taking busybox and nginx from the base image", "image", ref)
	staging, err := os.MkdirTemp(work, "workload-rootfs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	paths, err := sourcePaths(b.goarch)
	if err != nil {
		return nil, err
	}
	if err := nodeimage.CopyFromImage(ctx, b.docker, base.ID, paths, staging); err != nil {
		return nil, fmt.Errorf("copy files out of base image %s: %w", ref, err)
	}
	picked, err := pickAll(staging, b.goarch)
	if err != nil {
		return nil, fmt.Errorf("base image %s: %w", ref, err)
	}

	// Keep only the picked files, and publish them with a rename so that a
	// build never sees a half-written cache.
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("workload files cache: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+key+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("workload files cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := rootfs.Save(picked, tmp); err != nil {
		return nil, fmt.Errorf("workload files cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// A concurrent build published the same files first.
		if _, statErr := os.Stat(dir); statErr != nil {
			return nil, fmt.Errorf("workload files cache: %w", err)
		}
	}
	imgs, err := imagesFrom(dir, b.goarch)
	if err != nil {
		return nil, fmt.Errorf("workload files cache: %w", err)
	}
	b.log.Info("busybox and nginx taken", "files", len(picked), "took", time.Since(start).Round(100*time.Millisecond))
	return imgs, nil
}
