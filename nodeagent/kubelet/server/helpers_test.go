package server

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// testCA issues certificates for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kubernetes"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue signs a certificate for cn in orgs with the given usage; serving
// certificates are for 127.0.0.1.
func (ca *testCA) issue(t *testing.T, cn string, orgs []string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// writePEM writes a certificate and its key as files.
func writePEM(t *testing.T, dir, name string, cert tls.Certificate) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// fakePods is the node's pods, by namespace/name.
type fakePods map[string]*corev1.Pod

func newFakePods(pods ...*corev1.Pod) fakePods {
	m := fakePods{}
	for _, p := range pods {
		m[p.Namespace+"/"+p.Name] = p
	}
	return m
}

func (f fakePods) GetPodByName(namespace, name string) (*corev1.Pod, bool) {
	p, ok := f[namespace+"/"+name]
	return p, ok
}

func (f fakePods) GetPods() []*corev1.Pod {
	var pods []*corev1.Pod
	for _, p := range f {
		pods = append(pods, p)
	}
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return pods
}

// fakeRuntime is an in-memory CRI runtime service: it filters its
// containers and sandboxes as the CRI does and records the streaming
// requests it is sent.
type fakeRuntime struct {
	mu         sync.Mutex
	containers []*runtimeapi.Container
	// logPaths and states answer ContainerStatus, by container ID.
	logPaths map[string]string
	states   map[string]runtimeapi.ContainerState
	sandbox  []*runtimeapi.PodSandbox

	streamURL string
	execErr   error
	exec      *runtimeapi.ExecRequest
	attach    *runtimeapi.AttachRequest
	forward   *runtimeapi.PortForwardRequest
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{logPaths: map[string]string{}, states: map[string]runtimeapi.ContainerState{}}
}

// addContainer adds a run of a pod's container.
func (f *fakeRuntime) addContainer(id string, pod *corev1.Pod, name string, attempt uint32, state runtimeapi.ContainerState, logPath string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers = append(f.containers, &runtimeapi.Container{
		Id:        id,
		Metadata:  &runtimeapi.ContainerMetadata{Name: name, Attempt: attempt},
		State:     state,
		CreatedAt: int64(attempt) + 1,
		Labels: map[string]string{
			podUIDLabel:                   string(pod.UID),
			containerNameLabel:            name,
			"io.kubernetes.pod.name":      pod.Name,
			"io.kubernetes.pod.namespace": pod.Namespace,
		},
	})
	f.states[id] = state
	f.logPaths[id] = logPath
}

func (f *fakeRuntime) setState(id string, state runtimeapi.ContainerState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.states[id] = state
}

func matchLabels(labels, selector map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeRuntime) ListContainers(_ context.Context, in *runtimeapi.ListContainersRequest, _ ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &runtimeapi.ListContainersResponse{}
	for _, c := range f.containers {
		filter := in.GetFilter()
		if filter.GetState() != nil && filter.GetState().State != f.states[c.Id] {
			continue
		}
		if !matchLabels(c.Labels, filter.GetLabelSelector()) {
			continue
		}
		copied := proto.Clone(c).(*runtimeapi.Container)
		copied.State = f.states[c.Id]
		out.Containers = append(out.Containers, copied)
	}
	return out, nil
}

func (f *fakeRuntime) ContainerStatus(_ context.Context, in *runtimeapi.ContainerStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ContainerStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	state, ok := f.states[in.ContainerId]
	if !ok {
		return nil, fmt.Errorf("container %q not found", in.ContainerId)
	}
	return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{
		Id: in.ContainerId, State: state, LogPath: f.logPaths[in.ContainerId],
	}}, nil
}

func (f *fakeRuntime) ListPodSandbox(_ context.Context, in *runtimeapi.ListPodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &runtimeapi.ListPodSandboxResponse{}
	for _, sb := range f.sandbox {
		filter := in.GetFilter()
		if filter.GetState() != nil && filter.GetState().State != sb.State {
			continue
		}
		if !matchLabels(sb.Labels, filter.GetLabelSelector()) {
			continue
		}
		out.Items = append(out.Items, sb)
	}
	return out, nil
}

func (f *fakeRuntime) Exec(_ context.Context, in *runtimeapi.ExecRequest, _ ...grpc.CallOption) (*runtimeapi.ExecResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.execErr != nil {
		return nil, f.execErr
	}
	f.exec = in
	return &runtimeapi.ExecResponse{Url: f.streamURL + "/exec/tok-exec"}, nil
}

func (f *fakeRuntime) Attach(_ context.Context, in *runtimeapi.AttachRequest, _ ...grpc.CallOption) (*runtimeapi.AttachResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attach = in
	return &runtimeapi.AttachResponse{Url: f.streamURL + "/attach/tok-attach"}, nil
}

func (f *fakeRuntime) PortForward(_ context.Context, in *runtimeapi.PortForwardRequest, _ ...grpc.CallOption) (*runtimeapi.PortForwardResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forward = in
	return &runtimeapi.PortForwardResponse{Url: f.streamURL + "/portforward/tok-forward"}, nil
}

// testEnv is a kubelet API served over TLS on the loopback, with the
// certificates its clients need.
type testEnv struct {
	ca      *testCA
	runtime *fakeRuntime
	logRoot string
	addr    string
	// apiServer is the API server's kubelet client certificate.
	apiServer tls.Certificate
	// stop ends Serve and returns its error.
	stop func() error
}

func newTestEnv(t *testing.T, pods fakePods, rt *fakeRuntime) *testEnv {
	t.Helper()
	ca := newTestCA(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := writePEM(t, dir, "kubelet", ca.issue(t, "worker", nil, x509.ExtKeyUsageServerAuth))
	env := &testEnv{
		ca:        ca,
		runtime:   rt,
		logRoot:   t.TempDir(),
		apiServer: ca.issue(t, APIServerClientCN, []string{MastersGroup}, x509.ExtKeyUsageClientAuth),
	}
	srv, err := New(Config{
		CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile,
		Pods: pods, Runtime: rt, LogRoot: env.logRoot,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	var once sync.Once
	var serveErr error
	env.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-served:
			case <-time.After(10 * time.Second):
				serveErr = fmt.Errorf("Serve did not return")
			}
		})
		return serveErr
	}
	t.Cleanup(func() {
		if err := env.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return env
}

func (e *testEnv) tlsConfig(cert *tls.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.cert)
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return tc
}

// client is an HTTPS client presenting cert (none when nil).
func (e *testEnv) client(cert *tls.Certificate) *http.Client {
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: e.tlsConfig(cert), DisableKeepAlives: true},
		Timeout:   10 * time.Second,
	}
}

// do sends a request as the API server and returns the status and body.
func (e *testEnv) do(t *testing.T, method, path string) (int, string) {
	t.Helper()
	return e.doAs(t, &e.apiServer, method, path)
}

func (e *testEnv) doAs(t *testing.T, cert *tls.Certificate, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "https://"+e.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.client(cert).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// upgrade opens a TLS connection as the API server, sends an upgrade
// request and returns the response and the connection's reader.
func (e *testEnv) upgrade(t *testing.T, method, pathAndQuery string, header http.Header) (*http.Response, *bufio.Reader, net.Conn) {
	t.Helper()
	conn, err := tls.Dial("tcp", e.addr, e.tlsConfig(&e.apiServer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, "https://"+e.addr+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		t.Fatalf("read upgrade response: %v", err)
	}
	return resp, br, conn
}

func spdyUpgrade() http.Header {
	return http.Header{
		"Connection":                {"Upgrade"},
		"Upgrade":                   {"SPDY/3.1"},
		"X-Stream-Protocol-Version": {"v4.channel.k8s.io"},
	}
}

func testPod(name string, uid string, containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(uid)},
		Spec:       corev1.PodSpec{NodeName: "worker", Containers: containers},
	}
}
