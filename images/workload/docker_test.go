package workload

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
)

// testLabel marks the containers this test starts.
const testLabel = "io.kindish.test"

// dockerClient connects to the engine the environment names, or skips the
// test when there is none to reach.
func dockerClient(t *testing.T) *client.Client {
	t.Helper()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Skipf("skipped: no Docker client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(ctx); err != nil {
		cli.Close()
		t.Skipf("skipped: the Docker engine is unreachable (%v); start one (see ENVIRONMENT.md) to build and run the workload images", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// sourceTree is the kindish source tree this test is in.
func sourceTree(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	t.Fatal("no go.mod above the test's directory")
	return ""
}

// Builds the images into the local engine (debootstrap once, a minute or
// two, when the workload base is missing) and runs each as a test would.
func TestImagesBuildAndRunInDocker(t *testing.T) {
	cli := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	opts := Options{
		SourceDir: sourceTree(t),
		Docker:    cli,
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	began := time.Now()
	results, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built in %s", time.Since(began).Round(10*time.Millisecond))
	if len(results) != 3 {
		t.Fatalf("%d results, want busybox, nginx and testbox: %+v", len(results), results)
	}
	for _, r := range results {
		for _, ref := range r.Refs {
			img, err := cli.ImageInspect(ctx, ref)
			if err != nil {
				t.Fatalf("%s: %v", ref, err)
			}
			if img.ID != r.ID {
				t.Errorf("%s is %s in Docker, the build computed %s", ref, img.ID, r.ID)
			}
		}
		t.Logf("%s %s %d bytes, loaded %v", strings.Join(r.Refs, ","), r.ID[:19], r.Size, r.Loaded)
	}

	// Unchanged: nothing is loaded.
	began = time.Now()
	again, err := Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("unchanged build in %s", time.Since(began).Round(10*time.Millisecond))
	for _, r := range again {
		if r.Loaded {
			t.Errorf("%s was loaded again though nothing changed", r.Refs[0])
		}
	}

	t.Run("busybox", func(t *testing.T) {
		out := runToEnd(ctx, t, cli, Busybox, "sh", "-c", "echo hi; nslookup -h >/dev/null 2>&1; ls /bin | wc -l")
		lines := strings.Fields(out)
		if len(lines) != 2 || lines[0] != "hi" {
			t.Fatalf("output %q, want hi and a count", out)
		}
		if n, err := strconv.Atoi(lines[1]); err != nil || n < 50 {
			t.Errorf("/bin holds %q entries, want busybox's many applets", lines[1])
		}
	})

	t.Run("nginx", func(t *testing.T) {
		id := start(ctx, t, cli, Nginx)
		ip := containerIP(ctx, t, cli, id)
		body := get(ctx, t, "http://"+ip+"/")
		if !strings.Contains(body, "<title>Welcome to nginx!</title>") {
			t.Errorf("page %q is not Debian's default page", body)
		}
		// The access log is the container's output.
		deadline := time.Now().Add(5 * time.Second)
		for {
			stdout, _ := logs(ctx, t, cli, id)
			if strings.Contains(stdout, `"GET / HTTP/1.1" 200`) {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("no access log line in the container's output: %q", stdout)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("testbox", func(t *testing.T) {
		for _, ref := range []string{Testbox(), TestboxLatest} {
			if out := runToEnd(ctx, t, cli, ref, "--version"); !strings.Contains(out, "testbox") {
				t.Errorf("%s --version: %q", ref, out)
			}
		}
	})
}

// start runs a container of ref (with args as its command, if any) in the
// background, removed when the test ends.
func start(ctx context.Context, t *testing.T, cli *client.Client, ref string, cmd ...string) string {
	t.Helper()
	created, err := cli.ContainerCreate(ctx, &container.Config{Image: ref, Cmd: cmd, Labels: map[string]string{testLabel: t.Name()}}, nil, nil, nil, "")
	if err != nil {
		t.Fatalf("create a container of %s: %v", ref, err)
	}
	t.Cleanup(func() {
		cli.ContainerRemove(context.WithoutCancel(ctx), created.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
	})
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		t.Fatalf("start a container of %s: %v", ref, err)
	}
	return created.ID
}

// runToEnd runs a container of ref to its end and returns its output; a
// non-zero exit status fails the test.
func runToEnd(ctx context.Context, t *testing.T, cli *client.Client, ref string, cmd ...string) string {
	t.Helper()
	id := start(ctx, t, cli, ref, cmd...)
	waitC, errC := cli.ContainerWait(ctx, id, container.WaitConditionNotRunning)
	var code int64
	select {
	case w := <-waitC:
		code = w.StatusCode
	case err := <-errC:
		t.Fatalf("wait for %s %q: %v", ref, cmd, err)
	}
	stdout, stderr := logs(ctx, t, cli, id)
	if code != 0 {
		t.Fatalf("%s %q exited with %d: %s%s", ref, cmd, code, stdout, stderr)
	}
	return stdout
}

func logs(ctx context.Context, t *testing.T, cli *client.Client, id string) (stdout, stderr string) {
	t.Helper()
	rc, err := cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatalf("logs of %s: %v", id[:12], err)
	}
	defer rc.Close()
	var out, errOut bytes.Buffer
	if _, err := stdcopy.StdCopy(&out, &errOut, rc); err != nil {
		t.Fatalf("logs of %s: %v", id[:12], err)
	}
	return out.String(), errOut.String()
}

func containerIP(ctx context.Context, t *testing.T, cli *client.Client, id string) string {
	t.Helper()
	c, err := cli.ContainerInspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.NetworkSettings.Networks {
		if n.IPAddress != "" {
			return n.IPAddress
		}
	}
	t.Fatalf("container %s has no IP address", id[:12])
	return ""
}

// get fetches url, retrying while the server starts.
func get(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body, err := func() (string, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return "", err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("%s: %s", resp.Status, b)
			}
			return string(b), err
		}()
		if err == nil {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// testWriter sends a logger's lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
