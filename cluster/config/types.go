package config

// The types below mirror kind's v1alpha4 API (sigs.k8s.io/kind/pkg/apis/config/v1alpha4):
// the same field names, JSON tags and enumerations, so that one decoder reads
// both kind's files and ours.

// Cluster is the whole config file: the nodes to create and the cluster-wide
// settings.
type Cluster struct {
	TypeMeta `json:",inline"`

	// Name is the cluster name. The --name flag and KINDISH_CLUSTER_NAME
	// override it; see OverrideName.
	Name string `json:"name,omitempty"`

	// Nodes lists the node containers to create. Empty means one
	// control-plane node.
	Nodes []Node `json:"nodes,omitempty"`

	Networking Networking `json:"networking,omitempty"`

	// FeatureGates are passed to every Kubernetes component.
	FeatureGates map[string]bool `json:"featureGates,omitempty"`

	// RuntimeConfig is kube-apiserver's --runtime-config in kind. Ignored.
	RuntimeConfig map[string]string `json:"runtimeConfig,omitempty"`

	// KubeadmConfigPatches and KubeadmConfigPatchesJSON6902 patch the
	// kubeadm config kind generates. kindish runs no kubeadm; of the merge
	// patches it uses the control-plane components' extraArgs of a
	// ClusterConfiguration (see ControlPlaneExtraArgs) and ignores the rest.
	KubeadmConfigPatches         []string        `json:"kubeadmConfigPatches,omitempty"`
	KubeadmConfigPatchesJSON6902 []PatchJSON6902 `json:"kubeadmConfigPatchesJSON6902,omitempty"`

	// ContainerdConfigPatches and ContainerdConfigPatchesJSON6902 patch the
	// nodes' containerd config in kind. kindish writes a containerd config
	// tuned to the machines it runs on: ignored.
	ContainerdConfigPatches         []string `json:"containerdConfigPatches,omitempty"`
	ContainerdConfigPatchesJSON6902 []string `json:"containerdConfigPatchesJSON6902,omitempty"`

	// PreloadImages are images from the local Docker engine that every node
	// holds from the start, as if `kindish load docker-image` had loaded
	// them. kindish's own field: kind has none.
	PreloadImages []string `json:"preloadImages,omitempty"`
}

// TypeMeta is the kind and apiVersion of a config file, as in Kubernetes
// objects.
type TypeMeta struct {
	Kind       string `json:"kind,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
}

// Node is one node container of the cluster.
type Node struct {
	// Role is control-plane (the default) or worker.
	Role NodeRole `json:"role,omitempty"`

	// Image is the node image; empty means the default given to SetDefaults.
	Image string `json:"image,omitempty"`

	// Labels are added to the Kubernetes Node object.
	Labels map[string]string `json:"labels,omitempty"`

	// ExtraMounts are bind mounts from the host into the node container.
	ExtraMounts []Mount `json:"extraMounts,omitempty"`

	// ExtraPortMappings publish ports of the node container on the host.
	ExtraPortMappings []PortMapping `json:"extraPortMappings,omitempty"`

	// Per-node kubeadm patches, as in Cluster; a ClusterConfiguration is
	// used on the control-plane node only.
	KubeadmConfigPatches         []string        `json:"kubeadmConfigPatches,omitempty"`
	KubeadmConfigPatchesJSON6902 []PatchJSON6902 `json:"kubeadmConfigPatchesJSON6902,omitempty"`
}

// NodeRole is what a node runs: the control plane, or only workloads.
type NodeRole string

const (
	// ControlPlaneRole nodes run etcd and the control plane as static pods.
	// In a cluster without workers they run workloads as well.
	ControlPlaneRole NodeRole = "control-plane"
	// WorkerRole nodes run only the kubelet, kube-proxy and workloads.
	WorkerRole NodeRole = "worker"
)

// Networking holds the cluster-wide network settings.
type Networking struct {
	// IPFamily is ipv4, ipv6 or dual in kind. kindish supports ipv4 only.
	IPFamily ClusterIPFamily `json:"ipFamily,omitempty"`

	// APIServerPort is the host port the API server is published on.
	// 0 lets kindish pick a free port. kind's -1 is accepted and means the
	// same (see SetDefaults).
	APIServerPort int32 `json:"apiServerPort,omitempty"`

	// APIServerAddress is the host address the API server is published on.
	APIServerAddress string `json:"apiServerAddress,omitempty"`

	// PodSubnet is the CIDR pod IPs come from; each node gets a /24 of it.
	PodSubnet string `json:"podSubnet,omitempty"`

	// ServiceSubnet is the CIDR Service cluster IPs come from.
	ServiceSubnet string `json:"serviceSubnet,omitempty"`

	// DisableDefaultCNI skips kindnetd so the user can install a CNI.
	DisableDefaultCNI bool `json:"disableDefaultCNI,omitempty"`

	// KubeProxyMode is iptables (the default) or none (no kube-proxy).
	KubeProxyMode ProxyMode `json:"kubeProxyMode,omitempty"`

	// DNSSearch sets the nodes' DNS search domains in kind. Ignored.
	DNSSearch *[]string `json:"dnsSearch,omitempty"`
}

// ClusterIPFamily is the IP family of the cluster network.
type ClusterIPFamily string

const (
	IPv4Family      ClusterIPFamily = "ipv4"
	IPv6Family      ClusterIPFamily = "ipv6"
	DualStackFamily ClusterIPFamily = "dual"
)

// ProxyMode is how kube-proxy programs Service virtual IPs.
type ProxyMode string

const (
	IPTablesProxyMode ProxyMode = "iptables"
	// NoneProxyMode runs no kube-proxy at all.
	NoneProxyMode ProxyMode = "none"
	// IPVSProxyMode and NFTablesProxyMode are kind's other modes; kindish
	// rejects them with a message saying so.
	IPVSProxyMode     ProxyMode = "ipvs"
	NFTablesProxyMode ProxyMode = "nftables"
)

// PatchJSON6902 is an RFC 6902 patch with the kind of object it applies to.
// kindish only parses it, so that kind files load.
type PatchJSON6902 struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
	Patch   string `json:"patch"`
}

// Mount is a bind mount from the host into a node container.
type Mount struct {
	ContainerPath string `json:"containerPath,omitempty"`
	HostPath      string `json:"hostPath,omitempty"`
	// Readonly keeps kind's Go name; the file spells it readOnly.
	Readonly       bool             `json:"readOnly,omitempty"`
	SelinuxRelabel bool             `json:"selinuxRelabel,omitempty"`
	Propagation    MountPropagation `json:"propagation,omitempty"`
}

// MountPropagation is the mount propagation of an extra mount.
type MountPropagation string

const (
	// MountPropagationNone is a private mount (the default).
	MountPropagationNone MountPropagation = "None"
	// MountPropagationHostToContainer is rslave.
	MountPropagationHostToContainer MountPropagation = "HostToContainer"
	// MountPropagationBidirectional is rshared.
	MountPropagationBidirectional MountPropagation = "Bidirectional"
)

// PortMapping publishes a port of a node container on the host.
type PortMapping struct {
	ContainerPort int32 `json:"containerPort,omitempty"`
	// HostPort 0 picks a free port; kind's -1 is accepted and means the
	// same (see SetDefaults).
	HostPort int32 `json:"hostPort,omitempty"`
	// ListenAddress is the host address to listen on; default 0.0.0.0.
	ListenAddress string              `json:"listenAddress,omitempty"`
	Protocol      PortMappingProtocol `json:"protocol,omitempty"`
}

// PortMappingProtocol is the transport protocol of a port mapping.
type PortMappingProtocol string

const (
	PortMappingProtocolTCP  PortMappingProtocol = "TCP"
	PortMappingProtocolUDP  PortMappingProtocol = "UDP"
	PortMappingProtocolSCTP PortMappingProtocol = "SCTP"
)
