package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/kindish/kindish/cluster/version"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the kindish version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "kindish v%s kubernetes %s %s %s/%s\n",
				version.Version, version.KubernetesVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}
