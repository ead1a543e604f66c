// Package provider is the boundary between kindish and the container engine
// that runs its nodes. Docker is the only implementation today; nothing above
// this interface knows that Docker exists.
package provider

import (
	"context"
	"errors"
	"io"
	"net/netip"
)

// Labels kindish puts on every node container. They are the only state
// kindish keeps: listing clusters and nodes reads them back.
const (
	ClusterLabel = "io.kindish.cluster"
	RoleLabel    = "io.kindish.role"
)

// ErrImageNotFound is wrapped by the errors of an image the engine does not
// have.
var ErrImageNotFound = errors.New("not present in the local image store")

// Node is a node container of a cluster.
type Node struct {
	Name    string
	Cluster string
	Role    string
	// IP is the node's address on the kindish network; invalid while the
	// container is not attached (stopped).
	IP netip.Addr
	// Running reports whether the container is running.
	Running bool
}

// PortMapping publishes a port of a node on the host.
type PortMapping struct {
	ListenAddress string // host address, e.g. 127.0.0.1 or 0.0.0.0
	HostPort      int    // 0: the engine picks one
	ContainerPort int
	Protocol      string // TCP, UDP or SCTP
}

// Mount binds a host path into a node.
type Mount struct {
	HostPath      string
	ContainerPath string
	ReadOnly      bool
	Propagation   string // None, HostToContainer or Bidirectional
}

// NodeSpec is everything needed to create and start one node container.
type NodeSpec struct {
	Name    string
	Cluster string
	Role    string
	Image   string
	IP      netip.Addr
	Ports   []PortMapping
	Mounts  []Mount
	// Files is a tar archive extracted at / once the node has started;
	// then an empty file is written at FilesCopied, so that its PID 1
	// knows they are all in. The node boots meanwhile (Docker's start is
	// the longest part of a create): only what reads the files waits.
	Files       []byte
	FilesCopied string
}

// Network is the engine network all nodes share.
type Network struct {
	Name    string
	Subnet  netip.Prefix
	Gateway netip.Addr
}

// ExecOptions are the streams of a command run in a node.
type ExecOptions struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Provider runs node containers.
type Provider interface {
	// EnsureNetwork creates the shared network when it does not exist yet.
	EnsureNetwork(ctx context.Context) (Network, error)
	// AllocateIPs picks n free addresses on the network for new nodes.
	AllocateIPs(ctx context.Context, network Network, n int) ([]netip.Addr, error)
	// CreateNode creates and starts a node container and fills it.
	CreateNode(ctx context.Context, spec NodeSpec) error
	// WaitForLogLine waits until the node's PID 1 prints a line containing
	// line, which is how the host learns that a node finished a boot step.
	WaitForLogLine(ctx context.Context, node, line string) error

	// ListClusters returns the names of the clusters that have nodes.
	ListClusters(ctx context.Context) ([]string, error)
	// ListNodes returns a cluster's nodes, sorted by name.
	ListNodes(ctx context.Context, cluster string) ([]Node, error)
	// DeleteNodes removes node containers and their volumes.
	DeleteNodes(ctx context.Context, names []string) error

	// Exec runs a command in a node. A failure's error holds the command
	// line and what it printed on stderr.
	Exec(ctx context.Context, node string, cmd []string, opts ExecOptions) error
	// ReadFile reads one file from a node.
	ReadFile(ctx context.Context, node, path string) ([]byte, error)
	// HostPort returns the host address and port a node's container port is
	// published on.
	HostPort(ctx context.Context, node string, containerPort int) (string, int, error)
	// Inspect writes the engine's description of the node (docker inspect).
	Inspect(ctx context.Context, node string, w io.Writer) error
	// Logs writes the node container's own log (its PID 1's output).
	Logs(ctx context.Context, node string, w io.Writer) error
	// SaveImages streams images from the engine's image store as one
	// archive, for loading into the nodes.
	SaveImages(ctx context.Context, images []string) (io.ReadCloser, error)
	// ImageID returns the engine's ID of an image, or an error naming it
	// when it is not present.
	// (wrapping ErrImageNotFound when the engine has no such image).
	ImageID(ctx context.Context, image string) (string, error)

	// CopyFrom streams a file or directory of the node as a tar archive
	// whose entries are named from the path's base name; it works on
	// stopped nodes too. A missing path's error wraps fs.ErrNotExist.
	CopyFrom(ctx context.Context, node, path string) (io.ReadCloser, error)
	// EngineInfo writes the engine's description of itself (docker info),
	// for bug reports.
	EngineInfo(ctx context.Context, w io.Writer) error
}
