package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kindish/kindish/cluster"
)

func newDeleteCommand(g *globals) *cobra.Command {
	del := &cobra.Command{Use: "delete", Short: "Delete clusters"}
	var name, kubeconfig string
	one := &cobra.Command{
		Use:   "cluster",
		Short: "Delete a cluster: its nodes, their volumes and its kubeconfig entries",
		Args:  cobra.NoArgs,
		RunE: g.withManager(func(cmd *cobra.Command, _ []string, m *cluster.Manager) error {
			return m.Delete(cmd.Context(), clusterName(name), kubeconfig)
		}),
	}
	one.Flags().StringVarP(&name, "name", "n", "", nameFlagHelp())
	one.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file to remove the entries from (default $KUBECONFIG or ~/.kube/config)")

	var all bool
	var allKubeconfig string
	many := &cobra.Command{
		Use:   "clusters [NAME...]",
		Short: "Delete the named clusters, or every cluster with --all",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all == (len(args) > 0) {
				return usageError{fmt.Errorf("give cluster names or --all, not both and not neither")}
			}
			m, err := g.manager(cmd.Context())
			if err != nil {
				return err
			}
			defer m.Close()
			if all {
				if args, err = m.List(cmd.Context()); err != nil {
					return err
				}
			}
			return m.DeleteMany(cmd.Context(), args, allKubeconfig)
		},
	}
	many.Flags().BoolVarP(&all, "all", "A", false, "delete every kindish cluster")
	many.Flags().StringVar(&allKubeconfig, "kubeconfig", "", "kubeconfig file to remove the entries from")
	del.AddCommand(one, many)
	return del
}
