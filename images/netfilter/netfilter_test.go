package netfilter

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kindish/kindish/images/archive"
	"github.com/kindish/kindish/images/rootfs/rootfstest"
)

const lib = "/usr/lib/x86_64-linux-gnu"

// fakeDebian builds, under a temporary root, the part of a merged-/usr
// Debian bookworm amd64 root file system that the layer comes from: the
// same links, modes and dependencies as the real packages, with small ELF
// stand-ins for the binaries; plus things the layer must leave out.
func fakeDebian(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	at := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	link := func(p, target string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(at(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, at(p)); err != nil {
			t.Fatal(err)
		}
	}
	text := func(p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(at(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(at(p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const interp = "/lib64/ld-linux-x86-64.so.2"

	for _, d := range []string{"bin", "sbin", "lib"} {
		link("/"+d, "usr/"+d)
	}
	link("/lib64", "usr/lib64")
	link("/usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
	rootfstest.WriteELF(t, at(lib+"/ld-linux-x86-64.so.2"), 0o755, "")
	rootfstest.WriteELF(t, at(lib+"/libc.so.6"), 0o755, "", "ld-linux-x86-64.so.2")
	for _, l := range []struct {
		soname, file string
		needed       []string
	}{
		{"libmnl.so.0", "libmnl.so.0.2.0", []string{"libc.so.6"}},
		{"libnftnl.so.11", "libnftnl.so.11.6.0", []string{"libmnl.so.0", "libc.so.6"}},
		{"libxtables.so.12", "libxtables.so.12.7.0", []string{"libc.so.6"}},
		{"libnfnetlink.so.0", "libnfnetlink.so.0.2.0", []string{"libc.so.6"}},
		{"libnetfilter_conntrack.so.3", "libnetfilter_conntrack.so.3.8.0", []string{"libnfnetlink.so.0", "libmnl.so.0", "libc.so.6"}},
		{"libunused.so.1", "libunused.so.1.0.0", []string{"libc.so.6"}},
	} {
		rootfstest.WriteELF(t, at(lib+"/"+l.file), 0o644, "", l.needed...)
		link(lib+"/"+l.soname, l.file)
	}
	rootfstest.WriteELF(t, at("/usr/sbin/xtables-nft-multi"), 0o755, interp, "libxtables.so.12", "libmnl.so.0", "libnftnl.so.11", "libc.so.6")
	rootfstest.WriteELF(t, at("/usr/sbin/xtables-legacy-multi"), 0o755, interp, "libxtables.so.12", "libc.so.6")
	rootfstest.WriteELF(t, at("/usr/sbin/conntrack"), 0o755, interp, "libnetfilter_conntrack.so.3", "libmnl.so.0", "libc.so.6")
	rootfstest.WriteELF(t, at("/usr/sbin/ip"), 0o755, interp, "libc.so.6")
	for _, cmd := range []string{"iptables", "iptables-restore", "iptables-save", "ip6tables", "ip6tables-restore", "ip6tables-save"} {
		nft := strings.Replace(cmd, "tables", "tables-nft", 1)
		link("/usr/sbin/"+nft, "xtables-nft-multi")
		link("/usr/sbin/"+strings.Replace(cmd, "tables", "tables-legacy", 1), "xtables-legacy-multi")
		// Alternatives set to legacy: the layer must not follow them.
		link("/usr/sbin/"+cmd, "/etc/alternatives/"+cmd)
		link("/etc/alternatives/"+cmd, "/usr/sbin/"+strings.Replace(cmd, "tables", "tables-legacy", 1))
	}
	for _, ext := range []string{"libxt_statistic.so", "libxt_MASQUERADE.so", "libipt_DNAT.so", "libip6t_REJECT.so", "libxt_CT.so", "libebt_ip.so", "libarpt_mangle.so"} {
		rootfstest.WriteELF(t, at(lib+"/xtables/"+ext), 0o644, "", "libxtables.so.12", "libc.so.6")
	}
	link(lib+"/xtables/libxt_NOTRACK.so", "libxt_CT.so")
	text(lib+"/xtables/README", "not an extension")
	text("/etc/protocols", "tcp 6 TCP\n")
	text("/etc/ethertypes", "IPv4 0800 ip ip4\n")
	return root
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

func TestFilesFromADebianRootFileSystem(t *testing.T) {
	root := fakeDebian(t)
	files, err := Files(root, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	reg := func(perm fs.FileMode) entry { return entry{mode: perm} }
	sym := func(target string) entry { return entry{mode: fs.ModeSymlink | 0o777, linkname: target} }
	want := map[string]entry{
		"/etc/ethertypes": reg(0o644),
		"/etc/protocols":  reg(0o644),
		// The interpreter's path, straight to the real loader: no /lib or
		// /lib64 links that would clash with another layer's directories.
		"/lib64/ld-linux-x86-64.so.2":            sym("../usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
		lib + "/ld-linux-x86-64.so.2":            reg(0o755),
		lib + "/libc.so.6":                       reg(0o755),
		lib + "/libmnl.so.0":                     sym("libmnl.so.0.2.0"),
		lib + "/libmnl.so.0.2.0":                 reg(0o644),
		lib + "/libnftnl.so.11":                  sym("libnftnl.so.11.6.0"),
		lib + "/libnftnl.so.11.6.0":              reg(0o644),
		lib + "/libxtables.so.12":                sym("libxtables.so.12.7.0"),
		lib + "/libxtables.so.12.7.0":            reg(0o644),
		lib + "/libnfnetlink.so.0":               sym("libnfnetlink.so.0.2.0"),
		lib + "/libnfnetlink.so.0.2.0":           reg(0o644),
		lib + "/libnetfilter_conntrack.so.3":     sym("libnetfilter_conntrack.so.3.8.0"),
		lib + "/libnetfilter_conntrack.so.3.8.0": reg(0o644),
		lib + "/xtables/libxt_statistic.so":      reg(0o644),
		lib + "/xtables/libxt_MASQUERADE.so":     reg(0o644),
		lib + "/xtables/libipt_DNAT.so":          reg(0o644),
		lib + "/xtables/libip6t_REJECT.so":       reg(0o644),
		lib + "/xtables/libxt_CT.so":             reg(0o644),
		lib + "/xtables/libxt_NOTRACK.so":        sym("libxt_CT.so"),
		"/usr/sbin/xtables-nft-multi":            reg(0o755),
		"/usr/sbin/conntrack":                    reg(0o755),
		"/usr/sbin/iptables-nft":                 sym("xtables-nft-multi"),
		"/usr/sbin/iptables-nft-restore":         sym("xtables-nft-multi"),
		"/usr/sbin/iptables-nft-save":            sym("xtables-nft-multi"),
		"/usr/sbin/ip6tables-nft":                sym("xtables-nft-multi"),
		"/usr/sbin/ip6tables-nft-restore":        sym("xtables-nft-multi"),
		"/usr/sbin/ip6tables-nft-save":           sym("xtables-nft-multi"),
		"/usr/sbin/iptables":                     sym("iptables-nft"),
		"/usr/sbin/iptables-restore":             sym("iptables-nft-restore"),
		"/usr/sbin/iptables-save":                sym("iptables-nft-save"),
		"/usr/sbin/ip6tables":                    sym("ip6tables-nft"),
		"/usr/sbin/ip6tables-restore":            sym("ip6tables-nft-restore"),
		"/usr/sbin/ip6tables-save":               sym("ip6tables-nft-save"),
	}
	got := entries(files)
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("missing %s", p)
		} else if g != w {
			t.Errorf("%s: %v %q, want %v %q", p, g.mode, g.linkname, w.mode, w.linkname)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected %s", p)
		}
	}
	for _, f := range files {
		if f.Mode.IsRegular() && f.Source != filepath.Join(root, filepath.FromSlash(f.Path)) {
			t.Errorf("%s is read from %s, not from the root file system", f.Path, f.Source)
		}
	}
}

// The layer as a tar: sorted, with parents, modes kept, nothing at /bin,
// /sbin or /lib (the component layer has a real /bin for /bin/kindnetd),
// and every link resolving inside the layer.
func TestLayerFromADebianRootFileSystem(t *testing.T) {
	files, err := Files(fakeDebian(t), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := archive.WriteTar(&buf, files); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	hdrs := map[string]*tar.Header{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hdrs["/"+strings.TrimSuffix(h.Name, "/")] = h
	}
	for _, top := range []string{"/bin", "/sbin", "/lib"} {
		if _, ok := hdrs[top]; ok {
			t.Errorf("the layer has %s", top)
		}
	}
	for _, tc := range []struct {
		path string
		typ  byte
		mode int64
	}{
		{"/usr/sbin", tar.TypeDir, 0o755},
		{"/lib64", tar.TypeDir, 0o755},
		{"/usr/sbin/xtables-nft-multi", tar.TypeReg, 0o755},
		{"/usr/sbin/iptables-nft-restore", tar.TypeSymlink, 0o777},
		{lib + "/libxtables.so.12.7.0", tar.TypeReg, 0o644},
		{lib + "/xtables/libxt_statistic.so", tar.TypeReg, 0o644},
	} {
		h, ok := hdrs[tc.path]
		if !ok {
			t.Errorf("no %s", tc.path)
			continue
		}
		if h.Typeflag != tc.typ || h.Mode != tc.mode || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: type %c mode %o owner %d:%d, want %c %o root", tc.path, h.Typeflag, h.Mode, h.Uid, h.Gid, tc.typ, tc.mode)
		}
	}
	for p, h := range hdrs {
		if h.Typeflag != tar.TypeSymlink {
			continue
		}
		target := filepath.Join(filepath.Dir(p), h.Linkname)
		for i := 0; i < 5; i++ {
			next, ok := hdrs[target]
			if !ok || next.Typeflag != tar.TypeSymlink {
				break
			}
			target = filepath.Join(filepath.Dir(target), next.Linkname)
		}
		if th, ok := hdrs[target]; !ok || th.Typeflag != tar.TypeReg {
			t.Errorf("%s -> %s does not end at a file of the layer", p, h.Linkname)
		}
	}
}

func TestSavedFilesGiveTheSameLayer(t *testing.T) {
	files, err := Files(fakeDebian(t), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	saved := t.TempDir()
	if err := Save(files, saved); err != nil {
		t.Fatal(err)
	}
	again, err := Files(saved, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	var first, second bytes.Buffer
	if err := archive.WriteTar(&first, files); err != nil {
		t.Fatal(err)
	}
	if err := archive.WriteTar(&second, again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Error("the layer from the saved files differs from the original")
	}
	for _, f := range again {
		if f.Mode.IsRegular() && !strings.HasPrefix(f.Source, saved) {
			t.Errorf("%s still read from %s", f.Path, f.Source)
		}
	}
}

func TestFilesFailsOnAnIncompleteRootFileSystem(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(root string)
		want   string
	}{
		{"missing library", func(root string) { os.Remove(filepath.Join(root, lib, "libnftnl.so.11.6.0")) }, "libnftnl.so.11"},
		{"missing program", func(root string) { os.Remove(filepath.Join(root, "usr/sbin/conntrack")) }, "conntrack"},
		{"no extensions", func(root string) { os.RemoveAll(filepath.Join(root, lib, "xtables")) }, "extensions"},
		{"missing data file", func(root string) { os.Remove(filepath.Join(root, "etc/protocols")) }, "/etc/protocols"},
		{"link loop", func(root string) {
			p := filepath.Join(root, "usr/sbin/iptables-nft-save")
			os.Remove(p)
			os.Symlink("iptables-nft-save", p)
		}, "too many levels of symbolic links"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeDebian(t)
			tc.damage(root)
			_, err := Files(root, "amd64")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
	if _, err := Files(fakeDebian(t), "mips"); err == nil {
		t.Error("no error for an architecture without a known multiarch directory")
	}
}

func TestSourcePathsCoverWhatFilesReads(t *testing.T) {
	paths, err := SourcePaths("amd64")
	if err != nil {
		t.Fatal(err)
	}
	files, err := Files(fakeDebian(t), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		covered := false
		for _, p := range paths {
			if f.Path == p || strings.HasPrefix(f.Path, p+"/") {
				covered = true
			}
		}
		if !covered {
			t.Errorf("%s is outside the paths copied out of an image: %q", f.Path, paths)
		}
	}
}
