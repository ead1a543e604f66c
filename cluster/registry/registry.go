// Package registry runs the kindish registry: one image registry per
// Docker host, the container kindish-registry on the nodes' network,
// shared by every cluster, that nodes pull their images from. Images are
// pushed to it from the host's Docker engine (Push), kept under the name of
// the registry they come from ("docker.io/library/nginx:latest", see
// Locate), and pulled by the nodes' containerd, configured by NodeFiles to
// take docker.io, registry.k8s.io, quay.io and ghcr.io images from it and
// from nowhere else.
//
// The registry is the real CNCF Distribution server (images/registry),
// serving HTTPS with mutual TLS only: kindish keeps a CA, the server's
// certificate and one client certificate per user on the host (see
// StateDir), and every client, kindish on the host as each node's
// containerd, presents that certificate. Its storage is a named volume,
// so images outlive the container: Ensure recreates the container freely
// (a new image, a new PKI) without losing them.
package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kindish/kindish/cluster/provider"
	imageregistry "github.com/kindish/kindish/images/registry"
)

// Defaults of Options.
const (
	// DefaultName is the registry container's name, which is also the host
	// name nodes reach it by on the kindish network.
	DefaultName = "kindish-registry"
	// DefaultVolume is the named volume that holds the images.
	DefaultVolume = "kindish-registry"
	// defaultStartTimeout bounds the wait for a started registry to answer.
	defaultStartTimeout = 30 * time.Second
)

// Docker is the part of the Docker Engine API the registry needs;
// *client.Client implements it.
type Docker interface {
	ImageInspect(ctx context.Context, image string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageSave(ctx context.Context, images []string, opts ...client.ImageSaveOption) (io.ReadCloser, error)
	ContainerInspect(ctx context.Context, container string) (container.InspectResponse, error)
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	CopyToContainer(ctx context.Context, container, path string, content io.Reader, options container.CopyToContainerOptions) error
	ContainerStart(ctx context.Context, container string, options container.StartOptions) error
	ContainerRemove(ctx context.Context, container string, options container.RemoveOptions) error
	ContainerLogs(ctx context.Context, container string, options container.LogsOptions) (io.ReadCloser, error)
	VolumeCreate(ctx context.Context, options volume.CreateOptions) (volume.Volume, error)
}

// Network is the nodes' network, which the registry joins so that nodes
// reach it by name. cluster/provider/docker's Provider implements it: the
// registry takes its address from the same pool as the nodes, a fixed one,
// so that a stopped node never finds its own address taken by the
// registry when it starts again.
type Network interface {
	EnsureNetwork(ctx context.Context) (provider.Network, error)
	AllocateIPs(ctx context.Context, network provider.Network, n int) ([]netip.Addr, error)
}

// Options configure Ensure. The zero value is the host's registry.
type Options struct {
	// Name is the container's name and the registry's host name on the
	// network; default DefaultName. Tests use another, so that they never
	// touch the host's registry.
	Name string
	// Volume is the named volume that keeps the images; default
	// DefaultVolume.
	Volume string
	// Image is the registry image; default images/registry.Image().
	Image string
	// EnsureImage, when set, is called to make Image present before it is
	// looked up (kindish builds it from its source tree with
	// images/registry.Build); when nil, Image must be present.
	EnsureImage func(ctx context.Context, image string) error
	// StateDir keeps the registry's PKI, 0700, keys 0600; default
	// StateDir().
	StateDir string
	// TempDir holds images saved from the engine while they are pushed;
	// default /var/tmp, as an image may not fit in a small /tmp.
	TempDir string
	// StartTimeout bounds the wait for a started registry to answer;
	// default 30s.
	StartTimeout time.Duration
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Volume == "" {
		o.Volume = DefaultVolume
	}
	if o.Image == "" {
		o.Image = imageregistry.Image()
	}
	if o.StateDir == "" {
		dir, err := StateDir()
		if err != nil {
			return o, err
		}
		o.StateDir = dir
	}
	if o.TempDir == "" {
		o.TempDir = "/var/tmp"
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = defaultStartTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// StateDir is where the registry's PKI is kept for this user:
// $XDG_DATA_HOME/kindish/registry, else ~/.local/share/kindish/registry.
// It is data rather than cache: nodes of existing clusters hold
// certificates issued by the CA kept there.
func StateDir() (string, error) {
	if dir := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "kindish", "registry"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("registry state directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "kindish", "registry"), nil
}

// Registry is a running registry and a client of it.
type Registry struct {
	name   string
	addr   string
	pki    *PKI
	docker Docker
	// transport presents the client certificate and trusts only the
	// registry CA.
	transport http.RoundTripper
	tempDir   string
	log       *slog.Logger
}

// Host is the registry's name as nodes reach it and as images stored in
// it for themselves are named: "kindish-registry:5000".
func (r *Registry) Host() string { return r.name + ":" + strconv.Itoa(imageregistry.Port) }

// Address is where the host reaches the registry: its port published on
// the loopback address, "127.0.0.1:<port>". The port is Docker's choice and
// changes when the container restarts; Ensure reads it again.
func (r *Registry) Address() string { return r.addr }

// Transport is an HTTP transport for the registry: it presents kindish's
// client certificate and trusts nothing but the registry CA.
func (r *Registry) Transport() http.RoundTripper { return r.transport }

// Ensure makes the registry run and answer, and returns a client of it.
// It creates the PKI, the volume and the container when missing; it
// replaces a container made from another image, another PKI (the state
// directory was removed: nothing can talk to that container any more) or
// attached to a network that is not the nodes' current one, keeping the
// volume and so the images; it starts a stopped one. It is idempotent, and
// kindish processes of one user take turns through a lock in the state
// directory; a container another process creates meanwhile is taken as
// found.
func Ensure(ctx context.Context, docker Docker, nodes Network, opts Options) (*Registry, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	unlock, err := lockDir(ctx, opts.StateDir)
	if err != nil {
		return nil, err
	}
	defer unlock()

	p, err := loadOrCreatePKI(opts.StateDir, opts.Name, time.Now())
	if err != nil {
		return nil, err
	}
	if opts.EnsureImage != nil {
		if err := opts.EnsureImage(ctx, opts.Image); err != nil {
			return nil, err
		}
	}
	img, err := docker.ImageInspect(ctx, opts.Image)
	if err != nil {
		return nil, fmt.Errorf("registry image %s: %w (kindish builds it from its source tree: images/registry.Build)", opts.Image, err)
	}
	nw, err := nodes.EnsureNetwork(ctx)
	if err != nil {
		return nil, err
	}
	c := &containerManager{docker: docker, nodes: nodes, opts: opts, network: nw, want: wanted{image: img.ID, pki: p.Fingerprint()}, pki: p}
	addr, err := c.ensure(ctx)
	if err != nil {
		return nil, err
	}
	transport, err := newTransport(p)
	if err != nil {
		return nil, err
	}
	r := &Registry{name: opts.Name, addr: addr, pki: p, docker: docker, transport: transport, tempDir: opts.TempDir, log: opts.Logger}
	start := time.Now()
	if err := r.waitReady(ctx, opts.StartTimeout); err != nil {
		return nil, c.withLogs(ctx, err)
	}
	opts.Logger.Debug("registry ready", "container", opts.Name, "address", addr, "waited", time.Since(start).Round(time.Millisecond))
	return r, nil
}

// newTransport is the host's HTTPS client of the registry. It ignores
// proxy settings: the registry is on the loopback address.
func newTransport(p *PKI) (*http.Transport, error) {
	cert, err := tls.X509KeyPair(p.ClientCert, p.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("registry client certificate: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.CACert) {
		return nil, errors.New("registry CA certificate: no certificate in it")
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.TLSClientConfig = &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
	}
	return t, nil
}

// waitReady polls the API root until it answers 200: the server listens,
// accepts the client certificate, and its storage health check passes.
func (r *Registry) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := "https://" + r.addr + "/v2/"
	hc := &http.Client{Transport: r.transport, Timeout: 5 * time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("registry %s did not answer at %s within %v: %w", r.name, url, timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
