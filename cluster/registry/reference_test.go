package registry

import (
	"strings"
	"testing"
)

func TestLocateKeepsEachUpstreamUnderItsOwnName(t *testing.T) {
	const self = "kindish-registry:5000"
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for ref, want := range map[string]Location{
		// Docker Hub's defaults: the registry, the library namespace, latest.
		"nginx":                            {Repository: "docker.io/library/nginx", Tag: "latest"},
		"nginx:1.27":                       {Repository: "docker.io/library/nginx", Tag: "1.27"},
		"docker.io/library/nginx:1.27":     {Repository: "docker.io/library/nginx", Tag: "1.27"},
		"index.docker.io/library/nginx":    {Repository: "docker.io/library/nginx", Tag: "latest"},
		"bitnami/redis:7":                  {Repository: "docker.io/bitnami/redis", Tag: "7"},
		"registry.k8s.io/pause:3.9":        {Repository: "registry.k8s.io/pause", Tag: "3.9"},
		"quay.io/jetstack/cert-manager:v1": {Repository: "quay.io/jetstack/cert-manager", Tag: "v1"},
		"ghcr.io/org/tool:sha-1":           {Repository: "ghcr.io/org/tool", Tag: "sha-1"},
		// A port cannot be in a repository path; no host name has "_".
		"localhost:5001/app:1":  {Repository: "localhost_5001/app", Tag: "1"},
		"Example.COM:443/a/b:2": {Repository: "example.com_443/a/b", Tag: "2"},
		// The registry's own images are at its root.
		"kindish-registry:5000/app:1":    {Repository: "app", Tag: "1"},
		"kindish-registry:5000/team/app": {Repository: "team/app", Tag: "latest"},
		// Without its port the name is a Docker Hub namespace.
		"kindish-registry/app:1":            {Repository: "docker.io/kindish-registry/app", Tag: "1"},
		"kindish-registry:5001/app:1":       {Repository: "kindish-registry_5001/app", Tag: "1"},
		"nginx@" + digest:                   {Repository: "docker.io/library/nginx", Digest: digest},
		"quay.io/a/b:1@" + digest:           {Repository: "quay.io/a/b", Tag: "1", Digest: digest},
		"docker.io/library/nginx@" + digest: {Repository: "docker.io/library/nginx", Digest: digest},
	} {
		got, err := Locate(ref, self)
		if err != nil {
			t.Errorf("Locate(%q): %v", ref, err)
			continue
		}
		if got != want {
			t.Errorf("Locate(%q) = %+v, want %+v", ref, got, want)
		}
	}
}

func TestLocationString(t *testing.T) {
	for loc, want := range map[Location]string{
		{Repository: "docker.io/library/nginx", Tag: "latest"}:       "docker.io/library/nginx:latest",
		{Repository: "quay.io/a/b", Tag: "1", Digest: "sha256:ab"}:   "quay.io/a/b:1@sha256:ab",
		{Repository: "docker.io/library/nginx", Digest: "sha256:ab"}: "docker.io/library/nginx@sha256:ab",
	} {
		if got := loc.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", loc, got, want)
		}
	}
}

func TestLocateRejects(t *testing.T) {
	for ref, want := range map[string]string{
		"NGINX":                            "must be lowercase",
		"":                                 "invalid reference format",
		"[::1]:5000/app:1":                 "cannot be a repository path component",
		"a.io/" + strings.Repeat("x", 250): "longer than 255",
	} {
		_, err := Locate(ref, "kindish-registry:5000")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Locate(%q) = %v, want an error with %q", ref, err, want)
		}
	}
}
