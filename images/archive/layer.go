package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layer is an uncompressed layer generated from a file list. It is never
// held in memory or on disk: WriteTar is deterministic, so the tar is
// written once to learn its digest and again when an archive needs it.
//
// Layers stay uncompressed on purpose: gzip would cost seconds per build and
// containerd would spend them again decompressing on every node boot, while
// the archives only travel from the node image to the node's disk.
type layer struct {
	files  []File
	digest v1.Hash
	size   int64
}

var _ v1.Layer = (*layer)(nil)

// NewLayer makes an image layer holding files (see WriteTar). Host files are
// read now to compute the digest and again whenever the layer is written, so
// they must not change in between; archive writers check that they did not.
func NewLayer(files []File) (v1.Layer, error) {
	h := sha256.New()
	n := &countWriter{w: h}
	if err := WriteTar(n, files); err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	return &layer{
		files:  files,
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))},
		size:   n.n,
	}, nil
}

// Digest and DiffID are the same for an uncompressed layer.
func (l *layer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *layer) DiffID() (v1.Hash, error) { return l.digest, nil }
func (l *layer) Size() (int64, error)     { return l.size, nil }

func (l *layer) MediaType() (types.MediaType, error) { return types.DockerUncompressedLayer, nil }

func (l *layer) Compressed() (io.ReadCloser, error) { return l.Uncompressed() }

func (l *layer) Uncompressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(WriteTar(pw, l.files)) }()
	return pr, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
