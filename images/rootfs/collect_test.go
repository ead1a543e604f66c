package rootfs

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kindish/kindish/images/archive"
	"github.com/kindish/kindish/images/rootfs/rootfstest"
)

const lib = "/usr/lib/x86_64-linux-gnu"

// fakeRoot is a merged-/usr Debian amd64 root with one program, its
// libraries and a configuration directory.
func fakeRoot(t *testing.T) (root string, c *Collector) {
	t.Helper()
	root = t.TempDir()
	interp := rootfstest.MergedUsr(t, root)
	rootfstest.WriteELF(t, filepath.Join(root, lib, "libz.so.1.2.13"), 0o644, "", "libc.so.6")
	rootfstest.Link(t, root, lib+"/libz.so.1", "libz.so.1.2.13")
	rootfstest.WriteELF(t, filepath.Join(root, "usr/sbin/server"), 0o755, interp, "libz.so.1", "libc.so.6")
	rootfstest.Text(t, root, "/etc/protocols", "tcp 6 TCP\n", 0o644)
	libDirs, err := DebianLibDirs("amd64")
	if err != nil {
		t.Fatal(err)
	}
	return root, NewCollector(root, libDirs)
}

// entry is what a layer entry is, without where its content comes from.
type entry struct {
	mode     fs.FileMode
	linkname string
}

func entries(files []archive.File) map[string]entry {
	out := map[string]entry{}
	for _, f := range files {
		out[f.Path] = entry{f.Mode, f.Linkname}
	}
	return out
}

func reg(perm fs.FileMode) entry       { return entry{mode: perm} }
func dir(perm fs.FileMode) entry       { return entry{mode: fs.ModeDir | perm} }
func sym(target string) entry          { return entry{mode: fs.ModeSymlink | 0o777, linkname: target} }
func equal(a, b map[string]entry) bool { return len(a) == len(b) && contains(a, b) }

func contains(a, b map[string]entry) bool {
	for p, e := range b {
		if a[p] != e {
			return false
		}
	}
	return true
}

// Links are followed inside the root file system, never on the host: an
// absolute target or a run of ".." stays under root.
func TestResolveStaysInsideTheRoot(t *testing.T) {
	root, c := fakeRoot(t)
	for _, tc := range []struct{ link, target, want string }{
		{"/usr/sbin/abs", "/etc/protocols", "/etc/protocols"},
		{"/usr/sbin/up", "../../../../../../../etc/protocols", "/etc/protocols"},
		{"/usr/sbin/through-lib", "/lib/x86_64-linux-gnu/libc.so.6", lib + "/libc.so.6"},
	} {
		if err := os.Symlink(tc.target, filepath.Join(root, tc.link)); err != nil {
			t.Fatal(err)
		}
		got, err := c.Resolve(tc.link)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%s -> %s) = %q, %v; want %s", tc.link, tc.target, got, err, tc.want)
		}
	}
	// The host's /etc/hostname is not in the fake root.
	if err := os.Symlink("/etc/hostname", filepath.Join(root, "usr/sbin/host")); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Resolve("/usr/sbin/host"); err == nil {
		t.Errorf("resolved to %s: a host file leaked in", got)
	}
}

func TestLibrariesAreSearchedInTheLoaderOrder(t *testing.T) {
	root, c := fakeRoot(t)
	rootfstest.WriteELF(t, filepath.Join(root, "usr/lib/libonlyhere.so.1"), 0o644, "")
	rootfstest.WriteELF(t, filepath.Join(root, "usr/lib/libc.so.6"), 0o644, "")
	for name, want := range map[string]string{
		"libc.so.6":         lib + "/libc.so.6", // the multiarch directory first
		"libonlyhere.so.1":  "/usr/lib/libonlyhere.so.1",
		"/opt/x/libpath.so": "/opt/x/libpath.so",
	} {
		got, err := c.FindLibrary(name)
		if err != nil || got != want {
			t.Errorf("FindLibrary(%s) = %q, %v; want %s", name, got, err, want)
		}
	}
	if _, err := c.FindLibrary("libnowhere.so.9"); err == nil {
		t.Error("found a library that does not exist")
	}
}

// A program comes with its loader and libraries, each at its real path;
// the names it was asked by become links to them.
func TestRequireTakesAProgramWithItsLibraries(t *testing.T) {
	root, c := fakeRoot(t)
	rootfstest.Link(t, root, "/usr/bin/server", "../sbin/server")
	if err := c.Require("/usr/bin/server"); err != nil {
		t.Fatal(err)
	}
	want := map[string]entry{
		"/usr/bin/server":             sym("../sbin/server"),
		"/usr/sbin/server":            reg(0o755),
		"/lib64/ld-linux-x86-64.so.2": sym("../usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
		lib + "/ld-linux-x86-64.so.2": reg(0o755),
		lib + "/libc.so.6":            reg(0o755),
		lib + "/libz.so.1":            sym("libz.so.1.2.13"),
		lib + "/libz.so.1.2.13":       reg(0o644),
	}
	if got := entries(c.Files()); !equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	for _, f := range c.Files() {
		if f.Mode.IsRegular() && f.Source != filepath.Join(root, filepath.FromSlash(f.Path)) {
			t.Errorf("%s is read from %s, not from the root file system", f.Path, f.Source)
		}
	}
}

// A configuration tree comes whole: modes (sticky and private directories
// too), links as they are, and what those links point to outside the tree.
func TestTreeTakesADirectoryWithWhatItsLinksPointTo(t *testing.T) {
	root, c := fakeRoot(t)
	rootfstest.Text(t, root, "/etc/app/app.conf", "include sites/*;\n", 0o644)
	rootfstest.Text(t, root, "/etc/app/secret", "x", 0o600)
	rootfstest.Text(t, root, "/etc/app/available/default", "listen 80;\n", 0o644)
	rootfstest.Link(t, root, "/etc/app/sites/default", "/etc/app/available/default")
	rootfstest.Link(t, root, "/etc/app/sites/up", "..")
	rootfstest.Text(t, root, "/usr/share/app/plugins/a.conf", "load a.so;\n", 0o644)
	rootfstest.Link(t, root, "/etc/app/plugins", "/usr/share/app/plugins")
	rootfstest.Link(t, root, "/etc/app/proto", "../protocols")
	rootfstest.Link(t, root, "/etc/app/server", "/usr/sbin/server")
	for p, perm := range map[string]fs.FileMode{"/etc/app/empty": 0o755, "/etc/app/private": 0o700, "/etc/app/tmp": 0o777 | fs.ModeSticky} {
		if err := os.Mkdir(c.Host(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(c.Host(p), perm); err != nil {
			t.Fatal(err)
		}
	}

	if err := c.Tree("/etc/app"); err != nil {
		t.Fatal(err)
	}
	got := entries(c.Files())
	want := map[string]entry{
		"/etc/app":                      dir(0o755),
		"/etc/app/app.conf":             reg(0o644),
		"/etc/app/secret":               reg(0o600),
		"/etc/app/available":            dir(0o755),
		"/etc/app/available/default":    reg(0o644),
		"/etc/app/sites":                dir(0o755),
		"/etc/app/sites/default":        sym("/etc/app/available/default"),
		"/etc/app/sites/up":             sym(".."),
		"/etc/app/plugins":              sym("/usr/share/app/plugins"),
		"/usr/share/app/plugins":        dir(0o755),
		"/usr/share/app/plugins/a.conf": reg(0o644),
		"/etc/app/proto":                sym("../protocols"),
		"/etc/protocols":                reg(0o644),
		"/etc/app/server":               sym("/usr/sbin/server"),
		"/usr/sbin/server":              reg(0o755),
		lib + "/libz.so.1.2.13":         reg(0o644),
		"/etc/app/empty":                dir(0o755),
		"/etc/app/private":              dir(0o700),
		"/etc/app/tmp":                  dir(0o777 | fs.ModeSticky),
	}
	if !contains(got, want) {
		for p, w := range want {
			if got[p] != w {
				t.Errorf("%s: got %v %q, want %v %q", p, got[p].mode, got[p].linkname, w.mode, w.linkname)
			}
		}
	}

	// Saved and taken again, it is the same layer.
	saved := t.TempDir()
	if err := Save(c.Files(), saved); err != nil {
		t.Fatal(err)
	}
	libDirs, _ := DebianLibDirs("amd64")
	again := NewCollector(saved, libDirs)
	if err := again.Tree("/etc/app"); err != nil {
		t.Fatal(err)
	}
	var first, second bytes.Buffer
	if err := archive.WriteTar(&first, c.Files()); err != nil {
		t.Fatal(err)
	}
	if err := archive.WriteTar(&second, again.Files()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Errorf("the saved tree gives another layer:\n%v\n%v", entries(c.Files()), entries(again.Files()))
	}
}

func TestTreeFailsOnWhatALayerCannotHold(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, root string)
		tree  string
		want  string
	}{
		{"dangling link", func(t *testing.T, root string) {
			rootfstest.Link(t, root, "/etc/app/gone", "/etc/nowhere")
		}, "/etc/app", "/etc/nowhere does not exist"},
		{"through a link", func(t *testing.T, root string) {
			rootfstest.Text(t, root, "/usr/share/app/x", "", 0o644)
			rootfstest.Link(t, root, "/etc/app", "/usr/share/app")
		}, "/etc/app", "symbolic link"},
		{"missing library", func(t *testing.T, root string) {
			rootfstest.WriteELF(t, filepath.Join(root, "etc/app/plugin.so"), 0o644, "", "libnowhere.so.1")
		}, "/etc/app", "libnowhere.so.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, c := fakeRoot(t)
			tc.setup(t, root)
			err := c.Tree(tc.tree)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}
