// Package registry makes the kindish/registry image: the CNCF Distribution
// registry server, built from its released Go module through the wrapper
// module in the build directory (ModuleDir, built and cached by
// images/gobuild exactly as CoreDNS is), with its configuration. The image
// holds the static binary and the configuration file and nothing else: no
// shell, no libc.
//
// The configuration names the files the running registry needs but the
// image does not hold, the TLS certificates and keys: cluster/registry
// generates them per host and copies them into the container before it
// starts (see TLSFiles).
package registry

import (
	"context"

	"github.com/kindish/kindish/images"
	"github.com/kindish/kindish/images/gobuild"
)

// ModuleDir is the wrapper module's directory in the kindish source tree.
const ModuleDir = "images/registry/build"

// Version is the Distribution release the wrapper requires.
const Version = "v3.1.2"

// BinaryName is the name of the built binary, in its cache directory.
const BinaryName = "registry"

// Options configure Binary: where the wrapper module is, where builds are
// kept, and for which architecture.
type Options = gobuild.Options

// Program is the registry server as images/gobuild builds it.
var Program = gobuild.Program{Name: "the registry", Version: Version, Binary: BinaryName}

// Binary returns the path of the registry binary for the wrapper module,
// building it into CacheDir/<key>/registry unless a build with the same
// key is there. The first build downloads Distribution's modules through
// the module proxy and takes a few minutes.
func Binary(ctx context.Context, opts Options) (string, error) {
	return gobuild.Binary(ctx, Program, opts)
}

// Image is the registry image's reference, tagged like every kindish image
// with the kindish version.
func Image() string { return "kindish/registry:" + images.Tag }
