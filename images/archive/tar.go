// Package archive writes kindish's images as `docker save` archives, the
// format both `docker load` and `ctr images import` read, keeping the image
// names. No registry exists where kindish runs, so archives are how images
// reach a node's containerd.
//
// Everything here is reproducible: the same inputs give byte-identical layers,
// configs and archives, so rebuilding with an unchanged binary yields the
// same image digests and Docker's build cache keeps working.
package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// Epoch is the modification time of every entry kindish writes. Any fixed
// value would do; it only has to be the same on every build.
var Epoch = time.Unix(0, 0).UTC()

// File is one entry of a layer or of a build context.
type File struct {
	// Path is the absolute path in the image, e.g. "/usr/local/bin/etcd".
	Path string
	// Mode holds the permission bits, the special bits (fs.ModeSticky,
	// fs.ModeSetuid, fs.ModeSetgid) and the type: fs.ModeDir, fs.ModeSymlink,
	// or none for a regular file.
	Mode fs.FileMode
	// Linkname is the target of a symlink.
	Linkname string
	// Source is the host file that holds a regular file's content; Data is
	// used when Source is empty.
	Source string
	Data   []byte
}

// Dir is a directory entry.
func Dir(p string, perm fs.FileMode) File { return File{Path: p, Mode: fs.ModeDir | perm} }

// Symlink is a symbolic link at p pointing to target.
func Symlink(p, target string) File {
	return File{Path: p, Mode: fs.ModeSymlink | 0o777, Linkname: target}
}

// HostFile is a regular file whose content is read from the host file
// source when the tar is written.
func HostFile(p, source string, perm fs.FileMode) File {
	return File{Path: p, Mode: perm, Source: source}
}

// Bytes is a regular file with the given content.
func Bytes(p string, data []byte, perm fs.FileMode) File {
	return File{Path: p, Mode: perm, Data: data}
}

// WriteTar writes files as an uncompressed tar, sorted by path, with the
// parent directories that files does not list added (0755), every entry
// owned by root and dated Epoch. Paths are written relative ("usr/bin/x"),
// as image layers are. It fails on a duplicate path, and when a host file
// changes size while it is being written.
func WriteTar(w io.Writer, files []File) error {
	entries, err := normalize(files)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	for _, f := range entries {
		if err := writeEntry(tw, f); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	return tw.Close()
}

// normalize cleans the paths, adds missing parents and sorts the entries.
func normalize(files []File) ([]File, error) {
	byPath := make(map[string]File, len(files))
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "/") {
			return nil, fmt.Errorf("path %q is not absolute", f.Path)
		}
		f.Path = path.Clean(f.Path)
		if f.Path == "/" {
			return nil, fmt.Errorf("the root directory cannot be an entry")
		}
		switch f.Mode.Type() {
		case 0, fs.ModeDir, fs.ModeSymlink:
		default:
			return nil, fmt.Errorf("%s: unsupported file type %v", f.Path, f.Mode.Type())
		}
		if _, dup := byPath[f.Path]; dup {
			return nil, fmt.Errorf("duplicate path %s", f.Path)
		}
		byPath[f.Path] = f
	}
	for p := range byPath {
		for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
			if parent, ok := byPath[dir]; ok {
				if !parent.Mode.IsDir() {
					return nil, fmt.Errorf("%s is inside %s, which is not a directory", p, dir)
				}
				continue
			}
			byPath[dir] = Dir(dir, 0o755)
		}
	}
	entries := make([]File, 0, len(byPath))
	for _, f := range byPath {
		entries = append(entries, f)
	}
	// Sorting by path puts every directory before its content.
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	return entries, nil
}

func writeEntry(tw *tar.Writer, f File) error {
	hdr := &tar.Header{
		Name:    strings.TrimPrefix(f.Path, "/"),
		Mode:    tarMode(f.Mode),
		ModTime: Epoch,
		Format:  tar.FormatPAX,
	}
	switch f.Mode.Type() {
	case fs.ModeDir:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		return tw.WriteHeader(hdr)
	case fs.ModeSymlink:
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = f.Linkname
		return tw.WriteHeader(hdr)
	}
	hdr.Typeflag = tar.TypeReg
	if f.Source == "" {
		hdr.Size = int64(len(f.Data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(f.Data)
		return err
	}
	src, err := os.Open(f.Source)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", f.Source)
	}
	hdr.Size = st.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, src, hdr.Size); err != nil {
		return fmt.Errorf("copy %s: %w", f.Source, err)
	}
	return nil
}

// tarMode converts Go's file mode bits to the Unix ones tar stores.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}
