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

// testSources are stand-ins for the components archive's inputs.
func testSources(t *testing.T) ComponentSources {
	t.Helper()
	return ComponentSources{
		NodeBinary: writeFile(t, "pretend this is kindish-node"),
		Netfilter: []File{
			HostFile("/usr/sbin/xtables-nft-multi", writeFile(t, "pretend this is iptables"), 0o755),
			Symlink("/usr/sbin/iptables-nft-restore", "xtables-nft-multi"),
		},
		CoreDNS: writeFile(t, "pretend this is coredns"),
	}
}

// layerNames returns the names of a layer's entries, and its links.
func layerNames(t *testing.T, blob []byte) ([]string, map[string]string, map[string][]byte) {
	t.Helper()
	hdrs, content := readTar(t, bytes.NewReader(blob))
	var names []string
	links := map[string]string{}
	for _, h := range hdrs {
		names = append(names, h.Name)
		if h.Typeflag == tar.TypeSymlink {
			links["/"+h.Name] = h.Linkname
		}
	}
	return names, links, content
}

func TestComponentArchiveIsReproducibleAndSharesItsLayers(t *testing.T) {
	src := testSources(t)
	var first, second bytes.Buffer
	if err := WriteComponents(&first, src); err != nil {
		t.Fatal(err)
	}
	if err := WriteComponents(&second, src); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Fatal("two archives of the same inputs differ")
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
	// kindish-node, the netfilter tools and CoreDNS: each layer once.
	if len(layers) != 3 {
		t.Fatalf("archive holds layers %q, want three, each written once", layers)
	}
	if len(configs) != len(images.Components())+1 {
		t.Fatalf("archive holds %d configs, want one per component and CoreDNS's (%d)", len(configs), len(images.Components())+1)
	}
	if hdrs[len(hdrs)-1].Name != "manifest.json" {
		t.Fatalf("last entry is %s, want manifest.json", hdrs[len(hdrs)-1].Name)
	}
	var manifest tarball.Manifest
	if err := json.Unmarshal(content["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	byTag := map[string][]string{}
	for _, d := range manifest {
		for _, tag := range d.RepoTags {
			byTag[tag] = d.Layers
		}
	}

	// Every component image starts with the same kindish-node layer; the
	// netfilter tools come second, only where the component needs them.
	nodeLayer := byTag[images.Etcd.Image()]
	if len(nodeLayer) != 1 {
		t.Fatalf("etcd image layers %q, want one", nodeLayer)
	}
	var netfilterLayer string
	for _, c := range images.Components() {
		got := byTag[c.Image()]
		if len(got) == 0 || got[0] != nodeLayer[0] {
			t.Errorf("%s layers %q do not start with the shared kindish-node layer %s", c.Name, got, nodeLayer[0])
			continue
		}
		switch {
		case c.Netfilter && len(got) == 2:
			if netfilterLayer == "" {
				netfilterLayer = got[1]
			}
			if got[1] != netfilterLayer {
				t.Errorf("%s has its own netfilter layer %s, not the shared %s", c.Name, got[1], netfilterLayer)
			}
		case !c.Netfilter && len(got) == 1:
		default:
			t.Errorf("%s (netfilter %v) has layers %q", c.Name, c.Netfilter, got)
		}
	}
	for _, c := range []images.Component{images.KubeProxy, images.Kindnetd} {
		if !c.Netfilter {
			t.Errorf("%s does not get the netfilter tools", c.Name)
		}
	}

	// The kindish-node layer holds the binary and a symlink per component.
	_, links, lc := layerNames(t, content[nodeLayer[0]])
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

	// The netfilter layer is the files it was given.
	if netfilterLayer != "" {
		names, links, lc := layerNames(t, content[netfilterLayer])
		if want := []string{"usr/", "usr/sbin/", "usr/sbin/iptables-nft-restore", "usr/sbin/xtables-nft-multi"}; !slices.Equal(names, want) {
			t.Errorf("netfilter layer entries %q, want %q", names, want)
		}
		if links["/usr/sbin/iptables-nft-restore"] != "xtables-nft-multi" || string(lc["usr/sbin/xtables-nft-multi"]) != "pretend this is iptables" {
			t.Errorf("netfilter layer links %v content %q", links, lc)
		}
	}

	// CoreDNS is the binary alone.
	cl := byTag[images.CoreDNSImage()]
	if len(cl) != 1 {
		t.Fatalf("coredns image layers %q, want one", cl)
	}
	names, _, cc := layerNames(t, content[cl[0]])
	if !slices.Equal(names, []string{"coredns"}) || string(cc["coredns"]) != "pretend this is coredns" {
		t.Errorf("coredns layer %q %q", names, cc)
	}
}

func TestComponentImagesNeedEveryInput(t *testing.T) {
	for name, edit := range map[string]func(*ComponentSources){
		"no kindish-node":      func(s *ComponentSources) { s.NodeBinary = "" },
		"no netfilter tools":   func(s *ComponentSources) { s.Netfilter = nil },
		"no coredns":           func(s *ComponentSources) { s.CoreDNS = "" },
		"missing node binary":  func(s *ComponentSources) { s.NodeBinary = "/nonexistent/kindish-node" },
		"missing netfilter fs": func(s *ComponentSources) { s.Netfilter[0].Source = "/nonexistent/xtables" },
	} {
		t.Run(name, func(t *testing.T) {
			src := testSources(t)
			edit(&src)
			if _, err := ComponentImages(src); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// go-containerregistry's own reader loads every image back by its tag, with
// the entrypoint it was given: a second opinion on the format.
func TestArchiveLoadsBackByTag(t *testing.T) {
	p := filepath.Join(t.TempDir(), "components.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteComponents(f, testSources(t)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	entrypoints := map[string]string{images.CoreDNSImage(): images.CoreDNSBinary}
	for _, c := range images.Components() {
		entrypoints[c.Image()] = c.Command
	}
	for ref, entrypoint := range entrypoints {
		tag, err := name.NewTag(ref)
		if err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(p, &tag)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.Config.Entrypoint, []string{entrypoint}) {
			t.Errorf("%s entrypoint %q, want [%s]", ref, cfg.Config.Entrypoint, entrypoint)
		}
		if cfg.OS != "linux" || cfg.Architecture == "" {
			t.Errorf("%s platform %s/%s", ref, cfg.OS, cfg.Architecture)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.History) != len(layers) || len(cfg.RootFS.DiffIDs) != len(layers) {
			t.Errorf("%s: %d layers, %d history entries, %d diff IDs", ref, len(layers), len(cfg.History), len(cfg.RootFS.DiffIDs))
		}
		if _, err := img.Digest(); err != nil {
			t.Errorf("%s: %v", ref, err)
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
