package archive

import (
	"fmt"
	"io"
	"io/fs"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/kindish/kindish/images"
)

// defaultPath is the PATH of Debian, and of containers whose image sets none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// PauseFiles is the content of the pause image: the binary at /pause.
func PauseFiles(pauseBinary string) []File {
	return []File{HostFile("/pause", pauseBinary, 0o755)}
}

// ComponentFiles is the one layer every component image shares:
// kindish-node, one symlink per component whose name tells kindish-node what
// to run, and the few files any process expects (/tmp, the root and nobody
// accounts).
func ComponentFiles(nodeBinary string) []File {
	files := []File{
		HostFile(images.NodeBinary, nodeBinary, 0o755),
		Dir("/tmp", 0o777|fs.ModeSticky),
		Dir("/etc", 0o755),
		Bytes("/etc/passwd", []byte("root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"), 0o644),
		Bytes("/etc/group", []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644),
	}
	for _, c := range images.Components() {
		files = append(files, Symlink(c.Command, images.NodeBinary))
	}
	return files
}

// PauseImage is the CRI sandbox image: /pause as its entrypoint. It runs as
// root, unlike the upstream image's user 65535: `ps fx` in a node lists only
// the caller's (root's) processes, and the demo's process trees show /pause
// under every shim.
func PauseImage(pauseBinary string) (v1.Image, error) {
	l, err := NewLayer(PauseFiles(pauseBinary))
	if err != nil {
		return nil, fmt.Errorf("pause image: %w", err)
	}
	return image(l, v1.Config{
		Entrypoint: []string{"/pause"},
		WorkingDir: "/",
		Env:        []string{defaultPath},
	}, "kindish pause")
}

// ComponentImages returns every component image, keyed by reference, all
// sharing one layer (ComponentFiles). Each runs its component's symlink.
func ComponentImages(nodeBinary string) (map[string]v1.Image, error) {
	l, err := NewLayer(ComponentFiles(nodeBinary))
	if err != nil {
		return nil, fmt.Errorf("component images: %w", err)
	}
	out := map[string]v1.Image{}
	for _, c := range images.Components() {
		img, err := image(l, v1.Config{
			Entrypoint: []string{c.Command},
			WorkingDir: "/",
			Env:        []string{defaultPath},
			Labels:     map[string]string{"io.kindish.component": c.Name},
		}, "kindish-node and the component symlinks")
		if err != nil {
			return nil, fmt.Errorf("%s image: %w", c.Name, err)
		}
		out[c.Image()] = img
	}
	return out, nil
}

// WritePause writes the pause image archive (images.PauseImage()) to w.
func WritePause(w io.Writer, pauseBinary string) error {
	img, err := PauseImage(pauseBinary)
	if err != nil {
		return err
	}
	return Write(w, map[string]v1.Image{images.PauseImage(): img})
}

// WriteComponents writes the archive of all component images to w.
func WriteComponents(w io.Writer, nodeBinary string) error {
	imgs, err := ComponentImages(nodeBinary)
	if err != nil {
		return err
	}
	return Write(w, imgs)
}

// image makes a single-layer image for this machine's architecture (the
// binaries are built for it and nodes run on it). Dates are fixed so that
// the config, and with it the image ID, depends on the content only.
func image(l v1.Layer, cfg v1.Config, createdBy string) (v1.Image, error) {
	base, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: Epoch},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, mutate.Addendum{
		Layer:   l,
		History: v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: createdBy},
	})
}
