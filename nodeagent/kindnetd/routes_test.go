package kindnetd

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeRoutes is a main routing table in memory with the kernel's replace
// semantics: one route per destination, replaced whole.
type fakeRoutes struct {
	mu     sync.Mutex
	routes map[netip.Prefix]route
	ops    []string
	// fail makes Replace and Delete of that destination fail.
	fail map[netip.Prefix]error
}

func newFakeRoutes(routes ...route) *fakeRoutes {
	f := &fakeRoutes{routes: map[netip.Prefix]route{}, fail: map[netip.Prefix]error{}}
	for _, r := range routes {
		f.routes[r.Dst] = r
	}
	return f
}

func (f *fakeRoutes) List(context.Context) ([]route, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]route, 0, len(f.routes))
	for _, r := range f.routes {
		out = append(out, r)
	}
	return out, nil
}

func (f *fakeRoutes) Replace(_ context.Context, r route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, "replace "+r.String())
	if err := f.fail[r.Dst]; err != nil {
		return err
	}
	f.routes[r.Dst] = r
	return nil
}

func (f *fakeRoutes) Delete(_ context.Context, r route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, "delete "+r.String())
	if err := f.fail[r.Dst]; err != nil {
		return err
	}
	if cur, ok := f.routes[r.Dst]; ok && cur.Gateway == r.Gateway {
		delete(f.routes, r.Dst)
	}
	return nil
}

// table is the routes, sorted, as `ip route` would show them.
func (f *fakeRoutes) table() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.routes {
		out = append(out, r.String())
	}
	slices.Sort(out)
	return out
}

func (f *fakeRoutes) remove(dst netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.routes, dst)
}

func via(dst, gw string) route {
	return route{Dst: netip.MustParsePrefix(dst), Gateway: netip.MustParseAddr(gw)}
}

func dev(dst string, link int) route {
	return route{Dst: netip.MustParsePrefix(dst), LinkIndex: link}
}

// node is a Node with the given pod CIDRs and InternalIPs.
func node(name string, podCIDRs []string, ips ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if len(podCIDRs) > 0 {
		n.Spec.PodCIDR = podCIDRs[0]
		n.Spec.PodCIDRs = podCIDRs
	}
	n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeHostName, Address: name})
	for _, ip := range ips {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: ip})
	}
	return n
}

func TestNodeRoutes(t *testing.T) {
	selfByName := func(n *corev1.Node) bool { return n.Name == "kind-worker" }
	tests := []struct {
		name  string
		nodes []*corev1.Node
		want  []string
	}{
		{
			name: "a route to every other node's range via its InternalIP",
			nodes: []*corev1.Node{
				node("kind-control-plane", []string{"10.244.0.0/24"}, "172.18.0.2"),
				node("kind-worker", []string{"10.244.1.0/24"}, "172.18.0.3"),
				node("kind-worker2", []string{"10.244.2.0/24"}, "172.18.0.4"),
			},
			want: []string{"10.244.0.0/24 via 172.18.0.2", "10.244.2.0/24 via 172.18.0.4"},
		},
		{
			name: "a node without a pod CIDR yet gets no route",
			nodes: []*corev1.Node{
				node("kind-worker2", nil, "172.18.0.4"),
			},
		},
		{
			name: "a node without an InternalIP yet gets no route",
			nodes: []*corev1.Node{
				node("kind-worker2", []string{"10.244.2.0/24"}),
			},
		},
		{
			name: "only the InternalIP is a gateway, not the ExternalIP",
			nodes: []*corev1.Node{func() *corev1.Node {
				n := node("kind-worker2", []string{"10.244.2.0/24"}, "172.18.0.4")
				n.Status.Addresses = append([]corev1.NodeAddress{{Type: corev1.NodeExternalIP, Address: "203.0.113.9"}}, n.Status.Addresses...)
				return n
			}()},
			want: []string{"10.244.2.0/24 via 172.18.0.4"},
		},
		{
			name: "a node that only sets the older spec.podCIDR field",
			nodes: []*corev1.Node{func() *corev1.Node {
				n := node("kind-worker2", nil, "172.18.0.4")
				n.Spec.PodCIDR = "10.244.2.0/24"
				return n
			}()},
			want: []string{"10.244.2.0/24 via 172.18.0.4"},
		},
		{
			name: "dual stack routes each range via the address of its family",
			nodes: []*corev1.Node{
				node("kind-worker2", []string{"10.244.2.0/24", "fd00:10:244:2::/64"}, "172.18.0.4", "fc00:f853:ccd:e793::4"),
			},
			want: []string{"10.244.2.0/24 via 172.18.0.4", "fd00:10:244:2::/64 via fc00:f853:ccd:e793::4"},
		},
		{
			name: "a range without an address of its family is skipped",
			nodes: []*corev1.Node{
				node("kind-worker2", []string{"10.244.2.0/24", "fd00:10:244:2::/64"}, "172.18.0.4"),
			},
			want: []string{"10.244.2.0/24 via 172.18.0.4"},
		},
		{
			name: "a node with an unparsable pod CIDR is skipped, the others are not",
			nodes: []*corev1.Node{
				node("broken", []string{"10.244.300.0/24"}, "172.18.0.9"),
				node("kind-worker2", []string{"10.244.2.0/24"}, "172.18.0.4"),
			},
			want: []string{"10.244.2.0/24 via 172.18.0.4"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range nodeRoutes(slog.New(slog.DiscardHandler), tt.nodes, selfByName) {
				got = append(got, r.String())
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("routes %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSyncRoutes(t *testing.T) {
	podSubnets := []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")}
	// What a kindish node's table holds besides kindnetd's routes.
	base := []route{
		via("0.0.0.0/0", "172.18.0.1"),
		dev("172.18.0.0/16", 2),
		dev("10.244.1.5/32", 7), // ptp's route to a pod of this node
	}
	baseTable := []string{"0.0.0.0/0 via 172.18.0.1", "10.244.1.5/32 dev #7", "172.18.0.0/16 dev #2"}
	tests := []struct {
		name      string
		have      []route
		want      []route
		wantTable []string
		wantOps   []string
	}{
		{
			name:      "missing routes are added",
			have:      base,
			want:      []route{via("10.244.0.0/24", "172.18.0.2"), via("10.244.2.0/24", "172.18.0.4")},
			wantTable: append([]string{"10.244.0.0/24 via 172.18.0.2", "10.244.2.0/24 via 172.18.0.4"}, baseTable...),
			wantOps:   []string{"replace 10.244.0.0/24 via 172.18.0.2", "replace 10.244.2.0/24 via 172.18.0.4"},
		},
		{
			name:      "routes already in place are left alone",
			have:      append([]route{via("10.244.0.0/24", "172.18.0.2")}, base...),
			want:      []route{via("10.244.0.0/24", "172.18.0.2")},
			wantTable: append([]string{"10.244.0.0/24 via 172.18.0.2"}, baseTable...),
		},
		{
			name:      "the route of a node that is gone is removed",
			have:      append([]route{via("10.244.0.0/24", "172.18.0.2"), via("10.244.2.0/24", "172.18.0.4")}, base...),
			want:      []route{via("10.244.0.0/24", "172.18.0.2")},
			wantTable: append([]string{"10.244.0.0/24 via 172.18.0.2"}, baseTable...),
			wantOps:   []string{"delete 10.244.2.0/24 via 172.18.0.4"},
		},
		{
			name:      "a node whose address changed is routed via the new one",
			have:      append([]route{via("10.244.2.0/24", "172.18.0.4")}, base...),
			want:      []route{via("10.244.2.0/24", "172.18.0.7")},
			wantTable: append([]string{"10.244.2.0/24 via 172.18.0.7"}, baseTable...),
			wantOps:   []string{"replace 10.244.2.0/24 via 172.18.0.7", "delete 10.244.2.0/24 via 172.18.0.4"},
		},
		{
			name: "routes outside the pod range or without a gateway are never touched",
			have: append([]route{via("192.168.50.0/24", "172.18.0.9")}, base...),
			want: nil,
			wantTable: []string{
				"0.0.0.0/0 via 172.18.0.1", "10.244.1.5/32 dev #7", "172.18.0.0/16 dev #2", "192.168.50.0/24 via 172.18.0.9",
			},
		},
		{
			name:      "the same wanted route twice is added once",
			have:      base,
			want:      []route{via("10.244.0.0/24", "172.18.0.2"), via("10.244.0.0/24", "172.18.0.2")},
			wantTable: append([]string{"10.244.0.0/24 via 172.18.0.2"}, baseTable...),
			wantOps:   []string{"replace 10.244.0.0/24 via 172.18.0.2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := newFakeRoutes(tt.have...)
			have, _ := table.List(context.Background())
			if err := syncRoutes(context.Background(), slog.New(slog.DiscardHandler), table, have, podSubnets, tt.want); err != nil {
				t.Fatal(err)
			}
			wantTable := slices.Clone(tt.wantTable)
			slices.Sort(wantTable)
			if got := table.table(); !slices.Equal(got, wantTable) {
				t.Errorf("table %q, want %q", got, wantTable)
			}
			if !slices.Equal(table.ops, tt.wantOps) {
				t.Errorf("operations %q, want %q", table.ops, tt.wantOps)
			}
		})
	}
}

func TestSyncRoutesKeepsGoingPastAFailure(t *testing.T) {
	table := newFakeRoutes(via("10.244.9.0/24", "172.18.0.9"))
	table.fail[netip.MustParsePrefix("10.244.0.0/24")] = errors.New("network is unreachable")
	have, _ := table.List(context.Background())
	err := syncRoutes(context.Background(), slog.New(slog.DiscardHandler), table, have,
		[]netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")},
		[]route{via("10.244.0.0/24", "172.18.0.2"), via("10.244.2.0/24", "172.18.0.4")})
	if err == nil || !strings.Contains(err.Error(), "replace route 10.244.0.0/24 via 172.18.0.2: network is unreachable") {
		t.Fatalf("error %v, want the failed route named", err)
	}
	want := []string{"10.244.2.0/24 via 172.18.0.4"}
	if got := table.table(); !slices.Equal(got, want) {
		t.Errorf("table %q, want %q: the other changes must still be made", got, want)
	}
}
