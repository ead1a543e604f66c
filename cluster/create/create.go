// Package create is the `kindish create cluster` pipeline: a plain ordered
// list of small steps, each with one job and one status line, sharing a
// context. On failure everything created is removed unless asked to keep it.
package create

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kindish/kindish/cluster/config"
	"github.com/kindish/kindish/cluster/kubeconfig"
	"github.com/kindish/kindish/cluster/pki"
	"github.com/kindish/kindish/cluster/provider"
	"github.com/kindish/kindish/cluster/status"
)

// Options are the inputs of a create.
type Options struct {
	// Config is loaded, defaulted and validated.
	Config *config.Cluster
	// Retain keeps the nodes when creation fails.
	Retain bool
	// Wait bounds the wait for every node to finish booting; 0 waits only
	// for the container runtimes to answer.
	Wait time.Duration
	// KubeconfigPath is the file to merge the cluster's entries into.
	KubeconfigPath string
	// EnsureImage makes a node image present, building it when it is ours.
	EnsureImage func(ctx context.Context, image string) error
	// Images provides and loads Config.PreloadImages; it may be nil when
	// there are none.
	Images ImageLoader
	// Registry starts the image registry the nodes pull through, when
	// needed, and returns the files that configure a node's containerd to
	// use it. Nil leaves the nodes pulling from the registries themselves.
	Registry func(ctx context.Context) (map[string]pki.File, error)
}

// Context is what the steps share.
type Context struct {
	Provider provider.Provider
	Log      *slog.Logger
	Status   *status.Printer
	Options  Options

	// Filled in by the steps, in order.
	Network provider.Network
	Nodes   []PlannedNode
	PKI     *pki.Bundle
	// RegistryFiles configure each node's containerd to pull through the
	// registry.
	RegistryFiles map[string]pki.File
	// APIServer is where the host reaches the API server.
	APIServer HostEndpoint
	// kubeconfigWritten records that cleanup must undo the merge.
	kubeconfigWritten bool
}

// HostEndpoint is an address and port on the host.
type HostEndpoint struct {
	Address string
	Port    int
}

type step struct {
	// status is the line printed while the step runs; empty steps are
	// silent (quick checks that only print when they fail).
	status func(*Context) string
	run    func(context.Context, *Context) error
}

func steps() []step {
	return []step{
		{nil, checkClusterIsNew},
		{nil, reservePorts},
		{nil, ensurePreloadImages},
		{func(c *Context) string {
			return fmt.Sprintf("Ensuring node image (%s)", c.Options.Config.Nodes[0].Image)
		}, ensureImages},
		{registryStatus, ensureRegistry},
		{func(c *Context) string { return fmt.Sprintf("Preparing nodes (%d)", len(c.Options.Config.Nodes)) }, createNodes},
		{func(*Context) string { return "Starting container runtimes" }, waitForRuntimes},
		{preloadStatus, preloadImages},
		{func(*Context) string { return "Starting control-plane" }, waitForControlPlane},
		// The addons go in as soon as the API answers, as kind installs
		// the CNI before the workers join: their DaemonSets follow the
		// nodes as they register, instead of after the last one did. The
		// kubeconfig is written while their pods start.
		{addonsStatus, installAddons},
		{func(*Context) string { return "Writing kubeconfig" }, writeKubeconfig},
		{func(*Context) string { return "Joining nodes" }, waitForNodesRegistered},
		{waitStatus, waitForNodes},
	}
}

// Run creates the cluster described by opts.Config.
func Run(ctx context.Context, p provider.Provider, log *slog.Logger, st *status.Printer, opts Options) error {
	c := &Context{Provider: p, Log: log, Status: st, Options: opts}
	name := opts.Config.Name
	for _, s := range steps() {
		msg := ""
		if s.status != nil {
			msg = s.status(c)
		}
		if msg != "" {
			st.Start(msg)
		}
		err := s.run(ctx, c)
		if msg != "" {
			st.End(err == nil)
		}
		if err != nil {
			if errors.Is(err, errClusterExists) {
				return err // nothing of ours to clean up
			}
			return errors.Join(fmt.Errorf("create cluster %s: %w", name, err), c.cleanup(ctx))
		}
	}
	return nil
}

// cleanup removes what a failed create made, unless asked to keep it. It
// runs on a fresh context: an interrupted create must still clean up.
func (c *Context) cleanup(ctx context.Context) error {
	name := c.Options.Config.Name
	if c.Options.Retain {
		c.Log.Warn("keeping the nodes of the failed cluster (--retain); delete them with `kindish delete cluster --name " + name + "`")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var errs []error
	nodes, err := c.Provider.ListNodes(ctx, name)
	if err != nil {
		errs = append(errs, err)
	}
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	errs = append(errs, c.Provider.DeleteNodes(ctx, names))
	if c.kubeconfigWritten {
		errs = append(errs, kubeconfig.Remove(c.Options.KubeconfigPath, name))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean up the failed cluster %s (remove it with `kindish delete cluster --name %s`): %w", name, name, err)
	}
	return nil
}
