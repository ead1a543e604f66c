package dns

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestHostnameAndDomain(t *testing.T) {
	long := strings.Repeat("a", 60) + "-b-cdef"
	tests := []struct {
		name                 string
		podName              string
		hostname, subdomain  string
		override             *string
		wantHost, wantDomain string
		wantErr              string
	}{
		{name: "the pod's name", podName: "web-0", wantHost: "web-0"},
		{name: "spec.hostname wins over the name", podName: "web-0", hostname: "front", wantHost: "front"},
		{name: "a subdomain gives the FQDN's domain", podName: "web-0", hostname: "web-0", subdomain: "web", wantHost: "web-0", wantDomain: "web.shop.svc.cluster.local"},
		{name: "a long name is cut to 63 characters without a trailing dash", podName: long, wantHost: strings.Repeat("a", 60) + "-b"},
		{name: "an override replaces hostname and domain", podName: "web-0", hostname: "front", subdomain: "web", override: ptr("node.example.com"), wantHost: "node.example.com"},
		{name: "an invalid hostname fails", podName: "web-0", hostname: "Front_1", wantErr: `pod Hostname "Front_1" is not a valid DNS label: `},
		{name: "an invalid subdomain fails", podName: "web-0", subdomain: "a.b", wantErr: `pod Subdomain "a.b" is not a valid DNS label: must not contain dots`},
		{name: "an invalid override fails", podName: "web-0", override: ptr("-bad"), wantErr: `pod HostnameOverride "-bad" is not a valid DNS subdomain: `},
	}
	cfg := Config{ClusterDomain: "cluster.local"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: tt.podName},
				Spec:       corev1.PodSpec{Hostname: tt.hostname, Subdomain: tt.subdomain, HostnameOverride: tt.override},
			}
			host, domain, err := cfg.HostnameAndDomain(pod)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if host != tt.wantHost || domain != tt.wantDomain {
				t.Errorf("got (%q, %q), want (%q, %q)", host, domain, tt.wantHost, tt.wantDomain)
			}
		})
	}
}
