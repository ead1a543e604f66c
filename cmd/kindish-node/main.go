// Command kindish-node is the one binary that runs inside kindish nodes.
// It is a multi-call binary: it runs the component named by the name it
// was started under (/sbin/init is a symlink to it, so PID 1 runs "init"),
// or, started as kindish-node, the component named by its first argument:
//
//	docker exec <node> kindish-node init --help
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kindish/kindish/nodeagent/criclient"
)

// component is a component's entry point. It parses its own flags from
// args and runs until ctx is cancelled (SIGTERM or SIGINT).
type component func(ctx context.Context, args []string) error

// components maps the name the binary runs under to the component it runs.
// Adding a component is adding a line.
var components = map[string]component{
	"etcd":                    runEtcd,
	"kube-apiserver":          runAPIServer,
	"kube-scheduler":          runScheduler,
	"kube-controller-manager": runControllerManager,
	"kubelet":                 runKubelet,
	"kube-proxy":              runKubeProxy,
	"kindnetd":                runKindnetd,
	"init":                    runInit,
	// A node-side CRI client: kindish asks it which images a node holds.
	criclient.CommandName: criclient.Main,
}

// binaryName is the name under which the first argument picks the component.
const binaryName = "kindish-node"

// errUsage marks an error already reported, with the usage, by the flag
// package; main only sets the exit code.
var errUsage = errors.New("usage error")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
	code := run(ctx, os.Args, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches argv to its component and returns the exit code: 0 on
// success or help, 1 when the component fails, 2 on a usage error.
func run(ctx context.Context, argv []string, stderr io.Writer) int {
	name, args, err := resolve(argv)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, usage())
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n%s", binaryName, err, usage())
		return 2
	}
	err = components[name](ctx, args)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "%s %s: %v\n", binaryName, name, err)
		return 1
	}
}

// resolve finds the component from the name the binary was started under,
// or from the first argument when that name is kindish-node itself.
func resolve(argv []string) (name string, args []string, err error) {
	if len(argv) == 0 {
		return "", nil, errors.New("started without argv[0]")
	}
	name, args = filepath.Base(argv[0]), argv[1:]
	if name == binaryName {
		if len(args) == 0 {
			return "", nil, errors.New("no component named")
		}
		name, args = args[0], args[1:]
		if name == "-h" || name == "-help" || name == "--help" || name == "help" {
			return "", nil, flag.ErrHelp
		}
	}
	if _, ok := components[name]; !ok {
		return "", nil, fmt.Errorf("unknown component %q (known: %s)", name, strings.Join(knownComponents(), ", "))
	}
	return name, args, nil
}

func knownComponents() []string {
	names := make([]string, 0, len(components))
	for name := range components {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func usage() string {
	return fmt.Sprintf(`usage: %[1]s <component> [flags]
   or: <component> [flags]    (through a link named after the component)
components: %[2]s
Run "%[1]s <component> -help" for a component's flags.
`, binaryName, strings.Join(knownComponents(), ", "))
}

// parseFlags parses args into fs, which must be set to ContinueOnError,
// and rejects positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage // fs has printed the error and the usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

// logLevelOf maps upstream's -v verbosity onto slog levels: 0 warnings, 1
// info, 2 and more debug.
func logLevelOf(v string) slog.Level {
	switch v {
	case "0":
		return slog.LevelWarn
	case "1":
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}
