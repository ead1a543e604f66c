package kubeconfig

import (
	"fmt"
	"maps"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Merge writes cfg's clusters, users and contexts into the kubeconfig at
// path, replacing entries of the same names and keeping all others, and
// makes cfg's current context the file's. A missing file is created, with
// its directory. The file is rewritten whole, mode 0600, under the lock
// kubectl also takes, so that concurrent writers do not lose each other's
// entries.
func Merge(path string, cfg *clientcmdapi.Config) error {
	if cfg == nil {
		return fmt.Errorf("merge into kubeconfig %s: no config", path)
	}
	return update(path, func(existing *clientcmdapi.Config) bool {
		maps.Copy(existing.Clusters, cfg.Clusters)
		maps.Copy(existing.AuthInfos, cfg.AuthInfos)
		maps.Copy(existing.Contexts, cfg.Contexts)
		if cfg.CurrentContext != "" {
			existing.CurrentContext = cfg.CurrentContext
		}
		return true
	})
}

// update applies change to the kubeconfig at path under its lock, and
// writes the result back if change reports that it changed something.
func update(path string, change func(*clientcmdapi.Config) bool) (err error) {
	unlock, err := lock(path)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := unlock(); err == nil {
			err = uerr
		}
	}()

	cfg, err := read(path)
	if err != nil {
		return err
	}
	if !change(cfg) {
		return nil
	}
	return write(path, cfg)
}
