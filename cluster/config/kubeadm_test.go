package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kindish/kindish/cluster/manifests"
)

// patches renders a kubeadmConfigPatches list, each patch a literal block.
func patches(indent string, docs ...string) string {
	var b strings.Builder
	for _, d := range docs {
		b.WriteString(indent + "- |\n")
		for line := range strings.Lines(d) {
			b.WriteString(indent + "  " + line)
		}
		if !strings.HasSuffix(d, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// The extraArgs of a ClusterConfiguration patch reach the control plane,
// in kubeadm's v1beta3 (map) and v1beta4 (list) shapes alike, in the order
// kind applies the patches.
func TestControlPlaneExtraArgs(t *testing.T) {
	const v1beta3 = `apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
controllerManager:
  extraArgs:
    node-monitor-grace-period: "10s"
scheduler:
  extraArgs:
    v: 2
etcd:
  local:
    extraArgs:
      snapshot-count: "5000"
`
	const v1beta4 = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
apiServer:
  extraArgs:
  - name: v
    value: "3"
controllerManager:
  extraArgs:
  - name: node-monitor-period
    value: 2s
  - name: leader-elect
    value: false
`
	tests := []struct {
		name string
		yaml string
		node string
		want manifests.ExtraArgs
	}{
		{
			name: "v1beta3 map shape",
			yaml: header + "kubeadmConfigPatches:\n" + patches("", v1beta3),
			want: manifests.ExtraArgs{
				"kube-controller-manager": {"node-monitor-grace-period": "10s"},
				"kube-scheduler":          {"v": "2"},
				"etcd":                    {"snapshot-count": "5000"},
			},
		},
		{
			name: "v1beta4 list shape, unquoted values as written",
			yaml: header + "kubeadmConfigPatches:\n" + patches("", v1beta4),
			want: manifests.ExtraArgs{
				"kube-apiserver":          {"v": "3"},
				"kube-controller-manager": {"node-monitor-period": "2s", "leader-elect": "false"},
			},
		},
		{
			name: "no apiVersion matches either, as in kind",
			yaml: header + "kubeadmConfigPatches:\n" + patches("", "kind: ClusterConfiguration\nscheduler:\n  extraArgs:\n    v: \"4\"\n"),
			want: manifests.ExtraArgs{"kube-scheduler": {"v": "4"}},
		},
		{
			name: "a later patch replaces a flag and keeps the others",
			yaml: header + "kubeadmConfigPatches:\n" + patches("", v1beta3,
				"kind: ClusterConfiguration\ncontrollerManager:\n  extraArgs:\n  - name: node-monitor-grace-period\n    value: 20s\n"),
			want: manifests.ExtraArgs{
				"kube-controller-manager": {"node-monitor-grace-period": "20s"},
				"kube-scheduler":          {"v": "2"},
				"etcd":                    {"snapshot-count": "5000"},
			},
		},
		{
			name: "the control-plane node's own patch comes after the cluster's",
			yaml: header + "kubeadmConfigPatches:\n" + patches("", v1beta3) +
				"nodes:\n- role: control-plane\n  kubeadmConfigPatches:\n" +
				patches("  ", "kind: ClusterConfiguration\nscheduler:\n  extraArgs:\n    v: \"5\"\n"),
			want: manifests.ExtraArgs{
				"kube-controller-manager": {"node-monitor-grace-period": "10s"},
				"kube-scheduler":          {"v": "5"},
				"etcd":                    {"snapshot-count": "5000"},
			},
		},
		{
			name: "a worker's ClusterConfiguration does not reach the control plane",
			yaml: header + "nodes:\n- role: control-plane\n- role: worker\n  kubeadmConfigPatches:\n" +
				patches("  ", "kind: ClusterConfiguration\nscheduler:\n  extraArgs:\n    v: \"5\"\n"),
			want: manifests.ExtraArgs{},
		},
		{
			name: "a patch of several documents, as kind splits them",
			yaml: header + "kubeadmConfigPatches:\n" + patches("",
				"kind: KubeletConfiguration\nmaxPods: 50\n---\nkind: ClusterConfiguration\nscheduler:\n  extraArgs:\n    v: \"6\"\n"),
			want: manifests.ExtraArgs{"kube-scheduler": {"v": "6"}},
		},
		{
			name: "no patches",
			yaml: header,
			want: manifests.ExtraArgs{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			SetDefaults(c, testImage)
			got, err := c.ControlPlaneExtraArgs(NodeName(c.Name, ControlPlaneRole, 1))
			if err != nil {
				t.Fatalf("ControlPlaneExtraArgs: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("extra args = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestControlPlaneExtraArgsUnknownNode(t *testing.T) {
	c := Default()
	if _, err := c.ControlPlaneExtraArgs("elsewhere"); err == nil || !strings.Contains(err.Error(), `no node "elsewhere"`) {
		t.Errorf("err = %v, want one naming the node", err)
	}
}

// Every part of a patch that kindish does not use is named, precisely,
// in a warning of that patch's own.
func TestKubeadmPatchWarnings(t *testing.T) {
	const used = "only apiServer, controllerManager, scheduler and etcd.local extraArgs of a ClusterConfiguration are used; ignored: "
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{
			name: "nothing ignored, nothing said",
			yaml: header + "kubeadmConfigPatches:\n" + patches("", "kind: ClusterConfiguration\napiServer:\n  extraArgs: {v: \"2\"}\n"),
		},
		{
			name: "the other fields of a ClusterConfiguration, down to their leaves",
			yaml: header + "kubeadmConfigPatches:\n" + patches("", `kind: ClusterConfiguration
networking:
  dnsDomain: example.local
apiServer:
  certSANs: [my-host]
  extraArgs:
    v: "2"
etcd:
  local:
    dataDir: /tmp/etcd
  external: {}
featureGates:
  SomeGate: true
`),
			want: []string{"kubeadmConfigPatches[0]: " + used + "apiServer.certSANs, etcd.local.dataDir, featureGates.SomeGate, networking.dnsDomain"},
		},
		{
			name: "other kinds, a foreign apiVersion, no kind",
			yaml: header + "kubeadmConfigPatches:\n" + patches("",
				"kind: InitConfiguration\nnodeRegistration:\n  kubeletExtraArgs:\n    node-labels: a=b\n",
				"apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\napiServer:\n  extraArgs: {v: \"2\"}\n",
				"apiServer:\n  extraArgs: {v: \"2\"}\n",
			),
			want: []string{
				"kubeadmConfigPatches[0]: ignored (InitConfiguration: kindish does not run kubeadm)",
				"kubeadmConfigPatches[1]: ignored (apiVersion kubeadm.k8s.io/v1beta2: kind's kubeadm configs are kubeadm.k8s.io/v1beta3 or kubeadm.k8s.io/v1beta4, so it matches none)",
				"kubeadmConfigPatches[2]: ignored (no kind: a patch applies to the kubeadm config of its kind)",
			},
		},
		{
			name: "node patches, a worker's ClusterConfiguration, documents numbered",
			yaml: header + "nodes:\n- role: control-plane\n  kubeadmConfigPatches:\n" +
				patches("  ", "kind: ClusterConfiguration\nscheduler:\n  extraVolumes: []\n---\nkind: JoinConfiguration\n") +
				"- role: worker\n  kubeadmConfigPatches:\n" +
				patches("  ", "kind: ClusterConfiguration\nscheduler:\n  extraArgs: {v: \"2\"}\n"),
			want: []string{
				"nodes[0].kubeadmConfigPatches[0] (document 1): " + used + "scheduler.extraVolumes",
				"nodes[0].kubeadmConfigPatches[0] (document 2): ignored (JoinConfiguration: kindish does not run kubeadm)",
				"nodes[1].kubeadmConfigPatches[0]: ignored (ClusterConfiguration of a worker node: kubeadm reads it on the control-plane node only)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, warnings, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(warnings, tt.want) {
				t.Errorf("warnings =\n%s\nwant\n%s", strings.Join(warnings, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// A patch kindish would act on wrongly, or whose flags would stop a
// component at start, is an error naming the patch and the field; all of
// them are reported at once, and nothing is created.
func TestKubeadmPatchRejects(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // the error's lines, exactly
	}{
		{
			name: "invalid YAML",
			yaml: header + "kubeadmConfigPatches:\n" + patches("", "kind: ClusterConfiguration\napiServer:\n  extraArgs: [\n"),
			want: []string{`config: kubeadmConfigPatches[0]: invalid YAML: line 3: did not find expected node content`},
		},
		{
			name: "invalid YAML in a worker's patch, which would otherwise be ignored",
			yaml: header + "nodes:\n- role: control-plane\n- role: worker\n  kubeadmConfigPatches:\n" + patches("  ", "kind: JoinConfiguration\nkind: JoinConfiguration\n"),
			want: []string{`config: nodes[1].kubeadmConfigPatches[0]: invalid YAML: line 2: key "kind" already set in map`},
		},
		{
			name: "not a mapping",
			yaml: header + "kubeadmConfigPatches:\n" + patches("", "- kind: ClusterConfiguration\n"),
			want: []string{`config: kubeadmConfigPatches[0]: expected a kubeadm config mapping, got a list`},
		},
		{
			name: "flags the components do not define, in both shapes",
			yaml: header + "kubeadmConfigPatches:\n" + patches("", `kind: ClusterConfiguration
controllerManager:
  extraArgs:
    foo: bar
apiServer:
  extraArgs:
  - name: default-not-ready-toleration-seconds
    value: "10"
`),
			want: []string{
				`config: kubeadmConfigPatches[0]: apiServer.extraArgs: unknown flag "default-not-ready-toleration-seconds" for kube-apiserver`,
				`config: kubeadmConfigPatches[0]: controllerManager.extraArgs: unknown flag "foo" for kube-controller-manager`,
			},
		},
		{
			name: "an unknown flag in the control-plane node's own patch",
			yaml: header + "nodes:\n- role: control-plane\n  kubeadmConfigPatches:\n" +
				patches("  ", "kind: ClusterConfiguration\netcd:\n  local:\n    extraArgs:\n      enable-v2: \"true\"\n"),
			want: []string{`config: nodes[0].kubeadmConfigPatches[0]: etcd.local.extraArgs: unknown flag "enable-v2" for etcd`},
		},
		{
			name: "extraArgs of the wrong shapes",
			yaml: header + "kubeadmConfigPatches:\n" + patches("", `kind: ClusterConfiguration
apiServer:
  extraArgs: "--v=2"
controllerManager:
  extraArgs:
  - v
  - name: v
    vaule: "2"
  - value: "2"
scheduler:
  extraArgs:
    v: [2]
etcd: local
`),
			want: []string{
				`config: kubeadmConfigPatches[0]: apiServer.extraArgs: expected a map of flag names to values or a list of {name, value}, got a string ("--v=2")`,
				`config: kubeadmConfigPatches[0]: controllerManager.extraArgs[0]: expected a mapping with name and value, got a string ("v")`,
				`config: kubeadmConfigPatches[0]: controllerManager.extraArgs[1]: unknown field "vaule"`,
				`config: kubeadmConfigPatches[0]: controllerManager.extraArgs[1].value: expected a string value, got nothing`,
				`config: kubeadmConfigPatches[0]: controllerManager.extraArgs[2].name: a flag name is required`,
				`config: kubeadmConfigPatches[0]: etcd: expected a mapping, got a string ("local")`,
				`config: kubeadmConfigPatches[0]: scheduler.extraArgs[v]: expected a string value, got a list`,
			},
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
			if lines := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(lines, tt.want) {
				t.Errorf("error =\n%s\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}
