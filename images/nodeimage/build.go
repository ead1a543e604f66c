// Package nodeimage builds the node image, kindish/node:<tag>, on a machine
// without an image registry: a Debian base made by debootstrap and imported
// into Docker (built once per recipe and kept), and on top of it one layer
// with kindish's own binaries, the containerd configuration, and the pause
// and component images in containerd's store, unpacked (assemble.go).
//
// The Debian base is one recipe (Base) of many: EnsureBase and
// CopyFromImage build other bases and read files out of them, for the
// images whose files come from Debian packages (images/workload).
package nodeimage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kindish/kindish/images"
	"github.com/kindish/kindish/images/archive"
)

// Docker is the part of the Docker Engine API the build uses;
// *client.Client implements it.
type Docker interface {
	ImageInspector
	Preloader
	ImageImport(ctx context.Context, source image.ImportSource, ref string, options image.ImportOptions) (io.ReadCloser, error)
	ImageRemove(ctx context.Context, image string, options image.RemoveOptions) ([]image.DeleteResponse, error)
	// A container created from the base image, and never started, is how
	// files are copied out of it.
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	CopyFromContainer(ctx context.Context, containerID, srcPath string) (io.ReadCloser, container.PathStat, error)
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
}

// ImageInspector looks images up.
type ImageInspector interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
}

// Options configure Build. Only SourceDir (or BinDir) is required.
type Options struct {
	// Image is the reference to build; default images.NodeImage().
	Image string
	// SourceDir is the kindish source tree (the directory holding go.mod),
	// from which kindish-node and pause are built, and CoreDNS from its
	// wrapper module (images/coredns). go build writes kindish-node and
	// pause under CacheDir (bin/<hash of SourceDir>), where it finds them
	// up to date next time and skips linking.
	SourceDir string
	// BinDir, when set, holds prebuilt kindish-node and pause binaries
	// (linux, static) to use instead of building from SourceDir, and
	// optionally coredns; without it CoreDNS is built from SourceDir.
	BinDir string
	// CacheDir keeps what later builds reuse: the binaries, CoreDNS per
	// wrapper content, the netfilter tools per base image. Default: the
	// user's cache directory's kindish/; without one nothing is kept.
	CacheDir string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Docker is the engine to build in; nil connects to the one the
	// environment names, negotiating the API version.
	Docker Docker
	// Mirror is the Debian mirror for debootstrap; default: the machine's
	// own (/etc/apt/sources.list.d/debian.sources), else DefaultMirror.
	Mirror string
	// TempDir holds the build's scratch files, removed afterwards; default
	// /var/tmp, as the Debian root file system may not fit in a small /tmp.
	TempDir string
	// PackageCache, when set, is a directory where debootstrap keeps the
	// packages it downloads, so that rebuilding the base after a recipe
	// change downloads only what changed.
	PackageCache string
}

// Labels on the images this package builds.
const (
	versionLabel = "io.kindish.version"
	baseLabel    = "io.kindish.base"
	// contextLabel holds the digest of the build context the node image was
	// built from: when a new build has the same, the image is up to date.
	contextLabel = "io.kindish.context"
)

// nodePath is PATH in a node: /usr/local/bin first, where the containerd
// symlinks are, so the processes show the paths the demo shows.
const nodePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Build builds the node image. The Debian base is reused when it exists; the
// binaries come from the Go build cache when unchanged; and when the
// resulting build context equals the one the current image was built from,
// nothing is sent to Docker at all.
func Build(ctx context.Context, opts Options) error {
	start := time.Now()
	b, err := newBuilder(opts)
	if err != nil {
		return fmt.Errorf("build node image: %w", err)
	}
	defer b.close()
	if err := b.build(ctx); err != nil {
		return fmt.Errorf("build node image %s: %w", b.opts.Image, err)
	}
	b.log.Info("node image ready", "image", b.opts.Image, "took", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// ImageExists reports whether the engine has the image.
func ImageExists(ctx context.Context, docker ImageInspector, ref string) (bool, error) {
	_, err := docker.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
}

type builder struct {
	opts      Options
	log       *slog.Logger
	docker    Docker
	ownClient *client.Client
	// cacheDir is Options.CacheDir, or empty when there is none.
	cacheDir string
}

func newBuilder(opts Options) (*builder, error) {
	if opts.Image == "" {
		opts.Image = images.NodeImage()
	}
	if opts.TempDir == "" {
		opts.TempDir = "/var/tmp"
	}
	if opts.Mirror == "" {
		opts.Mirror = MachineMirror()
	}
	if opts.BinDir == "" && opts.SourceDir == "" {
		return nil, errors.New("neither a source directory nor a directory of binaries given")
	}
	if opts.SourceDir != "" {
		if _, err := os.Stat(filepath.Join(opts.SourceDir, "go.mod")); err != nil {
			return nil, fmt.Errorf("source directory %s: no go.mod: %w", opts.SourceDir, err)
		}
	}
	if opts.CacheDir == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			opts.CacheDir = filepath.Join(dir, "kindish")
		}
	}
	b := &builder{opts: opts, log: opts.Logger, docker: opts.Docker, cacheDir: opts.CacheDir}
	if b.log == nil {
		b.log = logDiscard
	}
	if b.docker == nil {
		c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return nil, fmt.Errorf("docker client: %w", err)
		}
		b.docker, b.ownClient = c, c
	}
	return b, nil
}

func (b *builder) close() {
	if b.ownClient != nil {
		b.ownClient.Close()
	}
}

func (b *builder) build(ctx context.Context) error {
	work, err := os.MkdirTemp(b.opts.TempDir, "kindish-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// The base (network and dpkg bound) with the netfilter tools taken from
	// it, and the Go builds (CPU bound) do not depend on each other.
	var (
		baseRef   string
		netTools  []archive.File
		bins      binaries
		corednsAt string
	)
	err = concurrently(ctx,
		func(ctx context.Context) (err error) {
			if baseRef, err = b.ensureBase(ctx, NodeBase); err != nil {
				return err
			}
			netTools, err = b.netfilterFiles(ctx, baseRef, work)
			return err
		},
		func(ctx context.Context) (err error) {
			bins, err = b.binaries(ctx, work)
			return err
		},
		func(ctx context.Context) (err error) {
			corednsAt, err = b.corednsBinary(ctx, work)
			return err
		},
	)
	if err != nil {
		return err
	}
	bins.coredns = corednsAt

	t := time.Now()
	archives, err := writeArchives(work, bins, netTools)
	if err != nil {
		return err
	}
	b.log.Debug("image archives written", "took", time.Since(t).Round(time.Millisecond))

	digest, err := imageDigest(baseRef, bins, archives)
	if err != nil {
		return err
	}
	current, err := b.docker.ImageInspect(ctx, b.opts.Image)
	switch {
	case err == nil:
		if current.Config != nil && current.Config.Labels[contextLabel] == digest {
			b.log.Info("node image up to date", "image", b.opts.Image)
			return nil
		}
	case cerrdefs.IsNotFound(err):
	default:
		return fmt.Errorf("inspect image %s: %w", b.opts.Image, err)
	}

	b.log.Info("building the node image", "image", b.opts.Image, "base", baseRef)
	t = time.Now()
	id, err := b.assemble(ctx, baseRef, digest, bins, archives)
	if err != nil {
		return err
	}
	b.log.Debug("node image assembled", "took", time.Since(t).Round(time.Millisecond))
	if current.ID != "" && current.ID != id {
		b.removeReplaced(ctx, current.ID)
	}
	if img, err := b.docker.ImageInspect(ctx, id); err == nil {
		b.log.Info("node image built", "image", b.opts.Image, "id", shortID(id), "size", fmt.Sprintf("%d MB", img.Size/1e6))
	}
	return nil
}

// removeReplaced deletes the image that the build's tag moved away from,
// unless something still uses it; rebuilding during development would
// otherwise leave a few hundred MB behind each time.
func (b *builder) removeReplaced(ctx context.Context, id string) {
	if _, err := b.docker.ImageRemove(ctx, id, image.RemoveOptions{PruneChildren: true}); err != nil {
		b.log.Debug("previous node image kept", "id", shortID(id), "reason", err)
		return
	}
	b.log.Debug("previous node image removed", "id", shortID(id))
}

func shortID(id string) string {
	if len(id) > 19 {
		return id[:19]
	}
	return id
}

// concurrently runs fns at the same time and returns the first error; a
// failure cancels the others, so a broken Go build does not wait for
// debootstrap to finish.
func concurrently(ctx context.Context, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil {
				once.Do(func() { first = err })
				cancel()
			}
		}()
	}
	wg.Wait()
	return first
}
