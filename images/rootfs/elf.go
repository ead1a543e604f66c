package rootfs

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
)

// elfMagic starts every ELF file.
var elfMagic = []byte("\x7fELF")

// ReadELF returns the program interpreter (PT_INTERP) and the DT_NEEDED
// libraries of an ELF file, and nothing for a file of another kind. A
// statically linked program has neither.
func ReadELF(file string) (interp string, needed []string, err error) {
	f, err := os.Open(file)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	magic := make([]byte, len(elfMagic))
	if _, err := io.ReadFull(f, magic); err != nil || !bytes.Equal(magic, elfMagic) {
		return "", nil, nil
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return "", nil, fmt.Errorf("read ELF: %w", err)
	}
	for _, prog := range ef.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(prog.Open())
		if err != nil {
			return "", nil, fmt.Errorf("read ELF interpreter: %w", err)
		}
		interp = string(bytes.TrimRight(b, "\x00"))
	}
	needed, err = ef.ImportedLibraries()
	if err != nil {
		return "", nil, fmt.Errorf("read ELF dynamic section: %w", err)
	}
	return interp, needed, nil
}
