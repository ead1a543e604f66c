package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const benchCluster = "bench"

const threeNodes = `kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
- role: worker
`

// nodeImage measures the node image build: cold (the Debian base rebuilt
// with debootstrap), warm (the base cached, kindish's own layer rebuilt, as
// after a change to the Go code) and unchanged (nothing to do), and the
// image's size.
func (b *bench) nodeImage(ctx context.Context, cold bool) error {
	if cold {
		// Every node image goes first, older untagged ones too: Docker
		// keeps a base that has children.
		removeImages(ctx, nodeImageRef)
		removeImages(ctx, "--filter=label="+nodeImageContextLabel)
		removeImages(ctx, "kindish/node-base")
		if out, _ := exec.CommandContext(ctx, "docker", "images", "-q", "kindish/node-base").Output(); len(strings.TrimSpace(string(out))) > 0 {
			return fmt.Errorf("cold node image build: could not remove kindish/node-base (%s): an image outside kindish's still uses it", strings.TrimSpace(string(out)))
		}
		secs, err := timeCommand(ctx, b.kindish, "build", "node-image")
		if err != nil {
			return err
		}
		b.add(Figure{Name: "node image build, cold", Unit: "s", Samples: []float64{secs}, Target: "-", Reference: "debootstrap alone ≈ 60 s"})
	}
	var warm, unchanged []float64
	for range b.runs {
		removeImages(ctx, nodeImageRef)
		secs, err := timeCommand(ctx, b.kindish, "build", "node-image")
		if err != nil {
			return err
		}
		warm = append(warm, secs)
		if secs, err = timeCommand(ctx, b.kindish, "build", "node-image"); err != nil {
			return err
		}
		unchanged = append(unchanged, secs)
	}
	b.add(Figure{Name: "node image build, warm (base cached)", Unit: "s", Samples: warm, Target: "≤ 5 s"})
	b.add(Figure{Name: "node image build, unchanged", Unit: "s", Samples: unchanged, Target: "-"})
	size, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Size}}", nodeImageRef).Output()
	if err == nil {
		var bytes float64
		fmt.Sscan(strings.TrimSpace(string(size)), &bytes)
		b.add(Figure{Name: "node image size", Unit: "MB", Samples: []float64{bytes / 1e6}, Target: "-"})
	}
	return nil
}

const nodeImageRef = "kindish/node:v0.1.0"

// workloadCluster creates a 1 control-plane + 2 worker cluster for a
// group's workload, with --wait and a kubeconfig of its own, and returns
// that kubeconfig's path and a function that deletes the cluster.
func (b *bench) workloadCluster(ctx context.Context, name string, extraArgs ...string) (kubeconfig string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "kindish-bench-")
	if err != nil {
		return "", nil, err
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(threeNodes), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	kubeconfig = filepath.Join(dir, "kubeconfig")
	args := append([]string{"create", "cluster", "--name", name, "--config", cfg, "--wait", "5m", "--kubeconfig", kubeconfig}, extraArgs...)
	remove = func() {
		exec.Command(b.kindish, "delete", "cluster", "--name", name, "--kubeconfig", kubeconfig).Run()
		os.RemoveAll(dir)
	}
	if out, err := exec.CommandContext(ctx, b.kindish, args...).CombinedOutput(); err != nil {
		remove()
		return "", nil, fmt.Errorf("create cluster %s: %w\n%s", name, err, out)
	}
	return kubeconfig, remove, nil
}

// nodeImageContextLabel marks every node image, tagged or left untagged
// by a later build (and no base image).
const nodeImageContextLabel = "io.kindish.context"

// removeImages removes every image of a repository (or one reference).
func removeImages(ctx context.Context, ref string) {
	ids, _ := exec.CommandContext(ctx, "docker", "images", "-q", ref).Output()
	for _, id := range strings.Fields(string(ids)) {
		exec.CommandContext(ctx, "docker", "rmi", "-f", id).Run()
	}
}

// clusterLifecycle measures, for a 1 control-plane + 2 worker cluster, the
// time from `create cluster` starting to every node's containerd answering
// (as each node's init reports it) and to the API server's first answer, the whole create command, the cluster's memory
// once it has been idle for a minute, and `delete cluster`.
func (b *bench) clusterLifecycle(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "kindish-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The API server's host port is chosen here, so that its first answer
	// can be awaited without asking Docker for the port while the very
	// machine being measured creates the nodes.
	port, err := freeLoopbackPort()
	if err != nil {
		return err
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(threeNodes+fmt.Sprintf("networking:\n  apiServerPort: %d\n", port)), 0o644); err != nil {
		return err
	}
	livez := fmt.Sprintf("https://127.0.0.1:%d/livez", port)
	env := append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "kubeconfig"))
	nodes := []string{benchCluster + "-control-plane", benchCluster + "-worker", benchCluster + "-worker2"}

	exec.CommandContext(ctx, b.kindish, "delete", "cluster", "--name", benchCluster).Run()
	if err := b.prepareHost(ctx, dir); err != nil {
		return err
	}
	var runtimes, apis, creates, deletes []float64
	var footprints []footprint
	for range b.runs {
		start := time.Now()
		apiAnswered := make(chan time.Duration, 1)
		pollCtx, stopPolling := context.WithCancel(ctx)
		go func() { apiAnswered <- waitAPIAnswer(pollCtx, livez, start) }()

		// --wait: the command returns once every node is Ready.
		create := exec.CommandContext(ctx, b.kindish, "create", "cluster", "--name", benchCluster, "--config", cfg, "--wait", "5m")
		create.Env = env
		out, err := create.CombinedOutput()
		createSecs := time.Since(start).Seconds()
		if err != nil {
			stopPolling()
			return fmt.Errorf("create cluster: %w\n%s", err, out)
		}
		select {
		case d := <-apiAnswered:
			if d > 0 {
				apis = append(apis, d.Seconds())
			}
		case <-time.After(30 * time.Second):
		}
		stopPolling()
		runtime, err := runtimesAnswered(ctx, nodes, start)
		if err != nil {
			return err
		}
		runtimes = append(runtimes, runtime.Seconds())
		creates = append(creates, createSecs)

		// The cluster idles: the workload images, untimed, are built
		// meanwhile (on the first run; later ones find them started).
		b.workload.start(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(footprintIdle):
		}
		fp, err := measureFootprint(ctx, nodes)
		if err != nil {
			return err
		}
		footprints = append(footprints, fp)
		// Nothing timed runs alongside the build: the delete and the
		// next create are.
		if err := b.workload.wait(ctx); err != nil {
			return err
		}

		del := exec.CommandContext(ctx, b.kindish, "delete", "cluster", "--name", benchCluster)
		del.Env = env
		start = time.Now()
		if out, err := del.CombinedOutput(); err != nil {
			return fmt.Errorf("delete cluster: %w\n%s", err, out)
		}
		deletes = append(deletes, time.Since(start).Seconds())
	}
	b.add(Figure{Name: "create → all containerds answering (3 nodes)", Unit: "s", Samples: runtimes, Target: "≤ 3 s"})
	b.add(Figure{Name: "create → the API server's first answer (3 nodes)", Unit: "s", Samples: apis, Target: "-"})
	b.add(Figure{Name: "create cluster --wait → every node Ready, every kube-system pod Running and Ready (3 nodes)", Unit: "s", Samples: creates,
		Target: "≤ 6 s", Reference: "kind 14.2 s (1 node), k3d 12.6 s, minikube 21 s"})
	b.add(Figure{Name: "delete cluster (3 nodes)", Unit: "s", Samples: deletes, Target: "≤ 2 s"})
	b.addFootprint(footprints, nodes)
	return nil
}

// prepareHost creates and deletes a one-node cluster, untimed, so that
// the timed creates find what a machine's first create makes once and
// later ones reuse: the image registry (its image built from source on a
// fresh machine, about a minute), and the node image read once from disk.
func (b *bench) prepareHost(ctx context.Context, dir string) error {
	const name = benchCluster + "-prepare"
	kubeconfig := filepath.Join(dir, "prepare-kubeconfig")
	create := exec.CommandContext(ctx, b.kindish, "create", "cluster", "--name", name, "--kubeconfig", kubeconfig)
	out, err := create.CombinedOutput()
	// Deleted whatever happened: a failed create removes its nodes itself.
	exec.CommandContext(context.WithoutCancel(ctx), b.kindish, "delete", "cluster", "--name", name, "--kubeconfig", kubeconfig).Run()
	if err != nil {
		return fmt.Errorf("create cluster %s: %w\n%s", name, err, out)
	}
	return nil
}

// freeLoopbackPort is a TCP port nothing listens on at 127.0.0.1 now.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a port for the API server: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitAPIAnswer returns the time from start until the API server first
// answers an HTTP request at url, or 0 when ctx ends first. Any answer
// counts, even "not ready yet".
func waitAPIAnswer(ctx context.Context, url string, start time.Time) time.Duration {
	client := &http.Client{
		Timeout: time.Second,
		// The cluster's CA does not exist before create makes it; the
		// address is this machine's loopback, published by the bench's
		// own cluster.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0
}

// runtimeReadyLine is what a node's init prints once its containerd
// answers (cluster/create waits for the same line).
const runtimeReadyLine = "kindish-node: containerd is ready"

// runtimesAnswered returns the time from start until the last node's
// containerd answered, read from the timestamps Docker gave the nodes'
// log lines: asking each node with `docker exec` while the cluster is
// being created would load the very machine being measured.
func runtimesAnswered(ctx context.Context, nodes []string, start time.Time) (time.Duration, error) {
	var last time.Duration
	for _, node := range nodes {
		out, err := exec.CommandContext(ctx, "docker", "logs", "--timestamps", node).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("logs of node %s: %w\n%s", node, err, out)
		}
		at, ok := lineTime(string(out), runtimeReadyLine)
		if !ok {
			return 0, fmt.Errorf("node %s never printed %q", node, runtimeReadyLine)
		}
		last = max(last, at.Sub(start))
	}
	return last, nil
}

// lineTime finds the first line of `docker logs --timestamps` output that
// ends with text, and returns its timestamp.
func lineTime(logs, text string) (time.Time, bool) {
	for _, line := range strings.Split(logs, "\n") {
		stamp, rest, ok := strings.Cut(line, " ")
		if !ok || strings.TrimSpace(rest) != text {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
