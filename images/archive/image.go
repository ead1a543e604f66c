package archive

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Layer is the content of one image layer and the history line that says
// what it holds.
type Layer struct {
	Files     []File
	CreatedBy string
}

// NewImage makes an image of layers with the config cfg, for this machine's
// architecture and with fixed dates, as kindish's own images are: the same
// files and config always give the same image ID.
func NewImage(cfg v1.Config, layers ...Layer) (v1.Image, error) {
	steps := make([]step, 0, len(layers))
	for _, l := range layers {
		layer, err := NewLayer(l.Files)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.CreatedBy, err)
		}
		steps = append(steps, step{layer, l.CreatedBy})
	}
	return image(cfg, steps...)
}

// DefaultPath is Debian's PATH, for the Env of images that have programs
// in the usual places.
const DefaultPath = defaultPath
