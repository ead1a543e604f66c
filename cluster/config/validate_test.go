package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validCluster is a defaulted two-node cluster that passes Validate; each
// case below breaks one thing.
func validCluster() *Cluster {
	c := &Cluster{
		Name: "kindish",
		Nodes: []Node{
			{
				Role:   ControlPlaneRole,
				Labels: map[string]string{"example.com/tier": "frontend"},
				ExtraMounts: []Mount{{
					HostPath: "/tmp/x", ContainerPath: "/x", Readonly: true,
				}},
				ExtraPortMappings: []PortMapping{{ContainerPort: 80, HostPort: 8080}},
			},
			{Role: WorkerRole},
		},
		FeatureGates: map[string]bool{"SomeGate": true},
	}
	SetDefaults(c, testImage)
	return c
}

func TestValidateAcceptsValidConfigs(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Cluster)
	}{
		{"the base config", func(c *Cluster) {}},
		{"name with dots and dashes", func(c *Cluster) { c.Name = "my.cluster-1" }},
		{"name of 50 characters", func(c *Cluster) { c.Name = strings.Repeat("a", 50) }},
		{"no kube-proxy", func(c *Cluster) { c.Networking.KubeProxyMode = NoneProxyMode }},
		{"random host ports may repeat", func(c *Cluster) {
			c.Nodes[1].ExtraPortMappings = []PortMapping{
				{ContainerPort: 80, HostPort: 0, ListenAddress: "0.0.0.0", Protocol: PortMappingProtocolTCP},
				{ContainerPort: 81, HostPort: 0, ListenAddress: "0.0.0.0", Protocol: PortMappingProtocolTCP},
			}
		}},
		{"same host port, other protocol", func(c *Cluster) {
			c.Nodes[1].ExtraPortMappings = []PortMapping{{ContainerPort: 80, HostPort: 8080, ListenAddress: "0.0.0.0", Protocol: PortMappingProtocolUDP}}
		}},
		{"same host port, other specific addresses", func(c *Cluster) {
			c.Nodes[0].ExtraPortMappings[0].ListenAddress = "127.0.0.1"
			c.Nodes[1].ExtraPortMappings = []PortMapping{{ContainerPort: 80, HostPort: 8080, ListenAddress: "127.0.0.2", Protocol: PortMappingProtocolTCP}}
		}},
		{"an IPv6 listen address", func(c *Cluster) { c.Nodes[0].ExtraPortMappings[0].ListenAddress = "::1" }},
		{"pod subnet exactly big enough for 4 nodes", func(c *Cluster) {
			c.Nodes = append(c.Nodes, Node{Role: WorkerRole, Image: testImage}, Node{Role: WorkerRole, Image: testImage})
			c.Networking.PodSubnet = "10.244.0.0/22"
		}},
		{"unmasked subnets", func(c *Cluster) { c.Networking.PodSubnet = "10.244.1.0/16" }},
		{"service subnet of /28", func(c *Cluster) { c.Networking.ServiceSubnet = "10.96.0.0/28" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validCluster()
			tt.mutate(c)
			if err := Validate(c); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

// Each rule's message names the field path, in the shape of Kubernetes API
// validation errors.
func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Cluster)
		want   []string
	}{
		{
			name:   "name with upper case and underscore",
			mutate: func(c *Cluster) { c.Name = "My_Cluster" },
			want:   []string{`name: Invalid value: "My_Cluster": must consist of lower case alphanumeric characters, '-' or '.' (regex used for validation is '^[a-z0-9.-]+$')`},
		},
		{
			name:   "name too long for hostnames",
			mutate: func(c *Cluster) { c.Name = strings.Repeat("a", 51) },
			want: []string{`name: Invalid value: "` + strings.Repeat("a", 51) + `": must be no more than 50 characters, so that node names such as "` +
				strings.Repeat("a", 51) + `-control-plane" stay valid hostnames (at most 64 characters)`},
		},
		{
			name:   "empty name",
			mutate: func(c *Cluster) { c.Name = "" },
			want:   []string{`name: Required value: the cluster needs a name`},
		},
		{
			name:   "unknown role",
			mutate: func(c *Cluster) { c.Nodes[1].Role = "master" },
			want:   []string{`nodes[1].role: Unsupported value: "master": supported values: "control-plane", "worker"`},
		},
		{
			name:   "no control-plane node",
			mutate: func(c *Cluster) { c.Nodes[0].Role = WorkerRole },
			want:   []string{`nodes: Required value: at least one control-plane node is required`},
		},
		{
			name:   "no nodes at all",
			mutate: func(c *Cluster) { c.Nodes = nil },
			want:   []string{`nodes: Required value: at least one control-plane node is required`},
		},
		{
			name: "three control-plane nodes",
			mutate: func(c *Cluster) {
				c.Nodes = append(c.Nodes, Node{Role: ControlPlaneRole, Image: testImage}, Node{Role: ControlPlaneRole, Image: testImage})
			},
			want: []string{`nodes: Forbidden: 3 control-plane nodes: more than one control-plane node is not supported yet`},
		},
		{
			name:   "node without image",
			mutate: func(c *Cluster) { c.Nodes[1].Image = "" },
			want:   []string{`nodes[1].image: Required value: no image given and no default image`},
		},
		{
			name:   "bad label key and value",
			mutate: func(c *Cluster) { c.Nodes[1].Labels = map[string]string{"bad key": "ok", "tier": "not ok!"} },
			want: []string{
				`nodes[1].labels: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
				`nodes[1].labels[tier]: Invalid value: "not ok!": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
			},
		},
		{
			name: "relative and missing mount paths",
			mutate: func(c *Cluster) {
				c.Nodes[0].ExtraMounts = []Mount{{HostPath: "./foo", ContainerPath: "bar"}, {}}
			},
			want: []string{
				`nodes[0].extraMounts[0].hostPath: Invalid value: "./foo": must be an absolute path`,
				`nodes[0].extraMounts[0].containerPath: Invalid value: "bar": must be an absolute path`,
				`nodes[0].extraMounts[1].hostPath: Required value`,
				`nodes[0].extraMounts[1].containerPath: Required value`,
			},
		},
		{
			name:   "unknown mount propagation",
			mutate: func(c *Cluster) { c.Nodes[0].ExtraMounts[0].Propagation = "Shared" },
			want:   []string{`nodes[0].extraMounts[0].propagation: Unsupported value: "Shared": supported values: "None", "HostToContainer", "Bidirectional"`},
		},
		{
			name: "ports out of range",
			mutate: func(c *Cluster) {
				c.Nodes[0].ExtraPortMappings[0].ContainerPort = 0
				c.Nodes[0].ExtraPortMappings[0].HostPort = 70000
			},
			want: []string{
				`nodes[0].extraPortMappings[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive`,
				`nodes[0].extraPortMappings[0].hostPort: Invalid value: 70000: must be between 0 and 65535, inclusive (0 picks a free port)`,
			},
		},
		{
			name:   "listen address not an IP",
			mutate: func(c *Cluster) { c.Nodes[0].ExtraPortMappings[0].ListenAddress = "localhost" },
			want:   []string{`nodes[0].extraPortMappings[0].listenAddress: Invalid value: "localhost": must be an IP address`},
		},
		{
			name:   "unknown protocol",
			mutate: func(c *Cluster) { c.Nodes[0].ExtraPortMappings[0].Protocol = "tcp" },
			want:   []string{`nodes[0].extraPortMappings[0].protocol: Unsupported value: "tcp": supported values: "TCP", "UDP", "SCTP"`},
		},
		{
			name: "same host port, address and protocol on two nodes",
			mutate: func(c *Cluster) {
				c.Nodes[1].ExtraPortMappings = []PortMapping{{ContainerPort: 8080, HostPort: 8080, ListenAddress: "0.0.0.0", Protocol: PortMappingProtocolTCP}}
			},
			want: []string{`nodes[1].extraPortMappings[0]: Duplicate value: "0.0.0.0:8080/TCP": already mapped by nodes[0].extraPortMappings[0]`},
		},
		{
			name: ":: is the same as 0.0.0.0",
			mutate: func(c *Cluster) {
				c.Nodes[0].ExtraPortMappings = append(c.Nodes[0].ExtraPortMappings, PortMapping{ContainerPort: 81, HostPort: 8080, ListenAddress: "::", Protocol: PortMappingProtocolTCP})
			},
			want: []string{`nodes[0].extraPortMappings[1]: Duplicate value: "0.0.0.0:8080/TCP": already mapped by nodes[0].extraPortMappings[0]`},
		},
		{
			name: "0.0.0.0 and a specific address on the same port",
			mutate: func(c *Cluster) {
				c.Nodes[1].ExtraPortMappings = []PortMapping{{ContainerPort: 80, HostPort: 8080, ListenAddress: "127.0.0.1", Protocol: PortMappingProtocolTCP}}
			},
			want: []string{`nodes[1].extraPortMappings[0]: Invalid value: "127.0.0.1:8080/TCP": conflicts with nodes[0].extraPortMappings[0] (0.0.0.0:8080/TCP): 0.0.0.0 listens on every host address`},
		},
		{
			name: "a port mapping on the API server's port",
			mutate: func(c *Cluster) {
				c.Networking.APIServerPort = 8080
			},
			want: []string{`nodes[0].extraPortMappings[0]: Invalid value: "0.0.0.0:8080/TCP": conflicts with networking.apiServerPort (127.0.0.1:8080/TCP): 0.0.0.0 listens on every host address`},
		},
		{
			name:   "kind's -1 without defaults",
			mutate: func(c *Cluster) { c.Nodes[0].ExtraPortMappings[0].HostPort = -1 },
			want:   []string{`nodes[0].extraPortMappings[0].hostPort: Invalid value: -1: must be between 0 and 65535, inclusive (0 picks a free port)`},
		},
		{
			name:   "ipvs",
			mutate: func(c *Cluster) { c.Networking.KubeProxyMode = IPVSProxyMode },
			want:   []string{`networking.kubeProxyMode: Unsupported value: "ipvs": supported values: "iptables", "none" (kindish's kube-proxy implements the iptables mode only)`},
		},
		{
			name:   "nftables",
			mutate: func(c *Cluster) { c.Networking.KubeProxyMode = NFTablesProxyMode },
			want:   []string{`networking.kubeProxyMode: Unsupported value: "nftables": supported values: "iptables", "none" (kindish's kube-proxy implements the iptables mode only)`},
		},
		{
			name:   "unknown proxy mode",
			mutate: func(c *Cluster) { c.Networking.KubeProxyMode = "userspace" },
			want:   []string{`networking.kubeProxyMode: Unsupported value: "userspace": supported values: "iptables", "none"`},
		},
		{
			name:   "dual stack",
			mutate: func(c *Cluster) { c.Networking.IPFamily = DualStackFamily },
			want:   []string{`networking.ipFamily: Unsupported value: "dual": supported values: "ipv4" (kindish supports IPv4 clusters only)`},
		},
		{
			name:   "unknown IP family",
			mutate: func(c *Cluster) { c.Networking.IPFamily = "ipx" },
			want:   []string{`networking.ipFamily: Unsupported value: "ipx": supported values: "ipv4"`},
		},
		{
			name: "API server address and port",
			mutate: func(c *Cluster) {
				c.Networking.APIServerAddress = "localhost"
				c.Networking.APIServerPort = 65536
			},
			want: []string{
				`networking.apiServerAddress: Invalid value: "localhost": must be an IP address`,
				`networking.apiServerPort: Invalid value: 65536: must be between 0 and 65535, inclusive (0 picks a free port)`,
			},
		},
		{
			name: "subnets that are not IPv4 CIDRs",
			mutate: func(c *Cluster) {
				c.Networking.PodSubnet = "10.244.0.0"
				c.Networking.ServiceSubnet = "fd00:10:96::/112"
			},
			want: []string{
				`networking.podSubnet: Invalid value: "10.244.0.0": must be a single IPv4 CIDR, such as 10.244.0.0/16`,
				`networking.serviceSubnet: Invalid value: "fd00:10:96::/112": must be an IPv4 CIDR (kindish supports IPv4 clusters only)`,
			},
		},
		{
			name:   "kind's dual-stack subnet list",
			mutate: func(c *Cluster) { c.Networking.PodSubnet = "10.244.0.0/16,fd00:10:244::/56" },
			want:   []string{`networking.podSubnet: Invalid value: "10.244.0.0/16,fd00:10:244::/56": must be a single IPv4 CIDR, such as 10.244.0.0/16`},
		},
		{
			name:   "overlapping subnets",
			mutate: func(c *Cluster) { c.Networking.ServiceSubnet = "10.244.128.0/20" },
			want:   []string{`networking.serviceSubnet: Invalid value: "10.244.128.0/20": overlaps networking.podSubnet (10.244.0.0/16): pod and Service addresses must not be confused`},
		},
		{
			name:   "pod subnet too small for one node",
			mutate: func(c *Cluster) { c.Nodes = c.Nodes[:1]; c.Networking.PodSubnet = "10.244.0.0/25" },
			want:   []string{`networking.podSubnet: Invalid value: "10.244.0.0/25": too small for 1 node(s): each node gets a /24 of it, so it must be a /24 or larger`},
		},
		{
			name: "pod subnet too small for five nodes",
			mutate: func(c *Cluster) {
				for range 3 {
					c.Nodes = append(c.Nodes, Node{Role: WorkerRole, Image: testImage})
				}
				c.Networking.PodSubnet = "10.244.0.0/22"
			},
			want: []string{`networking.podSubnet: Invalid value: "10.244.0.0/22": too small for 5 node(s): each node gets a /24 of it, so it must be a /21 or larger`},
		},
		{
			name:   "service subnet too small for the DNS address",
			mutate: func(c *Cluster) { c.Networking.ServiceSubnet = "10.96.0.0/29" },
			want:   []string{`networking.serviceSubnet: Invalid value: "10.96.0.0/29": must be a /28 or larger: the cluster DNS Service takes the tenth address of the range`},
		},
		{
			name:   "empty feature gate name",
			mutate: func(c *Cluster) { c.FeatureGates[""] = true },
			want:   []string{`featureGates: Invalid value: "": feature gate names must not be empty`},
		},
		{
			name:   "preload images that are not references",
			mutate: func(c *Cluster) { c.PreloadImages = []string{"busybox", "", "Nginx:1"} },
			want: []string{
				`preloadImages[1]: Required value: an image reference is required`,
				`preloadImages[2]: Invalid value: "Nginx:1": invalid reference format: repository name (library/Nginx) must be lowercase`,
			},
		},
		{
			name: "every problem at once",
			mutate: func(c *Cluster) {
				c.Name = "Bad"
				c.Nodes[1].Role = "master"
				c.Networking.KubeProxyMode = IPVSProxyMode
			},
			want: []string{
				`name: Invalid value: "Bad": must consist of lower case alphanumeric characters, '-' or '.' (regex used for validation is '^[a-z0-9.-]+$')`,
				`nodes[1].role: Unsupported value: "master": supported values: "control-plane", "worker"`,
				`networking.kubeProxyMode: Unsupported value: "ipvs": supported values: "iptables", "none" (kindish's kube-proxy implements the iptables mode only)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validCluster()
			tt.mutate(c)
			err := Validate(c)
			if err == nil {
				t.Fatalf("Validate = nil, want\n%s", strings.Join(tt.want, "\n"))
			}
			if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate =\n%s\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
			var fe *field.Error
			if !errors.As(err, &fe) {
				t.Errorf("Validate's error holds no *field.Error")
			}
		})
	}
}
