package config

import (
	"reflect"
	"testing"
)

// An empty config becomes one control-plane node with kind's network
// defaults, and every port mapping gets TCP on 0.0.0.0.
func TestSetDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Cluster
		want Cluster
	}{
		{
			name: "empty config",
			in:   Cluster{},
			want: Cluster{
				Name:       "kindish",
				Nodes:      []Node{{Role: ControlPlaneRole, Image: testImage}},
				Networking: defaultNetworking(),
			},
		},
		{
			name: "nodes without role or image, port mappings and mounts without options",
			in: Cluster{Nodes: []Node{
				{},
				{
					Role:              WorkerRole,
					ExtraPortMappings: []PortMapping{{ContainerPort: 80}},
					ExtraMounts:       []Mount{{HostPath: "/a", ContainerPath: "/b"}},
				},
			}},
			want: Cluster{
				Name: "kindish",
				Nodes: []Node{
					{Role: ControlPlaneRole, Image: testImage},
					{
						Role:              WorkerRole,
						Image:             testImage,
						ExtraPortMappings: []PortMapping{{ContainerPort: 80, ListenAddress: "0.0.0.0", Protocol: PortMappingProtocolTCP}},
						ExtraMounts:       []Mount{{HostPath: "/a", ContainerPath: "/b", Propagation: MountPropagationNone}},
					},
				},
				Networking: defaultNetworking(),
			},
		},
		{
			name: "values from the file are kept",
			in: Cluster{
				Name: "mine",
				Nodes: []Node{{
					Role: ControlPlaneRole, Image: "other:1",
					ExtraPortMappings: []PortMapping{{ContainerPort: 53, ListenAddress: "127.0.0.1", Protocol: PortMappingProtocolUDP}},
				}},
				Networking: Networking{
					IPFamily: IPv4Family, APIServerAddress: "127.0.0.2", APIServerPort: 7443,
					PodSubnet: "10.100.0.0/16", ServiceSubnet: "10.200.0.0/16", KubeProxyMode: NoneProxyMode,
				},
			},
			want: Cluster{
				Name: "mine",
				Nodes: []Node{{
					Role: ControlPlaneRole, Image: "other:1",
					ExtraPortMappings: []PortMapping{{ContainerPort: 53, ListenAddress: "127.0.0.1", Protocol: PortMappingProtocolUDP}},
				}},
				Networking: Networking{
					IPFamily: IPv4Family, APIServerAddress: "127.0.0.2", APIServerPort: 7443,
					PodSubnet: "10.100.0.0/16", ServiceSubnet: "10.200.0.0/16", KubeProxyMode: NoneProxyMode,
				},
			},
		},
		{
			// kind's -1 lets Docker pick a port that changes on restart;
			// kindish picks one itself instead, which stays.
			name: "kind's -1 host ports become 0",
			in: Cluster{
				Nodes:      []Node{{ExtraPortMappings: []PortMapping{{ContainerPort: 80, HostPort: -1}}}},
				Networking: Networking{APIServerPort: -1},
			},
			want: Cluster{
				Name: "kindish",
				Nodes: []Node{{
					Role: ControlPlaneRole, Image: testImage,
					ExtraPortMappings: []PortMapping{{ContainerPort: 80, HostPort: 0, ListenAddress: "0.0.0.0", Protocol: PortMappingProtocolTCP}},
				}},
				Networking: defaultNetworking(),
			},
		},
		{
			// kind leaves the pod subnet empty in this case; kindish's
			// controller manager still needs it.
			name: "pod subnet defaulted even without the default CNI",
			in:   Cluster{Networking: Networking{DisableDefaultCNI: true}},
			want: Cluster{
				Name:  "kindish",
				Nodes: []Node{{Role: ControlPlaneRole, Image: testImage}},
				Networking: func() Networking {
					n := defaultNetworking()
					n.DisableDefaultCNI = true
					return n
				}(),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.in
			SetDefaults(&c, testImage)
			if !reflect.DeepEqual(c, tt.want) {
				t.Errorf("SetDefaults =\n%+v\nwant\n%+v", c, tt.want)
			}
			SetDefaults(&c, "another:image")
			if !reflect.DeepEqual(c, tt.want) {
				t.Errorf("SetDefaults is not idempotent: second call gave\n%+v", c)
			}
		})
	}
}

// Without a default image, nodes stay without one and Validate says so.
func TestSetDefaultsWithoutImage(t *testing.T) {
	c := &Cluster{}
	SetDefaults(c, "")
	want := `nodes[0].image: Required value: no image given and no default image`
	if err := Validate(c); err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %q", err, want)
	}
}

// Default is the no-file config: valid as soon as it has an image.
func TestDefault(t *testing.T) {
	c := Default()
	if c.Kind != ClusterKind || c.APIVersion != APIVersion {
		t.Errorf("type meta = %+v", c.TypeMeta)
	}
	if len(c.Nodes) != 1 || c.Nodes[0].Role != ControlPlaneRole {
		t.Errorf("nodes = %+v, want one control-plane node", c.Nodes)
	}
	SetDefaults(c, testImage)
	if err := Validate(c); err != nil {
		t.Errorf("Validate(Default()) = %v", err)
	}
}

// The name comes from the flag, then the environment, then the file, then
// the default, as in kind.
func TestNamePrecedence(t *testing.T) {
	tests := []struct {
		name            string
		flag, env, file string
		want            string
	}{
		{name: "flag wins over all", flag: "f", env: "e", file: "c", want: "f"},
		{name: "environment over file", env: "e", file: "c", want: "e"},
		{name: "file over default", file: "c", want: "c"},
		{name: "default last", want: DefaultName},
		{name: "flag over default", flag: "f", want: "f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cluster{Name: tt.file}
			OverrideName(c, tt.flag, tt.env)
			SetDefaults(c, testImage)
			if c.Name != tt.want {
				t.Errorf("name = %q, want %q", c.Name, tt.want)
			}
		})
	}
}

func defaultNetworking() Networking {
	return Networking{
		IPFamily:         IPv4Family,
		APIServerAddress: "127.0.0.1",
		PodSubnet:        "10.244.0.0/16",
		ServiceSubnet:    "10.96.0.0/16",
		KubeProxyMode:    IPTablesProxyMode,
	}
}
