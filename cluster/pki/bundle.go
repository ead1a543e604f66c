package pki

import (
	"fmt"
	"os"
	"time"
)

// Bundle is a cluster's generated PKI: the three authorities, the shared
// control-plane certificates, the client certificates and each node's own.
type Bundle struct {
	generated time.Time
	nodes     []Node

	ca, etcdCA, frontProxyCA *keyPair

	apiServer              *keyPair
	apiServerKubeletClient *keyPair
	apiServerEtcdClient    *keyPair
	etcdHealthcheckClient  *keyPair
	frontProxyClient       *keyPair

	serviceAccountKey    []byte
	serviceAccountPublic []byte

	// clients are keyed by user name (AdminUser, NodeUser(name), ...).
	clients map[string]*keyPair
	perNode map[string]*nodeCerts
}

// nodeCerts are the certificates issued to one node. The etcd ones are nil
// on workers, which run no etcd.
type nodeCerts struct {
	kubeletServing *keyPair
	etcdServer     *keyPair
	etcdPeer       *keyPair
}

// File is the content and permissions of one file written into a node.
type File struct {
	Mode os.FileMode
	Data []byte
}

const (
	certMode os.FileMode = 0o644
	keyMode  os.FileMode = 0o600
)

// CACert returns the cluster CA certificate, PEM-encoded, for kubeconfigs.
func (b *Bundle) CACert() []byte {
	return b.ca.certPEM
}

// AdminClient returns the admin's client certificate and key, PEM-encoded,
// for the kubeconfig written on the host.
func (b *Bundle) AdminClient() (certPEM, keyPEM []byte) {
	kp := b.clients[AdminUser]
	return kp.certPEM, kp.keyPEM
}

// Client returns the client certificate and key, PEM-encoded, of user:
// AdminUser, ControllerManagerUser, SchedulerUser, KubeProxyUser or the
// NodeUser of one of the cluster's nodes. Their kubeconfigs are built from it.
func (b *Bundle) Client(user string) (certPEM, keyPEM []byte, err error) {
	kp, ok := b.clients[user]
	if !ok {
		return nil, nil, fmt.Errorf("client certificate for %q: no such user", user)
	}
	return kp.certPEM, kp.keyPEM, nil
}

func (b *Bundle) node(name string) (Node, bool) {
	for _, n := range b.nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}
