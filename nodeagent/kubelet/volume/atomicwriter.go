package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	// dataDirName is the symlink consumers follow (and may watch with
	// inotify): it names the timestamped directory holding the current files.
	dataDirName = "..data"
	// newDataDirName is the symlink built beside ..data and renamed over it,
	// since rename(2) is the one atomic way to repoint a symlink.
	newDataDirName = "..data_tmp"

	maxFileNameLength = 255
	maxPathLength     = 4096
)

// fileProjection is one file of an atomically written volume.
type fileProjection struct {
	data []byte
	mode int32
	// fsUser, when set, owns the file: a token readable only by its owner
	// must belong to the user the containers run as.
	fsUser *int64
}

// atomicWriter projects a set of files into a directory as upstream's
// pkg/volume/util/atomic_writer.go does, so that file names, symlinks and
// subPath behaviour match what workloads see on a real node. It reserves
// names starting with "..", and one writer per directory must not run
// concurrently with itself (the manager's per-pod lock sees to that).
type atomicWriter struct {
	dir string
	now func() time.Time
	// prepare runs on the new timestamped directory after the files are
	// written and before they become visible, so that ownership changes
	// are never observed half-done. It may be nil.
	prepare func(tsDir string) error
}

// write makes the payload the content of the directory. It reports whether
// anything was written: an unchanged payload leaves the directory alone.
func (w *atomicWriter) write(payload map[string]fileProjection) (bool, error) {
	clean, err := validatePayload(payload)
	if err != nil {
		return false, err
	}

	dataDirPath := filepath.Join(w.dir, dataDirName)
	oldTsDir, err := os.Readlink(dataDirPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("read data directory link: %w", err)
	}
	oldTsPath := ""
	if oldTsDir != "" {
		oldTsPath = filepath.Join(w.dir, oldTsDir)
	}

	var stale []string
	if oldTsPath != "" {
		stale, err = pathsToRemove(clean, oldTsPath)
		if err != nil {
			return false, err
		}
		changed, err := payloadDiffers(clean, oldTsPath)
		if err != nil {
			return false, err
		}
		if !changed && len(stale) == 0 {
			return false, nil
		}
	}

	tsDir, err := w.newTimestampDir()
	if err != nil {
		return false, err
	}
	if err := writePayloadToDir(clean, tsDir); err != nil {
		os.RemoveAll(tsDir)
		return false, err
	}
	if w.prepare != nil {
		if err := w.prepare(tsDir); err != nil {
			os.RemoveAll(tsDir)
			return false, err
		}
	}

	// A crash between symlink and rename leaves ..data_tmp behind; it must
	// not block every later update.
	newDataDirPath := filepath.Join(w.dir, newDataDirName)
	if err := os.Remove(newDataDirPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("remove stale %s: %w", newDataDirName, err)
	}
	if err := os.Symlink(filepath.Base(tsDir), newDataDirPath); err != nil {
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("create %s link: %w", newDataDirName, err)
	}
	if err := os.Rename(newDataDirPath, dataDirPath); err != nil {
		os.Remove(newDataDirPath)
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("swap %s link: %w", dataDirName, err)
	}

	if err := createUserVisibleFiles(w.dir, clean); err != nil {
		return true, err
	}
	if err := removeUserVisiblePaths(w.dir, stale); err != nil {
		return true, err
	}
	if oldTsPath != "" {
		if err := os.RemoveAll(oldTsPath); err != nil {
			return true, fmt.Errorf("remove old data directory %s: %w", oldTsDir, err)
		}
	}
	return true, nil
}

// validatePayload rejects paths that could leave the volume or collide with
// the writer's own ".." names, and returns the payload with clean paths.
func validatePayload(payload map[string]fileProjection) (map[string]fileProjection, error) {
	clean := make(map[string]fileProjection, len(payload))
	for p, content := range payload {
		if err := validatePath(p); err != nil {
			return nil, err
		}
		clean[filepath.Clean(p)] = content
	}
	return clean, nil
}

func validatePath(p string) error {
	if p == "" {
		return fmt.Errorf("invalid path: must not be empty: %q", p)
	}
	if filepath.IsAbs(p) {
		return fmt.Errorf("invalid path: must be relative path: %s", p)
	}
	if len(p) > maxPathLength {
		return fmt.Errorf("invalid path: must be less than or equal to %d characters", maxPathLength)
	}
	items := strings.Split(p, string(os.PathSeparator))
	for _, item := range items {
		if item == ".." {
			return fmt.Errorf("invalid path: must not contain '..': %s", p)
		}
		if len(item) > maxFileNameLength {
			return fmt.Errorf("invalid path: filenames must be less than or equal to %d characters", maxFileNameLength)
		}
	}
	if strings.HasPrefix(items[0], "..") && len(items[0]) > 2 {
		return fmt.Errorf("invalid path: must not start with '..': %s", p)
	}
	return nil
}

// payloadDiffers compares content only: modes and owners come from the pod's
// spec, which cannot change for a running pod.
func payloadDiffers(payload map[string]fileProjection, oldTsDir string) (bool, error) {
	for p, fp := range payload {
		onDisk, err := os.ReadFile(filepath.Join(oldTsDir, p))
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("read %s: %w", p, err)
		}
		if !bytes.Equal(onDisk, fp.data) {
			return true, nil
		}
	}
	return false, nil
}

// pathsToRemove lists what the old version holds that the new one does not,
// so that a key deleted from its source disappears from the volume.
func pathsToRemove(payload map[string]fileProjection, oldTsDir string) ([]string, error) {
	keep := map[string]bool{}
	for p := range payload {
		for sub := p; sub != "." && sub != ""; sub = filepath.Dir(sub) {
			keep[sub] = true
		}
	}
	var stale []string
	err := filepath.WalkDir(oldTsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(oldTsDir, p)
		if err != nil || rel == "." {
			return err
		}
		if !keep[rel] {
			stale = append(stale, rel)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list old data directory: %w", err)
	}
	return stale, nil
}

func (w *atomicWriter) newTimestampDir() (string, error) {
	tsDir, err := os.MkdirTemp(w.dir, w.now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return "", fmt.Errorf("create data directory: %w", err)
	}
	// Group and others must be able to traverse it whatever the umask.
	if err := os.Chmod(tsDir, 0o755); err != nil {
		os.RemoveAll(tsDir)
		return "", fmt.Errorf("chmod data directory: %w", err)
	}
	return tsDir, nil
}

func writePayloadToDir(payload map[string]fileProjection, dir string) error {
	for p, fp := range payload {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("create directory for %s: %w", p, err)
		}
		mode := os.FileMode(fp.mode) & os.ModePerm
		if err := os.WriteFile(full, fp.data, mode); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		// WriteFile's mode passes through the umask; the spec's must not.
		if err := os.Chmod(full, mode); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
		if fp.fsUser != nil {
			if err := os.Chown(full, int(*fp.fsUser), -1); err != nil {
				return fmt.Errorf("chown %s: %w", p, err)
			}
		}
	}
	return nil
}

// createUserVisibleFiles links each top-level name of the payload into
// ..data: "a/b/c" is reached through the one link "a -> ..data/a", which is
// what makes a whole subdirectory switch with the ..data swap.
func createUserVisibleFiles(dir string, payload map[string]fileProjection) error {
	for p := range payload {
		top, _, _ := strings.Cut(p, string(os.PathSeparator))
		visible := filepath.Join(dir, top)
		if _, err := os.Lstat(visible); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("check %s: %w", top, err)
		}
		if err := os.Symlink(filepath.Join(dataDirName, top), visible); err != nil {
			return fmt.Errorf("link %s: %w", top, err)
		}
	}
	return nil
}

// removeUserVisiblePaths drops the links of names that are gone. Only
// top-level names have links; deeper paths vanished with the old data.
func removeUserVisiblePaths(dir string, paths []string) error {
	var errs []error
	for _, p := range paths {
		if strings.Contains(p, string(os.PathSeparator)) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove old link %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}
