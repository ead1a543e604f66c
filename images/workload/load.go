package workload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kindish/kindish/images/archive"
)

// Result is what Build did with one image.
type Result struct {
	Refs []string
	// ID is the image's ID in Docker: its config's digest.
	ID string
	// Size is the layer's size, uncompressed, as Docker counts it.
	Size int64
	// Loaded is false when Docker already had the image under every
	// reference and nothing was sent.
	Loaded bool
}

// ensureLoaded makes sure Docker has img under each of its references:
// when all of them already name an image with its ID, nothing is sent;
// otherwise the image is loaded as a `docker save` archive, streamed as it
// is written.
func (b *builder) ensureLoaded(ctx context.Context, img spec) (Result, error) {
	built, err := img.build()
	if err != nil {
		return Result{}, err
	}
	res, err := describe(img, built)
	if err != nil {
		return Result{}, err
	}
	// The images the references name now, when they are others.
	replaced := map[string]image.InspectResponse{}
	for _, ref := range img.Refs {
		cur, err := b.docker.ImageInspect(ctx, ref)
		switch {
		case cerrdefs.IsNotFound(err):
		case err != nil:
			return Result{}, fmt.Errorf("inspect image %s: %w", ref, err)
		case cur.ID != res.ID:
			replaced[cur.ID] = cur
		default:
			continue
		}
		res.Loaded = true
	}
	names := strings.Join(img.Refs, ", ")
	if !res.Loaded {
		b.status.Start(fmt.Sprintf("%s is up to date (%s)", names, megabytes(res.Size)))
		b.status.End(true)
		b.log.Info("image up to date", "image", names, "id", shortID(res.ID))
		return res, nil
	}

	b.status.Start(fmt.Sprintf("Loading %s (%s)", names, megabytes(res.Size)))
	err = b.load(ctx, img.Refs, built)
	b.status.End(err == nil)
	if err != nil {
		return Result{}, fmt.Errorf("load %s into Docker: %w", names, err)
	}
	b.log.Info("image loaded", "image", names, "id", shortID(res.ID))
	for id, old := range replaced {
		b.removeReplaced(ctx, id, old)
	}
	return res, nil
}

// describe computes an image's ID and size.
func describe(img spec, built v1.Image) (Result, error) {
	cfg, err := built.ConfigName()
	if err != nil {
		return Result{}, fmt.Errorf("%s image config: %w", img.Name, err)
	}
	layers, err := built.Layers()
	if err != nil {
		return Result{}, fmt.Errorf("%s image layers: %w", img.Name, err)
	}
	res := Result{Refs: img.Refs, ID: cfg.String()}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return Result{}, fmt.Errorf("%s image layer: %w", img.Name, err)
		}
		res.Size += n
	}
	return res, nil
}

// load sends the image to Docker under refs, as a `docker save` archive
// written while Docker reads it.
func (b *builder) load(ctx context.Context, refs []string, img v1.Image) error {
	byRef := make(map[string]v1.Image, len(refs))
	for _, ref := range refs {
		byRef[ref] = img
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(archive.Write(pw, byRef)) }()
	defer pr.Close()
	resp, err := b.docker.ImageLoad(ctx, pr, client.ImageLoadWithQuiet(true))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readLoadStream(resp.Body, b.log.Debug)
}

// readLoadStream reads the progress of an image load ("Loaded image:
// busybox:latest") and returns the error it reports.
func readLoadStream(r io.Reader, logf func(msg string, args ...any)) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("read Docker's answer: %w", err)
		}
		if m.Error != nil {
			return m.Error
		}
		if text := strings.TrimSpace(m.Stream + m.Status); text != "" {
			logf(text)
		}
	}
}

// removeReplaced deletes an image that a reference moved away from, when
// it is one of ours and nothing else uses it (no other tag, no container):
// rebuilding after each change would otherwise leave images behind.
func (b *builder) removeReplaced(ctx context.Context, id string, old image.InspectResponse) {
	if old.Config == nil || old.Config.Labels[workloadLabel] == "" {
		return
	}
	if _, err := b.docker.ImageRemove(ctx, id, image.RemoveOptions{PruneChildren: true}); err != nil {
		b.log.Debug("replaced image kept", "id", shortID(id), "reason", err)
		return
	}
	b.log.Debug("replaced image removed", "id", shortID(id))
}

func megabytes(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func shortID(id string) string {
	if len(id) > 19 {
		return id[:19]
	}
	return id
}
