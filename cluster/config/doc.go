// Package config reads, defaults and validates the cluster config file.
//
// The file format is kind's v1alpha4 Cluster, field for field, so a file
// written for kind works unchanged. The same schema is also accepted under
// kindish's own apiVersion, kindish.dev/v1alpha1. Fields that only make sense
// for kind's kubeadm-based nodes are accepted and reported as ignored
// warnings rather than errors, so nobody has to edit a working kind file.
// kubeadm patches are read, though: the control-plane components' extraArgs
// of a ClusterConfiguration are kindish's too (see ControlPlaneExtraArgs).
//
// A caller goes through four steps, in this order:
//
//	c, warnings, err := config.Load(path)        // or config.Default() without a file
//	config.OverrideName(c, flagName, os.Getenv(config.NameEnv))
//	config.SetDefaults(c, defaultNodeImage)
//	err = config.Validate(c)
//
// Load only decodes: it does not default, so that OverrideName can tell a
// name written in the file from no name at all.
package config
