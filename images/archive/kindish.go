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

// CoreDNSFiles is the content of the CoreDNS image: the binary alone, as
// upstream's image holds it (CoreDNS needs no libc, shell or users).
func CoreDNSFiles(corednsBinary string) []File {
	return []File{HostFile(images.CoreDNSBinary, corednsBinary, 0o755)}
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
	return image(v1.Config{
		Entrypoint: []string{"/pause"},
		WorkingDir: "/",
		Env:        []string{defaultPath},
	}, step{l, "kindish pause"})
}

// ComponentSources are the host files the images of the components
// archive are made from.
type ComponentSources struct {
	// NodeBinary is kindish-node, in every component image (ComponentFiles).
	NodeBinary string
	// Netfilter is the netfilter tools layer (images/netfilter) of the
	// components whose Netfilter is set.
	Netfilter []File
	// CoreDNS is the coredns binary of the CoreDNS image.
	CoreDNS string
}

// ComponentImages returns the images of the components archive, keyed by
// reference: every component image, all sharing one layer (ComponentFiles)
// and running their component's symlink, with the netfilter tools as a
// second, shared layer where the component needs them; and the CoreDNS
// image.
func ComponentImages(src ComponentSources) (map[string]v1.Image, error) {
	if src.NodeBinary == "" || src.CoreDNS == "" || len(src.Netfilter) == 0 {
		return nil, fmt.Errorf("component images: kindish-node, coredns and the netfilter tools are all needed (have %q, %q, %d netfilter files)", src.NodeBinary, src.CoreDNS, len(src.Netfilter))
	}
	node, err := NewLayer(ComponentFiles(src.NodeBinary))
	if err != nil {
		return nil, fmt.Errorf("component images: %w", err)
	}
	netfilter, err := NewLayer(src.Netfilter)
	if err != nil {
		return nil, fmt.Errorf("component images: netfilter tools: %w", err)
	}
	out := map[string]v1.Image{}
	for _, c := range images.Components() {
		// kindish-node first: every component image then unpacks onto the
		// same first snapshot in containerd.
		steps := []step{{node, "kindish-node and the component symlinks"}}
		if c.Netfilter {
			steps = append(steps, step{netfilter, "iptables-nft and conntrack from Debian, with their libraries"})
		}
		img, err := image(v1.Config{
			Entrypoint: []string{c.Command},
			WorkingDir: "/",
			Env:        []string{defaultPath},
			Labels:     map[string]string{"io.kindish.component": c.Name},
		}, steps...)
		if err != nil {
			return nil, fmt.Errorf("%s image: %w", c.Name, err)
		}
		out[c.Image()] = img
	}
	coredns, err := CoreDNSImage(src.CoreDNS)
	if err != nil {
		return nil, err
	}
	out[images.CoreDNSImage()] = coredns
	return out, nil
}

// CoreDNSImage is the cluster DNS image: /coredns as its entrypoint, the
// ports upstream's image exposes. It runs as root, where upstream's runs as
// 65532 with a file capability to bind port 53: layers here carry no
// extended attributes, and the pod's securityContext (all capabilities
// dropped but NET_BIND_SERVICE) confines root as much.
func CoreDNSImage(corednsBinary string) (v1.Image, error) {
	l, err := NewLayer(CoreDNSFiles(corednsBinary))
	if err != nil {
		return nil, fmt.Errorf("coredns image: %w", err)
	}
	img, err := image(v1.Config{
		Entrypoint:   []string{images.CoreDNSBinary},
		WorkingDir:   "/",
		Env:          []string{defaultPath},
		ExposedPorts: map[string]struct{}{"53/tcp": {}, "53/udp": {}},
		Labels:       map[string]string{"io.kindish.component": "coredns"},
	}, step{l, "coredns"})
	if err != nil {
		return nil, fmt.Errorf("coredns image: %w", err)
	}
	return img, nil
}

// WritePause writes the pause image archive (images.PauseImage()) to w.
func WritePause(w io.Writer, pauseBinary string) error {
	img, err := PauseImage(pauseBinary)
	if err != nil {
		return err
	}
	return Write(w, map[string]v1.Image{images.PauseImage(): img})
}

// WriteComponents writes the components archive (ComponentImages) to w.
func WriteComponents(w io.Writer, src ComponentSources) error {
	imgs, err := ComponentImages(src)
	if err != nil {
		return err
	}
	return Write(w, imgs)
}

// step is one layer of an image and the history line that describes it.
type step struct {
	layer     v1.Layer
	createdBy string
}

// image makes an image of the given layers for this machine's architecture
// (the binaries are built for it and nodes run on it). Dates are fixed so
// that the config, and with it the image ID, depends on the content only.
func image(cfg v1.Config, steps ...step) (v1.Image, error) {
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: Epoch},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	for _, s := range steps {
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:   s.layer,
			History: v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: s.createdBy},
		})
		if err != nil {
			return nil, err
		}
	}
	return img, nil
}
