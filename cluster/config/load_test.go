package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const testImage = "kindish/node:test"

// Files written for kind load unchanged: the right nodes, one warning line
// for each field kindish ignores, and (after defaults) a valid config unless
// they ask for something kindish does not do.
func TestKindFilesLoadUnchanged(t *testing.T) {
	tests := []struct {
		file         string
		wantRoles    []NodeRole
		wantWarnings []string
		wantInvalid  string // a line of Validate's error; "" means valid
		check        func(t *testing.T, c *Cluster)
	}{
		{
			file:      "kind-minimal.yaml",
			wantRoles: nil,
		},
		{
			file:      "kind-ingress.yaml",
			wantRoles: []NodeRole{ControlPlaneRole},
			wantWarnings: []string{
				"nodes[0].kubeadmConfigPatches[0]: ignored (InitConfiguration: kindish does not run kubeadm)",
			},
			check: func(t *testing.T, c *Cluster) {
				pms := c.Nodes[0].ExtraPortMappings
				if len(pms) != 2 || pms[0].HostPort != 80 || pms[1].ContainerPort != 443 || pms[1].Protocol != PortMappingProtocolTCP {
					t.Errorf("extraPortMappings = %+v", pms)
				}
			},
		},
		{
			file:      "kind-all-fields-doc.yaml",
			wantRoles: []NodeRole{ControlPlaneRole, WorkerRole, WorkerRole, WorkerRole},
			wantWarnings: []string{
				"kubeadmConfigPatches[0]: ignored (KubeletConfiguration: kindish does not run kubeadm)",
				"kubeadmConfigPatchesJSON6902: ignored (kindish does not run kubeadm)",
			},
			check: func(t *testing.T, c *Cluster) {
				p := c.KubeadmConfigPatchesJSON6902[0]
				if p.Group != "kubeadm.k8s.io" || p.Version != "v1beta3" || p.Kind != "ClusterConfiguration" || !strings.Contains(p.Patch, "certSANs") {
					t.Errorf("kubeadmConfigPatchesJSON6902[0] = %+v", p)
				}
			},
		},
		{
			file:      "kind-mounts-and-ports.yaml",
			wantRoles: []NodeRole{ControlPlaneRole, WorkerRole},
			wantWarnings: []string{
				"runtimeConfig: ignored (kindish's API server takes no --runtime-config)",
				"containerdConfigPatches: ignored (kindish writes its own containerd config)",
			},
			check: func(t *testing.T, c *Cluster) {
				want := Node{
					Role:   ControlPlaneRole,
					Image:  "kindish/node:0.1.0",
					Labels: map[string]string{"tier": "frontend"},
					ExtraMounts: []Mount{{
						HostPath: "/path/to/my/files", ContainerPath: "/files",
						Readonly: true, Propagation: MountPropagationNone,
					}},
					ExtraPortMappings: []PortMapping{{
						ContainerPort: 80, HostPort: 8080, ListenAddress: "127.0.0.1", Protocol: PortMappingProtocolTCP,
					}},
				}
				if !reflect.DeepEqual(c.Nodes[0], want) {
					t.Errorf("nodes[0] =\n%+v\nwant\n%+v", c.Nodes[0], want)
				}
				wantNet := Networking{
					IPFamily: IPv4Family, APIServerAddress: "127.0.0.1", APIServerPort: 6443,
					PodSubnet: "10.244.0.0/16", ServiceSubnet: "10.96.0.0/16", KubeProxyMode: IPTablesProxyMode,
				}
				if !reflect.DeepEqual(c.Networking, wantNet) {
					t.Errorf("networking = %+v, want %+v", c.Networking, wantNet)
				}
				if c.Name != "foo" || !c.FeatureGates["SomeGate"] || c.RuntimeConfig["api/alpha"] != "false" {
					t.Errorf("name, featureGates or runtimeConfig wrong: %+v", c)
				}
			},
		},
		{
			file:      "kind-workers-patches.yaml",
			wantRoles: []NodeRole{ControlPlaneRole, WorkerRole, WorkerRole, WorkerRole},
			wantWarnings: []string{
				"nodes[1].kubeadmConfigPatches[0]: ignored (JoinConfiguration: kindish does not run kubeadm)",
				"nodes[2].kubeadmConfigPatchesJSON6902: ignored (kindish does not run kubeadm)",
			},
		},
		{
			file:        "kind-ipv6.yaml",
			wantRoles:   []NodeRole{ControlPlaneRole, WorkerRole},
			wantInvalid: `networking.ipFamily: Unsupported value: "ipv6": supported values: "ipv4" (kindish supports IPv4 clusters only)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, warnings, err := Load(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Kind != ClusterKind || c.APIVersion != KindAPIVersion {
				t.Errorf("type meta = %+v", c.TypeMeta)
			}
			var roles []NodeRole
			for _, n := range c.Nodes {
				roles = append(roles, n.Role)
			}
			if !reflect.DeepEqual(roles, tt.wantRoles) {
				t.Errorf("roles = %v, want %v", roles, tt.wantRoles)
			}
			if !reflect.DeepEqual(warnings, tt.wantWarnings) {
				t.Errorf("warnings =\n%s\nwant\n%s", strings.Join(warnings, "\n"), strings.Join(tt.wantWarnings, "\n"))
			}
			if tt.check != nil {
				tt.check(t, c)
			}
			SetDefaults(c, testImage)
			err = Validate(c)
			switch {
			case tt.wantInvalid == "" && err != nil:
				t.Errorf("Validate: %v", err)
			case tt.wantInvalid != "" && (err == nil || !hasLine(err.Error(), tt.wantInvalid)):
				t.Errorf("Validate = %v, want a line %q", err, tt.wantInvalid)
			}
		})
	}
}

// kindish's own apiVersion takes the same schema.
func TestParseKindishAPIVersion(t *testing.T) {
	c, warnings, err := Parse([]byte(`
kind: Cluster
apiVersion: kindish.dev/v1alpha1
name: demo
nodes:
- role: control-plane
- role: worker
  labels: {tier: backend}
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	if c.APIVersion != APIVersion || c.Name != "demo" || len(c.Nodes) != 2 || c.Nodes[1].Labels["tier"] != "backend" {
		t.Errorf("cluster = %+v", c)
	}
}

// Parse only decodes: what the file leaves out stays empty for OverrideName
// and SetDefaults to fill.
func TestParseDoesNotDefault(t *testing.T) {
	c, _, err := Parse([]byte("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Cluster{TypeMeta: TypeMeta{Kind: ClusterKind, APIVersion: KindAPIVersion}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("cluster = %+v, want %+v", c, want)
	}
}

// YAML scalars in string fields become strings, as in kind: a label value
// written as a number or a boolean is not a type error.
func TestParseScalarsIntoStringFields(t *testing.T) {
	c, _, err := Parse([]byte(`
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- labels: {version: 2, canary: true}
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := map[string]string{"version": "2", "canary": "true"}
	if !reflect.DeepEqual(c.Nodes[0].Labels, want) {
		t.Errorf("labels = %v, want %v", c.Nodes[0].Labels, want)
	}
}

// Ignored fields that are present but empty change nothing, so they do not
// warn either.
func TestParseEmptyIgnoredFieldsDoNotWarn(t *testing.T) {
	_, warnings, err := Parse([]byte(`
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
runtimeConfig: {}
kubeadmConfigPatches: []
containerdConfigPatchesJSON6902: []
`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
}

// networking.dnsSearch is a pointer to a list in kind: set, even empty, it
// means something there, so it warns here.
func TestParseWarnsDNSSearch(t *testing.T) {
	_, warnings, err := Parse([]byte(header + "networking:\n  dnsSearch: []\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []string{"networking.dnsSearch: ignored (nodes keep the container engine's DNS settings)"}
	if !reflect.DeepEqual(warnings, want) {
		t.Errorf("warnings = %q, want %q", warnings, want)
	}
}

const header = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"

// Every decoding problem is an error that names where it is; all of them
// are reported at once.
func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // the error's lines, exactly
	}{
		{
			name: "unknown field in a node",
			yaml: header + "nodes:\n- rolez: worker\n",
			want: []string{`config: unknown field "nodes[0].rolez"`},
		},
		{
			name: "unknown field deep in a port mapping",
			yaml: header + "nodes:\n- role: control-plane\n- role: worker\n  extraPortMappings:\n  - containerPort: 80\n    hostPrt: 8080\n",
			want: []string{`config: unknown field "nodes[1].extraPortMappings[0].hostPrt"`},
		},
		{
			name: "unknown top-level field",
			yaml: header + "nodez: []\n",
			want: []string{`config: unknown field "nodez"`},
		},
		{
			name: "unknown field in networking",
			yaml: header + "networking:\n  podCIDR: 10.0.0.0/8\n",
			want: []string{`config: unknown field "networking.podCIDR"`},
		},
		{
			name: "labels not a map",
			yaml: header + "nodes:\n- labels: [a, b]\n",
			want: []string{`config: nodes[0].labels: expected a map of strings, got a list`},
		},
		{
			name: "label value not a scalar",
			yaml: header + "nodes:\n- labels: {a: {b: c}}\n",
			want: []string{`config: nodes[0].labels[a]: expected a string, got a mapping`},
		},
		{
			name: "port is a string",
			yaml: header + "nodes:\n- extraPortMappings:\n  - containerPort: http\n",
			want: []string{`config: nodes[0].extraPortMappings[0].containerPort: expected a 32-bit integer, got a string ("http")`},
		},
		{
			name: "port is fractional",
			yaml: header + "networking:\n  apiServerPort: 64.5\n",
			want: []string{`config: networking.apiServerPort: expected a 32-bit integer, got a number (64.5)`},
		},
		{
			name: "port overflows int32",
			yaml: header + "networking:\n  apiServerPort: 99999999999\n",
			want: []string{`config: networking.apiServerPort: expected a 32-bit integer, got a number (99999999999)`},
		},
		{
			name: "boolean is a string",
			yaml: header + "networking:\n  disableDefaultCNI: \"yes please\"\n",
			want: []string{`config: networking.disableDefaultCNI: expected a boolean, got a string ("yes please")`},
		},
		{
			name: "feature gate is not a boolean",
			yaml: header + "featureGates: {SomeGate: on-ish}\n",
			want: []string{`config: featureGates[SomeGate]: expected a boolean, got a string ("on-ish")`},
		},
		{
			name: "nodes is a mapping",
			yaml: header + "nodes: {role: worker}\n",
			want: []string{`config: nodes: expected a list of mappings, got a mapping`},
		},
		{
			name: "node is a string",
			yaml: header + "nodes:\n- worker\n",
			want: []string{`config: nodes[0]: expected a mapping, got a string ("worker")`},
		},
		{
			name: "every problem at once, in a stable order",
			yaml: header + "zzz: 1\nnodes:\n- rolez: worker\n  labels: 3\n",
			want: []string{
				`config: nodes[0].labels: expected a map of strings, got a number (3)`,
				`config: unknown field "nodes[0].rolez"`,
				`config: unknown field "zzz"`,
			},
		},
		{
			name: "missing kind",
			yaml: "apiVersion: kind.x-k8s.io/v1alpha4\n",
			want: []string{`config: kind: Required value: must be "Cluster"`},
		},
		{
			name: "wrong kind",
			yaml: "kind: Clustr\napiVersion: kind.x-k8s.io/v1alpha4\n",
			want: []string{`config: kind: Unsupported value: "Clustr": supported values: "Cluster"`},
		},
		{
			name: "missing apiVersion",
			yaml: "kind: Cluster\n",
			want: []string{`config: apiVersion: Required value: must be "kind.x-k8s.io/v1alpha4" or "kindish.dev/v1alpha1"`},
		},
		{
			name: "unknown apiVersion",
			yaml: "kind: Cluster\napiVersion: example.com/v1\n",
			want: []string{`config: apiVersion: Unsupported value: "example.com/v1": supported values: "kind.x-k8s.io/v1alpha4", "kindish.dev/v1alpha1"`},
		},
		{
			name: "kind's old apiVersion",
			yaml: "kind: Cluster\napiVersion: kind.sigs.k8s.io/v1alpha3\n",
			want: []string{`config: apiVersion: Unsupported value: "kind.sigs.k8s.io/v1alpha3": supported values: "kind.x-k8s.io/v1alpha4", "kindish.dev/v1alpha1" (kind's older config versions are not read: update the file to kind.x-k8s.io/v1alpha4)`},
		},
		{
			name: "wrong kind and apiVersion together",
			yaml: "kind: Pod\napiVersion: v1\n",
			want: []string{
				`config: kind: Unsupported value: "Pod": supported values: "Cluster"`,
				`config: apiVersion: Unsupported value: "v1": supported values: "kind.x-k8s.io/v1alpha4", "kindish.dev/v1alpha1"`,
			},
		},
		{
			name: "kind is not a string",
			yaml: "kind: [Cluster]\napiVersion: kind.x-k8s.io/v1alpha4\n",
			want: []string{`config: kind: Unsupported value: ["Cluster"]: supported values: "Cluster"`},
		},
		{
			name: "empty file",
			yaml: "",
			want: []string{`config: the file is empty: it needs at least "kind: Cluster" and "apiVersion: kind.x-k8s.io/v1alpha4"`},
		},
		{
			name: "only comments",
			yaml: "# nothing here\n",
			want: []string{`config: the file is empty: it needs at least "kind: Cluster" and "apiVersion: kind.x-k8s.io/v1alpha4"`},
		},
		{
			name: "a list at the top level",
			yaml: "- kind: Cluster\n",
			want: []string{`config: expected a mapping with kind: Cluster at the top level, got a list`},
		},
		{
			name: "bad YAML",
			yaml: header + "nodes:\n- role: worker\n  labels: {a: b\n",
			want: []string{`config: invalid YAML: line 5: did not find expected ',' or '}'`},
		},
		{
			name: "bad indentation",
			yaml: header + "nodes:\n- role: worker\n   image: x\n",
			want: []string{`config: invalid YAML: line 5: mapping values are not allowed in this context`},
		},
		{
			name: "duplicate key",
			yaml: header + "name: a\nname: b\n",
			want: []string{`config: invalid YAML: line 4: key "name" already set in map`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, warnings, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", c)
			}
			if c != nil || warnings != nil {
				t.Errorf("Parse returned a cluster or warnings with its error")
			}
			lines := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(lines, tt.want) {
				t.Errorf("error =\n%s\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// Load names the file in its errors, so a user with several files knows
// which one is wrong.
func TestLoadNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(header+"nodes:\n- rolez: worker\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.yaml")

	tests := []struct {
		path string
		want string
	}{
		{bad, "config " + bad + `: unknown field "nodes[0].rolez"`},
		{missing, "read config " + missing + ": open " + missing + ": no such file or directory"},
	}
	for _, tt := range tests {
		_, _, err := Load(tt.path)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Load(%s) = %v, want %q", tt.path, err, tt.want)
		}
	}
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
