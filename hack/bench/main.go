// Command bench measures kindish's performance figures on real clusters and
// prints them as one table (figure, median, min, max, target, reference).
// Results also go to a JSON file so that runs can be compared. Nothing here
// is a pass/fail test: these machines are noisy, so figures are reported.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// Figure is one measured quantity.
type Figure struct {
	Name      string    `json:"name"`
	Unit      string    `json:"unit"`
	Samples   []float64 `json:"samples"`
	Median    float64   `json:"median"`
	Min       float64   `json:"min"`
	Max       float64   `json:"max"`
	Target    string    `json:"target"`
	Reference string    `json:"reference,omitempty"`
}

// Report is what a run writes to its JSON file.
type Report struct {
	Date    time.Time `json:"date"`
	Machine string    `json:"machine"`
	Figures []Figure  `json:"figures"`
}

type bench struct {
	kindish    string
	nodeBinary string
	runs       int
	only       groups
	figures    []Figure
	workload   *workloadImages
}

func main() {
	kindish := flag.String("kindish", "bin/kindish", "the kindish binary to measure")
	out := flag.String("out", "_output/bench.json", "where to write the JSON report")
	runs := flag.Int("runs", 3, "samples per figure (the cold image build is measured once)")
	cold := flag.Bool("cold", true, "also measure a cold node image build (removes the cached Debian base first)")
	compareWith := flag.String("compare", "", "an earlier run's JSON report: print the figures both have side by side")
	nodeBinary := flag.String("node-binary", "bin/kindish-node", "the node binary whose control-plane components the apiserver and scheduler groups run")
	var only groups
	flag.Var(&only, "only", "comma-separated figure groups to measure ("+strings.Join(figureGroups, ", ")+"); all by default")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{kindish: *kindish, nodeBinary: *nodeBinary, runs: *runs, only: only, workload: &workloadImages{kindish: *kindish}}
	var old Report
	if *compareWith != "" {
		// Read first: a run is long, a typo should not cost it.
		var err error
		if old, err = readReport(*compareWith); err != nil {
			fmt.Fprintln(os.Stderr, "bench: -compare:", err)
			os.Exit(2)
		}
	}
	err := b.run(ctx, *cold)
	b.print()
	if werr := b.write(*out); werr != nil && err == nil {
		err = werr
	}
	if *compareWith != "" {
		fmt.Println()
		compare(os.Stdout, old, b.report())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func (b *bench) run(ctx context.Context, cold bool) error {
	measure := map[string]func(context.Context) error{
		groupImage:     func(ctx context.Context) error { return b.nodeImage(ctx, cold) },
		groupCluster:   b.clusterLifecycle,
		groupPods:      b.podStartup,
		groupAPIServer: b.apiServer,
		groupNetwork:   b.network,
		groupScheduler: b.schedulerBench,
	}
	for _, g := range figureGroups {
		if !b.only.has(g) {
			continue
		}
		start := time.Now()
		err := measure[g](ctx)
		// A run's length is part of what it costs: say where it went.
		fmt.Fprintf(os.Stderr, "bench: %s group took %s\n", g, time.Since(start).Round(time.Second))
		if err != nil {
			return fmt.Errorf("%s group: %w", g, err)
		}
	}
	return nil
}

// add records a figure from its samples.
func (b *bench) add(f Figure) {
	s := slices.Clone(f.Samples)
	slices.Sort(s)
	if len(s) > 0 {
		f.Min, f.Max = s[0], s[len(s)-1]
		f.Median = s[len(s)/2]
		if len(s)%2 == 0 {
			f.Median = (s[len(s)/2-1] + s[len(s)/2]) / 2
		}
	}
	b.figures = append(b.figures, f)
	fmt.Fprintf(os.Stderr, "bench: %s: %.2f %s (min %.2f, max %.2f)\n", f.Name, f.Median, f.Unit, f.Min, f.Max)
}

func (b *bench) print() {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "FIGURE\tMEDIAN\tMIN\tMAX\tTARGET\tREFERENCE\n")
	for _, f := range b.figures {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, fmtVal(f.Median, f.Unit), fmtVal(f.Min, f.Unit), fmtVal(f.Max, f.Unit), f.Target, f.Reference)
	}
	w.Flush()
}

func fmtVal(v float64, unit string) string {
	return strings.TrimSpace(fmt.Sprintf("%.2f %s", v, unit))
}

// report is this run's figures, dated and with the machine they were
// measured on.
func (b *bench) report() Report {
	host, _ := os.Hostname()
	return Report{
		Date:    time.Now().UTC(),
		Machine: fmt.Sprintf("%s: %d cores, %s memory", host, runtime.NumCPU(), memTotal()),
		Figures: b.figures,
	}
}

func (b *bench) write(path string) error {
	rep := b.report()
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	// A clean clone has no _output yet when the bench runs without make.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			var kb float64
			fmt.Sscan(f[1], &kb)
			return fmt.Sprintf("%.0f GiB", kb/1024/1024)
		}
	}
	return "unknown"
}

// timeCommand runs a command and returns its wall time in seconds.
func timeCommand(ctx context.Context, name string, args ...string) (float64, error) {
	start := time.Now()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return time.Since(start).Seconds(), nil
}
