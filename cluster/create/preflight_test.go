package create

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/kindish/kindish/cluster/config"
)

func clusterWithPorts(apiServerPort int32, hostPorts ...int32) *config.Cluster {
	c := &config.Cluster{Name: "t", Nodes: []config.Node{{Role: config.ControlPlaneRole}, {Role: config.WorkerRole}}}
	for _, p := range hostPorts {
		c.Nodes[1].ExtraPortMappings = append(c.Nodes[1].ExtraPortMappings,
			config.PortMapping{ContainerPort: 80, HostPort: p, ListenAddress: "127.0.0.1", Protocol: config.PortMappingProtocolTCP})
	}
	c.Networking.APIServerAddress = "127.0.0.1"
	c.Networking.APIServerPort = apiServerPort
	return c
}

func TestReservePortsNamesEveryTakenPortByFieldPath(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := int32(taken.Addr().(*net.TCPAddr).Port)

	c := &Context{Options: Options{Config: clusterWithPorts(port, port)}}
	err = reservePorts(context.Background(), c)
	if err == nil {
		t.Fatal("taken ports were accepted")
	}
	for _, want := range []string{"nodes[1].extraPortMappings[0].hostPort", "networking.apiServerPort", "already in use"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestReservePortsPicksAFreeAPIServerPort(t *testing.T) {
	c := &Context{Options: Options{Config: clusterWithPorts(0)}}
	if err := reservePorts(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if c.APIServer.Port == 0 || c.APIServer.Address != "127.0.0.1" {
		t.Fatalf("no port chosen: %+v", c.APIServer)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.APIServer.Port)))
	if err != nil {
		t.Fatalf("the chosen port is not free: %v", err)
	}
	l.Close()
}
