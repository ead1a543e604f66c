package netfilter

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
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

// collector gathers the entries of a layer from a root file system on the
// host, following symbolic links inside it (never on the host) and pulling
// in the shared libraries of every ELF file it takes.
type collector struct {
	root    string
	layout  layout
	entries map[string]archive.File
	// analysed holds the real paths whose ELF dependencies were taken.
	analysed map[string]bool
}

func newCollector(root string, l layout) *collector {
	return &collector{root: root, layout: l, entries: map[string]archive.File{}, analysed: map[string]bool{}}
}

// host is where a path of the root file system is on the host.
func (c *collector) host(p string) string {
	return filepath.Join(c.root, filepath.FromSlash(p))
}

// resolve returns the path a file is really at in the root file system,
// following every symbolic link on the way as the kernel would with root
// as "/". Absolute link targets are taken relative to root.
func (c *collector) resolve(p string) (string, error) {
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
		fi, err := os.Lstat(c.host(next))
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
		target, err := os.Readlink(c.host(next))
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

// require takes the file at p into the layer. When p is reached through
// symbolic links, p becomes a link straight to the real file, relative so
// that it holds in any root; the real file is taken with its mode and, if
// it is an ELF object, with the loader and libraries it needs.
func (c *collector) require(p string) error {
	real, err := c.resolve(p)
	if err != nil {
		return err
	}
	if real != p {
		target, err := filepath.Rel(path.Dir(p), real)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := c.add(archive.Symlink(p, filepath.ToSlash(target))); err != nil {
			return err
		}
	}
	fi, err := os.Stat(c.host(real))
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: %s is not a regular file", p, real)
	}
	if err := c.add(archive.HostFile(real, c.host(real), fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))); err != nil {
		return err
	}
	return c.dependencies(real)
}

// add records an entry; the same entry twice is one, two different entries
// at one path are an error.
func (c *collector) add(f archive.File) error {
	if old, ok := c.entries[f.Path]; ok {
		if old.Mode != f.Mode || old.Linkname != f.Linkname || old.Source != f.Source {
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
func (c *collector) dependencies(real string) error {
	if c.analysed[real] {
		return nil
	}
	c.analysed[real] = true
	interp, needed, err := readELF(c.host(real))
	if err != nil {
		return fmt.Errorf("%s: %w", real, err)
	}
	if interp != "" {
		if err := c.require(interp); err != nil {
			return fmt.Errorf("interpreter of %s: %w", real, err)
		}
	}
	for _, name := range needed {
		lib, err := c.findLibrary(name)
		if err != nil {
			return fmt.Errorf("library %s needed by %s: %w", name, real, err)
		}
		if err := c.require(lib); err != nil {
			return fmt.Errorf("library %s needed by %s: %w", name, real, err)
		}
	}
	return nil
}

// findLibrary looks a DT_NEEDED name up in the library directories, in
// order, as the loader does when there is no ld.so.cache (the layer has
// none). A name with a slash is a path.
func (c *collector) findLibrary(name string) (string, error) {
	if strings.Contains(name, "/") {
		return path.Clean("/" + name), nil
	}
	for _, dir := range c.layout.libDirs {
		p := path.Join(dir, name)
		if _, err := c.resolve(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %s", strings.Join(c.layout.libDirs, ", "))
}

// extensions lists the iptables extensions of the IPv4 and IPv6 commands.
func (c *collector) extensions() ([]string, error) {
	dir, err := c.resolve(c.layout.extensionsDir)
	if err != nil {
		return nil, fmt.Errorf("iptables extensions: %w", err)
	}
	entries, err := os.ReadDir(c.host(dir))
	if err != nil {
		return nil, fmt.Errorf("iptables extensions: %w", err)
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".so") {
			continue
		}
		for _, prefix := range extensionPrefixes {
			if strings.HasPrefix(name, prefix) {
				out = append(out, path.Join(c.layout.extensionsDir, name))
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("iptables extensions: none in %s", c.layout.extensionsDir)
	}
	return out, nil
}

// files returns the entries sorted by path.
func (c *collector) files() []archive.File {
	out := make([]archive.File, 0, len(c.entries))
	for _, f := range c.entries {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// elfMagic starts every ELF file.
var elfMagic = []byte("\x7fELF")

// readELF returns the program interpreter (PT_INTERP) and the DT_NEEDED
// libraries of an ELF file, and nothing for a file of another kind.
func readELF(file string) (interp string, needed []string, err error) {
	f, err := os.Open(file)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	magic := make([]byte, len(elfMagic))
	if _, err := io.ReadFull(f, magic); err != nil || !bytes.Equal(magic, elfMagic) {
		return "", nil, nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return "", nil, fmt.Errorf("read ELF: %w", err)
	}
	for _, prog := range ef.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(prog.Open())
		if err != nil {
			return "", nil, fmt.Errorf("read ELF interpreter: %w", err)
		}
		interp = string(bytes.TrimRight(b, "\x00"))
	}
	needed, err = ef.ImportedLibraries()
	if err != nil {
		return "", nil, fmt.Errorf("read ELF dynamic section: %w", err)
	}
	return interp, needed, nil
}
