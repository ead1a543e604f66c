package netfilter

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// writeELF writes a minimal 64-bit ELF file with a PT_INTERP program header
// (when interp is set) and a dynamic section listing needed as DT_NEEDED
// entries: what the loader, and readELF, look at.
func writeELF(t *testing.T, file string, perm os.FileMode, interp string, needed ...string) {
	t.Helper()
	const (
		ehsize    = 64
		phentsize = 56
		shentsize = 64
	)
	align8 := func(n int) int { return (n + 7) &^ 7 }

	var phnum int
	off := ehsize
	if interp != "" {
		phnum = 1
		off += phentsize
	}
	interpOff := off
	interpData := append([]byte(interp), 0)
	if interp != "" {
		off += len(interpData)
	}

	dynstr := []byte{0}
	var nameOffs []int
	for _, n := range needed {
		nameOffs = append(nameOffs, len(dynstr))
		dynstr = append(append(dynstr, n...), 0)
	}
	dynstrOff := off
	off += len(dynstr)

	off = align8(off)
	dynOff := off
	var dyn bytes.Buffer
	for _, o := range nameOffs {
		binary.Write(&dyn, binary.LittleEndian, elf.Dyn64{Tag: int64(elf.DT_NEEDED), Val: uint64(o)})
	}
	binary.Write(&dyn, binary.LittleEndian, elf.Dyn64{Tag: int64(elf.DT_NULL)})
	off += dyn.Len()

	shstrtab := []byte("\x00.dynstr\x00.dynamic\x00.shstrtab\x00")
	shstrOff := off
	off += len(shstrtab)
	off = align8(off)
	shOff := off

	var out bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_DYN), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: uint64(shOff), Ehsize: ehsize, Phentsize: phentsize, Phnum: uint16(phnum),
		Shentsize: shentsize, Shnum: 4, Shstrndx: 3,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	if phnum > 0 {
		hdr.Phoff = ehsize
	}
	binary.Write(&out, binary.LittleEndian, hdr)
	if interp != "" {
		binary.Write(&out, binary.LittleEndian, elf.Prog64{
			Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R), Off: uint64(interpOff),
			Filesz: uint64(len(interpData)), Memsz: uint64(len(interpData)), Align: 1,
		})
		out.Write(interpData)
	}
	out.Write(dynstr)
	out.Write(make([]byte, dynOff-out.Len()))
	out.Write(dyn.Bytes())
	out.Write(shstrtab)
	out.Write(make([]byte, shOff-out.Len()))
	for _, sh := range []elf.Section64{
		{},
		{Name: 1, Type: uint32(elf.SHT_STRTAB), Off: uint64(dynstrOff), Size: uint64(len(dynstr)), Addralign: 1},
		{Name: 9, Type: uint32(elf.SHT_DYNAMIC), Off: uint64(dynOff), Size: uint64(dyn.Len()), Link: 1, Addralign: 8, Entsize: 16},
		{Name: 18, Type: uint32(elf.SHT_STRTAB), Off: uint64(shstrOff), Size: uint64(len(shstrtab)), Addralign: 1},
	} {
		binary.Write(&out, binary.LittleEndian, sh)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, out.Bytes(), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, perm); err != nil {
		t.Fatal(err)
	}
}

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
				writeELF(t, file, 0o755, tc.interp, tc.needed...)
			}
			interp, needed, err := readELF(file)
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
	if _, _, err := readELF(file); err == nil {
		t.Error("no error for a truncated ELF header")
	}
}

// This machine's own /bin/ls, through the merged-/usr /bin link, with the
// libraries the real loader would load: every DT_NEEDED name of every ELF
// file taken is in the result, and so is the interpreter.
func TestCollectorResolvesARealBinaryOfThisMachine(t *testing.T) {
	l, err := debianLayout(runtime.GOARCH)
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector("/", l)
	if err := c.require("/bin/ls"); err != nil {
		t.Fatal(err)
	}
	files := c.files()
	real, err := c.resolve("/bin/ls")
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
	interp, needed, err := readELF(real)
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
		_, needed, err := readELF(p)
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
