package kindnetd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
)

// restConfig is rest.InClusterConfig with kind's twist: the API server is
// reached at ControlPlaneEndpoint when one is given, because the
// kubernetes Service's ClusterIP only works once kube-proxy has written
// its rules, and kube-proxy's pod may well start after this one.
func restConfig(o Options) (*rest.Config, error) {
	host := o.ControlPlaneEndpoint
	if host == "" {
		host = o.KubernetesService
	}
	if host == "" {
		return nil, errors.New("API server address: neither CONTROL_PLANE_ENDPOINT nor KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are set")
	}
	dir := o.ServiceAccountDir
	if dir == "" {
		dir = DefaultServiceAccountDir
	}
	tokenFile := filepath.Join(dir, "token")
	caFile := filepath.Join(dir, "ca.crt")
	// Fail now, with the path, rather than on the first request.
	for _, f := range []string{tokenFile, caFile} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("service account credentials: %w", err)
		}
	}
	return &rest.Config{
		Host: "https://" + host,
		// A file, not its content: client-go re-reads it, so the kubelet's
		// rotation of the projected token reaches this client.
		BearerTokenFile: tokenFile,
		TLSClientConfig: rest.TLSClientConfig{CAFile: caFile},
		UserAgent:       "kindnetd",
	}, nil
}
