package workload

import (
	"fmt"
	"strings"

	"github.com/kindish/kindish/images/archive"
)

// account is a user with a group of the same ID, as Debian's base-passwd
// makes its system users.
type account struct {
	user, group string
	id          int
	home, shell string
}

// nologin is the shell of accounts nobody logs in to; the images have no
// such program, but nothing runs it either.
const nologin = "/usr/sbin/nologin"

// The accounts the images have, with Debian's IDs.
var (
	rootAccount    = account{user: "root", group: "root", id: 0, home: "/root", shell: nologin}
	wwwDataAccount = account{user: "www-data", group: "www-data", id: 33, home: "/var/www", shell: nologin}
	nobodyAccount  = account{user: "nobody", group: "nogroup", id: 65534, home: "/nonexistent", shell: nologin}
)

// withShell is the account logging in to shell.
func (a account) withShell(shell string) account {
	a.shell = shell
	return a
}

// accountFiles are /etc/passwd and /etc/group listing accounts, for the
// programs that look users up (nginx's `user www-data`, `id`, `ls -l`).
func accountFiles(accounts ...account) []archive.File {
	var passwd, group strings.Builder
	for _, a := range accounts {
		fmt.Fprintf(&passwd, "%s:x:%d:%d:%s:%s:%s\n", a.user, a.id, a.id, a.user, a.home, a.shell)
		fmt.Fprintf(&group, "%s:x:%d:\n", a.group, a.id)
	}
	return []archive.File{
		archive.Bytes("/etc/passwd", []byte(passwd.String()), 0o644),
		archive.Bytes("/etc/group", []byte(group.String()), 0o644),
	}
}
