package pki

import (
	"archive/tar"
	"bytes"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"
)

// dirMode is for every directory in a node tar, including existing ones such
// as /etc: Docker applies a directory entry's mode and owner to a directory
// that already exists, so anything else would change it.
const dirMode = 0o755

// NodeTar returns NodeFiles(nodeName) plus extra (kubeconfigs, manifests)
// as one tar archive rooted at /, for Docker's CopyToContainer at path "/",
// so a node's files are written in one call. Every entry is owned by root,
// and every parent directory is included (0755) so that none has to exist.
// An extra path must be absolute and must not replace a PKI file.
func (b *Bundle) NodeTar(nodeName string, extra map[string]File) ([]byte, error) {
	files, err := b.NodeFiles(nodeName)
	if err != nil {
		return nil, err
	}
	for p, f := range extra {
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
			return nil, fmt.Errorf("tar for node %s: extra file %q: not a clean absolute file path", nodeName, p)
		}
		if _, ok := files[p]; ok {
			return nil, fmt.Errorf("tar for node %s: extra file %q: would replace a PKI file", nodeName, p)
		}
		files[p] = f
	}
	data, err := writeTar(files, b.generated)
	if err != nil {
		return nil, fmt.Errorf("tar for node %s: %w", nodeName, err)
	}
	return data, nil
}

// writeTar archives files, with their parent directories, in path order so
// that each directory comes before what it holds.
func writeTar(files map[string]File, modTime time.Time) ([]byte, error) {
	dirs := make(map[string]bool)
	for p := range files {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	names := slices.Sorted(maps.Keys(files))
	for d := range dirs {
		if _, clash := files[d]; clash {
			return nil, fmt.Errorf("%s is both a file and a directory", d)
		}
		names = append(names, d)
	}
	slices.Sort(names)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// Whole seconds keep the archive in plain ustar format.
	modTime = modTime.Truncate(time.Second)
	for _, name := range names {
		hdr := &tar.Header{
			Name:    strings.TrimPrefix(name, "/"),
			ModTime: modTime,
			Uname:   "root",
			Gname:   "root",
		}
		f, isFile := files[name]
		if isFile {
			hdr.Typeflag = tar.TypeReg
			hdr.Mode = int64(f.Mode.Perm())
			hdr.Size = int64(len(f.Data))
		} else {
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
			hdr.Mode = dirMode
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("write tar header %s: %w", name, err)
		}
		if isFile {
			if _, err := tw.Write(f.Data); err != nil {
				return nil, fmt.Errorf("write tar entry %s: %w", name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	return buf.Bytes(), nil
}
