package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kindish/kindish/images/archive"
)

// Engine is the part of the Docker Engine API that loading the image
// uses; *client.Client implements it.
type Engine interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (image.LoadResponse, error)
	ImageRemove(ctx context.Context, image string, options image.RemoveOptions) ([]image.DeleteResponse, error)
}

// BuildOptions configure Build. SourceDir or Binary is required.
type BuildOptions struct {
	// Image is the reference to build; default Image().
	Image string
	// SourceDir is the kindish source tree (the directory holding go.mod);
	// the registry is built from its wrapper module, ModuleDir.
	SourceDir string
	// Binary, when set, is a prebuilt registry binary (linux, static) to
	// use instead of building one from SourceDir.
	Binary string
	// CacheDir keeps the built binaries, under registry/<key>/, as
	// images/nodeimage keeps CoreDNS's under coredns/. Default: the user's
	// cache directory's kindish/.
	CacheDir string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// Build makes the registry image present in the engine under opts.Image:
// it builds the binary (or takes it from the cache), makes the image, and
// loads it, unless the engine already holds an image with the same ID
// under that name. It returns the image ID.
func Build(ctx context.Context, engine Engine, opts BuildOptions) (string, error) {
	if opts.Image == "" {
		opts.Image = Image()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bin := opts.Binary
	if bin == "" {
		if opts.SourceDir == "" {
			return "", fmt.Errorf("build registry image %s: neither a source directory nor a prebuilt binary given", opts.Image)
		}
		cache := opts.CacheDir
		if cache == "" {
			dir, err := os.UserCacheDir()
			if err != nil {
				return "", fmt.Errorf("build registry image %s: no cache directory: %w", opts.Image, err)
			}
			cache = filepath.Join(dir, "kindish")
		}
		var err error
		bin, err = Binary(ctx, Options{
			ModuleDir: filepath.Join(opts.SourceDir, filepath.FromSlash(ModuleDir)),
			CacheDir:  filepath.Join(cache, BinaryName),
			GOARCH:    runtime.GOARCH,
			Logger:    log,
		})
		if err != nil {
			return "", fmt.Errorf("build registry image %s: %w", opts.Image, err)
		}
	}
	img, err := NewImage(bin)
	if err != nil {
		return "", fmt.Errorf("build registry image %s: %w", opts.Image, err)
	}
	id, err := Load(ctx, engine, opts.Image, img)
	if err != nil {
		return "", err
	}
	log.Info("registry image ready", "image", opts.Image, "id", id)
	return id, nil
}

// Load puts img into the engine under ref, as `docker load` of a
// `docker save` archive would, and returns its ID. An engine that already
// has img under ref (same ID: the digest of its config) is left alone. The
// image ref named before is removed unless something still uses it, so
// that rebuilds leave nothing behind.
func Load(ctx context.Context, engine Engine, ref string, img v1.Image) (string, error) {
	cfg, err := img.ConfigName()
	if err != nil {
		return "", fmt.Errorf("load image %s: %w", ref, err)
	}
	id := cfg.String()
	current, err := engine.ImageInspect(ctx, ref)
	switch {
	case err == nil && current.ID == id:
		return id, nil
	case err == nil, cerrdefs.IsNotFound(err):
	default:
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}

	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Write(pw, map[string]v1.Image{ref: img})) }()
	resp, err := engine.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err != nil {
		pr.CloseWithError(err)
		return "", fmt.Errorf("load image %s: %w", ref, err)
	}
	defer resp.Body.Close()
	if err := loadError(resp.Body); err != nil {
		pr.CloseWithError(err)
		return "", fmt.Errorf("load image %s: %w", ref, err)
	}
	loaded, err := engine.ImageInspect(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("load image %s: inspect it afterwards: %w", ref, err)
	}
	if loaded.ID != id {
		return "", fmt.Errorf("load image %s: the engine holds %s, want %s", ref, loaded.ID, id)
	}
	if current.ID != "" && current.ID != id {
		// Without Force: an image a container still runs stays.
		engine.ImageRemove(ctx, current.ID, image.RemoveOptions{PruneChildren: true})
	}
	return id, nil
}

// loadError reads the engine's answer to a load, a stream of JSON
// messages, and returns the error it reports: a failed load is told inside
// the stream, not by the HTTP status. (docker's jsonmessage package would
// do, but brings a terminal library into kindish's module graph.)
func loadError(stream io.Reader) error {
	dec := json.NewDecoder(stream)
	for {
		var msg struct {
			Error       string `json:"error"`
			ErrorDetail *struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		err := dec.Decode(&msg)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the engine's answer: %w", err)
		}
		if msg.ErrorDetail != nil && msg.ErrorDetail.Message != "" {
			return errors.New(msg.ErrorDetail.Message)
		}
		if msg.Error != "" {
			return errors.New(msg.Error)
		}
	}
}
