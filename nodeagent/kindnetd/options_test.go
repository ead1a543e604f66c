package kindnetd

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestOptionsFromEnv(t *testing.T) {
	env := map[string]string{
		"NODE_NAME":               "kind-worker",
		"HOST_IP":                 "172.18.0.3",
		"POD_IP":                  "172.18.0.3",
		"POD_SUBNET":              "10.244.0.0/16",
		"SERVICE_SUBNET":          "10.96.0.0/12",
		"CONTROL_PLANE_ENDPOINT":  "172.18.0.2:6443",
		"KUBERNETES_SERVICE_HOST": "10.96.0.1",
		"KUBERNETES_SERVICE_PORT": "443",
	}
	got := OptionsFromEnv(func(k string) string { return env[k] })
	want := Options{
		NodeName:             "kind-worker",
		HostIP:               "172.18.0.3",
		PodIP:                "172.18.0.3",
		PodSubnet:            "10.244.0.0/16",
		ServiceSubnet:        "10.96.0.0/12",
		ControlPlaneEndpoint: "172.18.0.2:6443",
		KubernetesService:    "10.96.0.1:443",
	}
	if got != want {
		t.Errorf("options %+v, want %+v", got, want)
	}

	t.Run("an IPv6 kubernetes Service is bracketed", func(t *testing.T) {
		env := map[string]string{"KUBERNETES_SERVICE_HOST": "fd00:10:96::1", "KUBERNETES_SERVICE_PORT": "443"}
		if got := OptionsFromEnv(func(k string) string { return env[k] }).KubernetesService; got != "[fd00:10:96::1]:443" {
			t.Errorf("kubernetes Service %q", got)
		}
	})
}

func TestSettings(t *testing.T) {
	valid := Options{HostIP: "172.18.0.3", PodIP: "172.18.0.3", PodSubnet: "10.244.0.0/16"}
	tests := []struct {
		name    string
		edit    func(*Options)
		check   func(*testing.T, settings)
		wantErr string
	}{
		{
			name: "defaults are kind's",
			check: func(t *testing.T, s settings) {
				if s.cniConfigPath != "/etc/cni/net.d/10-kindnet.conflist" || s.routeSync != DefaultRouteSyncPeriod || s.masqSync != DefaultMasqSyncPeriod {
					t.Errorf("settings %+v", s)
				}
				if want := []netip.Prefix{netip.MustParsePrefix("10.96.0.0/16")}; !slices.Equal(s.serviceSubnet, want) {
					t.Errorf("service subnet %v, want %v", s.serviceSubnet, want)
				}
				if s.log == nil {
					t.Error("no logger")
				}
			},
		},
		{
			name: "ranges are masked and may list both families",
			edit: func(o *Options) { o.PodSubnet = "10.244.7.1/16, fd00:10:244::/56" },
			check: func(t *testing.T, s settings) {
				want := []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("fd00:10:244::/56")}
				if !slices.Equal(s.podSubnets, want) {
					t.Errorf("pod subnets %v, want %v", s.podSubnets, want)
				}
			},
		},
		{
			name:    "HOST_IP is required",
			edit:    func(o *Options) { o.HostIP, o.PodIP = "", "" },
			wantErr: "HOST_IP is empty",
		},
		{
			name:    "HOST_IP must be an address",
			edit:    func(o *Options) { o.HostIP, o.PodIP = "kind-worker", "kind-worker" },
			wantErr: `HOST_IP "kind-worker"`,
		},
		{
			name:    "a pod IP other than the host's means no host network",
			edit:    func(o *Options) { o.PodIP = "10.244.1.4" },
			wantErr: "must be running with host network",
		},
		{
			name:    "POD_SUBNET is required",
			edit:    func(o *Options) { o.PodSubnet = "" },
			wantErr: "POD_SUBNET is empty",
		},
		{
			name:    "POD_SUBNET must parse",
			edit:    func(o *Options) { o.PodSubnet = "10.244.0.0" },
			wantErr: "POD_SUBNET:",
		},
		{
			name:    "SERVICE_SUBNET must parse",
			edit:    func(o *Options) { o.ServiceSubnet = "services" },
			wantErr: "SERVICE_SUBNET:",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			if tt.edit != nil {
				tt.edit(&o)
			}
			s, err := o.settings()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func TestRestConfig(t *testing.T) {
	saDir := t.TempDir()
	for _, f := range []string{"token", "ca.crt"} {
		if err := os.WriteFile(filepath.Join(saDir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		opts     Options
		wantHost string
		wantErr  string
	}{
		{
			name:     "the control plane endpoint wins over the kubernetes Service",
			opts:     Options{ControlPlaneEndpoint: "172.18.0.2:6443", KubernetesService: "10.96.0.1:443", ServiceAccountDir: saDir},
			wantHost: "https://172.18.0.2:6443",
		},
		{
			name:     "without an endpoint, the kubernetes Service",
			opts:     Options{KubernetesService: "10.96.0.1:443", ServiceAccountDir: saDir},
			wantHost: "https://10.96.0.1:443",
		},
		{
			name:    "no address at all",
			opts:    Options{ServiceAccountDir: saDir},
			wantErr: "neither CONTROL_PLANE_ENDPOINT",
		},
		{
			name:    "no mounted credentials",
			opts:    Options{ControlPlaneEndpoint: "172.18.0.2:6443", ServiceAccountDir: filepath.Join(saDir, "missing")},
			wantErr: "service account credentials",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := restConfig(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tt.wantHost {
				t.Errorf("host %q, want %q", cfg.Host, tt.wantHost)
			}
			if cfg.BearerTokenFile != filepath.Join(saDir, "token") || cfg.TLSClientConfig.CAFile != filepath.Join(saDir, "ca.crt") {
				t.Errorf("credentials: token %q, CA %q", cfg.BearerTokenFile, cfg.TLSClientConfig.CAFile)
			}
			if cfg.BearerToken != "" {
				t.Error("token copied into the config: rotation would not reach the client")
			}
		})
	}
}
