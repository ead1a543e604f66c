package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/cluster/pki"
)

// kubeletServer serves as node's kubelet does: its serving certificate
// from the cluster PKI, and only clients the cluster CA signed.
func kubeletServer(t *testing.T, files map[string]pki.File, ca []byte) *httptest.Server {
	t.Helper()
	cert, err := tls.X509KeyPair(files[pki.KubeletServingCertPath].Data, files[pki.KubeletServingKeyPath].Data)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestKubeletClientReachesTheKubeletAsTheAPIServer(t *testing.T) {
	bundle, err := pki.Generate(pki.Options{Nodes: []pki.Node{{Name: "n1", IP: net.ParseIP("127.0.0.1"), ControlPlane: true}}})
	if err != nil {
		t.Fatal(err)
	}
	files, err := bundle.NodeFiles("n1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dialer, err := NewKubeletClient(KubeletClientConfig{
		CertFile:     write("client.crt", files[pki.APIServerKubeletClientCertPath].Data),
		KeyFile:      write("client.key", files[pki.APIServerKubeletClientKeyPath].Data),
		CAFile:       write("ca.crt", bundle.CACert()),
		AddressTypes: []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := kubeletServer(t, files, bundle.CACert())
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	portNum, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "n1"},
		Status: corev1.NodeStatus{
			// The hostname does not resolve here: the preferred type wins.
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1.invalid"}, {Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(portNum)}},
		},
	}
	loc, rt, err := dialer.DialKubelet(context.Background(), node)
	if err != nil {
		t.Fatal(err)
	}
	if loc.String() != "https://"+srv.Listener.Addr().String() {
		t.Fatalf("location = %s, want the node's InternalIP and kubelet port", loc)
	}
	resp, err := (&http.Client{Transport: rt}).Get(loc.String() + "/healthz")
	if err != nil {
		t.Fatalf("the kubelet refused the API server: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "kube-apiserver-kubelet-client" {
		t.Errorf("the kubelet saw client %q, want the API server's kubelet client certificate", body)
	}

	// A kubelet whose certificate the cluster CA did not sign is refused.
	impostor := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(impostor.Close)
	if _, err := (&http.Client{Transport: rt}).Get(impostor.URL); err == nil {
		t.Error("a kubelet with a certificate from another CA was trusted")
	}
}

func TestKubeletClientDefaultsAndErrors(t *testing.T) {
	k := &kubeletClient{addressTypes: kubeletAddressTypes}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{
		Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.2"}},
	}}
	loc, _, err := k.DialKubelet(context.Background(), node)
	if err != nil || loc.Host != "10.0.0.2:10250" {
		t.Errorf("DialKubelet = %v, %v; want the InternalIP on port 10250", loc, err)
	}
	node.Status.Addresses = nil
	if _, _, err := k.DialKubelet(context.Background(), node); err == nil {
		t.Error("a node without addresses gave a location")
	}
}
