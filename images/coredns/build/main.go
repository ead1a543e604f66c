// Command coredns is CoreDNS built from its released module for the
// kindish/coredns image, with the plugins a cluster's DNS uses, as
// CoreDNS's own docs build custom binaries: kubeadm's Corefile (errors,
// health, ready, kubernetes, prometheus, forward, cache, loop, reload,
// loadbalance) and the ones users commonly add to it. Leaving out the
// cloud plugins (route53, azure, clouddns...) makes the binary a quarter
// smaller (54 MB with v1.14.7), which every node imports at boot.
// It lives in a module of its own so that CoreDNS's dependencies stay out
// of kindish's go.mod; only the node image build compiles it.
package main

import (
	"github.com/coredns/coredns/coremain"

	// Registration order does not matter: dnsserver's directive list
	// orders the plugins of a server block.
	_ "github.com/coredns/coredns/plugin/autopath"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/bufsize"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/cancel"
	_ "github.com/coredns/coredns/plugin/chaos"
	_ "github.com/coredns/coredns/plugin/debug"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/k8s_external"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/rewrite"
	_ "github.com/coredns/coredns/plugin/root"
	_ "github.com/coredns/coredns/plugin/template"
	_ "github.com/coredns/coredns/plugin/whoami"
)

func main() {
	coremain.Run()
}
