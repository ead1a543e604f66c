// Command registry is the CNCF Distribution registry server, built from its
// released module for the kindish/registry image. It is upstream's
// cmd/registry (`registry serve <config>`) with only what kindish uses
// linked in: the filesystem storage driver (the images live on a Docker
// volume), and neither the cloud storage drivers, the pull-through proxy
// nor the htpasswd and token authentication (clients authenticate with TLS
// client certificates), nor net/http/pprof on the debug listener.
// It lives in a module of its own so that the registry's dependencies stay
// out of kindish's go.mod; only the registry image build compiles it.
package main

import (
	"os"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

func main() {
	// serve exits the process itself on a bad configuration or a failed
	// listener; Execute's own error is a usage error.
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
