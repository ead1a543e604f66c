// Package kubeconfig builds a cluster's kubeconfig and merges it into the
// user's kubeconfig file, picking that file and locking it the way kubectl
// and kind do, so that kindish sits among the user's other clusters.
package kubeconfig

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ContextName is the name of a cluster's context, and of its cluster and
// user entries, in a kubeconfig.
func ContextName(clusterName string) string {
	return "kindish-" + clusterName
}

// Build returns a kubeconfig that reaches the cluster clusterName at server
// (https://host:port) as the holder of the client certificate certPEM and
// key keyPEM, trusting caPEM. Its cluster, user and context are all named
// ContextName(clusterName), and it is the current context.
func Build(clusterName, server string, caPEM, certPEM, keyPEM []byte) *clientcmdapi.Config {
	name := ContextName(clusterName)
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   server,
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificateData: certPEM,
		ClientKeyData:         keyPEM,
	}
	cfg.Contexts[name] = &clientcmdapi.Context{
		Cluster:  name,
		AuthInfo: name,
	}
	cfg.CurrentContext = name
	return cfg
}

// Bytes encodes cfg as a kubeconfig file (YAML, apiVersion v1), for the
// kubeconfigs written into nodes.
func Bytes(cfg *clientcmdapi.Config) ([]byte, error) {
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("encode kubeconfig: %w", err)
	}
	return data, nil
}
