package archive

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kindish/kindish/images"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// readTar returns the headers of a tar and the content of its regular files.
func readTar(t *testing.T, r io.Reader) ([]*tar.Header, map[string][]byte) {
	t.Helper()
	tr := tar.NewReader(r)
	var hdrs []*tar.Header
	content := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hdrs, content
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs = append(hdrs, h)
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			content[h.Name] = b
		}
	}
}

func TestWriteTarSortsAddsParentsAndFixesMetadata(t *testing.T) {
	src := writeFile(t, "binary")
	var buf bytes.Buffer
	err := WriteTar(&buf, []File{
		Symlink("/usr/local/bin/etcd", "/usr/local/bin/kindish-node"),
		HostFile("/usr/local/bin/kindish-node", src, 0o755),
		Dir("/tmp", 0o777|os.ModeSticky),
		Bytes("/etc/passwd", []byte("root:x:0:0::/:/bin/sh\n"), 0o644),
	})
	if err != nil {
		t.Fatal(err)
	}
	hdrs, content := readTar(t, &buf)
	var names []string
	for _, h := range hdrs {
		names = append(names, h.Name)
		if !h.ModTime.Equal(Epoch) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: not reproducible metadata: mtime %v uid %d gid %d uname %q gname %q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
	}
	want := []string{"etc/", "etc/passwd", "tmp/", "usr/", "usr/local/", "usr/local/bin/", "usr/local/bin/etcd", "usr/local/bin/kindish-node"}
	if !slices.Equal(names, want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	for _, h := range hdrs {
		switch h.Name {
		case "tmp/":
			if h.Mode != 0o1777 {
				t.Errorf("/tmp mode %o, want 1777", h.Mode)
			}
		case "usr/local/bin/etcd":
			if h.Typeflag != tar.TypeSymlink || h.Linkname != "/usr/local/bin/kindish-node" {
				t.Errorf("etcd: type %c link %q", h.Typeflag, h.Linkname)
			}
		case "usr/local/bin/kindish-node":
			if h.Mode != 0o755 || string(content[h.Name]) != "binary" {
				t.Errorf("kindish-node: mode %o content %q", h.Mode, content[h.Name])
			}
		case "usr/":
			if h.Typeflag != tar.TypeDir || h.Mode != 0o755 {
				t.Errorf("added parent usr/: type %c mode %o", h.Typeflag, h.Mode)
			}
		}
	}
}

func TestWriteTarRejectsBadEntries(t *testing.T) {
	for name, files := range map[string][]File{
		"duplicate":        {Dir("/a", 0o755), Bytes("/a/", nil, 0o644)},
		"relative":         {Bytes("etc/passwd", nil, 0o644)},
		"root":             {Dir("/", 0o755)},
		"inside a file":    {Bytes("/a", nil, 0o644), Bytes("/a/b", nil, 0o644)},
		"missing source":   {HostFile("/a", "/nonexistent/kindish", 0o755)},
		"unsupported type": {{Path: "/p", Mode: os.ModeNamedPipe}},
	} {
		t.Run(name, func(t *testing.T) {
			if err := WriteTar(io.Discard, files); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestLayerDigestDependsOnContentOnly(t *testing.T) {
	digest := func(content string) v1.Hash {
		t.Helper()
		l, err := NewLayer(ComponentFiles(writeFile(t, content)))
		if err != nil {
			t.Fatal(err)
		}
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		// The digest must describe what the layer streams.
		r, _ := l.Uncompressed()
		defer r.Close()
		h, _, err := v1.SHA256(r)
		if err != nil || h != d {
			t.Fatalf("streamed layer has digest %v (%v), layer says %v", h, err, d)
		}
		return d
	}
	// Separate temp files (other paths, other mtimes) with equal content.
	if a, b := digest("kindish-node v1"), digest("kindish-node v1"); a != b {
		t.Fatalf("same binary, different layers: %v %v", a, b)
	}
	if a, b := digest("kindish-node v1"), digest("kindish-node v2"); a == b {
		t.Fatalf("different binaries, same layer %v", a)
	}
}

func TestComponentArchiveIsReproducibleAndSharesOneLayer(t *testing.T) {
	bin := writeFile(t, "pretend this is kindish-node")
	var first, second bytes.Buffer
	if err := WriteComponents(&first, bin); err != nil {
		t.Fatal(err)
	}
	if err := WriteComponents(&second, bin); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Fatal("two archives of the same binary differ")
	}

	hdrs, content := readTar(t, bytes.NewReader(first.Bytes()))
	var layers, configs []string
	for _, h := range hdrs {
		switch {
		case strings.HasSuffix(h.Name, ".tar"):
			layers = append(layers, h.Name)
		case strings.HasSuffix(h.Name, ".json") && h.Name != "manifest.json":
			configs = append(configs, h.Name)
		}
	}
	if len(layers) != 1 {
		t.Fatalf("archive holds layers %q, want exactly one shared layer", layers)
	}
	if len(configs) != len(images.Components()) {
		t.Fatalf("archive holds %d configs, want one per component (%d)", len(configs), len(images.Components()))
	}
	if hdrs[len(hdrs)-1].Name != "manifest.json" {
		t.Fatalf("last entry is %s, want manifest.json", hdrs[len(hdrs)-1].Name)
	}
	var manifest tarball.Manifest
	if err := json.Unmarshal(content["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, d := range manifest {
		tags = append(tags, d.RepoTags...)
		if !slices.Equal(d.Layers, layers) {
			t.Errorf("%v uses layers %q, want %q", d.RepoTags, d.Layers, layers)
		}
	}
	for _, c := range images.Components() {
		if !slices.Contains(tags, c.Image()) {
			t.Errorf("manifest.json lacks %s (has %q)", c.Image(), tags)
		}
	}

	// The layer holds the binary and a symlink per component.
	lh, lc := readTar(t, bytes.NewReader(content[layers[0]]))
	links := map[string]string{}
	for _, h := range lh {
		if h.Typeflag == tar.TypeSymlink {
			links["/"+h.Name] = h.Linkname
		}
	}
	for _, c := range images.Components() {
		if links[c.Command] != images.NodeBinary {
			t.Errorf("%s links to %q, want %s", c.Command, links[c.Command], images.NodeBinary)
		}
	}
	if string(lc["usr/local/bin/kindish-node"]) != "pretend this is kindish-node" {
		t.Error("layer lacks the kindish-node binary")
	}
	for _, want := range []string{"etc/passwd", "etc/group"} {
		if _, ok := lc[want]; !ok {
			t.Errorf("layer lacks %s", want)
		}
	}
}

// go-containerregistry's own reader loads every image back by its tag, with
// the entrypoint it was given: a second opinion on the format.
func TestArchiveLoadsBackByTag(t *testing.T) {
	bin := writeFile(t, "pretend this is kindish-node")
	p := filepath.Join(t.TempDir(), "components.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteComponents(f, bin); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, c := range images.Components() {
		tag, err := name.NewTag(c.Image())
		if err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(p, &tag)
		if err != nil {
			t.Fatalf("%s: %v", c.Image(), err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.Config.Entrypoint, []string{c.Command}) {
			t.Errorf("%s entrypoint %q, want [%s]", c.Image(), cfg.Config.Entrypoint, c.Command)
		}
		if cfg.OS != "linux" || cfg.Architecture == "" {
			t.Errorf("%s platform %s/%s", c.Image(), cfg.OS, cfg.Architecture)
		}
		if _, err := img.Digest(); err != nil {
			t.Errorf("%s: %v", c.Image(), err)
		}
	}
}

func TestPauseArchive(t *testing.T) {
	bin := writeFile(t, "pretend this is pause")
	var buf bytes.Buffer
	if err := WritePause(&buf, bin); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag(images.PauseImage())
	img, err := tarball.Image(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(buf.Bytes())), nil
	}, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/pause"}) || cfg.Config.User != "" {
		t.Errorf("pause config: entrypoint %q user %q", cfg.Config.Entrypoint, cfg.Config.User)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("pause layers: %d, %v", len(layers), err)
	}
	r, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	hdrs, content := readTar(t, r)
	if len(hdrs) != 1 || hdrs[0].Name != "pause" || hdrs[0].Mode != 0o755 || string(content["pause"]) != "pretend this is pause" {
		t.Fatalf("pause layer: %+v", hdrs)
	}
}

func TestWriteDetectsABinaryChangedMeanwhile(t *testing.T) {
	bin := writeFile(t, "version one")
	img, err := PauseImage(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("version two"), 0o755); err != nil {
		t.Fatal(err)
	}
	err = Write(io.Discard, map[string]v1.Image{images.PauseImage(): img})
	if err == nil || !strings.Contains(err.Error(), "changed while being written") {
		t.Fatalf("err = %v, want a changed-layer error", err)
	}
}

func TestWriteRejectsReferencesWithoutTag(t *testing.T) {
	img, err := PauseImage(writeFile(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(io.Discard, map[string]v1.Image{"kindish/pause": img}); err == nil {
		t.Fatal("no error for an untagged reference")
	}
}
