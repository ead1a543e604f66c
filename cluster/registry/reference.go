package registry

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/distribution/reference"
)

// Location is where the registry keeps an image.
type Location struct {
	// Repository is the repository in the registry, e.g.
	// "docker.io/library/nginx".
	Repository string
	// Tag is the reference's tag; "latest" when it names neither a tag nor
	// a digest, as everywhere else.
	Tag string
	// Digest is the reference's digest, when it names one.
	Digest string
}

// String is the location as a reference relative to the registry,
// "docker.io/library/nginx:latest".
func (l Location) String() string {
	s := l.Repository
	if l.Tag != "" {
		s += ":" + l.Tag
	}
	if l.Digest != "" {
		s += "@" + l.Digest
	}
	return s
}

// Reference is what the registry's manifest API takes for the location:
// its digest when it names one, else its tag.
func (l Location) Reference() string {
	if l.Digest != "" {
		return l.Digest
	}
	return l.Tag
}

// pathComponent is one component of a repository path, by the
// distribution spec's grammar.
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)

// Locate maps an image reference, spelled as a user or a pod spec spells
// it, to where the registry whose own name is self ("kindish-registry:5000")
// keeps it. Images of another registry are kept under that registry's name,
// so that images of different upstreams never collide, and so that a
// node's containerd, told to pull docker.io's images from the path
// /v2/docker.io, finds them:
//
//	nginx                          → docker.io/library/nginx:latest
//	registry.k8s.io/pause:3.9      → registry.k8s.io/pause:3.9
//	localhost:5001/app:1           → localhost_5001/app:1
//	kindish-registry:5000/app:1    → app:1 (the registry's own images)
//
// A port cannot appear in a repository path, so "host:port" becomes
// "host_port", which no host name can be, as no host name holds "_".
func Locate(ref, self string) (Location, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return Location{}, fmt.Errorf("image reference %q: %w", ref, err)
	}
	var loc Location
	if tagged, ok := named.(reference.Tagged); ok {
		loc.Tag = tagged.Tag()
	}
	if digested, ok := named.(reference.Digested); ok {
		loc.Digest = digested.Digest().String()
	}
	if loc.Tag == "" && loc.Digest == "" {
		loc.Tag = "latest"
	}

	domain, path := reference.Domain(named), reference.Path(named)
	if strings.EqualFold(domain, self) {
		loc.Repository = path
		return loc, nil
	}
	ns, err := namespace(domain)
	if err != nil {
		return Location{}, fmt.Errorf("image reference %q: %w", ref, err)
	}
	loc.Repository = ns + "/" + path
	if len(self)+1+len(loc.Repository) > reference.NameTotalLengthMax {
		return Location{}, fmt.Errorf("image reference %q: %s/%s is longer than %d characters", ref, self, loc.Repository, reference.NameTotalLengthMax)
	}
	return loc, nil
}

// namespace is the first path component of the repositories that keep
// the images of the registry domain.
func namespace(domain string) (string, error) {
	ns := strings.ToLower(strings.ReplaceAll(domain, ":", "_"))
	if !pathComponent.MatchString(ns) {
		return "", fmt.Errorf("registry %q cannot be a repository path component", domain)
	}
	return ns, nil
}

// errDigestPush is the answer to a push of an image named by digest.
var errDigestPush = errors.New("an image named by digest cannot be pushed from the Docker engine: `docker save` rewrites its manifest, whose digest then differs from the one asked for; name it by tag")
