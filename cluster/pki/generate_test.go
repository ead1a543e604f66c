package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGenerateTakesMilliseconds(t *testing.T) {
	start := time.Now()
	if _, err := Generate(testOptions()); err != nil {
		t.Fatal(err)
	}
	t.Logf("generated the PKI of a 3-node cluster in %v", time.Since(start))
}

func TestEveryCertificateChainsToItsAuthorityForItsUsage(t *testing.T) {
	b := mustGenerate(t, testOptions())
	files := mustNodeFiles(t, b, "kindish-control-plane")
	roots := map[string]*x509.CertPool{}
	for _, caPath := range []string{CACertPath, EtcdCACertPath, FrontProxyCACertPath} {
		pool := x509.NewCertPool()
		pool.AddCert(parseCert(t, caPath, files[caPath].Data))
		roots[caPath] = pool
	}
	issuer := func(path string) string {
		switch {
		case strings.HasPrefix(path, EtcdDir+"/"), path == APIServerEtcdClientCertPath:
			return EtcdCACertPath
		case strings.HasPrefix(path, Dir+"/front-proxy"):
			return FrontProxyCACertPath
		}
		return CACertPath
	}

	checked := 0
	for path, f := range files {
		if !strings.HasSuffix(path, ".crt") && path != KubeletClientPath {
			continue
		}
		cert := parseCert(t, path, f.Data)
		if len(cert.ExtKeyUsage) == 0 && !cert.IsCA {
			t.Errorf("%s: leaf certificate without extended key usage", path)
		}
		opts := x509.VerifyOptions{Roots: roots[issuer(path)], KeyUsages: cert.ExtKeyUsage, CurrentTime: testNow}
		if cert.IsCA {
			opts.Roots, opts.KeyUsages = roots[path], []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
		}
		if _, err := cert.Verify(opts); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		checked++
	}
	if checked != 12 {
		t.Errorf("checked %d certificates, want every one of the control plane's 12", checked)
	}

	for _, user := range []string{AdminUser, ControllerManagerUser, SchedulerUser, KubeProxyUser, NodeUser("kindish-worker")} {
		certPEM, _, err := b.Client(user)
		if err != nil {
			t.Fatal(err)
		}
		cert := parseCert(t, user, certPEM)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots[CACertPath], KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: testNow}); err != nil {
			t.Errorf("client %s: %v", user, err)
		}
	}
}

func TestAuthoritiesAreDistinct(t *testing.T) {
	b := mustGenerate(t, testOptions())
	files := mustNodeFiles(t, b, "kindish-control-plane")
	etcdServer := parseCert(t, EtcdServerCertPath, files[EtcdServerCertPath].Data)
	pool := x509.NewCertPool()
	pool.AddCert(parseCert(t, CACertPath, files[CACertPath].Data))
	if _, err := etcdServer.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: testNow}); err == nil {
		t.Error("etcd's server certificate verifies against the cluster CA; etcd must have its own")
	}
}

func TestKeysMatchCertificates(t *testing.T) {
	b := mustGenerate(t, testOptions())
	for _, node := range []string{"kindish-control-plane", "kindish-worker"} {
		files := mustNodeFiles(t, b, node)
		for path, f := range files {
			if !strings.HasSuffix(path, ".crt") {
				continue
			}
			keyPath := strings.TrimSuffix(path, ".crt") + ".key"
			key, ok := files[keyPath]
			if !ok {
				continue // a worker gets ca.crt without ca.key
			}
			if _, err := tls.X509KeyPair(f.Data, key.Data); err != nil {
				t.Errorf("%s: %s and %s: %v", node, path, keyPath, err)
			}
		}
		combined := files[KubeletClientPath].Data
		if _, err := tls.X509KeyPair(combined, combined); err != nil {
			t.Errorf("%s: %s: %v", node, KubeletClientPath, err)
		}
	}
	for _, user := range []string{AdminUser, SchedulerUser} {
		certPEM, keyPEM, err := b.Client(user)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			t.Errorf("client %s: %v", user, err)
		}
	}
}

func TestServiceAccountKeyPair(t *testing.T) {
	files := mustNodeFiles(t, mustGenerate(t, testOptions()), "kindish-control-plane")
	keys := privateKeys(t, ServiceAccountKeyPath, files[ServiceAccountKeyPath].Data)
	if len(keys) != 1 {
		t.Fatalf("%s: got %d PRIVATE KEY blocks, want 1", ServiceAccountKeyPath, len(keys))
	}
	block, _ := pem.Decode(files[ServiceAccountPublicKeyPath].Data)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("%s: no PUBLIC KEY block", ServiceAccountPublicKeyPath)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !samePublicKey(keys[0].Public(), pub) {
		t.Error("sa.pub is not the public half of sa.key")
	}
}

func TestSubjectAlternativeNames(t *testing.T) {
	opts := testOptions()
	opts.Nodes = append(opts.Nodes, Node{Name: "kindish-control-plane2", IP: net.ParseIP("172.18.0.5"), ControlPlane: true})
	opts.APIServerAddress = "192.168.1.10"
	b := mustGenerate(t, opts)
	cp := mustNodeFiles(t, b, "kindish-control-plane")
	worker := mustNodeFiles(t, b, "kindish-worker")

	tests := []struct {
		name  string
		cert  []byte
		dns   []string
		ips   []string
		usage []x509.ExtKeyUsage
	}{
		{
			name: "API server names the service, every control-plane node and the host address",
			cert: cp[APIServerCertPath].Data,
			dns: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc.cluster.local", "localhost", "kindish-control-plane", "kindish-control-plane2"},
			ips:   []string{"127.0.0.1", "10.96.0.1", "172.18.0.2", "172.18.0.5", "192.168.1.10"},
			usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
		{
			name:  "etcd server answers on loopback and the node address",
			cert:  cp[EtcdServerCertPath].Data,
			dns:   []string{"localhost", "kindish-control-plane"},
			ips:   []string{"127.0.0.1", "::1", "172.18.0.2"},
			usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		},
		{
			name:  "etcd peer is the same names, both ways",
			cert:  cp[EtcdPeerCertPath].Data,
			dns:   []string{"localhost", "kindish-control-plane"},
			ips:   []string{"127.0.0.1", "::1", "172.18.0.2"},
			usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		},
		{
			name:  "kubelet serves its node name and address",
			cert:  worker[KubeletServingCertPath].Data,
			dns:   []string{"kindish-worker"},
			ips:   []string{"172.18.0.3"},
			usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := parseCert(t, tt.name, tt.cert)
			if !slices.Equal(cert.DNSNames, tt.dns) {
				t.Errorf("DNS names = %q, want %q", cert.DNSNames, tt.dns)
			}
			var ips []string
			for _, ip := range cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.ips) {
				t.Errorf("IPs = %q, want %q", ips, tt.ips)
			}
			if !slices.Equal(cert.ExtKeyUsage, tt.usage) {
				t.Errorf("extended key usage = %v, want %v", cert.ExtKeyUsage, tt.usage)
			}
		})
	}
}

func TestAPIServerAddressAndServiceSubnet(t *testing.T) {
	tests := []struct {
		name, address, subnet string
		wantIPs               []string
		wantDNS               string
	}{
		{name: "unspecified address is not a SAN", address: "0.0.0.0", wantIPs: []string{"127.0.0.1", "10.96.0.1", "172.18.0.2"}},
		{name: "empty address is not a SAN", address: "", wantIPs: []string{"127.0.0.1", "10.96.0.1", "172.18.0.2"}},
		{name: "custom service subnet", subnet: "10.100.0.0/16", wantIPs: []string{"127.0.0.1", "10.100.0.1", "172.18.0.2"}},
		{name: "unmasked service subnet", subnet: "10.100.3.7/16", wantIPs: []string{"127.0.0.1", "10.100.0.1", "172.18.0.2"}},
		{name: "IPv6 service subnet", subnet: "fd00:10:96::/112", wantIPs: []string{"127.0.0.1", "fd00:10:96::1", "172.18.0.2"}},
		{name: "host name address is a DNS SAN", address: "kindish.example", wantIPs: []string{"127.0.0.1", "10.96.0.1", "172.18.0.2"}, wantDNS: "kindish.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			opts.APIServerAddress, opts.ServiceSubnet = tt.address, tt.subnet
			files := mustNodeFiles(t, mustGenerate(t, opts), "kindish-control-plane")
			cert := parseCert(t, APIServerCertPath, files[APIServerCertPath].Data)
			var ips []string
			for _, ip := range cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tt.wantIPs) {
				t.Errorf("IPs = %q, want %q", ips, tt.wantIPs)
			}
			if tt.wantDNS != "" && !slices.Contains(cert.DNSNames, tt.wantDNS) {
				t.Errorf("DNS names %q lack %q", cert.DNSNames, tt.wantDNS)
			}
		})
	}
}

func TestSubjects(t *testing.T) {
	b := mustGenerate(t, testOptions())
	cp := mustNodeFiles(t, b, "kindish-control-plane")
	fromFile := func(path string) []byte { return cp[path].Data }
	fromClient := func(user string) []byte {
		certPEM, _, err := b.Client(user)
		if err != nil {
			t.Fatal(err)
		}
		return certPEM
	}
	adminCert, _ := b.AdminClient()

	tests := []struct {
		name string
		cert []byte
		cn   string
		orgs []string
	}{
		{"cluster CA", b.CACert(), "kubernetes", nil},
		{"etcd CA", fromFile(EtcdCACertPath), "etcd-ca", nil},
		{"front-proxy CA", fromFile(FrontProxyCACertPath), "front-proxy-ca", nil},
		{"API server", fromFile(APIServerCertPath), "kube-apiserver", nil},
		{"API server to kubelets", fromFile(APIServerKubeletClientCertPath), "kube-apiserver-kubelet-client", []string{"system:masters"}},
		{"API server to etcd", fromFile(APIServerEtcdClientCertPath), "kube-apiserver-etcd-client", nil},
		{"etcd health check", fromFile(EtcdHealthcheckClientCertPath), "kube-etcd-healthcheck-client", nil},
		{"front proxy", fromFile(FrontProxyClientCertPath), "front-proxy-client", nil},
		{"admin", adminCert, "kubernetes-admin", []string{"kubeadm:cluster-admins", "system:masters"}},
		{"controller manager", fromClient(ControllerManagerUser), "system:kube-controller-manager", nil},
		{"scheduler", fromClient(SchedulerUser), "system:kube-scheduler", nil},
		{"kube-proxy", fromClient(KubeProxyUser), "system:kube-proxy", nil},
		{"kubelet client", fromFile(KubeletClientPath), "system:node:kindish-control-plane", []string{"system:nodes"}},
		{"kubelet serving", fromFile(KubeletServingCertPath), "kindish-control-plane", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := parseCert(t, tt.name, tt.cert)
			if cert.Subject.CommonName != tt.cn {
				t.Errorf("CN = %q, want %q", cert.Subject.CommonName, tt.cn)
			}
			// DER sorts the values of one attribute, so order is not kept.
			if !slices.Equal(slices.Sorted(slices.Values(cert.Subject.Organization)), tt.orgs) {
				t.Errorf("O = %q, want %q", cert.Subject.Organization, tt.orgs)
			}
		})
	}
}

func TestValidity(t *testing.T) {
	b := mustGenerate(t, testOptions())
	ca := parseCert(t, "CA", b.CACert())
	admin, _ := b.AdminClient()
	leaf := parseCert(t, "admin", admin)
	if got, want := ca.NotAfter, testNow.Add(10*365*24*time.Hour); !got.Equal(want) {
		t.Errorf("CA expires %v, want %v (10 years)", got, want)
	}
	if !leaf.NotBefore.Before(testNow) {
		t.Errorf("leaf starts %v, want before %v to absorb clock skew", leaf.NotBefore, testNow)
	}
	if leaf.NotAfter.After(ca.NotAfter) {
		t.Errorf("leaf outlives its CA")
	}
	if ca.PublicKeyAlgorithm != x509.ECDSA || leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithms %v, %v; want ECDSA", ca.PublicKeyAlgorithm, leaf.PublicKeyAlgorithm)
	}
}

func TestClientOfUnknownUser(t *testing.T) {
	b := mustGenerate(t, testOptions())
	if _, _, err := b.Client(NodeUser("no-such-node")); err == nil {
		t.Error("Client of an unknown node: got no error")
	}
}

func TestGenerateRejectsBadOptions(t *testing.T) {
	ip := net.ParseIP("172.18.0.2")
	tests := []struct {
		name string
		opts Options
	}{
		{"no nodes", Options{}},
		{"no control plane", Options{Nodes: []Node{{Name: "w", IP: ip}}}},
		{"unnamed node", Options{Nodes: []Node{{IP: ip, ControlPlane: true}}}},
		{"node without IP", Options{Nodes: []Node{{Name: "cp", ControlPlane: true}}}},
		{"node with unspecified IP", Options{Nodes: []Node{{Name: "cp", IP: net.IPv4zero, ControlPlane: true}}}},
		{"duplicate node", Options{Nodes: []Node{{Name: "cp", IP: ip, ControlPlane: true}, {Name: "cp", IP: ip}}}},
		{"bad service subnet", Options{Nodes: []Node{{Name: "cp", IP: ip, ControlPlane: true}}, ServiceSubnet: "10.96.0.0"}},
		{"service subnet without room", Options{Nodes: []Node{{Name: "cp", IP: ip, ControlPlane: true}}, ServiceSubnet: "10.96.0.0/32"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Generate(tt.opts); err == nil {
				t.Error("got no error")
			}
		})
	}
}
