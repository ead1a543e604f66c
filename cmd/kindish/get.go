package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kindish/kindish/cluster"
)

func newGetCommand(g *globals) *cobra.Command {
	get := &cobra.Command{Use: "get", Short: "Get clusters, nodes or a kubeconfig"}
	clusters := &cobra.Command{
		Use:   "clusters",
		Short: "List the clusters",
		Args:  cobra.NoArgs,
		RunE: g.withManager(func(cmd *cobra.Command, _ []string, m *cluster.Manager) error {
			names, err := m.List(cmd.Context())
			if err != nil {
				return err
			}
			if len(names) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "No kindish clusters found.")
			}
			for _, n := range names {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		}),
	}

	var nodesName string
	var allClusters bool
	nodes := &cobra.Command{
		Use:   "nodes",
		Short: "List a cluster's node containers",
		Args:  cobra.NoArgs,
		RunE: g.withManager(func(cmd *cobra.Command, _ []string, m *cluster.Manager) error {
			names := []string{m.ResolveName(clusterName(nodesName))}
			if allClusters {
				var err error
				if names, err = m.List(cmd.Context()); err != nil {
					return err
				}
			}
			found := false
			for _, c := range names {
				nodes, err := m.ListNodes(cmd.Context(), c)
				if err != nil {
					return err
				}
				for _, n := range nodes {
					found = true
					fmt.Fprintln(cmd.OutOrStdout(), n.Name)
				}
			}
			if !found {
				fmt.Fprintf(cmd.ErrOrStderr(), "No kindish nodes found for cluster %q.\n", names)
			}
			return nil
		}),
	}
	nodes.Flags().StringVarP(&nodesName, "name", "n", "", nameFlagHelp())
	nodes.Flags().BoolVarP(&allClusters, "all-clusters", "A", false, "list the nodes of every cluster")

	var kcName string
	var internal bool
	kubeconfig := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print a cluster's kubeconfig",
		Args:  cobra.NoArgs,
		RunE: g.withManager(func(cmd *cobra.Command, _ []string, m *cluster.Manager) error {
			data, err := m.Kubeconfig(cmd.Context(), clusterName(kcName), internal)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(data)
			return err
		}),
	}
	kubeconfig.Flags().StringVarP(&kcName, "name", "n", "", nameFlagHelp())
	kubeconfig.Flags().BoolVar(&internal, "internal", false, "use the control plane's address on the kindish network instead of the host port")
	get.AddCommand(clusters, nodes, kubeconfig)
	return get
}
