package main

import (
	"github.com/spf13/cobra"

	"github.com/kindish/kindish/cluster"
)

func newBuildCommand(g *globals) *cobra.Command {
	build := &cobra.Command{Use: "build", Short: "Build images"}
	var image string
	nodeImage := &cobra.Command{
		Use:   "node-image",
		Short: "Build the node image from this source tree (the Debian base is cached)",
		Args:  cobra.NoArgs,
		RunE: g.withManager(func(cmd *cobra.Command, _ []string, m *cluster.Manager) error {
			return m.BuildNodeImage(cmd.Context(), image)
		}),
	}
	nodeImage.Flags().StringVar(&image, "image", cluster.DefaultImage(), "name of the image to build")
	build.AddCommand(nodeImage)
	return build
}
