package conntrack

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kindish/kindish/nodeagent/kubeproxy/servicemap"
)

func portName(name string, protocol corev1.Protocol) servicemap.ServicePortName {
	return servicemap.ServicePortName{NamespacedName: types.NamespacedName{Namespace: "kube-system", Name: name}, Port: "dns", Protocol: protocol}
}

func endpoint(ip string, serving bool) servicemap.Endpoint {
	return servicemap.Endpoint{IP: netip.MustParseAddr(ip), Port: 53, Ready: serving, Serving: serving}
}

// snapshot is one service port with endpoints; nil endpoints leaves the
// port without any.
func snapshot(name servicemap.ServicePortName, nodePort int, eps ...servicemap.Endpoint) servicemap.Snapshot {
	s := servicemap.Snapshot{
		Services: map[servicemap.ServicePortName]servicemap.ServicePort{name: {
			Name: name, ClusterIP: netip.MustParseAddr("10.96.0.10"), Port: 53, NodePort: nodePort,
		}},
		Endpoints: map[servicemap.ServicePortName][]servicemap.Endpoint{},
	}
	if len(eps) > 0 {
		s.Endpoints[name] = eps
	}
	return s
}

func deletionStrings(dels []Deletion) []string {
	var out []string
	for _, d := range dels {
		out = append(out, d.String())
	}
	return out
}

func TestStaleEntries(t *testing.T) {
	udp := portName("kube-dns", corev1.ProtocolUDP)
	tcp := portName("kube-dns", corev1.ProtocolTCP)
	a, b := endpoint("10.244.1.2", true), endpoint("10.244.2.3", true)
	cases := []struct {
		name      string
		prev, cur servicemap.Snapshot
		want      []string
	}{{
		name: "removed UDP endpoint: entries DNATed to it",
		prev: snapshot(udp, 0, a, b),
		cur:  snapshot(udp, 0, b),
		want: []string{"-D --orig-dst 10.96.0.10 --dst-nat 10.244.1.2 -p udp"},
	}, {
		name: "removed UDP endpoint of a NodePort service: through the NodePort too",
		prev: snapshot(udp, 30053, a, b),
		cur:  snapshot(udp, 30053, b),
		want: []string{
			"-D --orig-dst 10.96.0.10 --dst-nat 10.244.1.2 -p udp",
			"-D -p udp --dport 30053 --dst-nat 10.244.1.2",
		},
	}, {
		name: "UDP endpoint stopped serving",
		prev: snapshot(udp, 0, a, b),
		cur:  snapshot(udp, 0, endpoint("10.244.1.2", false), b),
		want: []string{"-D --orig-dst 10.96.0.10 --dst-nat 10.244.1.2 -p udp"},
	}, {
		name: "UDP service got its first endpoint: entries of the REJECT era",
		prev: snapshot(udp, 30053),
		cur:  snapshot(udp, 30053, a),
		want: []string{"-D --orig-dst 10.96.0.10 -p udp --dport 53", "-D -p udp --dport 30053"},
	}, {
		name: "UDP service deleted",
		prev: snapshot(udp, 0, a),
		cur:  servicemap.Snapshot{},
		want: []string{"-D --orig-dst 10.96.0.10 -p udp --dport 53"},
	}, {
		name: "TCP endpoint removed: nothing, connections end by themselves",
		prev: snapshot(tcp, 0, a, b),
		cur:  snapshot(tcp, 0, b),
	}, {
		name: "unchanged UDP endpoints: nothing, a resync keeps conntrack",
		prev: snapshot(udp, 30053, a, b),
		cur:  snapshot(udp, 30053, a, b),
	}, {
		name: "endpoint added to a served UDP service: nothing",
		prev: snapshot(udp, 0, a),
		cur:  snapshot(udp, 0, a, b),
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := deletionStrings(StaleEntries(c.prev, c.cur)); !slices.Equal(got, c.want) {
				t.Errorf("StaleEntries() = %q, want %q", got, c.want)
			}
		})
	}
}

type fakeExecutor struct {
	hasConntrack bool
	ran          []string
	result       func(args []string) error
}

func (f *fakeExecutor) LookPath(file string) (string, error) {
	if file == "/usr/sbin/conntrack" && f.hasConntrack {
		return "/usr/sbin/conntrack", nil
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}

func (f *fakeExecutor) Run(_ context.Context, _ []byte, path string, args ...string) ([]byte, error) {
	f.ran = append(f.ran, path+" "+strings.Join(args, " "))
	if f.result != nil {
		return nil, f.result(args)
	}
	return nil, nil
}

func TestNewFailsWithoutTheBinary(t *testing.T) {
	if _, err := New(&fakeExecutor{}); err == nil {
		t.Fatal("New succeeded without a conntrack binary")
	}
}

func TestDeleteRunsEveryDeletionAndIgnoresEmptyMatches(t *testing.T) {
	f := &fakeExecutor{hasConntrack: true, result: func(args []string) error {
		switch args[2] {
		case "10.96.0.10":
			return errors.New("exit status 1: conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.")
		case "10.96.0.11":
			return errors.New("exit status 1: Operation not permitted")
		}
		return nil
	}}
	c, err := New(f)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Delete(context.Background(), []Deletion{
		{"-D", "--orig-dst", "10.96.0.10", "-p", "udp", "--dport", "53"},
		{"-D", "--orig-dst", "10.96.0.11", "-p", "udp", "--dport", "53"},
		{"-D", "--orig-dst", "10.96.0.12", "-p", "udp", "--dport", "53"},
	})
	if len(f.ran) != 3 {
		t.Errorf("ran %d deletions, want all 3 despite the failure", len(f.ran))
	}
	if err == nil || !strings.Contains(err.Error(), "10.96.0.11") || strings.Contains(err.Error(), "10.96.0.10 ") {
		t.Errorf("Delete() error = %v, want only the 10.96.0.11 failure", err)
	}
	if f.ran[0] != "/usr/sbin/conntrack -D --orig-dst 10.96.0.10 -p udp --dport 53" {
		t.Errorf("ran %q", f.ran[0])
	}
}
