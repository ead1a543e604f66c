package rootfs

import "fmt"

// triplets are Debian's multiarch directory names, by Go architecture.
var triplets = map[string]string{
	"amd64":   "x86_64-linux-gnu",
	"arm64":   "aarch64-linux-gnu",
	"ppc64le": "powerpc64le-linux-gnu",
	"s390x":   "s390x-linux-gnu",
}

// Triplet is Debian's multiarch name for a Go architecture, the directory
// under /usr/lib that holds its libraries ("x86_64-linux-gnu" for amd64).
func Triplet(goarch string) (string, error) {
	t, ok := triplets[goarch]
	if !ok {
		return "", fmt.Errorf("no Debian multiarch directory known for architecture %q", goarch)
	}
	return t, nil
}

// DebianLibDirs are the directories a Debian system's loader searches for
// libraries of the architecture goarch, in the order a Collector should. The
// real directories of a merged-/usr system come first, so that libraries
// are found where they are rather than through the /lib link.
func DebianLibDirs(goarch string) ([]string, error) {
	t, err := Triplet(goarch)
	if err != nil {
		return nil, err
	}
	return []string{"/usr/lib/" + t, "/usr/lib", "/lib/" + t, "/lib"}, nil
}
