package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kindish/kindish/cluster/pki"
)

// benchNode is the one control-plane node the bench's PKI is issued for.
const benchNode = "bench-control-plane"

// controlPlane is an etcd member and a kube-apiserver, each its own process
// started from the node binary as a node's static pods run them, on
// loopback ports of this machine, with the files of a freshly generated PKI.
type controlPlane struct {
	dir       string
	etcd      *process
	apiserver *process
	// admin is the cluster admin's client configuration (system:masters).
	admin *rest.Config
	// pki holds the client certificates of the other components.
	pki *pki.Bundle
}

// startControlPlane starts etcd, waits for it, starts the API server and
// waits for its /readyz. On error everything started is stopped again.
func startControlPlane(ctx context.Context, nodeBinary string) (_ *controlPlane, err error) {
	if _, err := os.Stat(nodeBinary); err != nil {
		return nil, fmt.Errorf("node binary: %w (build it with make build)", err)
	}
	dir, err := os.MkdirTemp("", "kindish-bench-apiserver-")
	if err != nil {
		return nil, err
	}
	cp := &controlPlane{dir: dir}
	defer func() {
		if err != nil {
			cp.stop()
		}
	}()

	bundle, err := pki.Generate(pki.Options{
		Nodes:            []pki.Node{{Name: benchNode, IP: net.IPv4(127, 0, 0, 1), ControlPlane: true}},
		APIServerAddress: "127.0.0.1",
	})
	if err != nil {
		return nil, err
	}
	cp.pki = bundle
	if err := cp.writePKI(bundle); err != nil {
		return nil, err
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdClientHTTP, etcdPeer, etcdMetrics, apiPort := ports[0], ports[1], ports[2], ports[3], ports[4]
	etcdURL := loopbackURL("https", etcdClient)

	cp.etcd, err = cp.start(nodeBinary, "etcd",
		"--name", benchNode,
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL,
		// Off the default port 2382, which a local cluster may hold.
		"--listen-client-http-urls", loopbackURL("https", etcdClientHTTP),
		"--listen-peer-urls", loopbackURL("https", etcdPeer),
		// Unauthenticated /readyz, to wait on.
		"--listen-metrics-urls", loopbackURL("http", etcdMetrics),
		"--cert-file", cp.path(pki.EtcdServerCertPath),
		"--key-file", cp.path(pki.EtcdServerKeyPath),
		"--trusted-ca-file", cp.path(pki.EtcdCACertPath),
		"--peer-cert-file", cp.path(pki.EtcdPeerCertPath),
		"--peer-key-file", cp.path(pki.EtcdPeerKeyPath),
		"--peer-trusted-ca-file", cp.path(pki.EtcdCACertPath),
	)
	if err != nil {
		return nil, err
	}
	if err := cp.etcd.waitReady(ctx, http.DefaultClient, loopbackURL("http", etcdMetrics)+"/readyz"); err != nil {
		return nil, err
	}

	cp.apiserver, err = cp.start(nodeBinary, "kube-apiserver",
		"--advertise-address", "127.0.0.1",
		"--bind-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(apiPort),
		"--tls-cert-file", cp.path(pki.APIServerCertPath),
		"--tls-private-key-file", cp.path(pki.APIServerKeyPath),
		"--client-ca-file", cp.path(pki.CACertPath),
		"--etcd-servers", etcdURL,
		"--etcd-cafile", cp.path(pki.EtcdCACertPath),
		"--etcd-certfile", cp.path(pki.APIServerEtcdClientCertPath),
		"--etcd-keyfile", cp.path(pki.APIServerEtcdClientKeyPath),
		"--service-account-key-file", cp.path(pki.ServiceAccountPublicKeyPath),
		"--service-account-signing-key-file", cp.path(pki.ServiceAccountKeyPath),
	)
	if err != nil {
		return nil, err
	}
	apiURL := loopbackURL("https", apiPort)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle.CACert())
	// /readyz answers anonymous requests, as upstream's does.
	anonymous := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	if err := cp.apiserver.waitReady(ctx, anonymous, apiURL+"/readyz"); err != nil {
		return nil, err
	}

	certPEM, keyPEM := bundle.AdminClient()
	cp.admin = &rest.Config{
		Host: apiURL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   bundle.CACert(),
			CertData: certPEM,
			KeyData:  keyPEM,
		},
	}
	return cp, nil
}

// path is where a node's file (a pki path constant) lives on this machine.
func (cp *controlPlane) path(nodePath string) string {
	return filepath.Join(cp.dir, nodePath)
}

// writePKI writes the control-plane node's certificates and keys under
// the temporary directory, at their paths inside a node.
func (cp *controlPlane) writePKI(bundle *pki.Bundle) error {
	files, err := bundle.NodeFiles(benchNode)
	if err != nil {
		return err
	}
	for nodePath, f := range files {
		p := cp.path(nodePath)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
			return fmt.Errorf("write %s: %w", nodePath, err)
		}
	}
	return nil
}

// start runs one component of the node binary, its output going to a log
// file next to its data.
func (cp *controlPlane) start(nodeBinary, component string, args ...string) (*process, error) {
	logPath := filepath.Join(cp.dir, component+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(nodeBinary, append([]string{component}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// A Ctrl-C in the terminal reaches the bench alone, which then
		// stops the API server before etcd.
		Setpgid: true,
		// Nothing outlives a bench that is killed outright.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", component, err)
	}
	p := &process{name: component, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop stops the API server, then etcd, and removes their files.
func (cp *controlPlane) stop() {
	for _, p := range []*process{cp.apiserver, cp.etcd} {
		if p != nil {
			p.stop()
		}
	}
	os.RemoveAll(cp.dir)
}

// process is a running component.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error // set when done is closed
}

// stopGrace is how long a component gets to shut down after SIGTERM; the
// API server itself waits up to five seconds for its watches.
const stopGrace = 10 * time.Second

func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// exited returns an error saying the process is gone, with its log's end,
// or nil while it runs.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v):\n%s", p.name, p.err, p.logTail())
	default:
		return nil
	}
}

// logTail is the end of the process's output, for error messages.
func (p *process) logTail() string {
	data, _ := os.ReadFile(p.logPath)
	const keep = 4 << 10
	if len(data) > keep {
		data = data[len(data)-keep:]
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	}
	return strings.TrimSpace(string(data))
}

// readyTimeout bounds a component's start; both take well under a second.
const readyTimeout = 60 * time.Second

// waitReady polls url until it answers 200, the process exits or
// readyTimeout passes.
func (p *process) waitReady(ctx context.Context, client *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	for {
		if err := p.exited(); err != nil {
			return err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s", resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not ready after %v (%s: %v):\n%s", p.name, readyTimeout, url, last, p.logTail())
			}
			return ctx.Err()
		case <-p.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// usage is a process's resident memory in MB of 10^6 bytes: all of it
// (VmRSS), its anonymous part (RssAnon), which leaves out the pages of the
// node binary that both components map, and its proportional share (Pss,
// from smaps_rollup), which charges each shared page to its sharers.
type usage struct{ rss, anon, pss float64 }

func (p *process) memory() (usage, error) {
	status := fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)
	data, err := os.ReadFile(status)
	if err != nil {
		return usage{}, fmt.Errorf("memory of %s: %w", p.name, err)
	}
	fields := map[string]*float64{}
	var u usage
	fields["VmRSS:"], fields["RssAnon:"] = &u.rss, &u.anon
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || fields[f[0]] == nil {
			continue
		}
		kB, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return usage{}, fmt.Errorf("memory of %s: %s: %q: %w", p.name, status, line, err)
		}
		*fields[f[0]] = kB * 1024 / 1e6
		delete(fields, f[0])
	}
	if len(fields) > 0 {
		return usage{}, fmt.Errorf("memory of %s: %s lacks VmRSS or RssAnon", p.name, status)
	}
	// Pss needs smaps_rollup (Linux 4.14); without it the row reads 0.
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", p.cmd.Process.Pid)); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
				kB, _ := strconv.ParseFloat(f[1], 64)
				u.pss = kB * 1024 / 1e6
			}
		}
	}
	return u, nil
}

// freePorts returns n distinct free TCP ports on 127.0.0.1. All listeners
// are open at once so that the ports differ; another program could still
// take one before the component binds it, which a rerun fixes.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func loopbackURL(scheme string, port int) string {
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, port)
}
