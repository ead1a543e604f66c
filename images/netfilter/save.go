package netfilter

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kindish/kindish/images/archive"
)

// Save writes files (as Files returns them) under dir as a small root file
// system of their own, from which Files gives the same layer again. It lets
// a build keep only what the layer holds, rather than the directories the
// files were picked from. Regular files are hard-linked when they can be.
func Save(files []archive.File, dir string) error {
	for _, f := range files {
		dst := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("save %s: %w", f.Path, err)
		}
		var err error
		switch f.Mode.Type() {
		case fs.ModeSymlink:
			err = os.Symlink(f.Linkname, dst)
		case fs.ModeDir:
			err = os.MkdirAll(dst, f.Mode.Perm())
		case 0:
			err = saveRegular(f, dst)
		default:
			err = fmt.Errorf("unsupported file type %v", f.Mode.Type())
		}
		if err != nil {
			return fmt.Errorf("save %s: %w", f.Path, err)
		}
	}
	return nil
}

func saveRegular(f archive.File, dst string) error {
	if f.Source == "" {
		if err := os.WriteFile(dst, f.Data, 0o600); err != nil {
			return err
		}
		return os.Chmod(dst, f.Mode)
	}
	if err := os.Link(f.Source, dst); err == nil {
		return os.Chmod(dst, f.Mode)
	}
	in, err := os.Open(f.Source)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, f.Mode)
}
