// Command kindish creates and manages local Kubernetes clusters whose nodes
// are Docker containers. This package holds the cobra commands only; the
// work is done by package cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kindish/kindish/cluster"
	"github.com/kindish/kindish/cluster/status"
)

// globals are the flags every command shares.
type globals struct {
	verbosity int
	quiet     bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ERROR: %v\n", err)
		var usage usageError
		if errors.As(err, &usage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// usageError marks errors in how a command was called (exit 2, as cobra's own
// flag errors are reported).
type usageError struct{ error }

func newRootCommand() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "kindish",
		Short:         "kindish creates local Kubernetes clusters out of Docker containers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().IntVarP(&g.verbosity, "verbosity", "v", 0, "log verbosity: 0 warnings, 1 steps and decisions, 2 and more debug")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "print nothing but errors")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newCreateCommand(g),
		newDeleteCommand(g),
		newGetCommand(g),
		newExportCommand(g),
		newLoadCommand(g),
		newBuildCommand(g),
		newVersionCommand(),
	)
	return root
}

func (g *globals) logger() *slog.Logger {
	level := slog.LevelWarn
	switch {
	case g.quiet:
		level = slog.LevelError
	case g.verbosity == 1:
		level = slog.LevelInfo
	case g.verbosity >= 2:
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func (g *globals) status() *status.Printer {
	if g.quiet {
		return status.Discard()
	}
	return status.New(os.Stderr, g.verbosity > 0)
}

// manager connects to the container engine for a command.
func (g *globals) manager(ctx context.Context) (*cluster.Manager, error) {
	return cluster.NewManager(ctx, g.logger(), g.status())
}

// withManager makes a command body that needs the container engine: it
// connects, runs fn, and closes the connection.
func (g *globals) withManager(fn func(cmd *cobra.Command, args []string, m *cluster.Manager) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		m, err := g.manager(cmd.Context())
		if err != nil {
			return err
		}
		defer m.Close()
		return fn(cmd, args, m)
	}
}

// clusterName applies kind's precedence: the flag, else the environment.
func clusterName(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv(cluster.NameEnv)
}

func nameFlagHelp() string {
	return fmt.Sprintf("the cluster name (default $%s, else %q)", cluster.NameEnv, cluster.DefaultName)
}
