package nodeimage

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"

	"github.com/kindish/kindish/images/archive"
	"github.com/kindish/kindish/images/netfilter"
)

// exportLabel marks the containers the build creates (never starts) to
// copy files out of the base image, should one outlive a killed build.
const exportLabel = "io.kindish.build"

// netfilterFiles returns the netfilter tools layer of the kube-proxy and
// kindnetd images, taken from the base image's root file system. The
// layer's files are kept in the cache per base image ID: the base is the
// only input, so a warm build reads a few megabytes from the cache and
// asks Docker nothing.
func (b *builder) netfilterFiles(ctx context.Context, baseRef, work string) ([]archive.File, error) {
	base, err := b.docker.ImageInspect(ctx, baseRef)
	if err != nil {
		return nil, fmt.Errorf("netfilter tools: inspect base image %s: %w", baseRef, err)
	}
	key := strings.TrimPrefix(base.ID, "sha256:")
	if len(key) < 16 {
		return nil, fmt.Errorf("netfilter tools: base image %s has an unexpected ID %q", baseRef, base.ID)
	}
	key = key[:16]

	parent := filepath.Join(work, "netfilter-cache")
	if b.cacheDir != "" {
		parent = filepath.Join(b.cacheDir, "netfilter")
	}
	dir := filepath.Join(parent, key)
	if _, err := os.Stat(dir); err == nil {
		files, err := netfilter.Files(dir, runtime.GOARCH)
		if err == nil {
			b.log.Debug("netfilter tools from the cache", "dir", dir)
			return files, nil
		}
		// A damaged cache is rebuilt rather than trusted.
		b.log.Info("netfilter tools cache unusable: taking them from the base image again", "dir", dir, "reason", err)
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("netfilter tools: remove cache %s: %w", dir, err)
		}
	}

	start := time.Now()
	b.log.Info("taking iptables and conntrack from the base image", "image", baseRef)
	staging, err := os.MkdirTemp(work, "netfilter-rootfs-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(staging)
	paths, err := netfilter.SourcePaths(runtime.GOARCH)
	if err != nil {
		return nil, fmt.Errorf("netfilter tools: %w", err)
	}
	if err := b.copyFromImage(ctx, base.ID, paths, staging); err != nil {
		return nil, fmt.Errorf("netfilter tools: base image %s: %w", baseRef, err)
	}
	files, err := netfilter.Files(staging, runtime.GOARCH)
	if err != nil {
		return nil, fmt.Errorf("netfilter tools: base image %s: %w", baseRef, err)
	}

	// Keep only the layer's files, and publish them with a rename so that
	// a build never sees a half-written cache.
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("netfilter tools cache: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+key+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("netfilter tools cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := netfilter.Save(files, tmp); err != nil {
		return nil, fmt.Errorf("netfilter tools cache: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// A concurrent build published the same files first.
		if _, statErr := os.Stat(dir); statErr != nil {
			return nil, fmt.Errorf("netfilter tools cache: %w", err)
		}
	}
	files, err = netfilter.Files(dir, runtime.GOARCH)
	if err != nil {
		return nil, fmt.Errorf("netfilter tools cache %s: %w", dir, err)
	}
	b.log.Info("netfilter tools taken", "files", len(files), "took", time.Since(start).Round(100*time.Millisecond))
	return files, nil
}

// copyFromImage copies paths (files, links or whole directories) of an
// image's root file system to the same paths under dst, through a
// container that is created and never started. Paths the image lacks are
// skipped: what is then missing is reported by whoever needs it.
func (b *builder) copyFromImage(ctx context.Context, imageID string, paths []string, dst string) (err error) {
	created, err := b.docker.ContainerCreate(ctx, &container.Config{
		Image: imageID,
		// Never run; Docker only insists that a container has a command.
		Cmd:             []string{"/bin/true"},
		NetworkDisabled: true,
		Labels:          map[string]string{exportLabel: "export"},
	}, &container.HostConfig{}, nil, nil, "")
	if err != nil {
		return fmt.Errorf("create container: %w", err)
	}
	defer func() {
		rmErr := b.docker.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		if rmErr != nil && err == nil {
			err = fmt.Errorf("remove container %s: %w", shortID(created.ID), rmErr)
		}
	}()
	for _, p := range paths {
		rc, _, err := b.docker.CopyFromContainer(ctx, created.ID, p)
		if cerrdefs.IsNotFound(err) {
			b.log.Debug("not in the base image", "path", p)
			continue
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", p, err)
		}
		err = untar(rc, filepath.Join(dst, filepath.FromSlash(path.Dir(p))))
		rc.Close()
		if err != nil {
			return fmt.Errorf("copy %s: %w", p, err)
		}
	}
	return nil
}

// untar extracts the directories, regular files, symbolic links and hard
// links of a tar into dir. Entries that would land outside dir, directly or
// through a symbolic link extracted before, are refused. Link targets are
// kept as written: netfilter's resolver reads them relative to the root.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target, err := inside(dir, h.Name)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			err = writeRegular(target, tr, os.FileMode(h.Mode).Perm())
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, target)
		case tar.TypeLink:
			var src string
			if src, err = inside(dir, h.Linkname); err == nil {
				err = os.Link(src, target)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
	}
}

func writeRegular(target string, r io.Reader, perm os.FileMode) error {
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	// The exact permission bits: the layer takes them from here.
	return os.Chmod(target, perm)
}

// inside joins a tar entry's name to dir, refusing names that leave dir
// and names below a symbolic link, which could point anywhere on the host.
func inside(dir, name string) (string, error) {
	clean := path.Clean(name)
	if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("tar entry %q leaves the directory", name)
	}
	cur := dir
	parts := strings.Split(clean, "/")
	for _, part := range parts[:len(parts)-1] {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return "", fmt.Errorf("tar entry %q is below the symbolic link %s", name, cur)
		}
	}
	return filepath.Join(dir, filepath.FromSlash(clean)), nil
}
