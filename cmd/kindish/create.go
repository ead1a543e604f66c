package main

import (
	"github.com/spf13/cobra"

	"github.com/kindish/kindish/cluster"
)

func newCreateCommand(g *globals) *cobra.Command {
	create := &cobra.Command{Use: "create", Short: "Create a cluster"}
	var opts cluster.CreateOptions
	var name string
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Create a local Kubernetes cluster",
		Args:  cobra.NoArgs,
		RunE: g.withManager(func(cmd *cobra.Command, _ []string, m *cluster.Manager) error {
			opts.Name = name
			return m.Create(cmd.Context(), opts)
		}),
	}
	cmd.Flags().StringVarP(&name, "name", "n", "", nameFlagHelp()+"; overrides the config file's name")
	cmd.Flags().StringVar(&opts.ConfigPath, "config", "", "path to a cluster config file (kind's v1alpha4 format is accepted); - reads stdin")
	cmd.Flags().StringVar(&opts.Image, "image", "", "node image; overrides the config file's images (default "+cluster.DefaultImage()+", built when missing)")
	cmd.Flags().StringSliceVar(&opts.PreloadImages, "preload-image", nil, "images from the local Docker engine to load into every node while the cluster starts (repeatable, comma-separated); adds to the config file's preloadImages")
	cmd.Flags().DurationVar(&opts.Wait, "wait", 0, "wait this long for every node to be Ready (0: do not wait)")
	cmd.Flags().BoolVar(&opts.Retain, "retain", false, "keep the nodes when creation fails, for debugging")
	cmd.Flags().StringVar(&opts.KubeconfigPath, "kubeconfig", "", "kubeconfig file to write to (default $KUBECONFIG or ~/.kube/config)")
	create.AddCommand(cmd)
	return create
}
