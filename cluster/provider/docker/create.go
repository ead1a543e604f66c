package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/kindish/kindish/cluster/provider"
)

// explicitCaps is every capability a node needs, for daemons that refuse
// --privileged because their own bounding set lacks some capability
// (CAP_SYS_RESOURCE, PERFMON, BPF or CHECKPOINT_RESTORE on some VMs).
var explicitCaps = []string{
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL",
	"SETGID", "SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE",
	"NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
	"SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
	"SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
	"LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE",
	"MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ",
}

// CreateNode creates and starts the container, then copies the node's
// files in: Docker's start is the longest part of a node's creation, and
// the node's containerd boots while the files travel; its PID 1 starts the
// kubelet once the archive's last entry, spec.FilesCopied, is there.
func (p *Provider) CreateNode(ctx context.Context, spec provider.NodeSpec) error {
	p.loadPrivilegedRefusal(ctx)
	if !p.privilegedRefused.Load() {
		err := p.createAndStart(ctx, spec, true)
		if err == nil || !isPrivilegedRefusal(err) {
			return err
		}
		p.privilegedRefused.Store(true)
		p.rememberPrivilegedRefusal()
		p.log.Info("the Docker daemon refused --privileged; using an explicit capability set", "node", spec.Name, "error", err)
		if err := p.remove(ctx, spec.Name); err != nil {
			return err
		}
	}
	return p.createAndStart(ctx, spec, false)
}

// isPrivilegedRefusal recognises runc's answer on hosts whose bounding set
// lacks capabilities that --privileged asks for.
func isPrivilegedRefusal(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "unable to apply caps") ||
		(strings.Contains(msg, "caps") && strings.Contains(msg, "operation not permitted"))
}

func (p *Provider) createAndStart(ctx context.Context, spec provider.NodeSpec, privileged bool) error {
	cfg, host, net, err := containerConfig(spec, privileged)
	if err != nil {
		return fmt.Errorf("create node %s: %w", spec.Name, err)
	}
	created, err := p.docker.ContainerCreate(ctx, cfg, host, net, nil, spec.Name)
	if err != nil {
		return fmt.Errorf("create node %s: %w", spec.Name, err)
	}
	if err := p.docker.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("start node %s: %w", spec.Name, err)
	}
	files, err := withFilesCopied(spec.Files, spec.FilesCopied)
	if err != nil {
		return fmt.Errorf("files for node %s: %w", spec.Name, err)
	}
	if len(files) > 0 {
		// One copy: the sign that the files are in is the archive's last
		// entry, written after every other.
		err := p.docker.CopyToContainer(ctx, created.ID, "/", bytes.NewReader(files), container.CopyToContainerOptions{})
		if err != nil {
			return fmt.Errorf("copy files into node %s: %w", spec.Name, err)
		}
	}
	return nil
}

// withFilesCopied is the tar archive files with an empty file at path
// appended, or files alone when path is empty.
func withFilesCopied(files []byte, path string) ([]byte, error) {
	if path == "" {
		return files, nil
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tr := tar.NewReader(bytes.NewReader(files))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read the files' archive: %w", err)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return nil, err
		}
	}
	err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     strings.TrimPrefix(path, "/"),
		Mode:     0o644,
		ModTime:  time.Now().Truncate(time.Second),
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// containerConfig is the `docker run` of a node, one reason per setting.
func containerConfig(spec provider.NodeSpec, privileged bool) (*container.Config, *container.HostConfig, *network.NetworkingConfig, error) {
	exposed, bindings, err := portBindings(spec.Ports)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg := &container.Config{
		Image: spec.Image,
		// The hostname is the node name: the kubelet registers under it.
		Hostname: spec.Name,
		Labels: map[string]string{
			provider.ClusterLabel: spec.Cluster,
			provider.RoleLabel:    spec.Role,
		},
		// Tells programs inside (and the init) that they run in a container.
		Env:          []string{"container=docker"},
		ExposedPorts: exposed,
	}
	host := &container.HostConfig{
		// Restart after a crash or a daemon restart, but not after a user's
		// `docker stop`.
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 1},
		// containerd mounts, runc and iptables need what --privileged gives.
		Privileged: privileged,
		// The node's own cgroup tree: pod cgroups nest under the node's and
		// vanish with it instead of leaking onto the host.
		CgroupnsMode: container.CgroupnsModePrivate,
		// The node's runtime state, like a booted machine's.
		Tmpfs: map[string]string{"/run": "rw", "/tmp": "rw"},
		Mounts: append([]mount.Mount{{
			// containerd's overlayfs snapshotter cannot stack on the
			// container's own overlay root: give it a real filesystem. An
			// anonymous volume goes with the container (rm -v).
			Type:   mount.TypeVolume,
			Target: "/var/lib/containerd",
		}}, userMounts(spec.Mounts)...),
		PortBindings: bindings,
	}
	if !privileged {
		host.CapAdd = explicitCaps
		host.SecurityOpt = []string{
			// Sandboxes fail on the session keyring under the default profile.
			"seccomp=unconfined",
			"apparmor=unconfined",
		}
		// The CLI's --security-opt systempaths=unconfined: without it
		// /proc/sys is read-only and pods' sysctls fail. The API takes it as
		// empty (not absent) lists of masked and read-only paths.
		host.MaskedPaths = []string{}
		host.ReadonlyPaths = []string{}
		// Privileged pods need every device.
		host.Resources.DeviceCgroupRules = []string{"a *:* rwm"}
	}
	net := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		NetworkName: {
			// A fixed address: certificates name it and it survives restarts.
			IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: spec.IP.String()},
			Aliases:    []string{spec.Name},
		},
	}}
	return cfg, host, net, nil
}

func portBindings(ports []provider.PortMapping) (nat.PortSet, nat.PortMap, error) {
	exposed, bindings := nat.PortSet{}, nat.PortMap{}
	for _, pm := range ports {
		proto := strings.ToLower(pm.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		port, err := nat.NewPort(proto, strconv.Itoa(pm.ContainerPort))
		if err != nil {
			return nil, nil, fmt.Errorf("port mapping %d/%s: %w", pm.ContainerPort, proto, err)
		}
		exposed[port] = struct{}{}
		hostPort := ""
		if pm.HostPort > 0 {
			hostPort = strconv.Itoa(pm.HostPort)
		}
		bindings[port] = append(bindings[port], nat.PortBinding{HostIP: pm.ListenAddress, HostPort: hostPort})
	}
	return exposed, bindings, nil
}

func userMounts(mounts []provider.Mount) []mount.Mount {
	var out []mount.Mount
	for _, m := range mounts {
		mm := mount.Mount{Type: mount.TypeBind, Source: m.HostPath, Target: m.ContainerPath, ReadOnly: m.ReadOnly}
		switch m.Propagation {
		case "HostToContainer":
			mm.BindOptions = &mount.BindOptions{Propagation: mount.PropagationRSlave}
		case "Bidirectional":
			mm.BindOptions = &mount.BindOptions{Propagation: mount.PropagationRShared}
		}
		out = append(out, mm)
	}
	return out
}
