package apiservertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// KubectlPath is where kubectl is looked for first; PATH is the fallback.
const KubectlPath = "/usr/bin/kubectl"

// RequireKubectlEnv, set to 1, turns a missing kubectl from a skipped test
// into a failed one, so that CI cannot pass without running them.
const RequireKubectlEnv = "KINDISH_REQUIRE_KUBECTL"

// kubectlRequestTimeout is passed to every kubectl call: a request the
// server never answers fails the command instead of hanging the test.
const kubectlRequestTimeout = "20s"

// kubectlDeadline kills a kubectl that outlives its own request timeout
// (a retry loop, a wait on a condition).
const kubectlDeadline = 90 * time.Second

// Kubectl runs the real kubectl against the Env as one user, with a
// kubeconfig and a HOME (where kubectl keeps its discovery cache) of its
// own, so that tests do not share caches or credentials.
type Kubectl struct {
	t          testing.TB
	bin        string
	home       string
	kubeconfig string
}

// KubectlResult is what a kubectl command printed and how it exited.
type KubectlResult struct {
	Args     []string
	Stdout   string
	Stderr   string
	ExitCode int
}

// String describes the run for a failure message.
func (r KubectlResult) String() string {
	return fmt.Sprintf("kubectl %s (exit %d)\nstdout:\n%s\nstderr:\n%s", strings.Join(r.Args, " "), r.ExitCode, r.Stdout, r.Stderr)
}

// Kubectl returns a kubectl for the cluster admin (system:masters). The
// test is skipped when kubectl is not installed, or fails when
// KINDISH_REQUIRE_KUBECTL=1.
func (e *Env) Kubectl(t testing.TB) *Kubectl {
	t.Helper()
	return e.kubectlWith(t, "admin", e.Config)
}

// KubectlFor returns a kubectl authenticating as user with groups.
func (e *Env) KubectlFor(t testing.TB, user string, groups ...string) *Kubectl {
	t.Helper()
	return e.kubectlWith(t, user, e.ConfigFor(t, user, groups...))
}

func (e *Env) kubectlWith(t testing.TB, user string, cfg *rest.Config) *Kubectl {
	t.Helper()
	bin := findKubectl(t)
	home := t.TempDir()
	kubeconfig := filepath.Join(home, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kubeconfigFor(e.URL, user, cfg), 0o600); err != nil {
		t.Fatalf("write kubeconfig: %v", err)
	}
	return &Kubectl{t: t, bin: bin, home: home, kubeconfig: kubeconfig}
}

func findKubectl(t testing.TB) string {
	t.Helper()
	bin := KubectlPath
	if _, err := os.Stat(bin); err != nil {
		if path, lookErr := exec.LookPath("kubectl"); lookErr == nil {
			return path
		}
		if os.Getenv(RequireKubectlEnv) == "1" {
			t.Fatalf("kubectl is required (%s=1) but not installed: %v", RequireKubectlEnv, err)
		}
		t.Skipf("kubectl is not installed (%v); set %s=1 to make this a failure", err, RequireKubectlEnv)
	}
	return bin
}

// kubeconfigFor is a kubeconfig with the cluster CA and the user's client
// certificate inline, as kubeadm writes admin.conf.
func kubeconfigFor(server, user string, cfg *rest.Config) []byte {
	b64 := base64.StdEncoding.EncodeToString
	return []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kindish
  cluster:
    server: %s
    certificate-authority-data: %s
    tls-server-name: %s
users:
- name: %s
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: %s@kindish
  context:
    cluster: kindish
    user: %s
    namespace: default
current-context: %s@kindish
preferences: {}
`, server, b64(cfg.CAData), cfg.ServerName, user, b64(cfg.CertData), b64(cfg.KeyData), user, user, user))
}

// Kubeconfig is the path of the kubeconfig file.
func (k *Kubectl) Kubeconfig() string { return k.kubeconfig }

// Run runs kubectl with args and returns what it printed; a non-zero exit
// is not a test failure, the caller decides. Run may be called from
// subtests: it reports nothing to the test itself. A kubectl that could
// not run, or was killed for running too long, exits -1 and says why on
// stderr.
func (k *Kubectl) Run(args ...string) KubectlResult {
	k.t.Helper()
	return k.RunWithInput("", args...)
}

// RunWithInput runs kubectl with stdin.
func (k *Kubectl) RunWithInput(stdin string, args ...string) KubectlResult {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlDeadline)
	defer cancel()
	cmd := k.command(ctx, args)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := KubectlResult{Args: args, Stdout: stdout.String(), Stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		res.ExitCode = -1
		res.Stderr += fmt.Sprintf("\n[killed: kubectl did not finish within %s]", kubectlDeadline)
	case errors.As(err, &exitErr):
		res.ExitCode = exitErr.ExitCode()
	default:
		res.ExitCode = -1
		res.Stderr += fmt.Sprintf("\n[run kubectl: %v]", err)
	}
	return res
}

// MustRun runs kubectl and fails the test the Kubectl was made for unless
// it exits 0. Subtests check Run's result themselves: a failure belongs
// to the subtest.
func (k *Kubectl) MustRun(args ...string) KubectlResult {
	k.t.Helper()
	res := k.Run(args...)
	if res.ExitCode != 0 {
		k.t.Fatalf("%s", res)
	}
	return res
}

func (k *Kubectl) command(ctx context.Context, args []string) *exec.Cmd {
	full := append([]string{"--request-timeout=" + kubectlRequestTimeout}, args...)
	cmd := exec.CommandContext(ctx, k.bin, full...)
	cmd.Env = append(kubectlEnviron(), "HOME="+k.home, "KUBECONFIG="+k.kubeconfig)
	// Once killed, kubectl's output pipes are closed even if something
	// still holds them.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// kubectlEnviron is the test's environment without what would point
// kubectl at another cluster or change what it does: its own settings
// (KUBECTL_*), an editor, proxies.
func kubectlEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HOME", "KUBECONFIG", "KUBE_EDITOR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY":
			continue
		}
		if strings.HasPrefix(name, "KUBECTL_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// KubectlStream is a kubectl that keeps running, such as `get -w`, whose
// output is read as it comes.
type KubectlStream struct {
	t      testing.TB
	cmd    *exec.Cmd
	cancel context.CancelFunc
	mu     sync.Mutex
	lines  []string
	stderr bytes.Buffer
	added  chan struct{}
	done   chan struct{}
}

// Start starts kubectl with args and returns once it runs; it is killed
// when the test ends, if not before by Stop.
func (k *Kubectl) Start(args ...string) *KubectlStream {
	k.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlDeadline)
	s := &KubectlStream{t: k.t, cmd: k.command(ctx, args), cancel: cancel, added: make(chan struct{}, 1), done: make(chan struct{})}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		cancel()
		k.t.Fatal(err)
	}
	s.cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.stderr}
	if err := s.cmd.Start(); err != nil {
		cancel()
		k.t.Fatalf("start kubectl %s: %v", strings.Join(args, " "), err)
	}
	go s.read(stdout)
	k.t.Cleanup(s.Stop)
	return s
}

func (s *KubectlStream) read(r io.Reader) {
	defer close(s.done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		s.mu.Lock()
		s.lines = append(s.lines, sc.Text())
		s.mu.Unlock()
		select {
		case s.added <- struct{}{}:
		default:
		}
	}
}

// WaitForLines waits until kubectl has printed at least n lines and
// returns them all.
func (s *KubectlStream) WaitForLines(n int, timeout time.Duration) []string {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		lines := append([]string(nil), s.lines...)
		stderr := s.stderr.String()
		s.mu.Unlock()
		if len(lines) >= n {
			return lines
		}
		select {
		case <-s.added:
		case <-s.done:
			s.mu.Lock()
			got := len(s.lines)
			s.mu.Unlock()
			if got < n {
				s.t.Fatalf("kubectl exited after %d lines, want %d:\n%s\nstderr:\n%s", got, n, strings.Join(lines, "\n"), stderr)
			}
		case <-deadline:
			s.t.Fatalf("kubectl printed %d lines in %s, want %d:\n%s\nstderr:\n%s", len(lines), timeout, n, strings.Join(lines, "\n"), stderr)
		}
	}
}

// WaitForStderr waits until kubectl has written substr to stderr, such as
// the request log line of -v=6 that shows a watch has started.
func (s *KubectlStream) WaitForStderr(substr string, timeout time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		stderr := s.stderr.String()
		s.mu.Unlock()
		if strings.Contains(stderr, substr) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("kubectl did not write %q to stderr in %s:\n%s", substr, timeout, stderr)
		}
		select {
		case <-s.done:
			s.t.Fatalf("kubectl exited before writing %q to stderr:\n%s", substr, stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop kills kubectl and waits for it.
func (s *KubectlStream) Stop() {
	s.cancel()
	<-s.done
	_ = s.cmd.Wait()
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
