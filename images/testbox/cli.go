package testbox

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/kindish/kindish/cluster/version"
)

// Process is what a subcommand gets from the process that runs it. main
// passes the real ones; tests pass buffers.
type Process struct {
	Stdout, Stderr io.Writer
	// Resolver answers dns-lookup; nil means the pure Go resolver, which
	// reads /etc/resolv.conf itself, search list and ndots included, so
	// that "kubernetes.default" resolves in a pod as it does through libc.
	Resolver *net.Resolver
}

func (p Process) resolver() *net.Resolver {
	if p.Resolver != nil {
		return p.Resolver
	}
	return &net.Resolver{PreferGo: true}
}

// subcommand runs one subcommand. It parses its own flags from args and
// returns nil, errUsage (already reported), flag.ErrHelp, an *ExitError,
// or a failure for Run to print.
type subcommand struct {
	summary string
	run     func(ctx context.Context, p Process, args []string) error
}

func subcommands() map[string]subcommand {
	serve := subcommand{"serve HTTP and UDP (see serve -h)", runServe}
	return map[string]subcommand{
		"serve":      serve,
		"netexec":    {"the same as serve, under agnhost's name", serve.run},
		"hostname":   {"print the hostname", runHostname},
		"dns-lookup": {"resolve a name through /etc/resolv.conf", runDNSLookup},
		"kube-pods":  {"list a namespace's pods with in-cluster client-go", runKubePods},
		"dial":       {"connect over tcp, udp or http and print the reply", runDial},
		"sleep":      {"sleep for a duration or \"infinity\"; SIGTERM ends it with status 0", runSleep},
		"exit":       {"exit with the given status", runExit},
		"env":        {"print the environment, sorted", runEnv},
		"cat":        {"print files", runCat},
		"version":    {"print the version", runVersion},
		"wait-for":   {"reach an address until it answers; print when, measured in the pod", runWaitFor},
	}
}

// errUsage marks a usage error already reported to stderr with the usage.
var errUsage = errors.New("usage error")

// Run runs the subcommand args name (args excludes the program name) and
// returns the exit status: 0 on success or help, 1 on failure, 2 on a usage
// error, or the status the exit subcommand or /exit asked for.
func Run(ctx context.Context, p Process, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(p.Stderr, usage())
		return 2
	}
	name, args := args[0], args[1:]
	switch name {
	case "-v", "-version", "--version":
		name = "version"
	case "-h", "-help", "--help", "help":
		fmt.Fprint(p.Stdout, usage())
		return 0
	}
	cmd, ok := subcommands()[name]
	if !ok {
		fmt.Fprintf(p.Stderr, "testbox: unknown subcommand %q\n%s", name, usage())
		return 2
	}
	err := cmd.run(ctx, p, args)
	var exit *ExitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, &exit):
		return exit.Code
	default:
		fmt.Fprintf(p.Stderr, "testbox %s: %v\n", name, err)
		return 1
	}
}

func usage() string {
	var b strings.Builder
	b.WriteString("usage: testbox SUBCOMMAND [flags] [args]\n   or: testbox -v|--version\n\nsubcommands:\n")
	cmds := subcommands()
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&b, "  %-11s %s\n", name, cmds[name].summary)
	}
	b.WriteString("\nRun \"testbox SUBCOMMAND -h\" for its flags.\n")
	return b.String()
}

// newFlagSet returns the flag set of one subcommand. Errors and -h go to
// stderr, under a synopsis such as "dial ADDR".
func newFlagSet(p Process, synopsis, about string) *flag.FlagSet {
	name, _, _ := strings.Cut(synopsis, " ")
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(p.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(p.Stderr, "usage: testbox %s\n\n%s\n", synopsis, about)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(p.Stderr, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseArgs parses flags wherever they stand among args (the flag package
// stops at the first argument, but "testbox dial ADDR --protocol udp" is
// how people type it) and checks that between min and max arguments remain
// (max < 0: no limit). Errors are reported, with the usage, on fs's output.
func parseArgs(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage // the flag package has said which flag
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...) // after "--", nothing is a flag
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	switch {
	case len(positional) < min:
		return nil, usageErrorf(fs, "missing argument")
	case max >= 0 && len(positional) > max:
		return nil, usageErrorf(fs, "unexpected argument %q", positional[max])
	}
	return positional, nil
}

// usageErrorf reports a bad argument the way the flag package reports a bad
// flag: the problem, then the usage.
func usageErrorf(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "testbox %s: %s\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return errUsage
}

func runVersion(_ context.Context, p Process, args []string) error {
	fs := newFlagSet(p, "version", "Print testbox's version.")
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	fmt.Fprintf(p.Stdout, "testbox (kindish) %s\n", version.Version)
	return nil
}
