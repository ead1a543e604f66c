// Package criclient talks to a container runtime (containerd's CRI plugin)
// over the CRI gRPC API on its unix socket. It is the node's one CRI client:
// the host asks it, through kindish-cri, which images a node holds, and the
// kubelet drives pods through it.
package criclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// DefaultSocket is containerd's socket in a kindish node.
const DefaultSocket = "/run/containerd/containerd.sock"

// dialTimeout bounds the connection check of Dial when ctx has no deadline:
// a runtime that does not accept within it is not going to.
const dialTimeout = 5 * time.Second

// maxMsgSize is the kubelet's limit: an image or container list of a busy
// node outgrows gRPC's default of 4 MiB.
const maxMsgSize = 16 << 20

// ErrNotFound is wrapped by the errors about an image the runtime does not
// hold; test with errors.Is.
var ErrNotFound = errors.New("not found")

// Client is a connection to a CRI runtime. It is safe for concurrent use.
type Client struct {
	socket  string
	conn    *grpc.ClientConn
	runtime runtimeapi.RuntimeServiceClient
	images  runtimeapi.ImageServiceClient
}

// Image is an image the runtime holds.
type Image struct {
	// ID is the image's config digest ("sha256:..."), the same ID Docker
	// gives the image it was saved from.
	ID string
	// RepoTags are the references it is known by, fully qualified
	// ("docker.io/library/nginx:latest").
	RepoTags    []string
	RepoDigests []string
	// Size is the image's size in bytes, as the runtime reports it.
	Size uint64
	// Pinned images are never garbage-collected (the sandbox image).
	Pinned bool
}

// Version is the runtime's name and versions.
type Version struct {
	// APIVersion is the CRI version the runtime speaks ("v1").
	APIVersion        string
	RuntimeName       string
	RuntimeVersion    string
	RuntimeAPIVersion string
}

// Dial connects to the runtime listening on the unix socket (DefaultSocket
// when empty). It checks that the socket accepts a connection, so that a
// runtime that is not running fails here, with an error naming the socket,
// rather than at the first call.
func Dial(ctx context.Context, socket string) (*Client, error) {
	if socket == "" {
		socket = DefaultSocket
	}
	probeCtx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		probeCtx, cancel = context.WithTimeout(ctx, dialTimeout)
		defer cancel()
	}
	var d net.Dialer
	probe, err := d.DialContext(probeCtx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("connect to the container runtime at %s (is containerd running?): %w", socket, err)
	}
	probe.Close()

	abs, err := filepath.Abs(socket)
	if err != nil {
		return nil, fmt.Errorf("container runtime at %s: %w", socket, err)
	}
	conn, err := grpc.NewClient("unix://"+abs,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("container runtime at %s: %w", socket, err)
	}
	return &Client{
		socket:  socket,
		conn:    conn,
		runtime: runtimeapi.NewRuntimeServiceClient(conn),
		images:  runtimeapi.NewImageServiceClient(conn),
	}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Socket is the socket the client is connected to.
func (c *Client) Socket() string { return c.socket }

// Runtime is the CRI runtime service over this connection. The kubelet's
// parts each declare the subset of it they use, so that their tests can
// hand them an in-memory fake instead.
func (c *Client) Runtime() runtimeapi.RuntimeServiceClient { return c.runtime }

// Images is the CRI image service over this connection.
func (c *Client) Images() runtimeapi.ImageServiceClient { return c.images }

// Version asks the runtime for its name and versions.
func (c *Client) Version(ctx context.Context) (Version, error) {
	resp, err := c.runtime.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil {
		return Version{}, fmt.Errorf("runtime version from %s: %w", c.socket, err)
	}
	return Version{
		APIVersion:        resp.GetVersion(),
		RuntimeName:       resp.GetRuntimeName(),
		RuntimeVersion:    resp.GetRuntimeVersion(),
		RuntimeAPIVersion: resp.GetRuntimeApiVersion(),
	}, nil
}

// ImageID returns the ID of the image the runtime holds under ref, which
// must be fully qualified as the runtime records it
// ("docker.io/library/nginx:latest"; containerd resolves short names too,
// other runtimes may not). An absent image is an error wrapping ErrNotFound.
func (c *Client) ImageID(ctx context.Context, ref string) (string, error) {
	resp, err := c.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{
		Image: &runtimeapi.ImageSpec{Image: ref},
	})
	// The CRI answers an absent image with an empty status; some runtimes
	// answer NotFound instead.
	if status.Code(err) == codes.NotFound || (err == nil && resp.GetImage() == nil) {
		return "", fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("image status of %s from %s: %w", ref, c.socket, err)
	}
	return resp.GetImage().GetId(), nil
}

// ListImages returns every image the runtime holds, sorted by ID.
func (c *Client) ListImages(ctx context.Context) ([]Image, error) {
	resp, err := c.images.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return nil, fmt.Errorf("list images from %s: %w", c.socket, err)
	}
	out := make([]Image, 0, len(resp.GetImages()))
	for _, img := range resp.GetImages() {
		out = append(out, Image{
			ID:          img.GetId(),
			RepoTags:    img.GetRepoTags(),
			RepoDigests: img.GetRepoDigests(),
			Size:        img.GetSize(),
			Pinned:      img.GetPinned(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
