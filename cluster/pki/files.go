package pki

import (
	"fmt"
	"slices"
)

// NodeFiles returns the certificates and keys that node nodeName needs,
// keyed by absolute path inside the node. Keys are 0600, certificates 0644.
//
// Every node gets the cluster CA certificate (to trust the API server and
// to verify clients of its kubelet) and its kubelet's certificates.
// Control-plane nodes also get the CA keys, which the controller manager
// signs with and which a later member would need, and the API server's,
// etcd's, ServiceAccount and front-proxy files. Workers never get a CA key:
// a compromised worker must not be able to mint identities.
func (b *Bundle) NodeFiles(nodeName string) (map[string]File, error) {
	n, ok := b.node(nodeName)
	if !ok {
		return nil, fmt.Errorf("files for node %q: not a node of this cluster", nodeName)
	}
	nc := b.perNode[nodeName]
	kubeletClient := b.clients[NodeUser(nodeName)]

	files := map[string]File{
		CACertPath:             {Mode: certMode, Data: b.ca.certPEM},
		KubeletServingCertPath: {Mode: certMode, Data: nc.kubeletServing.certPEM},
		KubeletServingKeyPath:  {Mode: keyMode, Data: nc.kubeletServing.keyPEM},
		KubeletClientPath:      {Mode: keyMode, Data: slices.Concat(kubeletClient.certPEM, kubeletClient.keyPEM)},
	}
	if !n.ControlPlane {
		return files, nil
	}

	pairs := []struct {
		certPath, keyPath string
		kp                *keyPair
	}{
		{CACertPath, CAKeyPath, b.ca},
		{APIServerCertPath, APIServerKeyPath, b.apiServer},
		{APIServerKubeletClientCertPath, APIServerKubeletClientKeyPath, b.apiServerKubeletClient},
		{APIServerEtcdClientCertPath, APIServerEtcdClientKeyPath, b.apiServerEtcdClient},
		{FrontProxyCACertPath, FrontProxyCAKeyPath, b.frontProxyCA},
		{FrontProxyClientCertPath, FrontProxyClientKeyPath, b.frontProxyClient},
		{EtcdCACertPath, EtcdCAKeyPath, b.etcdCA},
		{EtcdServerCertPath, EtcdServerKeyPath, nc.etcdServer},
		{EtcdPeerCertPath, EtcdPeerKeyPath, nc.etcdPeer},
		{EtcdHealthcheckClientCertPath, EtcdHealthcheckClientKeyPath, b.etcdHealthcheckClient},
	}
	for _, p := range pairs {
		files[p.certPath] = File{Mode: certMode, Data: p.kp.certPEM}
		files[p.keyPath] = File{Mode: keyMode, Data: p.kp.keyPEM}
	}
	files[ServiceAccountKeyPath] = File{Mode: keyMode, Data: b.serviceAccountKey}
	files[ServiceAccountPublicKeyPath] = File{Mode: certMode, Data: b.serviceAccountPublic}
	return files, nil
}
