package pki

import (
	"crypto/x509"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestControlPlaneGetsTheKubeadmLayout(t *testing.T) {
	files := mustNodeFiles(t, mustGenerate(t, testOptions()), "kindish-control-plane")
	want := []string{
		CACertPath, CAKeyPath,
		APIServerCertPath, APIServerKeyPath,
		APIServerKubeletClientCertPath, APIServerKubeletClientKeyPath,
		APIServerEtcdClientCertPath, APIServerEtcdClientKeyPath,
		ServiceAccountKeyPath, ServiceAccountPublicKeyPath,
		FrontProxyCACertPath, FrontProxyCAKeyPath,
		FrontProxyClientCertPath, FrontProxyClientKeyPath,
		EtcdCACertPath, EtcdCAKeyPath,
		EtcdServerCertPath, EtcdServerKeyPath,
		EtcdPeerCertPath, EtcdPeerKeyPath,
		EtcdHealthcheckClientCertPath, EtcdHealthcheckClientKeyPath,
		KubeletServingCertPath, KubeletServingKeyPath, KubeletClientPath,
	}
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, want) {
		t.Errorf("files = %q\nwant %q", got, want)
	}
}

func TestFileModes(t *testing.T) {
	files := mustNodeFiles(t, mustGenerate(t, testOptions()), "kindish-control-plane")
	for path, f := range files {
		want := certMode
		if strings.Contains(string(f.Data), "PRIVATE KEY") {
			want = keyMode
		}
		if f.Mode != want {
			t.Errorf("%s: mode %v, want %v", path, f.Mode, want)
		}
	}
}

func TestWorkersNeverReceiveACAKey(t *testing.T) {
	b := mustGenerate(t, testOptions())
	cp := mustNodeFiles(t, b, "kindish-control-plane")
	var caKeys []any
	for _, p := range []string{CACertPath, EtcdCACertPath, FrontProxyCACertPath} {
		caKeys = append(caKeys, parseCert(t, p, cp[p].Data).PublicKey)
	}

	for _, worker := range []string{"kindish-worker", "kindish-worker2"} {
		files := mustNodeFiles(t, b, worker)
		want := []string{CACertPath, KubeletServingCertPath, KubeletServingKeyPath, KubeletClientPath}
		slices.Sort(want)
		if got := slices.Sorted(maps.Keys(files)); !slices.Equal(got, want) {
			t.Errorf("%s: files = %q, want %q", worker, got, want)
		}
		for path, f := range files {
			for _, key := range privateKeys(t, path, f.Data) {
				for _, caKey := range caKeys {
					if samePublicKey(key.Public(), caKey) {
						t.Errorf("%s: %s holds a CA key", worker, path)
					}
				}
			}
		}
	}
}

func TestNodesGetTheirOwnKubeletIdentity(t *testing.T) {
	b := mustGenerate(t, testOptions())
	for _, node := range []string{"kindish-control-plane", "kindish-worker"} {
		files := mustNodeFiles(t, b, node)
		client := parseCert(t, KubeletClientPath, files[KubeletClientPath].Data)
		if client.Subject.CommonName != NodeUser(node) {
			t.Errorf("%s: kubelet client CN = %q", node, client.Subject.CommonName)
		}
		if !slices.Equal(client.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
			t.Errorf("%s: kubelet client usage = %v", node, client.ExtKeyUsage)
		}
	}
}

func TestNodeFilesOfUnknownNode(t *testing.T) {
	if _, err := mustGenerate(t, testOptions()).NodeFiles("stranger"); err == nil {
		t.Error("got no error")
	}
}
