// Package coredns builds the CoreDNS binary of the kindish/coredns image
// from CoreDNS's released Go module, through the small wrapper module in
// the build directory (ModuleDir). The wrapper has a go.mod of its own, so
// that CoreDNS's dependencies never enter kindish's module graph and
// `go build ./...` in kindish never compiles them.
//
// Compiling CoreDNS takes minutes, so a built binary is kept under a key of
// the wrapper's content and the target architecture (images/gobuild), and
// reused until one of them changes.
package coredns

import (
	"context"

	"github.com/kindish/kindish/images/gobuild"
)

// ModuleDir is the wrapper module's directory in the kindish source tree.
const ModuleDir = "images/coredns/build"

// Version is the CoreDNS release the wrapper requires: the newest whose
// own requirements are no newer than kindish's (v1.15.0 needs the
// Kubernetes v0.37 libraries), so that the wrapper can require exactly
// kindish's versions and share its compiled packages
// (gobuild.CheckSharedVersions).
const Version = "v1.14.7"

// BinaryName is the name of the built binary, in its cache directory.
const BinaryName = "coredns"

// Options configure Binary: where the wrapper module is, where builds are
// kept, and for which architecture.
type Options = gobuild.Options

// Program is CoreDNS as images/gobuild builds it.
var Program = gobuild.Program{Name: "CoreDNS", Version: Version, Binary: BinaryName}

// Binary returns the path of the CoreDNS binary for the wrapper module,
// building it into CacheDir/<key>/coredns unless a build with the same key
// is there. The first build downloads CoreDNS's modules through the
// module proxy.
func Binary(ctx context.Context, opts Options) (string, error) {
	return gobuild.Binary(ctx, Program, opts)
}
