package controllers

import (
	"flag"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kindish/kindish/cluster/manifests"
)

// TestFlagsTakeKindishManifest parses the command line kindish writes into
// the kube-controller-manager static pod.
func TestFlagsTakeKindishManifest(t *testing.T) {
	files, err := manifests.ControlPlane(manifests.Params{NodeName: "kind-control-plane", NodeIP: "172.18.0.2", ClusterName: "kind"})
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.Unmarshal(files[manifests.KubeControllerManagerFile], &pod); err != nil {
		t.Fatal(err)
	}
	o := DefaultOptions()
	fs := flag.NewFlagSet("kube-controller-manager", flag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(pod.Spec.Containers[0].Command[1:]); err != nil {
		t.Fatalf("parse %v: %v", pod.Spec.Containers[0].Command, err)
	}
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"allocate-node-cidrs", o.AllocateNodeCIDRs},
		{"cluster-cidr", o.ClusterCIDR == manifests.DefaultPodCIDR},
		{"cluster-name", o.ClusterName == "kind"},
		{"controllers", slices.Equal(o.Controllers, []string{"*", "bootstrapsigner", "tokencleaner"})},
		{"leader-elect", o.LeaderElect},
		{"use-service-account-credentials", o.UseServiceAccountCredentials},
		{"root-ca-file", o.RootCAFile == "/etc/kubernetes/pki/ca.crt"},
		{"kubeconfig", o.Kubeconfig == "/etc/kubernetes/controller-manager.conf"},
		{"secure-port default", o.SecurePort == 10257},
		{"node-monitor-grace-period default", o.NodeMonitorGracePeriod == 40*time.Second},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s not taken from %v", c.name, pod.Spec.Containers[0].Command)
		}
	}
	if _, err := selectControllers(KnownControllers(), o.Controllers); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Options)
		wantErr string
	}{
		{name: "defaults are valid", change: func(*Options) {}},
		{name: "allocation without a range", change: func(o *Options) { o.AllocateNodeCIDRs, o.ClusterCIDR = true, "" }, wantErr: "--allocate-node-cidrs needs --cluster-cidr"},
		{name: "unparsable range", change: func(o *Options) { o.AllocateNodeCIDRs, o.ClusterCIDR = true, "10.244.0.0" }, wantErr: "--cluster-cidr"},
		{name: "two IPv4 ranges", change: func(o *Options) { o.AllocateNodeCIDRs, o.ClusterCIDR = true, "10.244.0.0/16,10.245.0.0/16" }, wantErr: "one CIDR per IP family"},
		{name: "dual stack", change: func(o *Options) { o.AllocateNodeCIDRs, o.ClusterCIDR = true, "10.244.0.0/16,fd00:10:244::/56" }},
		{name: "grace shorter than period", change: func(o *Options) { o.NodeMonitorGracePeriod = time.Second }, wantErr: "--node-monitor-grace-period"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.change(&o)
			err := o.validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one with %q", err, tt.wantErr)
			}
		})
	}
}
