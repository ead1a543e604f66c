package images

import "testing"

func TestQualifiedMatchesContainerdNormalization(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"kindish/pause:v0.1.0", "docker.io/kindish/pause:v0.1.0"},
		{"busybox:1.36", "docker.io/library/busybox:1.36"},
		{"docker.io/kindish/node:v0.1.0", "docker.io/kindish/node:v0.1.0"},
		{"localhost/x:1", "localhost/x:1"},
		{"localhost:5000/x:1", "localhost:5000/x:1"},
		{"registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"},
	} {
		if got := Qualified(tc.in); got != tc.want {
			t.Errorf("Qualified(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestImagesCarryTheVersionTag(t *testing.T) {
	refs := []string{NodeImage(), PauseImage(), CoreDNSImage()}
	for _, c := range Components() {
		refs = append(refs, c.Image())
	}
	for _, r := range refs {
		if want := ":" + Tag; r[len(r)-len(want):] != want {
			t.Errorf("%s is not tagged %s", r, Tag)
		}
	}
}

// kube-proxy and kindnetd run iptables-nft-restore in their pods; the
// control-plane components must not grow by the netfilter tools.
func TestOnlyTheNodeNetworkComponentsCarryNetfilterTools(t *testing.T) {
	var got []string
	for _, c := range Components() {
		if c.Netfilter {
			got = append(got, c.Name)
		}
	}
	if len(got) != 2 || got[0] != "kube-proxy" || got[1] != "kindnetd" {
		t.Errorf("components with netfilter tools: %q, want kube-proxy and kindnetd", got)
	}
}
