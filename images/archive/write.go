package archive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Write writes images, keyed by their references ("kindish/pause:v0.1.0"),
// as one `docker save` archive: each config and each distinct layer once,
// then manifest.json naming the tags. Unlike tarball.MultiRefWrite, whose
// entry order follows Go's map iteration, the output is byte-for-byte
// reproducible: images are ordered by reference, layers by first use.
func Write(w io.Writer, images map[string]v1.Image) error {
	if len(images) == 0 {
		return fmt.Errorf("write image archive: no images")
	}
	refs := make([]string, 0, len(images))
	for ref := range images {
		tag, err := name.NewTag(ref)
		if err != nil {
			return fmt.Errorf("write image archive: image reference %q: %w", ref, err)
		}
		// An implicit ":latest" would name a different image on import.
		if !strings.HasSuffix(ref, ":"+tag.TagStr()) {
			return fmt.Errorf("write image archive: image reference %q has no tag", ref)
		}
		refs = append(refs, ref)
	}
	sort.Strings(refs)

	// One manifest entry per distinct image, listing all its tags.
	type entry struct {
		img  v1.Image
		desc tarball.Descriptor
	}
	var entries []*entry
	byConfig := map[v1.Hash]*entry{}
	for _, ref := range refs {
		img := images[ref]
		cfg, err := img.ConfigName()
		if err != nil {
			return fmt.Errorf("write image archive: %s: %w", ref, err)
		}
		if e, ok := byConfig[cfg]; ok {
			e.desc.RepoTags = append(e.desc.RepoTags, ref)
			continue
		}
		e := &entry{img: img, desc: tarball.Descriptor{Config: cfg.Hex + ".json", RepoTags: []string{ref}}}
		byConfig[cfg] = e
		entries = append(entries, e)
	}

	tw := tar.NewWriter(w)
	written := map[v1.Hash]bool{}
	var manifest tarball.Manifest
	for _, e := range entries {
		cfg, err := e.img.RawConfigFile()
		if err != nil {
			return fmt.Errorf("write image archive: %s config: %w", e.desc.RepoTags[0], err)
		}
		if err := writeBlob(tw, e.desc.Config, int64(len(cfg)), bytes.NewReader(cfg)); err != nil {
			return fmt.Errorf("write image archive: %w", err)
		}
		layers, err := e.img.Layers()
		if err != nil {
			return fmt.Errorf("write image archive: %s layers: %w", e.desc.RepoTags[0], err)
		}
		for _, l := range layers {
			file, err := writeLayer(tw, l, written)
			if err != nil {
				return fmt.Errorf("write image archive: %s: %w", e.desc.RepoTags[0], err)
			}
			e.desc.Layers = append(e.desc.Layers, file)
		}
		manifest = append(manifest, e.desc)
	}
	m, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	if err := writeBlob(tw, "manifest.json", int64(len(m)), bytes.NewReader(m)); err != nil {
		return fmt.Errorf("write image archive: %w", err)
	}
	return tw.Close()
}

// writeLayer adds a layer blob unless an earlier image already added it,
// checks that what was written still has the layer's digest, and returns
// the blob's name in the archive.
func writeLayer(tw *tar.Writer, l v1.Layer, written map[v1.Hash]bool) (string, error) {
	digest, err := l.Digest()
	if err != nil {
		return "", err
	}
	mt, err := l.MediaType()
	if err != nil {
		return "", err
	}
	file := digest.Hex + ".tar"
	if mt != types.DockerUncompressedLayer && mt != types.OCIUncompressedLayer {
		file += ".gz"
	}
	if written[digest] {
		return file, nil
	}
	size, err := l.Size()
	if err != nil {
		return "", err
	}
	r, err := l.Compressed()
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	if err := writeBlob(tw, file, size, io.TeeReader(r, h)); err != nil {
		return "", err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != digest.Hex {
		return "", fmt.Errorf("layer %s changed while being written (now sha256:%s): was a binary rebuilt meanwhile?", digest, got)
	}
	written[digest] = true
	return file, nil
}

func writeBlob(tw *tar.Writer, name string, size int64, r io.Reader) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     0o644,
		Size:     size,
		ModTime:  Epoch,
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := io.CopyN(tw, r, size); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
