// Package workload builds the images that tests run in pods, on a machine
// without a registry: busybox and nginx made of Debian bookworm's packages
// (busybox-static, nginx), and kindish/testbox, the test server built from
// this source tree. They are loaded into the local Docker engine under the
// names tests use (busybox:latest, nginx:latest), from where
// `kindish load docker-image` brings them into a cluster's nodes.
//
// The Debian files come from a base image of their own, made by debootstrap
// as the node's base is (nodeimage.EnsureBase) and kept; the files the
// images take from it are kept per base image in the cache. Every image is
// reproducible, so an unchanged build computes the same image IDs that
// Docker already has and loads nothing.
package workload

import (
	"fmt"
	"io/fs"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kindish/kindish/images"
	"github.com/kindish/kindish/images/archive"
)

// The workload images' references, as Docker names them.
const (
	Busybox = "busybox:latest"
	Nginx   = "nginx:latest"
	// TestboxLatest names the same image as Testbox(), for tests and
	// manifests that do not pin the kindish version.
	TestboxLatest = "kindish/testbox:latest"
)

// Testbox is the test server image's reference, tagged with the kindish
// version like every kindish image.
func Testbox() string { return "kindish/testbox:" + images.Tag }

// Refs lists every reference Build tags.
func Refs() []string { return []string{Busybox, Nginx, Testbox(), TestboxLatest} }

// workloadLabel marks the images this package builds, with their name: an
// image that a build's tag moves away from is removed only if it has it.
const workloadLabel = "io.kindish.workload"

// spec is what one workload image is made of: its references, its files
// (one layer) and its config.
type spec struct {
	// Name is the image's short name ("busybox"), its workloadLabel.
	Name string
	Refs []string
	// Files are the layer's entries; regular files may be read from the
	// host when the layer is written.
	Files  []archive.File
	Config v1.Config
	// CreatedBy says where the files come from, in `docker history`.
	CreatedBy string
}

// newSpec fills in what every workload image's config has.
func newSpec(name string, refs []string, files []archive.File, cfg v1.Config, createdBy string) spec {
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = "/"
	}
	cfg.Env = append([]string{archive.DefaultPath}, cfg.Env...)
	cfg.Labels = map[string]string{workloadLabel: name}
	return spec{Name: name, Refs: refs, Files: files, Config: cfg, CreatedBy: createdBy}
}

// build makes the image. Host files are read as it does so, to compute
// the layer's digest: they must not change until the image is written.
func (i spec) build() (v1.Image, error) {
	img, err := archive.NewImage(i.Config, archive.Layer{Files: i.Files, CreatedBy: i.CreatedBy})
	if err != nil {
		return nil, fmt.Errorf("%s image: %w", i.Name, err)
	}
	return img, nil
}

// tmpDir is /tmp as every image has it: writable by all, sticky.
func tmpDir() archive.File { return archive.Dir("/tmp", 0o777|fs.ModeSticky) }
