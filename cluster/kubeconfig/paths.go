package kubeconfig

import (
	"os"
	"path/filepath"

	"k8s.io/client-go/util/homedir"
)

// Paths returns the kubeconfig files kubectl reads, in its order: the
// explicit --kubeconfig value alone if set, else every file listed in
// $KUBECONFIG (empty entries and repeats dropped), else ~/.kube/config.
// Deleting a cluster removes its entries from each of them.
func Paths(explicit string) []string {
	if explicit != "" {
		return []string{explicit}
	}
	var paths []string
	seen := map[string]bool{}
	for _, p := range filepath.SplitList(os.Getenv("KUBECONFIG")) {
		if p != "" && !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	if len(paths) > 0 {
		return paths
	}
	return []string{filepath.Join(homedir.HomeDir(), ".kube", "config")}
}

// Path returns the file to merge a new cluster into, by kubectl's rule for
// new entries (which kind follows): the first of Paths that exists, or the
// last one when none does.
func Path(explicit string) string {
	paths := Paths(explicit)
	for _, p := range paths {
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p
		}
	}
	return paths[len(paths)-1]
}
