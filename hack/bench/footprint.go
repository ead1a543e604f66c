package main

import (
	"context"
	"fmt"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// footprintIdle is how long a new cluster is left alone before its memory
// is read: long enough for start-up garbage to be collected.
const footprintIdle = time.Minute

// footprintComponents names the processes of a node whose memory the
// bench reports, by the base name of their command.
var footprintComponents = []string{
	"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
	"kubelet", "containerd", "containerd-shim-runc-v2", "pause",
	"kube-proxy", "kindnetd", "coredns", "init",
}

// footprint is a cluster's memory in MB: each component's anonymous
// resident memory (its own, without the pages of binaries that processes
// share, which the node binary's many components do) summed over the
// nodes, and each node container's memory as Docker accounts it (the
// cgroup's usage less its inactive file cache), which counts every page
// once.
type footprint struct {
	components map[string]float64
	nodes      map[string]float64
}

// anonRSSScript prints each process's RssAnon in kB and its argv[0].
const anonRSSScript = `for d in /proc/[0-9]*; do
  cmd=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null | cut -d' ' -f1)
  [ -n "$cmd" ] && awk -v cmd="$cmd" '/^RssAnon:/ {print $2, cmd}' "$d/status" 2>/dev/null
done; true`

// measureFootprint reads the memory of a cluster's nodes and of the
// processes in them.
func measureFootprint(ctx context.Context, nodes []string) (footprint, error) {
	fp := footprint{components: map[string]float64{}, nodes: map[string]float64{}}
	for _, node := range nodes {
		// "<RssAnon kB> <argv[0]>" for every process of the node.
		out, err := exec.CommandContext(ctx, "docker", "exec", node, "sh", "-c", anonRSSScript).Output()
		if err != nil {
			return fp, fmt.Errorf("read process memory in %s: %w", node, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			kB, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				return fp, fmt.Errorf("process memory in %s: %q: %w", node, line, err)
			}
			if name := path.Base(f[1]); slices.Contains(footprintComponents, name) {
				fp.components[name] += kB * 1024 / 1e6
			}
		}
	}
	out, err := exec.CommandContext(ctx, "docker", append([]string{"stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"}, nodes...)...).Output()
	if err != nil {
		return fp, fmt.Errorf("docker stats: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// "kindish-bench-worker 123.4MiB / 23.54GiB"
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		mb, err := parseDockerSize(f[1])
		if err != nil {
			return fp, fmt.Errorf("docker stats: %q: %w", line, err)
		}
		fp.nodes[f[0]] = mb
	}
	return fp, nil
}

// parseDockerSize reads docker's binary-unit sizes ("123.4MiB") as MB of
// 10^6 bytes.
func parseDockerSize(s string) (float64, error) {
	units := []struct {
		suffix string
		bytes  float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, err
			}
			return v * u.bytes / 1e6, nil
		}
	}
	return 0, fmt.Errorf("unknown size %q", s)
}

// addFootprint reports the footprints of several clusters, one sample
// each, in the order of footprintComponents and then the nodes.
func (b *bench) addFootprint(fps []footprint, nodes []string) {
	idle := fmt.Sprintf("after create + %s idle", footprintIdle)
	for _, name := range footprintComponents {
		samples := make([]float64, len(fps))
		for i, fp := range fps {
			samples[i] = fp.components[name]
		}
		b.add(Figure{Name: fmt.Sprintf("anonymous RSS of %s, all %d nodes, %s", name, len(nodes), idle), Unit: "MB", Samples: samples, Target: "-"})
	}
	for _, node := range nodes {
		samples := make([]float64, len(fps))
		for i, fp := range fps {
			samples[i] = fp.nodes[node]
		}
		b.add(Figure{Name: fmt.Sprintf("memory of node %s, %s", node, idle), Unit: "MB", Samples: samples, Target: "-"})
	}
	whole := make([]float64, len(fps))
	for i, fp := range fps {
		for _, mb := range fp.nodes {
			whole[i] += mb
		}
	}
	b.add(Figure{Name: fmt.Sprintf("memory of the whole cluster (%d nodes), %s", len(nodes), idle), Unit: "MB", Samples: whole,
		Target: "≤ 500 MB", Reference: "k3s server 1.6 GB; k0s controller 510 MB"})
}
