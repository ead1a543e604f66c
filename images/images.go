// Package images names the images kindish makes without a registry and the
// places inside a node where they live. The node image is built by
// images/nodeimage; the pause and component images travel inside it as
// archives (images/archive) that the node's init imports into containerd.
//
// Every image is tagged with the kindish version, so a kindish binary always
// finds the images that match it.
package images

import (
	"strings"

	"github.com/kindish/kindish/cluster/version"
)

// Tag is the tag of every kindish image.
const Tag = "v" + version.Version

// NodeImage is the node image's reference, as Docker names it.
func NodeImage() string { return "kindish/node:" + Tag }

// PauseImage is the CRI sandbox image's reference. containerd records it,
// like every image, with the registry spelled out: see Qualified.
func PauseImage() string { return "kindish/pause:" + Tag }

// NodeBinary is where the kindish-node multi-call binary lives, in the node
// image and in the component images alike.
const NodeBinary = "/usr/local/bin/kindish-node"

// VersionFile holds the kindish version a node image was built for.
const VersionFile = "/kind/version"

// Component is a Kubernetes component that runs in a pod from its own image.
// All component images share one layer holding kindish-node; each differs
// only in its entrypoint, a symlink whose name selects the component.
type Component struct {
	Name    string // e.g. "kube-apiserver"
	Command string // absolute path of the entrypoint in the image
	// Netfilter is set for the components that program the node's
	// netfilter tables from their pod: their images carry a second layer
	// with iptables-nft (and its iptables, iptables-restore... links) and
	// conntrack in /usr/sbin.
	Netfilter bool
}

// Image is the component's image reference.
func (c Component) Image() string { return "kindish/" + c.Name + ":" + Tag }

// The components, as the demo's process trees show them.
var (
	Etcd                  = Component{Name: "etcd", Command: "/usr/local/bin/etcd"}
	KubeAPIServer         = Component{Name: "kube-apiserver", Command: "/usr/local/bin/kube-apiserver"}
	KubeScheduler         = Component{Name: "kube-scheduler", Command: "/usr/local/bin/kube-scheduler"}
	KubeControllerManager = Component{Name: "kube-controller-manager", Command: "/usr/local/bin/kube-controller-manager"}
	KubeProxy             = Component{Name: "kube-proxy", Command: "/usr/local/bin/kube-proxy", Netfilter: true}
	Kindnetd              = Component{Name: "kindnetd", Command: "/bin/kindnetd", Netfilter: true}
)

// Components lists every component image, in a fixed order.
func Components() []Component {
	return []Component{Etcd, KubeAPIServer, KubeScheduler, KubeControllerManager, KubeProxy, Kindnetd}
}

// CoreDNSImage is the cluster DNS image's reference. It travels in the
// components archive with the component images, though it holds CoreDNS
// rather than kindish-node.
func CoreDNSImage() string { return "kindish/coredns:" + Tag }

// CoreDNSBinary is the CoreDNS binary, and the entrypoint, in its image.
const CoreDNSBinary = "/coredns"

// Qualified spells a Docker reference the way containerd (and so
// `ctr images ls` and the CRI sandbox_image setting) records it: a name
// without a registry is on docker.io, and a single-component name is in
// docker.io's "library" namespace. "kindish/pause:v0.1.0" becomes
// "docker.io/kindish/pause:v0.1.0".
func Qualified(ref string) string {
	first, _, found := strings.Cut(ref, "/")
	if !found {
		return "docker.io/library/" + ref
	}
	if strings.ContainsAny(first, ".:") || first == "localhost" {
		return ref
	}
	return "docker.io/" + ref
}
