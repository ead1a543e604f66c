package rootfs

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/kindish/kindish/images/rootfs/rootfstest"
)

func TestReadELFFindsInterpreterAndNeededLibraries(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		interp string
		needed []string
		text   string // a file that is not ELF
	}{
		{name: "program", interp: "/lib64/ld-linux-x86-64.so.2", needed: []string{"libxtables.so.12", "libc.so.6"}},
		{name: "library", needed: []string{"libmnl.so.0"}},
		{name: "no dependencies"},
		{name: "not ELF", text: "6 tcp\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if tc.text != "" {
				os.WriteFile(file, []byte(tc.text), 0o644)
			} else {
				rootfstest.WriteELF(t, file, 0o755, tc.interp, tc.needed...)
			}
			interp, needed, err := ReadELF(file)
			if err != nil {
				t.Fatal(err)
			}
			if interp != tc.interp || !slices.Equal(needed, tc.needed) {
				t.Errorf("interp %q needed %q, want %q %q", interp, needed, tc.interp, tc.needed)
			}
		})
	}
}

func TestReadELFRejectsATruncatedFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "broken")
	os.WriteFile(file, []byte("\x7fELF\x02\x01\x01"), 0o755)
	if _, _, err := ReadELF(file); err == nil {
		t.Error("no error for a truncated ELF header")
	}
}

// This machine's own /bin/ls, through the merged-/usr /bin link, with the
// libraries the real loader would load: every DT_NEEDED name of every ELF
// file taken is in the result, and so is the interpreter.
func TestCollectorResolvesARealBinaryOfThisMachine(t *testing.T) {
	libDirs, err := DebianLibDirs(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCollector("/", libDirs)
	if err := c.Require("/bin/ls"); err != nil {
		t.Fatal(err)
	}
	files := c.Files()
	real, err := c.Resolve("/bin/ls")
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]bool{}
	byBase := map[string]bool{}
	var elfs []string
	for _, f := range files {
		byPath[f.Path] = true
		byBase[filepath.Base(f.Path)] = true
		if f.Mode.IsRegular() {
			elfs = append(elfs, f.Path)
		}
	}
	if !byPath[real] {
		t.Fatalf("the real file %s is not taken: %v", real, files)
	}
	interp, needed, err := ReadELF(real)
	if err != nil {
		t.Fatal(err)
	}
	if interp == "" || !byPath[interp] {
		t.Errorf("interpreter %q not taken", interp)
	}
	if !slices.Contains(needed, "libc.so.6") {
		t.Errorf("ls needs %q, no libc.so.6: not the binary expected", needed)
	}
	for _, p := range elfs {
		_, needed, err := ReadELF(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range needed {
			if !byBase[n] {
				t.Errorf("%s needs %s, which is not taken", p, n)
			}
		}
	}
	if len(elfs) < 3 {
		t.Errorf("only %d regular files taken for ls: %v", len(elfs), elfs)
	}
}
