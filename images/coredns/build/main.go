// Command coredns is CoreDNS with its standard plugin set, built from the
// released module for the kindish/coredns image. It lives in a module of
// its own so that CoreDNS's many dependencies stay out of kindish's
// go.mod; only the node image build compiles it.
package main

import (
	// The plugins of CoreDNS's plugin.cfg, registered in its order.
	_ "github.com/coredns/coredns/core/plugin"
	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}
