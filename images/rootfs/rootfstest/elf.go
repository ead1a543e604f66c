// Package rootfstest writes the stand-ins of a Debian root file system that
// tests of layer builders (images/rootfs and its users) read: small ELF
// files with the dependencies of real ones.
package rootfstest

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// WriteELF writes a minimal 64-bit ELF file with a PT_INTERP program header
// (when interp is set) and a dynamic section listing needed as DT_NEEDED
// entries: what the loader, and readELF, look at.
func WriteELF(t testing.TB, file string, perm os.FileMode, interp string, needed ...string) {
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

// Link makes a symbolic link at p, a path under root, with its parents.
func Link(t testing.TB, root, p, target string) {
	t.Helper()
	at := filepath.Join(root, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, at); err != nil {
		t.Fatal(err)
	}
}

// Text writes a regular file at p, a path under root, with its parents.
func Text(t testing.TB, root, p, content string, perm os.FileMode) {
	t.Helper()
	at := filepath.Join(root, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(at, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(at, perm); err != nil {
		t.Fatal(err)
	}
}

// MergedUsr makes the links of a merged-/usr Debian amd64 root: /bin,
// /sbin and /lib to their /usr directories, /lib64 to usr/lib64, and the
// loader at its PT_INTERP path, /lib64/ld-linux-x86-64.so.2, through them to
// /usr/lib/x86_64-linux-gnu, with libc.so.6 next to it. It returns the
// loader's PT_INTERP path, for the programs a test writes.
func MergedUsr(t testing.TB, root string) string {
	t.Helper()
	for _, d := range []string{"bin", "sbin", "lib"} {
		Link(t, root, "/"+d, "usr/"+d)
	}
	Link(t, root, "/lib64", "usr/lib64")
	Link(t, root, "/usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
	lib := filepath.Join(root, "usr/lib/x86_64-linux-gnu")
	WriteELF(t, filepath.Join(lib, "ld-linux-x86-64.so.2"), 0o755, "")
	WriteELF(t, filepath.Join(lib, "libc.so.6"), 0o755, "", "ld-linux-x86-64.so.2")
	return "/lib64/ld-linux-x86-64.so.2"
}
