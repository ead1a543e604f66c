package volume

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestWriter(t *testing.T) *atomicWriter {
	t.Helper()
	return &atomicWriter{dir: t.TempDir(), now: time.Now}
}

func TestAtomicWriterKeepsOpenFilesOnTheOldVersion(t *testing.T) {
	w := newTestWriter(t)
	if _, err := w.write(map[string]fileProjection{"a": {data: []byte("old"), mode: 0o644}}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(w.dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	changed, err := w.write(map[string]fileProjection{"a": {data: []byte("new content"), mode: 0o644}})
	if err != nil || !changed {
		t.Fatalf("write = %v, %v; want a change", changed, err)
	}
	old, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	if string(old) != "old" {
		t.Errorf("reader opened before the update read %q, want the whole old version", old)
	}
	if got := readFile(t, filepath.Join(w.dir, "a")); got != "new content" {
		t.Errorf("a = %q after the update", got)
	}
}

// A consumer that follows ..data once and reads several files from there
// must get one version of all of them, whatever updates run meanwhile.
func TestAtomicWriterNeverMixesVersions(t *testing.T) {
	w := newTestWriter(t)
	version := func(n int) map[string]fileProjection {
		v := []byte(fmt.Sprintf("version %d", n))
		return map[string]fileProjection{"a": {data: v, mode: 0o644}, "dir/b": {data: v, mode: 0o644}}
	}
	if _, err := w.write(version(0)); err != nil {
		t.Fatal(err)
	}

	var done atomic.Bool
	var consistent, mixed atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			target, err := os.Readlink(filepath.Join(w.dir, dataDirName))
			if err != nil {
				mixed.Add(1) // ..data must exist at every instant
				continue
			}
			a, errA := os.ReadFile(filepath.Join(w.dir, target, "a"))
			b, errB := os.ReadFile(filepath.Join(w.dir, target, "dir", "b"))
			if errA != nil || errB != nil {
				continue // that version was retired while being read
			}
			if string(a) != string(b) {
				mixed.Add(1)
			} else {
				consistent.Add(1)
			}
		}
	}()
	for n := 1; n <= 200; n++ {
		if _, err := w.write(version(n)); err != nil {
			done.Store(true)
			wg.Wait()
			t.Fatal(err)
		}
	}
	// Let the reader see the final version at least once.
	deadline := time.Now().Add(5 * time.Second)
	for consistent.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	done.Store(true)
	wg.Wait()

	if n := mixed.Load(); n != 0 {
		t.Errorf("%d reads saw no ..data or a mix of versions", n)
	}
	if consistent.Load() == 0 {
		t.Errorf("the reader never completed a read")
	}
	if got := readFile(t, filepath.Join(w.dir, "dir", "b")); got != "version 200" {
		t.Errorf("dir/b = %q, want the last version", got)
	}
}

func TestAtomicWriterRefusesPathsOutsideTheVolume(t *testing.T) {
	tests := []struct {
		path    string
		wantErr string
	}{
		{"../escape", "invalid path: must not contain '..': ../escape"},
		{"/etc/passwd", "invalid path: must be relative path: /etc/passwd"},
		{"..data", "invalid path: must not start with '..': ..data"},
		{"", `invalid path: must not be empty: ""`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			w := newTestWriter(t)
			_, err := w.write(map[string]fileProjection{tt.path: {data: []byte("x"), mode: 0o644}})
			wantError(t, err, tt.wantErr)
		})
	}
}

func TestAtomicWriterRecoversFromALeftoverTempLink(t *testing.T) {
	w := newTestWriter(t)
	if _, err := w.write(map[string]fileProjection{"a": {data: []byte("1"), mode: 0o644}}); err != nil {
		t.Fatal(err)
	}
	// As a crash between creating ..data_tmp and renaming it leaves things.
	if err := os.Symlink("..nowhere", filepath.Join(w.dir, newDataDirName)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.write(map[string]fileProjection{"a": {data: []byte("2"), mode: 0o644}}); err != nil {
		t.Fatalf("write after a crash: %v", err)
	}
	if got := readFile(t, filepath.Join(w.dir, "a")); got != "2" {
		t.Errorf("a = %q, want 2", got)
	}
}
