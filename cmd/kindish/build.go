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
	workloadImages := &cobra.Command{
		Use:   "images",
		Short: "Build the images tests run (busybox, nginx, kindish/testbox) into the local engine",
		Long: "Build busybox:latest and nginx:latest from Debian's packages (the Debian base is cached) " +
			"and kindish/testbox from this source tree, and load those that changed into the local engine; " +
			"`kindish load docker-image` then brings them into a cluster.",
		Args: cobra.NoArgs,
		RunE: g.withManager(func(cmd *cobra.Command, _ []string, m *cluster.Manager) error {
			_, err := m.BuildImages(cmd.Context())
			return err
		}),
	}
	build.AddCommand(nodeImage, workloadImages)
	return build
}
