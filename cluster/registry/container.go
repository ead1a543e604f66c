package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"

	"github.com/kindish/kindish/cluster/provider"
	imageregistry "github.com/kindish/kindish/images/registry"
)

// Labels on the registry's container and volume.
const (
	// RegistryLabel marks the registry's container and volume; its value
	// is the registry's name.
	RegistryLabel = "io.kindish.registry"
	// pkiLabel holds PKI.Fingerprint of the files the container was given.
	pkiLabel = "io.kindish.registry.pki"
)

// maxAttempts bounds the rounds of inspect, remove and create when other
// processes change the container at the same time.
const maxAttempts = 5

// wanted is what a usable container was made from.
type wanted struct {
	image string // image ID
	pki   string // PKI fingerprint
}

// containerManager creates, replaces and starts the registry's container.
type containerManager struct {
	docker  Docker
	nodes   Network
	opts    Options
	network provider.Network
	want    wanted
	pki     *PKI
}

// errRetry sends ensure round again: the container changed meanwhile.
var errRetry = errors.New("the registry container changed meanwhile")

// ensure makes the container run as wanted and returns the host address
// of its published port.
func (c *containerManager) ensure(ctx context.Context) (string, error) {
	last := errRetry
	for range maxAttempts {
		addr, err := c.step(ctx)
		if !errors.Is(err, errRetry) {
			return addr, err
		}
		if err != errRetry {
			// It says what went wrong, where a bare errRetry does not.
			last = err
		}
	}
	return "", fmt.Errorf("registry container %s: gave up after %d attempts: %w", c.opts.Name, maxAttempts, last)
}

// step observes the container and takes one step toward a running one.
func (c *containerManager) step(ctx context.Context) (string, error) {
	name := c.opts.Name
	info, err := c.docker.ContainerInspect(ctx, name)
	if errdefs.IsNotFound(err) {
		return "", c.create(ctx)
	}
	if err != nil {
		return "", fmt.Errorf("inspect registry container %s: %w", name, err)
	}
	if reason := c.stale(info); reason != "" {
		c.opts.Logger.Info("replacing the registry container; the images stay in its volume", "container", name, "reason", reason)
		start := time.Now()
		err := c.docker.ContainerRemove(ctx, info.ID, container.RemoveOptions{Force: true})
		if err != nil && !errdefs.IsNotFound(err) {
			return "", fmt.Errorf("remove registry container %s: %w", name, err)
		}
		c.opts.Logger.Debug("registry container removed", "container", name, "took", time.Since(start).Round(time.Millisecond))
		return "", errRetry
	}
	if info.State == nil || !info.State.Running {
		if err := c.docker.ContainerStart(ctx, info.ID, container.StartOptions{}); err != nil {
			// Its address taken by a node while it was stopped, its network
			// created anew...: a new container, with the same volume, is
			// the cure for any of these, and costs a second.
			c.opts.Logger.Info("replacing the registry container: it does not start", "container", name, "error", err)
			if err := c.docker.ContainerRemove(ctx, info.ID, container.RemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
				return "", fmt.Errorf("remove registry container %s: %w", name, err)
			}
			return "", fmt.Errorf("%w: start registry container %s: %w", errRetry, name, err)
		}
		if info, err = c.docker.ContainerInspect(ctx, name); err != nil {
			return "", fmt.Errorf("inspect registry container %s: %w", name, err)
		}
	}
	return publishedAddress(info)
}

// stale says why a container cannot serve as the registry, or "".
func (c *containerManager) stale(info container.InspectResponse) string {
	var labels map[string]string
	if info.Config != nil {
		labels = info.Config.Labels
	}
	switch {
	case labels[pkiLabel] != c.want.pki:
		return "it has other certificates than " + c.opts.StateDir + " holds"
	case info.Image != c.want.image:
		return "it runs image " + info.Image + ", not " + c.opts.Image + " (" + c.want.image + ")"
	case info.State != nil && info.State.Status == "created":
		// Created but never started: its maker may have died before
		// copying the certificates in.
		return "it was never started"
	case info.NetworkSettings == nil || info.NetworkSettings.Networks[c.network.Name] == nil:
		return "it is not on network " + c.network.Name
	}
	return staleNetwork(info.NetworkSettings.Networks[c.network.Name], c.network)
}

// staleNetwork reports an endpoint whose address is outside the network's
// current subnet: the network was removed and created anew since.
func staleNetwork(ep *network.EndpointSettings, nw provider.Network) string {
	addr := ep.IPAddress
	if ep.IPAMConfig != nil && ep.IPAMConfig.IPv4Address != "" {
		addr = ep.IPAMConfig.IPv4Address
	}
	if a, err := netip.ParseAddr(addr); err == nil && nw.Subnet.IsValid() && !nw.Subnet.Contains(a) {
		return fmt.Sprintf("its address %s is outside network %s (%s)", a, nw.Name, nw.Subnet)
	}
	return ""
}

func isAddressInUse(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "address already in use")
}

// create creates the volume (when missing) and the container, copies the
// TLS files in and starts it. It always asks for another round: the next
// inspect reads the published port, and a conflict means another process
// created the container first, which the next round takes as found.
func (c *containerManager) create(ctx context.Context) error {
	name := c.opts.Name
	_, err := c.docker.VolumeCreate(ctx, volume.CreateOptions{
		Name:   c.opts.Volume,
		Labels: map[string]string{RegistryLabel: name},
	})
	if err != nil {
		return fmt.Errorf("create registry volume %s: %w", c.opts.Volume, err)
	}
	ips, err := c.nodes.AllocateIPs(ctx, c.network, 1)
	if err != nil {
		return fmt.Errorf("registry container %s: %w", name, err)
	}
	cfg, host, net := containerConfig(c.opts, c.want, c.network.Name, ips[0])
	created, err := c.docker.ContainerCreate(ctx, cfg, host, net, nil, name)
	if errdefs.IsConflict(err) {
		return errRetry
	}
	if err != nil {
		return fmt.Errorf("create registry container %s: %w", name, err)
	}
	files, err := tlsTar(c.pki)
	if err != nil {
		return fmt.Errorf("registry container %s: %w", name, err)
	}
	if err := c.docker.CopyToContainer(ctx, created.ID, "/", bytes.NewReader(files), container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("copy TLS files into registry container %s: %w", name, err)
	}
	c.opts.Logger.Info("starting the registry", "container", name, "image", c.opts.Image, "address", ips[0], "volume", c.opts.Volume)
	start := time.Now()
	if err := c.docker.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		if isAddressInUse(err) {
			// Another process gave the address to a node meanwhile; the
			// next round replaces this container, never started.
			return fmt.Errorf("%w: start registry container %s: %w", errRetry, name, err)
		}
		return fmt.Errorf("start registry container %s: %w", name, err)
	}
	c.opts.Logger.Debug("registry container started", "container", name, "took", time.Since(start).Round(time.Millisecond))
	return errRetry
}

// containerConfig is the registry's `docker run`, one reason per setting.
func containerConfig(opts Options, want wanted, networkName string, ip netip.Addr) (*container.Config, *container.HostConfig, *network.NetworkingConfig) {
	port := nat.Port(strconv.Itoa(imageregistry.Port) + "/tcp")
	cfg := &container.Config{
		Image: opts.Image,
		// Nodes dial the registry by this name.
		Hostname: opts.Name,
		Labels: map[string]string{
			RegistryLabel: opts.Name,
			pkiLabel:      want.pki,
		},
		ExposedPorts: nat.PortSet{port: {}},
	}
	host := &container.HostConfig{
		// Up with the daemon, as nodes are, unless a user stopped it.
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		// Published on the loopback address only, on a port Docker picks:
		// the host pushes through it, and no other machine reaches it.
		PortBindings: nat.PortMap{port: {{HostIP: "127.0.0.1", HostPort: ""}}},
		Mounts: []mount.Mount{{
			// A named volume: the images outlive the container.
			Type:   mount.TypeVolume,
			Source: opts.Volume,
			Target: imageregistry.StorageDir,
		}},
		// The registry runs unprivileged on a port above 1024: it needs no
		// capability, and may gain none.
		CapDrop:     []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges"},
	}
	net := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		networkName: {
			// A fixed address from the nodes' pool: AllocateIPs then never
			// hands it to a node, even while the registry is stopped.
			IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: ip.String()},
			Aliases:    []string{opts.Name},
		},
	}}
	return cfg, host, net
}

// publishedAddress is the loopback address and port the registry's port
// is published on.
func publishedAddress(info container.InspectResponse) (string, error) {
	port := nat.Port(strconv.Itoa(imageregistry.Port) + "/tcp")
	if info.NetworkSettings != nil {
		for _, b := range info.NetworkSettings.Ports[port] {
			if b.HostIP == "127.0.0.1" && b.HostPort != "" {
				return "127.0.0.1:" + b.HostPort, nil
			}
		}
	}
	return "", fmt.Errorf("registry container %s: port %s is not published on 127.0.0.1", strings.TrimPrefix(info.Name, "/"), port)
}

// tlsTar is the registry's TLS files as a tar for CopyToContainer at "/",
// owned by the registry's user, which must read its key.
func tlsTar(p *PKI) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	dir := strings.TrimPrefix(imageregistry.TLSDir, "/") + "/"
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755}); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		path string
		mode int64
		data []byte
	}{
		{imageregistry.TLSPaths.ServerCert, int64(certMode), p.ServerCert},
		{imageregistry.TLSPaths.ServerKey, int64(keyMode), p.ServerKey},
		{imageregistry.TLSPaths.ClientCA, int64(certMode), p.CACert},
	} {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     strings.TrimPrefix(f.path, "/"),
			Mode:     f.mode,
			Size:     int64(len(f.data)),
			Uid:      imageregistry.UID,
			Gid:      imageregistry.GID,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("TLS files: %s: %w", f.path, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("TLS files: %s: %w", f.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// withLogs adds the end of the container's log to err, so that a registry
// that does not answer explains itself.
func (c *containerManager) withLogs(ctx context.Context, err error) error {
	rc, lerr := c.docker.ContainerLogs(ctx, c.opts.Name, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "20"})
	if lerr != nil {
		return err
	}
	defer rc.Close()
	var out bytes.Buffer
	if _, lerr := stdcopy.StdCopy(&out, &out, rc); lerr != nil || out.Len() == 0 {
		return err
	}
	return fmt.Errorf("%w\nlast lines of the registry's log (docker logs %s):\n\t%s", err, c.opts.Name, strings.ReplaceAll(strings.TrimSpace(out.String()), "\n", "\n\t"))
}
