package config

const (
	// DefaultName is the cluster name when neither the flag, the
	// environment nor the file gives one.
	DefaultName = "kindish"
	// NameEnv is the environment variable that names the cluster, below the
	// --name flag and above the file, like kind's KIND_CLUSTER_NAME.
	NameEnv = "KINDISH_CLUSTER_NAME"

	defaultAPIServerAddress = "127.0.0.1"
	// The pod and service ranges are kind's, so that addresses people know
	// from kind (kube-dns at 10.96.0.10) hold here too.
	defaultPodSubnet     = "10.244.0.0/16"
	defaultServiceSubnet = "10.96.0.0/16"
	defaultListenAddress = "0.0.0.0"
)

// Default returns the config used when there is no file: one control-plane
// node, every default applied except the node image, which SetDefaults
// fills in.
func Default() *Cluster {
	c := &Cluster{
		TypeMeta: TypeMeta{Kind: ClusterKind, APIVersion: APIVersion},
	}
	SetDefaults(c, "")
	return c
}

// OverrideName applies the cluster name precedence, the same as kind's:
// the --name flag, then the environment variable (NameEnv), then the name
// in the file, then DefaultName (set by SetDefaults). Empty values do not
// override. The caller reads the flag and the environment so that this
// package stays free of both.
func OverrideName(c *Cluster, flagName, envName string) {
	switch {
	case flagName != "":
		c.Name = flagName
	case envName != "":
		c.Name = envName
	}
}

// SetDefaults fills every unset field with its default. defaultImage is the
// node image for nodes that name none; an empty defaultImage leaves them
// unset (Validate then reports them). Calling it twice changes nothing.
func SetDefaults(c *Cluster, defaultImage string) {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if len(c.Nodes) == 0 {
		c.Nodes = []Node{{Role: ControlPlaneRole}}
	}
	for i := range c.Nodes {
		setNodeDefaults(&c.Nodes[i], defaultImage)
	}

	n := &c.Networking
	if n.IPFamily == "" {
		n.IPFamily = IPv4Family
	}
	if n.APIServerAddress == "" {
		n.APIServerAddress = defaultAPIServerAddress
	}
	// Unlike kind, the pod subnet is defaulted even with disableDefaultCNI:
	// kindish's controller manager hands each node its /24 from it whatever
	// the CNI.
	if n.PodSubnet == "" {
		n.PodSubnet = defaultPodSubnet
	}
	if n.ServiceSubnet == "" {
		n.ServiceSubnet = defaultServiceSubnet
	}
	if n.KubeProxyMode == "" {
		n.KubeProxyMode = IPTablesProxyMode
	}
	n.APIServerPort = pickedPort(n.APIServerPort)
}

// pickedPort turns kind's -1 ("let the container engine pick the host
// port") into 0 ("kindish picks a free one"): the user still gets some free
// port, and one that kindish writes into the container's configuration
// stays the same when the container restarts, which is better than what -1
// gives in kind.
func pickedPort(port int32) int32 {
	if port == -1 {
		return 0
	}
	return port
}

func setNodeDefaults(n *Node, defaultImage string) {
	if n.Role == "" {
		n.Role = ControlPlaneRole
	}
	if n.Image == "" {
		n.Image = defaultImage
	}
	for i := range n.ExtraPortMappings {
		pm := &n.ExtraPortMappings[i]
		if pm.Protocol == "" {
			pm.Protocol = PortMappingProtocolTCP
		}
		if pm.ListenAddress == "" {
			pm.ListenAddress = defaultListenAddress
		}
		pm.HostPort = pickedPort(pm.HostPort)
	}
	for i := range n.ExtraMounts {
		if n.ExtraMounts[i].Propagation == "" {
			n.ExtraMounts[i].Propagation = MountPropagationNone
		}
	}
}
