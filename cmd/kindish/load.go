package main

import (
	"github.com/spf13/cobra"

	"github.com/kindish/kindish/cluster"
)

func newLoadCommand(g *globals) *cobra.Command {
	load := &cobra.Command{Use: "load", Short: "Load images into a cluster's nodes"}
	var opts cluster.LoadOptions
	var name string
	dockerImage := &cobra.Command{
		Use:   "docker-image IMAGE [IMAGE...]",
		Short: "Load images from the local Docker engine into the nodes",
		Args:  cobra.MinimumNArgs(1),
		RunE: g.withManager(func(cmd *cobra.Command, args []string, m *cluster.Manager) error {
			opts.Cluster = clusterName(name)
			return m.LoadDockerImages(cmd.Context(), args, opts)
		}),
	}
	archive := &cobra.Command{
		Use:   "image-archive FILE",
		Short: "Load an image archive (docker save or OCI layout tar) into the nodes",
		Args:  cobra.ExactArgs(1),
		RunE: g.withManager(func(cmd *cobra.Command, args []string, m *cluster.Manager) error {
			opts.Cluster = clusterName(name)
			return m.LoadImageArchive(cmd.Context(), args[0], opts)
		}),
	}
	for _, c := range []*cobra.Command{dockerImage, archive} {
		c.Flags().StringVarP(&name, "name", "n", "", nameFlagHelp())
		c.Flags().StringSliceVar(&opts.Nodes, "nodes", nil, "comma-separated node names to load into (default: every node)")
	}
	load.AddCommand(dockerImage, archive)
	return load
}
