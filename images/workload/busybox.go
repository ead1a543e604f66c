package workload

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kindish/kindish/images/archive"
	"github.com/kindish/kindish/images/rootfs"
)

// busyboxBinary is where busybox-static installs busybox, and where the
// image has it: the image's /bin is a directory of its own, not Debian's
// merged-/usr link, as in the upstream busybox image.
const busyboxBinary = "/bin/busybox"

// busyboxRecipe makes busybox:latest: the static binary, a link per applet,
// and what a shell in a container expects around it.
var busyboxRecipe = debianRecipe{
	name: "busybox",
	pick: func(c *rootfs.Collector) error {
		for _, p := range []string{busyboxBinary, appletList} {
			if err := c.Require(p); err != nil {
				return fmt.Errorf("busybox: %w", err)
			}
		}
		return nil
	},
	image: busyboxImage,
}

func busyboxImage(c *rootfs.Collector) (spec, error) {
	real, err := c.Resolve(busyboxBinary)
	if err != nil {
		return spec{}, fmt.Errorf("busybox: %w", err)
	}
	fi, err := os.Stat(c.Host(real))
	if err != nil {
		return spec{}, fmt.Errorf("busybox: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return spec{}, fmt.Errorf("busybox: %s is not a regular file", real)
	}
	// The image has no loader and no libc: only busybox-static's binary
	// runs in it.
	interp, needed, err := rootfs.ReadELF(c.Host(real))
	if err != nil {
		return spec{}, fmt.Errorf("busybox: %s: %w", real, err)
	}
	if interp != "" || len(needed) > 0 {
		return spec{}, fmt.Errorf("busybox: %s is dynamically linked (loader %q, libraries %q): not busybox-static's", real, interp, needed)
	}
	listPath, err := c.Resolve(appletList)
	if err != nil {
		return spec{}, fmt.Errorf("busybox applets: %w", err)
	}
	list, err := os.ReadFile(c.Host(listPath))
	if err != nil {
		return spec{}, fmt.Errorf("busybox applets: %w", err)
	}
	applets, err := parseApplets(string(list))
	if err != nil {
		return spec{}, fmt.Errorf("busybox applets from %s: %w", appletList, err)
	}

	files := []archive.File{archive.HostFile(busyboxBinary, c.Host(real), fi.Mode().Perm())}
	for _, p := range applets {
		if p == busyboxBinary {
			continue
		}
		target, err := filepath.Rel(path.Dir(p), busyboxBinary)
		if err != nil {
			return spec{}, fmt.Errorf("busybox applet %s: %w", p, err)
		}
		files = append(files, archive.Symlink(p, filepath.ToSlash(target)))
	}
	files = append(files, accountFiles(rootAccount.withShell("/bin/sh"), nobodyAccount)...)
	files = append(files, tmpDir(), archive.Dir("/root", 0o700))
	return newSpec("busybox", []string{Busybox}, files, v1.Config{Cmd: []string{"sh"}},
		"busybox from Debian's busybox-static, with a link per applet"), nil
}

// parseApplets reads `busybox --list-full`: one path a line, relative to
// the root. It returns them absolute, sorted and once each, and refuses a
// path that would land outside the root or on the root itself.
func parseApplets(list string) ([]string, error) {
	var out []string
	for _, line := range strings.Split(list, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		p := "/" + line
		if strings.HasPrefix(line, "/") || path.Clean(p) != p || p == "/" {
			return nil, fmt.Errorf("applet path %q is not a plain path below the root", line)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no applets listed")
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
