package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kindish/kindish/cluster"
)

func newExportCommand(g *globals) *cobra.Command {
	export := &cobra.Command{Use: "export", Short: "Export a kubeconfig or logs"}
	var kcName, kcPath string
	var internal bool
	kubeconfig := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Merge a cluster's kubeconfig into the kubeconfig file and make it current",
		Args:  cobra.NoArgs,
		RunE: g.withManager(func(cmd *cobra.Command, _ []string, m *cluster.Manager) error {
			path, err := m.ExportKubeconfig(cmd.Context(), clusterName(kcName), kcPath, internal)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Set kubectl context to %q in %s\n", "kindish-"+m.ResolveName(clusterName(kcName)), path)
			return nil
		}),
	}
	kubeconfig.Flags().StringVarP(&kcName, "name", "n", "", nameFlagHelp())
	kubeconfig.Flags().StringVar(&kcPath, "kubeconfig", "", "kubeconfig file to write to (default $KUBECONFIG or ~/.kube/config)")
	kubeconfig.Flags().BoolVar(&internal, "internal", false, "use the control plane's address on the kindish network")

	var logsName string
	logs := &cobra.Command{
		Use:   "logs [DIR]",
		Short: "Write the nodes' logs to DIR (default: a new temporary folder)",
		Args:  cobra.MaximumNArgs(1),
		RunE: g.withManager(func(cmd *cobra.Command, args []string, m *cluster.Manager) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			dir, err := m.ExportLogs(cmd.Context(), clusterName(logsName), dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Exported logs for cluster %q to:\n%s\n", m.ResolveName(clusterName(logsName)), dir)
			return nil
		}),
	}
	logs.Flags().StringVarP(&logsName, "name", "n", "", nameFlagHelp())
	export.AddCommand(kubeconfig, logs)
	return export
}
