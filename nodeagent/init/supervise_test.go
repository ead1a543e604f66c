package nodeinit

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var restartDelay = regexp.MustCompile(`restarting in (\S+)`)

func restartDelays(log string) []string {
	var delays []string
	for _, m := range restartDelay.FindAllStringSubmatch(log, -1) {
		delays = append(delays, m[1])
	}
	return delays
}

func TestCrashingServiceRestartsWithBackoff(t *testing.T) {
	cfg, out := testConfig(t, Service{Name: "crasher", Path: "/bin/sh", Args: []string{"-c", "echo started; exit 3"}})
	stop := runInit(t, cfg)
	eventually(t, "five restarts", func() bool { return len(restartDelays(out.String())) >= 5 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	want := []string{"10ms", "20ms", "40ms", "40ms", "40ms"}
	if got := restartDelays(out.String())[:5]; !slices.Equal(got, want) {
		t.Errorf("restart delays %q, want %q", got, want)
	}
	if !strings.Contains(out.String(), "kindish-node: crasher exited (exit status 3) after ") {
		t.Errorf("exit status not logged:\n%s", out)
	}
	// The service's output goes to its own log, not to the container log.
	if strings.Contains(out.String(), "started") {
		t.Error("service output reached the container log")
	}
	serviceLog := readFile(t, filepath.Join(cfg.LogDir, "crasher.log"))
	if n := countLines(serviceLog, "started"); n < 5 {
		t.Errorf("crasher.log has %d runs, want at least 5:\n%s", n, serviceLog)
	}
}

func TestBackoffResetsAfterServiceStayedUp(t *testing.T) {
	cfg, out := testConfig(t, Service{Name: "flaky", Path: "/bin/sh", Args: []string{"-c", "sleep 0.1; exit 1"}})
	cfg.Backoff.ResetAfter = 50 * time.Millisecond
	stop := runInit(t, cfg)
	eventually(t, "three restarts", func() bool { return len(restartDelays(out.String())) >= 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := restartDelays(out.String())[:3]; !slices.Equal(got, []string{"10ms", "10ms", "10ms"}) {
		t.Errorf("restart delays %q, want the initial delay each time", got)
	}
}

func TestServiceThatCannotStartIsRetried(t *testing.T) {
	cfg, out := testConfig(t, Service{Name: "missing", Path: "/nonexistent/binary"})
	stop := runInit(t, cfg)
	eventually(t, "two retries", func() bool { return countLines(out.String(), "start missing: ") >= 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestMilestonesAreLoggedInOrder(t *testing.T) {
	dir := t.TempDir()
	ctr := fakeCtr(t, dir, "exit 0")
	writeFile(t, filepath.Join(dir, "images", "pause.tar"), "archive")
	cfg, out := testConfig(t,
		Service{Name: "containerd", Path: "/bin/sleep", Args: []string{"1000"}, ReadyProbe: answers},
		Service{Name: "kubelet", Path: "/bin/sleep", Args: []string{"1000"}},
	)
	cfg.Images = ImageImport{Dir: filepath.Join(dir, "images"), After: "containerd", Ctr: ctr,
		Address: "/run/containerd/containerd.sock", Namespace: "k8s.io", StateFile: filepath.Join(dir, "state.json")}
	stop := runInit(t, cfg)
	eventually(t, "the node to be up", func() bool { return strings.Contains(out.String(), "node is up") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	var milestones []string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasSuffix(line, " is ready") || strings.HasSuffix(line, " imported") || strings.HasSuffix(line, " is up") {
			milestones = append(milestones, line)
		}
	}
	want := []string{
		"kindish-node: containerd is ready",
		"kindish-node: images imported",
		"kindish-node: node is up",
	}
	if !slices.Equal(milestones, want) {
		t.Errorf("milestones %q, want %q; log:\n%s", milestones, want, out)
	}
	noLiveDescendants(t)
}

func TestServiceThatNeverGetsReadyFailsTheNode(t *testing.T) {
	cfg, _ := testConfig(t, Service{Name: "containerd", Path: "/bin/sleep", Args: []string{"1000"}, ReadyProbe: neverAnswers})
	cfg.ReadyTimeout = 300 * time.Millisecond
	err := New(cfg).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "containerd is not ready after 300ms") {
		t.Errorf("got %v, want a readiness timeout", err)
	}
	noLiveDescendants(t)
}

func TestWaitReadyWaitsForTheSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "containerd.sock")
	go func() {
		time.Sleep(200 * time.Millisecond)
		l, err := net.Listen("unix", sock)
		if err != nil {
			return
		}
		t.Cleanup(func() { l.Close() })
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	began := time.Now()
	err := waitReady(context.Background(), Service{Name: "containerd", ReadySocket: sock, ReadyProbe: answers}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(began); waited < 200*time.Millisecond {
		t.Errorf("ready after %s, before the socket existed", waited)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Config)
	}{
		{"two services with one name", func(c *Config) {
			c.Services = []Service{{Name: "a", Path: "/bin/true"}, {Name: "a", Path: "/bin/true"}}
		}},
		{"service without a path", func(c *Config) { c.Services = []Service{{Name: "a"}} }},
		{"images after an unknown service", func(c *Config) {
			c.Services = []Service{{Name: "a", Path: "/bin/true"}}
			c.Images = ImageImport{Dir: "/kind/images", After: "containerd"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := testConfig(t)
			tt.modify(&cfg)
			if err := New(cfg).Run(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
				t.Errorf("got %v, want a config error", err)
			}
		})
	}
}

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().validate(); err != nil {
		t.Error(err)
	}
}

func TestServiceEnvAlwaysHasPath(t *testing.T) {
	env := []string{"A=1"}
	got := serviceEnv(env)
	if !slices.Contains(got, defaultPath) || len(env) != 1 {
		t.Errorf("serviceEnv(%q) = %q", env, got)
	}
	withPath := []string{"PATH=/bin"}
	if got := serviceEnv(withPath); !slices.Equal(got, withPath) {
		t.Errorf("serviceEnv(%q) = %q, want it unchanged", withPath, got)
	}
}

func TestServicesThatNeedTheFilesStartOnceTheyAreCopied(t *testing.T) {
	dir := t.TempDir()
	copied := filepath.Join(dir, "files-copied")
	cfg, out := testConfig(t, Service{Name: "containerd", Path: "/bin/sleep", Args: []string{"1000"}, ReadyProbe: answers})
	cfg.FilesCopied = copied
	var asked atomic.Int32
	cfg.NeedFiles = func() ([]Service, error) {
		asked.Add(1)
		return []Service{{Name: "kubelet", Path: "/bin/sleep", Args: []string{"1000"}}}, nil
	}
	stop := runInit(t, cfg)
	eventually(t, "the wait for the files", func() bool { return strings.Contains(out.String(), "waiting for the node's files") })
	time.Sleep(50 * time.Millisecond) // several looks for the file
	if n := asked.Load(); n != 0 || strings.Contains(out.String(), "node is up") {
		t.Fatalf("the kubelet's services were asked for %d times before the files were copied; log:\n%s", n, out)
	}
	writeFile(t, copied, "")
	eventually(t, "the node to be up", func() bool { return strings.Contains(out.String(), "node is up") })
	if n := asked.Load(); n != 1 {
		t.Errorf("NeedFiles called %d times, want 1", n)
	}
	// The supervisor opens the service's log as it starts it, which may
	// come just after the milestone.
	eventually(t, "the kubelet to start", func() bool {
		_, err := os.Stat(filepath.Join(cfg.LogDir, "kubelet.log"))
		return err == nil
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	noLiveDescendants(t)
}

func TestRestartedNodeFindsItsFilesAndDoesNotWait(t *testing.T) {
	dir := t.TempDir()
	cfg, out := testConfig(t, Service{Name: "containerd", Path: "/bin/sleep", Args: []string{"1000"}})
	cfg.FilesCopied = filepath.Join(dir, "files-copied")
	writeFile(t, cfg.FilesCopied, "")
	cfg.NeedFiles = func() ([]Service, error) { return nil, nil }
	stop := runInit(t, cfg)
	eventually(t, "the node to be up", func() bool { return strings.Contains(out.String(), "node is up") })
	if strings.Contains(out.String(), "waiting for the node's files") {
		t.Errorf("a node whose files are there waited for them; log:\n%s", out)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestNeedFilesErrorFailsTheNode(t *testing.T) {
	cfg, _ := testConfig(t)
	cfg.FilesCopied = filepath.Join(t.TempDir(), "files-copied")
	writeFile(t, cfg.FilesCopied, "")
	cfg.NeedFiles = func() ([]Service, error) { return nil, errors.New("kubelet flags: bad quoting") }
	err := New(cfg).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "kubelet flags: bad quoting") {
		t.Errorf("got %v, want the NeedFiles error", err)
	}
}
