package nodeimage

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/image"
)

func newTestBuilder(t *testing.T, docker *fakeDocker) *builder {
	t.Helper()
	bins := fakeBinaries(t, "node")
	b, err := newBuilder(Options{BinDir: filepath.Dir(bins.node), Docker: docker, Mirror: "http://mirror.invalid/debian", TempDir: t.TempDir(), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func paths(t *testing.T, b *builder, ref string) []string {
	t.Helper()
	files, err := b.netfilterFiles(context.Background(), ref, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
	}
	return out
}

func TestNetfilterToolsAreKeptPerBaseImage(t *testing.T) {
	docker := &fakeDocker{t: t, rootfs: fakeBase(t), images: map[string]image.InspectResponse{
		"base:a": {ID: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		"base:b": {ID: "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
	}}
	b := newTestBuilder(t, docker)

	first := paths(t, b, "base:a")
	if !slices.Contains(first, "/usr/sbin/xtables-nft-multi") || !slices.Contains(first, "/usr/sbin/iptables-restore") || !slices.Contains(first, "/etc/protocols") {
		t.Errorf("layer files %q lack the tools", first)
	}
	for _, p := range first {
		if strings.Contains(p, "unrelated") || p == "/usr/sbin/ip" {
			t.Errorf("%s taken into the layer", p)
		}
	}
	if len(docker.created) != 1 || len(docker.containers) != 0 {
		t.Fatalf("created %v, left %v: want one container, removed", docker.created, docker.containers)
	}

	// Same base: from the cache, which holds the layer's files only.
	if again := paths(t, b, "base:a"); !slices.Equal(again, first) {
		t.Errorf("from the cache %q, first %q", again, first)
	}
	if len(docker.created) != 1 {
		t.Error("the same base was exported again")
	}
	cached := filepath.Join(b.cacheDir, "netfilter", "aaaaaaaaaaaaaaaa")
	if _, err := os.Lstat(filepath.Join(cached, "usr/sbin/ip")); err == nil {
		t.Error("the cache keeps files the layer does not hold")
	}
	if _, err := os.Stat(filepath.Join(cached, "usr/sbin/xtables-nft-multi")); err != nil {
		t.Errorf("the cache lacks the layer's files: %v", err)
	}

	// Another base: exported again.
	paths(t, b, "base:b")
	if len(docker.created) != 2 || docker.created[1] != docker.images["base:b"].ID {
		t.Errorf("containers created from %v, want the new base second", docker.created)
	}

	// A damaged cache is taken again rather than trusted.
	os.Remove(filepath.Join(cached, "usr/sbin/conntrack"))
	if again := paths(t, b, "base:a"); !slices.Equal(again, first) {
		t.Errorf("after repair %q, first %q", again, first)
	}
	if len(docker.created) != 3 {
		t.Error("a damaged cache was not rebuilt")
	}
}

func TestNetfilterToolsFailWhenTheBaseLacksThem(t *testing.T) {
	root := fakeBase(t)
	os.Remove(filepath.Join(root, "usr/sbin/conntrack"))
	docker := &fakeDocker{t: t, rootfs: root, images: map[string]image.InspectResponse{
		"base:a": {ID: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
	}}
	b := newTestBuilder(t, docker)
	_, err := b.netfilterFiles(context.Background(), "base:a", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "conntrack") || !strings.Contains(err.Error(), "base:a") {
		t.Errorf("err = %v, want one naming conntrack and the base", err)
	}
	if len(docker.containers) != 0 {
		t.Errorf("containers left behind: %v", docker.containers)
	}
	if entries, _ := os.ReadDir(filepath.Join(b.cacheDir, "netfilter")); len(entries) != 0 {
		t.Errorf("a failed export left %v in the cache", entries)
	}
}

func TestUntarRefusesEntriesOutsideItsDirectory(t *testing.T) {
	tarOf := func(hdrs ...*tar.Header) *bytes.Buffer {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, h := range hdrs {
			tw.WriteHeader(h)
		}
		tw.Close()
		return &buf
	}
	reg := func(name string) *tar.Header { return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644} }
	for name, archive := range map[string]*bytes.Buffer{
		"parent":        tarOf(reg("../escaped")),
		"absolute":      tarOf(reg("/escaped")),
		"through link":  tarOf(&tar.Header{Name: "sbin", Typeflag: tar.TypeSymlink, Linkname: "/tmp"}, reg("sbin/escaped")),
		"hard link out": tarOf(&tar.Header{Name: "x", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}),
	} {
		t.Run(name, func(t *testing.T) {
			if err := untar(archive, t.TempDir()); err == nil {
				t.Error("no error")
			}
		})
	}

	dir := t.TempDir()
	ok := tarOf(
		&tar.Header{Name: "sbin/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "sbin/tool", Typeflag: tar.TypeReg, Mode: 0o750},
		&tar.Header{Name: "sbin/alias", Typeflag: tar.TypeSymlink, Linkname: "tool"},
		&tar.Header{Name: "sbin/hard", Typeflag: tar.TypeLink, Linkname: "sbin/tool"},
	)
	if err := untar(ok, dir); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "sbin/tool")); err != nil || st.Mode().Perm() != 0o750 {
		t.Errorf("tool: %v %v, want mode 0750", st, err)
	}
	if l, err := os.Readlink(filepath.Join(dir, "sbin/alias")); err != nil || l != "tool" {
		t.Errorf("alias -> %q, %v", l, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sbin/hard")); err != nil {
		t.Errorf("hard link: %v", err)
	}
}

func TestCoreDNSNeedsABinaryOrTheSource(t *testing.T) {
	bins := fakeBinaries(t, "node")
	os.Remove(bins.coredns)
	b, err := newBuilder(Options{BinDir: filepath.Dir(bins.node), Docker: &fakeDocker{t: t}, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.corednsBinary(context.Background(), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "coredns") {
		t.Errorf("err = %v, want one naming the missing coredns", err)
	}

	os.WriteFile(bins.coredns, []byte("coredns"), 0o755)
	got, err := b.corednsBinary(context.Background(), t.TempDir())
	if err != nil || got != bins.coredns {
		t.Errorf("corednsBinary = %q, %v; want the prebuilt %s", got, err, bins.coredns)
	}
}
