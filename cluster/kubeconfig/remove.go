package kubeconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Remove deletes cluster clusterName's cluster, user and context entries
// from the kubeconfig at path, and unsets the current context if it was
// that cluster's. Everything else is kept, and a file without those entries
// is not rewritten at all. A missing file is not an error: there is nothing
// to remove, and the directory is not created to find that out.
func Remove(path, clusterName string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("remove %s from kubeconfig %s: %w", ContextName(clusterName), path, err)
	}
	name := ContextName(clusterName)
	return update(path, func(cfg *clientcmdapi.Config) bool {
		_, hadCluster := cfg.Clusters[name]
		_, hadUser := cfg.AuthInfos[name]
		_, hadContext := cfg.Contexts[name]
		wasCurrent := cfg.CurrentContext == name
		delete(cfg.Clusters, name)
		delete(cfg.AuthInfos, name)
		delete(cfg.Contexts, name)
		if wasCurrent {
			cfg.CurrentContext = ""
		}
		return hadCluster || hadUser || hadContext || wasCurrent
	})
}
