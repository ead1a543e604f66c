package create

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/kindish/kindish/cluster/config"
)

var errClusterExists = errors.New("cluster exists")

// checkClusterIsNew refuses a name in use before anything is created, so
// that the failure cannot touch the existing cluster.
func checkClusterIsNew(ctx context.Context, c *Context) error {
	name := c.Options.Config.Name
	nodes, err := c.Provider.ListNodes(ctx, name)
	if err != nil {
		return err
	}
	if len(nodes) > 0 {
		return fmt.Errorf("%w: node(s) already exist for a cluster with the name %q; delete it first (kindish delete cluster --name %s) or choose another --name", errClusterExists, name, name)
	}
	return nil
}

// reservePorts checks every fixed host port before any container exists
// (Docker would only notice at the node's start, after the other nodes were
// made) and picks the API server's port when the config leaves it open. The
// port is chosen here rather than by Docker so that it is fixed in the
// container's configuration and survives restarts.
func reservePorts(_ context.Context, c *Context) error {
	cfg := c.Options.Config
	var errs []error
	for i, n := range cfg.Nodes {
		for j, pm := range n.ExtraPortMappings {
			if pm.HostPort == 0 {
				continue
			}
			if err := portFree(pm.ListenAddress, int(pm.HostPort), string(pm.Protocol)); err != nil {
				errs = append(errs, fmt.Errorf("nodes[%d].extraPortMappings[%d].hostPort: %w", i, j, err))
			}
		}
	}
	addr := cfg.Networking.APIServerAddress
	port := int(cfg.Networking.APIServerPort)
	if port != 0 {
		if err := portFree(addr, port, "TCP"); err != nil {
			errs = append(errs, fmt.Errorf("networking.apiServerPort: %w", err))
		}
	} else {
		var err error
		if port, err = freePort(addr); err != nil {
			errs = append(errs, fmt.Errorf("networking.apiServerAddress: no free port on %s: %w", addr, err))
		}
	}
	c.APIServer = HostEndpoint{Address: addr, Port: port}
	return errors.Join(errs...)
}

func portFree(addr string, port int, protocol string) error {
	hostPort := net.JoinHostPort(addr, strconv.Itoa(port))
	if strings.EqualFold(protocol, string(config.PortMappingProtocolUDP)) {
		pc, err := net.ListenPacket("udp", hostPort)
		if err != nil {
			return fmt.Errorf("host port %d/UDP on %s is not available: %w", port, addr, err)
		}
		return pc.Close()
	}
	if strings.EqualFold(protocol, string(config.PortMappingProtocolSCTP)) {
		return nil // Go cannot probe SCTP; Docker reports a conflict at start.
	}
	l, err := net.Listen("tcp", hostPort)
	if err != nil {
		return fmt.Errorf("host port %d/TCP on %s is already in use: %w", port, addr, err)
	}
	return l.Close()
}

func freePort(addr string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
