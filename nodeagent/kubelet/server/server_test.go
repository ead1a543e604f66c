package server

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestAuthentication(t *testing.T) {
	env := newTestEnv(t, newFakePods(testPod("web", "uid-1", corev1.Container{Name: "app"})), newFakeRuntime())
	admin := env.ca.issue(t, "kubernetes-admin", []string{"kubeadm:cluster-admins", MastersGroup}, x509.ExtKeyUsageClientAuth)
	node := env.ca.issue(t, "system:node:worker", []string{"system:nodes"}, x509.ExtKeyUsageClientAuth)
	serverOnly := env.ca.issue(t, APIServerClientCN, []string{MastersGroup}, x509.ExtKeyUsageServerAuth)
	foreign := newTestCA(t).issue(t, APIServerClientCN, []string{MastersGroup}, x509.ExtKeyUsageClientAuth)

	tests := []struct {
		name     string
		cert     *tls.Certificate
		method   string
		path     string
		wantCode int
		wantBody string
	}{
		{name: "health is open to clients without a certificate",
			method: "GET", path: "/healthz", wantCode: http.StatusOK, wantBody: "ok"},
		{name: "no certificate is unauthorized",
			method: "GET", path: "/pods", wantCode: http.StatusUnauthorized, wantBody: "Unauthorized"},
		{name: "the API server's kubelet client certificate gets in",
			cert: &env.apiServer, method: "GET", path: "/pods", wantCode: http.StatusOK},
		{name: "a member of system:masters gets in",
			cert: &admin, method: "GET", path: "/pods", wantCode: http.StatusOK},
		{name: "another client is forbidden, with upstream's message",
			cert: &node, method: "GET", path: "/pods", wantCode: http.StatusForbidden,
			wantBody: "Forbidden (user=system:node:worker, verb=get, resource=nodes, subresource(s)=[pods proxy])\n"},
		{name: "a forbidden exec names the create verb and the proxy subresource",
			cert: &node, method: "POST", path: "/exec/default/web/app?command=ls&stdout=1", wantCode: http.StatusForbidden,
			wantBody: "Forbidden (user=system:node:worker, verb=create, resource=nodes, subresource(s)=[proxy])\n"},
		{name: "a forbidden metrics request names the metrics subresource",
			cert: &node, method: "GET", path: "/metrics", wantCode: http.StatusForbidden,
			wantBody: "Forbidden (user=system:node:worker, verb=get, resource=nodes, subresource(s)=[metrics])\n"},
		{name: "a certificate from another CA is unauthorized",
			cert: &foreign, method: "GET", path: "/pods", wantCode: http.StatusUnauthorized, wantBody: "Unauthorized"},
		{name: "a certificate not for client authentication is unauthorized",
			cert: &serverOnly, method: "GET", path: "/pods", wantCode: http.StatusUnauthorized, wantBody: "Unauthorized"},
		{name: "an unknown path of an allowed client is not found",
			cert: &env.apiServer, method: "GET", path: "/stats/summary", wantCode: http.StatusNotFound},
		{name: "pods answers GET only",
			cert: &env.apiServer, method: "POST", path: "/pods", wantCode: http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := env.doAs(t, tc.cert, tc.method, tc.path)
			if code != tc.wantCode {
				t.Fatalf("status = %d (%q), want %d", code, body, tc.wantCode)
			}
			if tc.wantBody != "" && body != tc.wantBody {
				t.Errorf("body = %q, want %q", body, tc.wantBody)
			}
		})
	}
}

func TestNewRejectsAnIncompleteConfig(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	serving := ca.issue(t, "worker", nil, x509.ExtKeyUsageServerAuth)
	certFile, keyFile := writePEM(t, dir, "kubelet", serving)
	valid := func() Config {
		return Config{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile, Pods: newFakePods(), Runtime: newFakeRuntime()}
	}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "a TLS config stands in for the files",
			edit: func(c *Config) {
				pool := x509.NewCertPool()
				pool.AddCert(ca.cert)
				c.CertFile, c.KeyFile, c.ClientCAFile = "", "", ""
				c.TLSConfig = &tls.Config{Certificates: []tls.Certificate{serving}, ClientCAs: pool}
			}},
		{name: "no pods", edit: func(c *Config) { c.Pods = nil }, wantErr: "no pods source"},
		{name: "no runtime", edit: func(c *Config) { c.Runtime = nil }, wantErr: "no container runtime"},
		{name: "no serving certificate", edit: func(c *Config) { c.CertFile, c.KeyFile = "", "" }, wantErr: "no serving certificate"},
		{name: "missing certificate file", edit: func(c *Config) { c.CertFile = filepath.Join(dir, "none.crt") }, wantErr: "load serving certificate"},
		{name: "no client CA", edit: func(c *Config) { c.ClientCAFile = "" }, wantErr: "no client CA"},
		{name: "a client CA file without certificates", edit: func(c *Config) { c.ClientCAFile = keyFile }, wantErr: "no certificate in it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid()
			tc.edit(&cfg)
			_, err := New(cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New: err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestPodsListsTheNodesPods(t *testing.T) {
	env := newTestEnv(t, newFakePods(
		testPod("web", "uid-1", corev1.Container{Name: "app"}),
		testPod("etcd-worker", "uid-2", corev1.Container{Name: "etcd"}),
	), newFakeRuntime())
	code, body := env.do(t, "GET", "/pods")
	if code != http.StatusOK {
		t.Fatalf("status = %d: %s", code, body)
	}
	var list corev1.PodList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	if list.Kind != "PodList" || list.APIVersion != "v1" {
		t.Errorf("list kind = %q %q, want PodList v1", list.Kind, list.APIVersion)
	}
	var names []string
	for _, p := range list.Items {
		names = append(names, p.Name)
		if p.Kind != "" {
			t.Errorf("item %s has kind %q, want none", p.Name, p.Kind)
		}
	}
	if got, want := strings.Join(names, ","), "etcd-worker,web"; got != want {
		t.Errorf("pods = %s, want %s", got, want)
	}
}

func TestMetricsCountsRunningPodsAndContainers(t *testing.T) {
	pod := testPod("web", "uid-1", corev1.Container{Name: "app"})
	rt := newFakeRuntime()
	rt.addContainer("c1", pod, "app", 0, runtimeapi.ContainerState_CONTAINER_EXITED, "")
	rt.addContainer("c2", pod, "app", 1, runtimeapi.ContainerState_CONTAINER_RUNNING, "")
	rt.sandbox = []*runtimeapi.PodSandbox{
		{Id: "sb1", State: runtimeapi.PodSandboxState_SANDBOX_READY},
		{Id: "sb0", State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY},
	}
	env := newTestEnv(t, newFakePods(pod), rt)
	code, body := env.do(t, "GET", "/metrics")
	if code != http.StatusOK {
		t.Fatalf("status = %d: %s", code, body)
	}
	for _, want := range []string{
		"# TYPE kubelet_running_pods gauge\nkubelet_running_pods 1\n",
		`kubelet_running_containers{container_state="running"} 1`,
		`kubelet_running_containers{container_state="exited"} 1`,
		`kubelet_running_containers{container_state="created"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestServeStopsWhenTheContextEndsCuttingFollowedLogs(t *testing.T) {
	pod := testPod("web", "uid-1", corev1.Container{Name: "app"})
	rt := newFakeRuntime()
	logFile := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(logFile, []byte("2024-01-01T00:00:00Z stdout F hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt.addContainer("c1", pod, "app", 0, runtimeapi.ContainerState_CONTAINER_RUNNING, logFile)
	env := newTestEnv(t, newFakePods(pod), rt)

	resp, err := env.client(&env.apiServer).Get("https://" + env.addr + "/containerLogs/default/web/app?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "hello\n" {
		t.Fatalf("first line = %q, %v", line, err)
	}
	start := time.Now()
	if err := env.stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if d := time.Since(start); d > shutdownTimeout {
		t.Errorf("stopping took %v: the followed log held it", d)
	}
}
