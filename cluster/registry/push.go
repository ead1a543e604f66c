package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Locate is where the registry keeps the image ref (see the function
// Locate).
func (r *Registry) Locate(ref string) (Location, error) { return Locate(ref, r.Host()) }

// Push copies the image ref from the host's Docker engine into the
// registry, where Locate says, and returns the digest of its manifest
// there. Blobs the registry already holds are not sent again, so pushing
// an unchanged image sends one manifest, and a new tag of a known image
// no layer.
//
// Layers are stored uncompressed, as `docker save` gives them, under an
// OCI manifest: nothing is compressed on the host nor decompressed on the
// nodes, and the layers' digests are their diff IDs, the same at every
// push. So the digest is the registry's, not the upstream's: an image
// pulled from docker.io by digest cannot be pushed under that digest, and
// ref must name a tag (or nothing: latest).
func (r *Registry) Push(ctx context.Context, ref string) (v1.Hash, error) {
	loc, err := r.Locate(ref)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", ref, err)
	}
	if loc.Digest != "" {
		return v1.Hash{}, fmt.Errorf("push %s: %w", ref, errDigestPush)
	}
	start := time.Now()
	saved, err := r.save(ctx, ref)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", ref, err)
	}
	defer os.Remove(saved)
	img, err := tarball.ImageFromPath(saved, nil)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: read the image Docker saved: %w", ref, err)
	}
	digest, sent, err := r.api().push(ctx, loc, img)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s to registry %s as %s: %w", ref, r.name, loc, err)
	}
	r.log.Info("image pushed to the registry", "image", ref, "as", loc.String(), "digest", digest.String(), "sent", sizeString(sent), "took", time.Since(start).Round(time.Millisecond))
	return digest, nil
}

// push uploads img's config and layers that repo lacks, then its
// manifest, and returns the manifest's digest and the bytes of blobs sent.
func (c *apiClient) push(ctx context.Context, loc Location, img v1.Image) (v1.Hash, int64, error) {
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("image config: %w", err)
	}
	cfgDigest, err := img.ConfigName()
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("image config: %w", err)
	}
	var sent int64
	ensure := func(d v1.Hash, open func() (io.ReadCloser, error)) (int64, error) {
		size, ok, err := c.blobSize(ctx, loc.Repository, d)
		if err != nil || ok {
			return size, err
		}
		rc, err := open()
		if err != nil {
			return 0, err
		}
		defer rc.Close()
		n, err := c.uploadBlob(ctx, loc.Repository, d, rc)
		sent += n
		return n, err
	}

	manifest := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("image layers: %w", err)
	}
	for i, l := range layers {
		// The diff ID is the digest of the uncompressed layer, from the
		// image config: no need to read the layer to know it.
		diffID, err := l.DiffID()
		if err != nil {
			return v1.Hash{}, sent, fmt.Errorf("layer %d: %w", i, err)
		}
		size, err := ensure(diffID, l.Uncompressed)
		if err != nil {
			return v1.Hash{}, sent, fmt.Errorf("layer %d (%s): %w", i, diffID, err)
		}
		manifest.Layers = append(manifest.Layers, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Size: size, Digest: diffID})
	}
	// The config last: a registry that has it has every layer before it.
	size, err := ensure(cfgDigest, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(cfg)), nil })
	if err != nil {
		return v1.Hash{}, sent, fmt.Errorf("image config %s: %w", cfgDigest, err)
	}
	manifest.Config = v1.Descriptor{MediaType: types.OCIConfigJSON, Size: size, Digest: cfgDigest}

	raw, err := json.Marshal(manifest)
	if err != nil {
		return v1.Hash{}, sent, err
	}
	digest, err := c.putManifest(ctx, loc.Repository, loc.Tag, manifest.MediaType, raw)
	return digest, sent, err
}

// save writes the image ref from the engine, in `docker save` format, to
// a temporary file and returns its path: the archive is read more than
// once (the layers' digests, then their upload) and may not fit in memory.
func (r *Registry) save(ctx context.Context, ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", err
	}
	// A name without a tag would save every tag of the repository.
	tagged := reference.FamiliarString(reference.TagNameOnly(named))
	f, err := os.CreateTemp(r.tempDir, "kindish-push-*.tar")
	if err != nil {
		return "", fmt.Errorf("save image %s: %w", tagged, err)
	}
	rc, err := r.docker.ImageSave(ctx, []string{tagged})
	if err == nil {
		_, err = io.Copy(f, rc)
		rc.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("save image %s from the Docker engine: %w", tagged, err)
	}
	return f.Name(), nil
}

// Has reports whether the registry holds the image ref, where Locate says;
// with a non-zero digest, whether it holds it with that manifest digest.
func (r *Registry) Has(ctx context.Context, ref string, digest v1.Hash) (bool, error) {
	loc, err := r.Locate(ref)
	if err != nil {
		return false, err
	}
	got, ok, err := r.api().manifestDigest(ctx, loc.Repository, loc.Reference())
	if err != nil {
		return false, fmt.Errorf("look up %s in registry %s: %w", loc, r.name, err)
	}
	return ok && (digest == (v1.Hash{}) || got == digest), nil
}

// HasImage reports whether the registry holds ref, where Locate says, as
// the engine's image id: Push keeps the engine's image config as it is, so
// the manifest's config digest is the image ID, and such an image needs no
// push.
func (r *Registry) HasImage(ctx context.Context, ref, id string) (bool, error) {
	loc, err := r.Locate(ref)
	if err != nil {
		return false, err
	}
	cfg, ok, err := r.api().manifestConfig(ctx, loc.Repository, loc.Reference())
	if err != nil {
		return false, fmt.Errorf("look up %s in registry %s: %w", loc, r.name, err)
	}
	return ok && cfg.String() == id, nil
}

// api is a client of the registry's API on its host address.
func (r *Registry) api() *apiClient {
	return &apiClient{base: "https://" + r.addr, hc: &http.Client{Transport: r.transport}}
}
