package rootfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kindish/kindish/images/archive"
)

// Save writes files (as a Collector gathers them) under dir as a small root
// file system of their own, from which a Collector gathers the same files
// again. It lets a build keep only what a layer holds, rather than the
// directories the files were picked from. Regular files are hard-linked
// when they can be. Modes are kept exactly, whatever the umask.
func Save(files []archive.File, dir string) error {
	var dirs []archive.File
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
			err = os.MkdirAll(dst, 0o755)
			dirs = append(dirs, f)
		case 0:
			err = saveRegular(f, dst)
		default:
			err = fmt.Errorf("unsupported file type %v", f.Mode.Type())
		}
		if err != nil {
			return fmt.Errorf("save %s: %w", f.Path, err)
		}
	}
	// Directories get their modes last, once nothing more is written into
	// them: one without write permission would otherwise stay empty.
	for _, f := range dirs {
		dst := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.Chmod(dst, f.Mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
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
