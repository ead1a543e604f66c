package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"golang.org/x/sync/errgroup"

	"github.com/kindish/kindish/images/nodeimage"
)

// Docker is the part of the Docker Engine API the build uses;
// *client.Client implements it.
type Docker interface {
	// The base image is built, and files are copied out of it, as the
	// node image's are.
	nodeimage.Docker
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (image.LoadResponse, error)
}

// Status shows the build's steps, one line each; *status.Printer is one.
type Status interface {
	Start(msg string)
	End(ok bool)
}

// Options configure Build. SourceDir (or TestboxBinary) is required.
type Options struct {
	// SourceDir is the kindish source tree (the directory holding go.mod),
	// from which testbox is built.
	SourceDir string
	// TestboxBinary, when set, is a prebuilt testbox (linux, static) to
	// use instead of building it from SourceDir.
	TestboxBinary string
	// CacheDir keeps what later builds reuse: the testbox binary, and the
	// files taken from each workload base. Default: the user's cache
	// directory's kindish/; without one nothing is kept.
	CacheDir string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Status shows one line per step; nil shows nothing.
	Status Status
	// Docker is the engine to build in; nil connects to the one the
	// environment names, negotiating the API version.
	Docker Docker
	// Mirror, TempDir and PackageCache are as in nodeimage.Options.
	Mirror       string
	TempDir      string
	PackageCache string
}

// Build makes the workload images and loads into Docker those it lacks:
// busybox, nginx and testbox, in that order.
func Build(ctx context.Context, opts Options) ([]Result, error) {
	b, err := newBuilder(opts)
	if err != nil {
		return nil, fmt.Errorf("build workload images: %w", err)
	}
	defer b.close()
	results, err := b.build(ctx)
	if err != nil {
		return nil, fmt.Errorf("build workload images: %w", err)
	}
	return results, nil
}

type builder struct {
	opts      Options
	log       *slog.Logger
	status    Status
	docker    Docker
	ownClient *client.Client
	// cacheDir is Options.CacheDir, or empty when there is none.
	cacheDir string
	// goarch is the architecture of the images: this machine's, as the
	// nodes that run them are on it.
	goarch string
}

func newBuilder(opts Options) (*builder, error) {
	if opts.TestboxBinary == "" && opts.SourceDir == "" {
		return nil, errors.New("neither a source directory nor a testbox binary given")
	}
	if opts.TestboxBinary == "" {
		if _, err := os.Stat(filepath.Join(opts.SourceDir, "go.mod")); err != nil {
			return nil, fmt.Errorf("source directory %s: no go.mod: %w", opts.SourceDir, err)
		}
	}
	if opts.TempDir == "" {
		opts.TempDir = "/var/tmp"
	}
	if opts.Mirror == "" {
		opts.Mirror = nodeimage.MachineMirror()
	}
	if opts.CacheDir == "" {
		if dir, err := os.UserCacheDir(); err == nil {
			opts.CacheDir = filepath.Join(dir, "kindish")
		}
	}
	b := &builder{opts: opts, log: opts.Logger, status: opts.Status, docker: opts.Docker, cacheDir: opts.CacheDir, goarch: runtime.GOARCH}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.status == nil {
		b.status = noStatus{}
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

func (b *builder) build(ctx context.Context) ([]Result, error) {
	work, err := os.MkdirTemp(b.opts.TempDir, "kindish-workload-")
	if err != nil {
		return nil, fmt.Errorf("scratch directory: %w", err)
	}
	defer os.RemoveAll(work)

	// The Debian files (debootstrap on a cold machine, the cache on a warm
	// one) and the Go build do not depend on each other.
	var (
		debian  []spec
		testbox string
	)
	step := "Preparing busybox, nginx and testbox"
	if base := Base.Image(b.opts.Mirror); !b.baseExists(ctx, base) {
		step += " (building the Debian base " + base + " first: a minute or two)"
	}
	b.status.Start(step)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		debian, err = b.debianImages(gctx, work)
		return err
	})
	g.Go(func() (err error) {
		testbox, err = b.testboxBinary(gctx, work)
		return err
	})
	err = g.Wait()
	b.status.End(err == nil)
	if err != nil {
		return nil, err
	}

	var results []Result
	for _, img := range append(debian, testboxImage(testbox)) {
		res, err := b.ensureLoaded(ctx, img)
		if err != nil {
			return nil, err
		}
		results = append(results, res)
	}
	return results, nil
}

// baseExists tells whether the workload base is there already, for the
// status line only: EnsureBase decides, and reports errors.
func (b *builder) baseExists(ctx context.Context, ref string) bool {
	ok, err := nodeimage.ImageExists(ctx, b.docker, ref)
	return err == nil && ok
}

type noStatus struct{}

func (noStatus) Start(string) {}
func (noStatus) End(bool)     {}
