//go:build unix

package kubeconfig

import (
	"os"
	"syscall"
)

// keepOwner gives tmp the owner of the file it is about to replace when
// kindish runs as root: "sudo kindish create cluster" must not leave the
// user a kubeconfig they can no longer read. Other users can only create
// files of their own, and a new file is theirs anyway.
func keepOwner(tmp *os.File, replaced string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	info, err := os.Stat(replaced)
	if err != nil {
		return nil // nothing replaced, nothing to keep
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return tmp.Chown(int(st.Uid), int(st.Gid))
}
