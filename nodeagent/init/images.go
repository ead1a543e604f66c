package nodeinit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// importState maps an archive's file name to the fingerprint it had when
// it was imported. Importing again is harmless (ctr import is idempotent);
// the state only saves the time of a restarted node.
type importState map[string]string

// archive is an image archive and its fingerprint.
type archive struct {
	path        string
	fingerprint string
}

// fingerprint identifies an archive's content by size and modification
// time: hashing hundreds of megabytes at every boot would cost more than
// the import it saves, and the archives only change with the node image.
func fingerprint(fi fs.FileInfo) string {
	return fmt.Sprintf("size=%d mtime=%d", fi.Size(), fi.ModTime().UnixNano())
}

// listArchives returns the *.tar archives in dir, sorted by name.
func listArchives(dir string) ([]archive, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	archives := make([]archive, 0, len(paths))
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		archives = append(archives, archive{path: p, fingerprint: fingerprint(fi)})
	}
	return archives, nil
}

// pending returns the archives not yet imported with their current content.
func (s importState) pending(archives []archive) []archive {
	var todo []archive
	for _, a := range archives {
		if s[filepath.Base(a.path)] != a.fingerprint {
			todo = append(todo, a)
		}
	}
	return todo
}

// loadImportState reads the state file. A missing file is an empty state;
// so is an unreadable one, with the error to log: the worst outcome is
// importing again.
func loadImportState(path string) (importState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return importState{}, nil
	}
	if err != nil {
		return importState{}, err
	}
	s := importState{}
	if err := json.Unmarshal(b, &s); err != nil {
		return importState{}, fmt.Errorf("parse %s: %w", path, err)
	}
	return s, nil
}

// save writes the state atomically, so that a node stopped mid-write keeps
// the previous state rather than a torn file.
func (s importState) save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o644)
}

// importImages imports every archive in the images directory that the
// state file does not list with its current fingerprint.
func (in *Init) importImages(ctx context.Context, r *reaper) error {
	cfg := in.cfg.Images
	archives, err := listArchives(cfg.Dir)
	if err != nil {
		return fmt.Errorf("list archives in %s: %w", cfg.Dir, err)
	}
	state, err := loadImportState(cfg.StateFile)
	if err != nil {
		in.log.printf("importing every image again: read import state: %v", err)
	}
	todo := state.pending(archives)
	if skipped := len(archives) - len(todo); skipped > 0 {
		in.log.printf("%d of %d image archives already imported", skipped, len(archives))
	}
	for _, a := range todo {
		began := time.Now()
		if _, err := r.output(ctx, importCommand(cfg, a.path)); err != nil {
			return err
		}
		in.log.printf("imported %s in %s", filepath.Base(a.path), time.Since(began).Round(time.Millisecond))
		state[filepath.Base(a.path)] = a.fingerprint
		if err := state.save(cfg.StateFile); err != nil {
			return fmt.Errorf("save import state: %w", err)
		}
	}
	return nil
}

func importCommand(cfg ImageImport, path string) []string {
	return []string{cfg.Ctr, "--address", cfg.Address, "--namespace", cfg.Namespace,
		"images", "import", "--no-unpack=false", "--all-platforms", path}
}

// writeFileAtomic replaces path with data through a temporary file in the
// same directory and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
