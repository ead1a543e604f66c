package pki

import (
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"time"
)

var (
	serverAuth     = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	clientAuth     = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	serverAndPeer  = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	nodeClientOrgs = []string{nodesGroup}
)

// Generate creates the whole PKI of a cluster made of opts.Nodes.
func Generate(opts Options) (*Bundle, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("generate cluster PKI: %w", err)
	}
	subnet := opts.ServiceSubnet
	if subnet == "" {
		subnet = DefaultServiceSubnet
	}
	serviceIP, err := firstIP(subnet)
	if err != nil {
		return nil, fmt.Errorf("generate cluster PKI: %w", err)
	}

	g := &generator{now: opts.now()}
	b := &Bundle{
		generated: g.now,
		nodes:     slices.Clone(opts.Nodes),
		clients:   make(map[string]*keyPair),
		perNode:   make(map[string]*nodeCerts),
	}

	b.ca = g.authority("kubernetes")
	b.etcdCA = g.authority("etcd-ca")
	b.frontProxyCA = g.authority("front-proxy-ca")

	dns, ips := apiServerSANs(opts, serviceIP)
	b.apiServer = g.issue(b.ca, leafSpec{commonName: "kube-apiserver", usages: serverAuth, dnsNames: dns, ips: ips})
	b.apiServerKubeletClient = g.issue(b.ca, leafSpec{commonName: "kube-apiserver-kubelet-client", organizations: []string{mastersGroup}, usages: clientAuth})
	b.apiServerEtcdClient = g.issue(b.etcdCA, leafSpec{commonName: "kube-apiserver-etcd-client", usages: clientAuth})
	b.etcdHealthcheckClient = g.issue(b.etcdCA, leafSpec{commonName: "kube-etcd-healthcheck-client", usages: clientAuth})
	b.frontProxyClient = g.issue(b.frontProxyCA, leafSpec{commonName: "front-proxy-client", usages: clientAuth})
	b.serviceAccountKey, b.serviceAccountPublic = g.serviceAccountKeys()

	b.clients[AdminUser] = g.issue(b.ca, leafSpec{commonName: AdminUser, organizations: []string{clusterAdminsGroup, mastersGroup}, usages: clientAuth})
	for _, user := range []string{ControllerManagerUser, SchedulerUser, KubeProxyUser} {
		b.clients[user] = g.issue(b.ca, leafSpec{commonName: user, usages: clientAuth})
	}

	for _, n := range opts.Nodes {
		nc := &nodeCerts{}
		b.clients[NodeUser(n.Name)] = g.issue(b.ca, leafSpec{commonName: NodeUser(n.Name), organizations: nodeClientOrgs, usages: clientAuth})
		// Signed by the cluster CA rather than self-signed as kubeadm
		// leaves it, so the API server can verify the kubelets it dials.
		nc.kubeletServing = g.issue(b.ca, leafSpec{commonName: n.Name, usages: serverAuth, dnsNames: []string{n.Name}, ips: uniqueIPs([]net.IP{n.IP})})
		if n.ControlPlane {
			dns, ips := nodeSANs(n)
			// etcd uses both certificates as client and server: the server
			// one for its own gateway and health checks, the peer one for
			// both ends of member-to-member connections.
			nc.etcdServer = g.issue(b.etcdCA, leafSpec{commonName: n.Name, usages: serverAndPeer, dnsNames: dns, ips: ips})
			nc.etcdPeer = g.issue(b.etcdCA, leafSpec{commonName: n.Name, usages: serverAndPeer, dnsNames: dns, ips: ips})
		}
		b.perNode[n.Name] = nc
	}

	if g.err != nil {
		return nil, fmt.Errorf("generate cluster PKI: %w", g.err)
	}
	return b, nil
}

// generator keeps the first error so that Generate reads as the list of
// what a cluster needs rather than as error checks; after an error every
// step does nothing.
type generator struct {
	now time.Time
	err error
}

func (g *generator) authority(commonName string) *keyPair {
	if g.err != nil {
		return nil
	}
	kp, err := newAuthority(commonName, g.now)
	g.err = err
	return kp
}

func (g *generator) issue(ca *keyPair, spec leafSpec) *keyPair {
	if g.err != nil {
		return nil
	}
	kp, err := ca.issue(spec, g.now)
	g.err = err
	return kp
}

// serviceAccountKeys returns the key pair the API server signs and verifies
// ServiceAccount tokens with. It is a bare key pair, not a certificate.
func (g *generator) serviceAccountKeys() (private, public []byte) {
	if g.err != nil {
		return nil, nil
	}
	key, err := newKey()
	if err == nil {
		private, err = encodeKey(key)
	}
	if err == nil {
		public, err = encodePublicKey(&key.PublicKey)
	}
	if err != nil {
		g.err = fmt.Errorf("service account key: %w", err)
	}
	return private, public
}
