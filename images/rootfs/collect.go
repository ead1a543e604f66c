package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kindish/kindish/images/archive"
)

// maxLinks bounds the symbolic links followed while resolving one path, as
// the kernel's ELOOP limit does.
const maxLinks = 40

// Collector gathers the entries of a layer from a root file system on the
// host. Regular files become archive.HostFile entries read from the root
// when the layer is written, keeping their permission and special bits;
// ownership is not kept (layers are root's).
type Collector struct {
	root    string
	libDirs []string
	entries map[string]archive.File
	// analysed holds the real paths whose ELF dependencies were taken.
	analysed map[string]bool
}

// NewCollector reads the root file system at root, a host directory, and
// looks DT_NEEDED libraries up in libDirs (see DebianLibDirs).
func NewCollector(root string, libDirs []string) *Collector {
	return &Collector{root: root, libDirs: libDirs, entries: map[string]archive.File{}, analysed: map[string]bool{}}
}

// Host is where a path of the root file system is on the host.
func (c *Collector) Host(p string) string {
	return filepath.Join(c.root, filepath.FromSlash(p))
}

// Resolve returns the path a file is really at in the root file system,
// following every symbolic link on the way as the kernel would with root
// as "/". Absolute link targets are taken relative to root.
func (c *Collector) Resolve(p string) (string, error) {
	parts := strings.Split(p, "/")
	cur := "/"
	links := 0
	for len(parts) > 0 {
		name := parts[0]
		parts = parts[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		fi, err := os.Lstat(c.Host(next))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("%s: %s does not exist in the root file system", p, next)
			}
			return "", fmt.Errorf("%s: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(c.Host(next))
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		if strings.HasPrefix(target, "/") {
			cur = "/"
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return cur, nil
}

// Require takes the file at p into the layer. When p is reached through
// symbolic links, p becomes a link straight to the real file, relative so
// that it holds in any root; the real file is taken with its mode and, if
// it is an ELF object, with the loader and libraries it needs.
func (c *Collector) Require(p string) error {
	real, err := c.Resolve(p)
	if err != nil {
		return err
	}
	if real != p {
		target, err := filepath.Rel(path.Dir(p), real)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := c.Add(archive.Symlink(p, filepath.ToSlash(target))); err != nil {
			return err
		}
	}
	fi, err := os.Stat(c.Host(real))
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %s is not a regular file", p, real)
	}
	return c.takeRegular(real, fi)
}

// Tree takes the directory at p and everything under it: directories,
// regular files (with their libraries when they are ELF objects), and
// symbolic links as they are, together with what each one points to, so
// that no link of the layer dangles. p itself must be a real directory.
func (c *Collector) Tree(p string) error {
	real, err := c.Resolve(p)
	if err != nil {
		return err
	}
	if real != path.Clean(p) {
		return fmt.Errorf("%s: is reached through a symbolic link (to %s); take the real directory", p, real)
	}
	return filepath.WalkDir(c.Host(real), func(host string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(c.root, host)
		if err != nil {
			return err
		}
		at := "/" + filepath.ToSlash(rel)
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("%s: %w", at, err)
		}
		switch {
		case fi.IsDir():
			return c.Add(archive.Dir(at, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)))
		case fi.Mode().IsRegular():
			return c.takeRegular(at, fi)
		case fi.Mode()&fs.ModeSymlink != 0:
			return c.takeLink(at)
		default:
			return fmt.Errorf("%s: unsupported file type %v", at, fi.Mode().Type())
		}
	})
}

// takeLink takes the symbolic link at p as it is, and what it leads to: a
// file through Require, a directory through Tree.
func (c *Collector) takeLink(p string) error {
	target, err := os.Readlink(c.Host(p))
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if err := c.Add(archive.Symlink(p, target)); err != nil {
		return err
	}
	real, err := c.Resolve(p)
	if err != nil {
		return fmt.Errorf("link %s: %w", p, err)
	}
	fi, err := os.Stat(c.Host(real))
	if err != nil {
		return fmt.Errorf("link %s: %w", p, err)
	}
	if fi.IsDir() {
		// A link inside the tree back up to it would walk forever.
		if _, seen := c.entries[real]; seen {
			return nil
		}
		return c.Tree(real)
	}
	return c.Require(real)
}

// takeRegular takes the regular file at real, its real path, and what the
// loader needs to run or load it.
func (c *Collector) takeRegular(real string, fi fs.FileInfo) error {
	if err := c.Add(archive.HostFile(real, c.Host(real), fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))); err != nil {
		return err
	}
	return c.dependencies(real)
}

// Add records an entry; the same entry twice is one, two different entries
// at one path are an error.
func (c *Collector) Add(f archive.File) error {
	if old, ok := c.entries[f.Path]; ok {
		if old.Mode != f.Mode || old.Linkname != f.Linkname || old.Source != f.Source || string(old.Data) != string(f.Data) {
			return fmt.Errorf("%s is needed both as %v %q and as %v %q", f.Path, old.Mode, old.Linkname+old.Source, f.Mode, f.Linkname+f.Source)
		}
		return nil
	}
	c.entries[f.Path] = f
	return nil
}

// dependencies takes what the dynamic loader needs to run or load the
// ELF file at real: its interpreter and the libraries of its DT_NEEDED
// entries, recursively. Other files have none.
func (c *Collector) dependencies(real string) error {
	if c.analysed[real] {
		return nil
	}
	c.analysed[real] = true
	interp, needed, err := ReadELF(c.Host(real))
	if err != nil {
		return fmt.Errorf("%s: %w", real, err)
	}
	if interp != "" {
		if err := c.Require(interp); err != nil {
			return fmt.Errorf("interpreter of %s: %w", real, err)
		}
	}
	for _, name := range needed {
		lib, err := c.FindLibrary(name)
		if err != nil {
			return fmt.Errorf("library %s needed by %s: %w", name, real, err)
		}
		if err := c.Require(lib); err != nil {
			return fmt.Errorf("library %s needed by %s: %w", name, real, err)
		}
	}
	return nil
}

// FindLibrary looks a DT_NEEDED name up in the library directories, in
// order, as the loader does when there is no ld.so.cache (layers made
// this way have none). A name with a slash is a path.
func (c *Collector) FindLibrary(name string) (string, error) {
	if strings.Contains(name, "/") {
		return path.Clean("/" + name), nil
	}
	for _, dir := range c.libDirs {
		p := path.Join(dir, name)
		if _, err := c.Resolve(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %s", strings.Join(c.libDirs, ", "))
}

// Files returns the entries sorted by path.
func (c *Collector) Files() []archive.File {
	out := make([]archive.File, 0, len(c.entries))
	for _, f := range c.entries {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
