package workload

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kindish/kindish/images"
	"github.com/kindish/kindish/images/archive"
	"github.com/kindish/kindish/images/rootfs"
	"github.com/kindish/kindish/images/rootfs/rootfstest"
)

const lib = "/usr/lib/x86_64-linux-gnu"

// applets is a part of what Debian's busybox-static lists.
const applets = `bin/sh
bin/ls
bin/cat
bin/sleep
sbin/ifconfig
usr/bin/env
usr/bin/wget
usr/bin/nslookup
usr/bin/nc
usr/sbin/chroot
`

// fakeBase builds, under a temporary root, the part of a merged-/usr
// Debian bookworm amd64 workload base that the images come from, as the
// packages and the base's setup leave it, with small ELF stand-ins for the
// binaries; plus things the images must leave out.
func fakeBase(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	interp := rootfstest.MergedUsr(t, root)
	elf := func(p string, perm fs.FileMode, interp string, needed ...string) {
		rootfstest.WriteELF(t, filepath.Join(root, filepath.FromSlash(p)), perm, interp, needed...)
	}
	text := func(p, content string) { rootfstest.Text(t, root, p, content, 0o644) }
	link := func(p, target string) { rootfstest.Link(t, root, p, target) }

	elf("/usr/bin/busybox", 0o755, "")
	text(appletList, applets)

	for _, l := range []struct {
		soname, file string
		needed       []string
	}{
		{"libcrypt.so.1", "libcrypt.so.1.1.0", []string{"libc.so.6"}},
		{"libpcre2-8.so.0", "libpcre2-8.so.0.11.2", []string{"libc.so.6"}},
		{"libcrypto.so.3", "libcrypto.so.3", []string{"libc.so.6"}},
		{"libssl.so.3", "libssl.so.3", []string{"libcrypto.so.3", "libc.so.6"}},
		{"libz.so.1", "libz.so.1.2.13", []string{"libc.so.6"}},
		{"libunused.so.1", "libunused.so.1.0.0", []string{"libc.so.6"}},
	} {
		elf(lib+"/"+l.file, 0o644, "", l.needed...)
		if l.soname != l.file {
			link(lib+"/"+l.soname, l.file)
		}
	}
	elf(nginxBinary, 0o755, interp, "libcrypt.so.1", "libpcre2-8.so.0", "libssl.so.3", "libcrypto.so.3", "libz.so.1", "libc.so.6")
	elf("/usr/sbin/ip", 0o755, interp, "libc.so.6")

	text("/etc/nginx/nginx.conf", "user www-data;\ninclude /etc/nginx/modules-enabled/*.conf;\nhttp {\n\tinclude /etc/nginx/mime.types;\n\tinclude /etc/nginx/sites-enabled/*;\n}\n")
	text("/etc/nginx/mime.types", "types {\n\ttext/html html;\n}\n")
	text("/etc/nginx/sites-available/default", "server {\n\tlisten 80 default_server;\n\troot /var/www/html;\n}\n")
	link("/etc/nginx/sites-enabled/default", "/etc/nginx/sites-available/default")
	text("/etc/nginx/snippets/fastcgi-php.conf", "fastcgi_index index.php;\n")
	for _, d := range []string{"conf.d", "modules-available", "modules-enabled"} {
		if err := os.MkdirAll(filepath.Join(root, "etc/nginx", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	text("/usr/share/nginx/html/index.html", "<h1>Welcome to nginx!</h1>\n")
	link("/usr/share/nginx/modules", "../../lib/nginx/modules")
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/nginx/modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	text(nginxWebRoot+"/index.nginx-debian.html", "<h1>Welcome to nginx!</h1>\n")
	text(nsswitch, "passwd: files\ngroup: files\nhosts: files dns\n")
	text("/etc/init.d/nginx", "#!/bin/sh\n")
	text("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n")
	return root
}

// enableModule installs a dynamic module the way a libnginx-mod-* package
// does: the module, its snippet in modules-available, and the link to the
// snippet in modules-enabled.
func enableModule(t *testing.T, root, name string, needed ...string) {
	t.Helper()
	rootfstest.WriteELF(t, filepath.Join(root, "usr/lib/nginx/modules", "ngx_"+name+"_module.so"), 0o644, "", needed...)
	rootfstest.Text(t, root, "/usr/share/nginx/modules-available/mod-"+name+".conf",
		"load_module modules/ngx_"+name+"_module.so; # the module\n", 0o644)
	rootfstest.Link(t, root, "/etc/nginx/modules-enabled/50-mod-"+name+".conf", "/usr/share/nginx/modules-available/mod-"+name+".conf")
}

func collector(t *testing.T, root string) *rootfs.Collector {
	t.Helper()
	c, err := newCollector(root, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	return c
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

func reg(perm fs.FileMode) entry { return entry{mode: perm} }
func dir(perm fs.FileMode) entry { return entry{mode: fs.ModeDir | perm} }
func sym(target string) entry    { return entry{mode: fs.ModeSymlink | 0o777, linkname: target} }

func content(t *testing.T, img spec, p string) string {
	t.Helper()
	for _, f := range img.Files {
		if f.Path != p {
			continue
		}
		if f.Source == "" {
			return string(f.Data)
		}
		b, err := os.ReadFile(f.Source)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	t.Fatalf("the %s image has no %s", img.Name, p)
	return ""
}

// checkEntries fails for every entry of want that img lacks or has
// otherwise, and for every entry img has under one of the dirs that want
// does not list.
func checkEntries(t *testing.T, img spec, want map[string]entry, dirs ...string) {
	t.Helper()
	got := entries(img.Files)
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("%s: missing %s", img.Name, p)
		} else if g != w {
			t.Errorf("%s: %s is %v %q, want %v %q", img.Name, p, g.mode, g.linkname, w.mode, w.linkname)
		}
	}
	for p := range got {
		if _, ok := want[p]; ok {
			continue
		}
		for _, d := range dirs {
			if p == d || strings.HasPrefix(p, d+"/") {
				t.Errorf("%s: unexpected %s", img.Name, p)
			}
		}
	}
}

// Every applet the binary lists is a link at its path that leads to
// /bin/busybox, which is the static binary itself: no loader, no libraries.
func TestBusyboxLinksEveryAppletToTheBinary(t *testing.T) {
	root := fakeBase(t)
	img, err := busyboxImage(collector(t, root))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]entry{
		"/bin/busybox":      reg(0o755),
		"/bin/sh":           sym("busybox"),
		"/bin/ls":           sym("busybox"),
		"/bin/cat":          sym("busybox"),
		"/bin/sleep":        sym("busybox"),
		"/sbin/ifconfig":    sym("../bin/busybox"),
		"/usr/bin/env":      sym("../../bin/busybox"),
		"/usr/bin/wget":     sym("../../bin/busybox"),
		"/usr/bin/nslookup": sym("../../bin/busybox"),
		"/usr/bin/nc":       sym("../../bin/busybox"),
		"/usr/sbin/chroot":  sym("../../bin/busybox"),
		"/etc/passwd":       reg(0o644),
		"/etc/group":        reg(0o644),
		"/tmp":              dir(0o777 | fs.ModeSticky),
		"/root":             dir(0o700),
	}
	checkEntries(t, img, want, "/bin", "/sbin", "/usr", "/lib", "/lib64", "/etc", "/var")
	for _, f := range img.Files {
		if f.Mode.Type() == fs.ModeSymlink && path.Join(path.Dir(f.Path), f.Linkname) != busyboxBinary {
			t.Errorf("%s -> %s does not lead to %s", f.Path, f.Linkname, busyboxBinary)
		}
		if f.Path == busyboxBinary && f.Source != filepath.Join(root, "usr/bin/busybox") {
			t.Errorf("busybox is read from %s, not from the base's /usr/bin/busybox", f.Source)
		}
	}
	if got := content(t, img, "/etc/passwd"); got != "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" {
		t.Errorf("/etc/passwd:\n%s", got)
	}
	if got := content(t, img, "/etc/group"); got != "root:x:0:\nnogroup:x:65534:\n" {
		t.Errorf("/etc/group:\n%s", got)
	}
	if !slices.Equal(img.Refs, []string{"busybox:latest"}) || !slices.Equal(img.Config.Cmd, []string{"sh"}) || len(img.Config.Entrypoint) != 0 {
		t.Errorf("refs %q, entrypoint %q, cmd %q; want busybox:latest running sh", img.Refs, img.Config.Entrypoint, img.Config.Cmd)
	}
	if !slices.Contains(img.Config.Env, archive.DefaultPath) {
		t.Errorf("env %q lacks PATH", img.Config.Env)
	}
}

func TestBusyboxRefusesWhatIsNotBusyboxStatic(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, root string)
		want   string
	}{
		{"dynamic binary", func(t *testing.T, root string) {
			rootfstest.WriteELF(t, filepath.Join(root, "usr/bin/busybox"), 0o755, "/lib64/ld-linux-x86-64.so.2", "libc.so.6")
		}, "dynamically linked"},
		{"no binary", func(t *testing.T, root string) { os.Remove(filepath.Join(root, "usr/bin/busybox")) }, "busybox"},
		{"no applet list", func(t *testing.T, root string) { os.Remove(filepath.Join(root, appletList)) }, appletList},
		{"empty applet list", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, appletList), nil, 0o644)
		}, "no applets"},
		{"applet outside the root", func(t *testing.T, root string) {
			os.WriteFile(filepath.Join(root, appletList), []byte("bin/sh\n../etc/passwd\n"), 0o644)
		}, "../etc/passwd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := fakeBase(t)
			tc.damage(t, root)
			_, err := busyboxImage(collector(t, root))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
}

func TestParseApplets(t *testing.T) {
	got, err := parseApplets("usr/bin/wget\nbin/sh\n\nbin/sh\n  sbin/ip  \n")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/bin/sh", "/sbin/ip", "/usr/bin/wget"}; !slices.Equal(got, want) {
		t.Errorf("parseApplets = %q, want %q", got, want)
	}
	for _, bad := range []string{"/bin/sh", "bin/../../x", "./bin/sh", "bin//sh", "bin/sh/", "."} {
		if _, err := parseApplets(bad + "\n"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// nginx comes with its libraries, Debian's configuration as nginx-common
// installs it, the default page, the accounts it runs as, and its logs on
// the container's output; nothing else of the base.
func TestNginxHasItsConfigurationLibrariesAndLogLinks(t *testing.T) {
	root := fakeBase(t)
	img, err := nginxImage(collector(t, root))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]entry{
		nginxBinary:                             reg(0o755),
		"/lib64/ld-linux-x86-64.so.2":           sym("../usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
		lib + "/ld-linux-x86-64.so.2":           reg(0o755),
		lib + "/libc.so.6":                      reg(0o755),
		lib + "/libcrypt.so.1":                  sym("libcrypt.so.1.1.0"),
		lib + "/libcrypt.so.1.1.0":              reg(0o644),
		lib + "/libpcre2-8.so.0":                sym("libpcre2-8.so.0.11.2"),
		lib + "/libpcre2-8.so.0.11.2":           reg(0o644),
		lib + "/libssl.so.3":                    reg(0o644),
		lib + "/libcrypto.so.3":                 reg(0o644),
		lib + "/libz.so.1":                      sym("libz.so.1.2.13"),
		lib + "/libz.so.1.2.13":                 reg(0o644),
		"/etc/nginx":                            dir(0o755),
		"/etc/nginx/nginx.conf":                 reg(0o644),
		"/etc/nginx/mime.types":                 reg(0o644),
		"/etc/nginx/conf.d":                     dir(0o755),
		"/etc/nginx/modules-available":          dir(0o755),
		"/etc/nginx/modules-enabled":            dir(0o755),
		"/etc/nginx/sites-available":            dir(0o755),
		"/etc/nginx/sites-available/default":    reg(0o644),
		"/etc/nginx/sites-enabled":              dir(0o755),
		"/etc/nginx/sites-enabled/default":      sym("/etc/nginx/sites-available/default"),
		"/etc/nginx/snippets":                   dir(0o755),
		"/etc/nginx/snippets/fastcgi-php.conf":  reg(0o644),
		"/var/www/html":                         dir(0o755),
		"/var/www/html/index.nginx-debian.html": reg(0o644),
		"/var/log/nginx":                        dir(0o755),
		"/var/log/nginx/access.log":             sym("/dev/stdout"),
		"/var/log/nginx/error.log":              sym("/dev/stderr"),
		"/var/lib/nginx":                        dir(0o755),
		"/run":                                  dir(0o755),
		"/tmp":                                  dir(0o777 | fs.ModeSticky),
		"/etc/nsswitch.conf":                    reg(0o644),
		"/etc/passwd":                           reg(0o644),
		"/etc/group":                            reg(0o644),
	}
	checkEntries(t, img, want, "/usr", "/lib64", "/etc", "/var", "/run", "/bin", "/sbin", "/lib")

	if got := content(t, img, "/etc/passwd"); !strings.Contains(got, "\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n") || !strings.HasPrefix(got, "root:x:0:0:") {
		t.Errorf("/etc/passwd lacks root or www-data:\n%s", got)
	}
	if got := content(t, img, "/etc/group"); got != "root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n" {
		t.Errorf("/etc/group:\n%s", got)
	}
	if got := content(t, img, "/var/www/html/index.nginx-debian.html"); !strings.Contains(got, "Welcome to nginx!") {
		t.Errorf("default page: %q", got)
	}
	cfg := img.Config
	if !slices.Equal(cfg.Cmd, []string{"nginx", "-g", "daemon off;"}) || len(cfg.Entrypoint) != 0 {
		t.Errorf("entrypoint %q cmd %q, want nginx in the foreground as the command", cfg.Entrypoint, cfg.Cmd)
	}
	if _, ok := cfg.ExposedPorts["80/tcp"]; !ok || len(cfg.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want 80/tcp", cfg.ExposedPorts)
	}
	if cfg.StopSignal != "SIGQUIT" {
		t.Errorf("stop signal %q, want SIGQUIT (graceful)", cfg.StopSignal)
	}
	if !slices.Equal(img.Refs, []string{"nginx:latest"}) {
		t.Errorf("refs %q", img.Refs)
	}
}

// A module that modules-enabled loads comes with its snippet, the module
// and the module's libraries; one whose module is missing is an error
// rather than an nginx that does not start.
func TestNginxTakesTheEnabledModules(t *testing.T) {
	root := fakeBase(t)
	enableModule(t, root, "http_geoip", "libz.so.1", "libc.so.6")
	img, err := nginxImage(collector(t, root))
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, img, map[string]entry{
		"/etc/nginx/modules-enabled/50-mod-http_geoip.conf":      sym("/usr/share/nginx/modules-available/mod-http_geoip.conf"),
		"/usr/share/nginx/modules-available/mod-http_geoip.conf": reg(0o644),
		"/usr/share/nginx/modules/ngx_http_geoip_module.so":      sym("../../../lib/nginx/modules/ngx_http_geoip_module.so"),
		"/usr/lib/nginx/modules/ngx_http_geoip_module.so":        reg(0o644),
	})

	os.Remove(filepath.Join(root, "usr/lib/nginx/modules/ngx_http_geoip_module.so"))
	if _, err := nginxImage(collector(t, root)); err == nil || !strings.Contains(err.Error(), "ngx_http_geoip_module.so") {
		t.Errorf("err = %v, want one naming the missing module", err)
	}
}

func TestLoadedModules(t *testing.T) {
	got := loadedModules("load_module modules/a.so;\n# load_module modules/commented.so;\nload_module \"/opt/b.so\"; load_module modules/c.so;\nevents {}\n")
	want := []string{"/usr/share/nginx/modules/a.so", "/opt/b.so", "/usr/share/nginx/modules/c.so"}
	if !slices.Equal(got, want) {
		t.Errorf("loadedModules = %q, want %q", got, want)
	}
}

func TestNginxFailsWithoutItsParts(t *testing.T) {
	for _, tc := range []struct{ remove, want string }{
		{nginxBinary, "nginx"},
		{lib + "/libpcre2-8.so.0.11.2", "libpcre2-8.so.0"},
		{"/etc/nginx/sites-available/default", "/etc/nginx/sites-available/default"},
		{"/var/www/html/index.nginx-debian.html", "index.nginx-debian.html"},
	} {
		root := fakeBase(t)
		os.Remove(filepath.Join(root, filepath.FromSlash(tc.remove)))
		if _, err := nginxImage(collector(t, root)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("without %s: err = %v, want one naming %q", tc.remove, err, tc.want)
		}
	}
}

// The cache keeps what the recipes pick, and the images made from it are
// the very images made from the base: same layers, same IDs.
func TestPickedFilesGiveTheSameImages(t *testing.T) {
	root := fakeBase(t)
	enableModule(t, root, "stream", "libc.so.6")
	picked, err := pickAll(root, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range picked {
		if strings.HasPrefix(f.Path, "/usr/sbin/ip") || strings.Contains(f.Path, "libunused") || strings.HasPrefix(f.Path, "/etc/init.d") {
			t.Errorf("%s picked", f.Path)
		}
	}
	saved := t.TempDir()
	if err := rootfs.Save(picked, saved); err != nil {
		t.Fatal(err)
	}
	fromBase, err := imagesFrom(root, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	fromCache, err := imagesFrom(saved, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if len(fromBase) != 2 || len(fromCache) != 2 {
		t.Fatalf("%d and %d images, want busybox and nginx", len(fromBase), len(fromCache))
	}
	for i := range fromBase {
		a, b := imageID(t, fromBase[i]), imageID(t, fromCache[i])
		if a != b {
			t.Errorf("%s: %s from the base, %s from the cache", fromBase[i].Name, a, b)
		}
		for _, f := range fromCache[i].Files {
			if f.Source != "" && !strings.HasPrefix(f.Source, saved) {
				t.Errorf("%s: %s still read from %s", fromCache[i].Name, f.Path, f.Source)
			}
		}
	}
}

func imageID(t *testing.T, img spec) string {
	t.Helper()
	built, err := img.build()
	if err != nil {
		t.Fatal(err)
	}
	res, err := describe(img, built)
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

func TestSourcePathsCoverWhatIsPicked(t *testing.T) {
	paths, err := sourcePaths("amd64")
	if err != nil {
		t.Fatal(err)
	}
	root := fakeBase(t)
	enableModule(t, root, "stream", "libc.so.6")
	picked, err := pickAll(root, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range picked {
		covered := false
		for _, p := range paths {
			if f.Path == p || strings.HasPrefix(f.Path, p+"/") {
				covered = true
			}
		}
		if !covered {
			t.Errorf("%s is outside the paths copied out of the base: %q", f.Path, paths)
		}
	}
}

func TestTestboxRunsTheServerUnderBothTags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "testbox")
	os.WriteFile(bin, []byte("testbox"), 0o755)
	img := testboxImage(bin)
	if want := []string{"kindish/testbox:" + images.Tag, "kindish/testbox:latest"}; !slices.Equal(img.Refs, want) {
		t.Errorf("refs %q, want %q", img.Refs, want)
	}
	checkEntries(t, img, map[string]entry{
		"/testbox":    reg(0o755),
		"/tmp":        dir(0o777 | fs.ModeSticky),
		"/etc/passwd": reg(0o644),
		"/etc/group":  reg(0o644),
	}, "/")
	cfg := img.Config
	if !slices.Equal(cfg.Entrypoint, []string{"/testbox"}) || !slices.Equal(cfg.Cmd, []string{"serve"}) {
		t.Errorf("entrypoint %q cmd %q, want /testbox serve", cfg.Entrypoint, cfg.Cmd)
	}
	ports := slices.Sorted(func(yield func(string) bool) {
		for p := range cfg.ExposedPorts {
			if !yield(p) {
				return
			}
		}
	})
	if !slices.Equal(ports, []string{"8080/tcp", "8081/udp"}) {
		t.Errorf("exposed ports %q", ports)
	}
	if !strings.HasPrefix(content(t, img, "/etc/passwd"), "root:x:0:0:") {
		t.Errorf("/etc/passwd lacks root")
	}
}

// The same inputs give the same image: what lets an unchanged build load
// nothing.
func TestImagesAreReproducible(t *testing.T) {
	root := fakeBase(t)
	first, err := imagesFrom(root, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	again, err := imagesFrom(root, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if a, b := imageID(t, first[i]), imageID(t, again[i]); a != b {
			t.Errorf("%s: %s, then %s", first[i].Name, a, b)
		}
	}
	// And a changed file is a changed image.
	nginxID := imageID(t, first[1])
	os.WriteFile(filepath.Join(root, "var/www/html/index.nginx-debian.html"), []byte("changed"), 0o644)
	changed, err := imagesFrom(root, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if imageID(t, changed[1]) == nginxID {
		t.Error("a changed page kept the nginx image's ID")
	}
}
