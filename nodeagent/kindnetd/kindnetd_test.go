package kindnetd

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

// eventually polls cond until it holds. The sync periods in these tests
// are an hour, so whatever converges here converged on a Node event.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type harness struct {
	client   *fake.Clientset
	routes   *fakeRoutes
	iptables *fakeIPTables
	conflist string
	cancel   context.CancelFunc
	done     chan error
}

// startKindnetd runs kindnetd as node kind-worker (172.18.0.3) against a
// fake API holding nodes, and returns once its Node watch is open, so
// that later changes arrive as events.
func startKindnetd(t *testing.T, routeSync time.Duration, nodes ...*corev1.Node) *harness {
	t.Helper()
	objs := make([]runtime.Object, 0, len(nodes))
	for _, n := range nodes {
		objs = append(objs, n)
	}
	h := &harness{
		client: fake.NewClientset(objs...),
		// A node's table: the default route out of eth0 (index 2), the
		// Docker network.
		routes:   newFakeRoutes(route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("172.18.0.1"), LinkIndex: 2}, dev("172.18.0.0/16", 2)),
		iptables: &fakeIPTables{},
		conflist: filepath.Join(t.TempDir(), "net.d", "10-kindnet.conflist"),
		done:     make(chan error, 1),
	}
	watching := make(chan struct{})
	var once sync.Once
	h.client.PrependWatchReactor("nodes", func(action k8stesting.Action) (bool, watch.Interface, error) {
		w, err := h.client.Tracker().Watch(action.GetResource(), action.GetNamespace())
		once.Do(func() { close(watching) })
		return true, w, err
	})
	s := settings{
		nodeName:      "kind-worker",
		hostIP:        netip.MustParseAddr("172.18.0.3"),
		podSubnets:    []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")},
		serviceSubnet: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/16")},
		cniConfigPath: h.conflist,
		routeSync:     routeSync,
		masqSync:      time.Hour,
		log:           slog.New(slog.DiscardHandler),
	}
	linkMTU := func(index int) (int, error) {
		if index == 2 {
			return 1500, nil
		}
		return 0, errors.New("no such interface")
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() {
		h.done <- run(ctx, s, dependencies{client: h.client, routes: h.routes, iptables: h.iptables, linkMTU: linkMTU})
	}()
	t.Cleanup(func() { h.stop(t) })
	select {
	case <-watching:
	case <-time.After(5 * time.Second):
		t.Fatal("kindnetd never watched Nodes")
	}
	return h
}

// stop cancels kindnetd and waits for it to return.
func (h *harness) stop(t *testing.T) {
	t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("run returned %v on shutdown, want nil", err)
		}
		h.done <- nil // a second stop returns at once
	case <-time.After(5 * time.Second):
		t.Fatal("kindnetd did not stop")
	}
}

func (h *harness) hasRoute(r string) func() bool {
	return func() bool { return slices.Contains(h.routes.table(), r) }
}

func (h *harness) podRoutes() []string {
	var out []string
	for _, r := range h.routes.table() {
		if strings.HasPrefix(r, "10.244.") {
			out = append(out, r)
		}
	}
	return out
}

func (h *harness) conflistHas(s string) func() bool {
	return func() bool {
		b, err := os.ReadFile(h.conflist)
		return err == nil && strings.Contains(string(b), s)
	}
}

func TestNodeEventsDriveRoutesAndCNIConfig(t *testing.T) {
	ctx := context.Background()
	h := startKindnetd(t, time.Hour,
		node("kind-control-plane", []string{"10.244.0.0/24"}, "172.18.0.2"),
		node("kind-worker", nil, "172.18.0.3"),
	)
	nodes := h.client.CoreV1().Nodes()

	eventually(t, "the route to the control plane's pods", h.hasRoute("10.244.0.0/24 via 172.18.0.2"))
	if _, err := os.Stat(h.conflist); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("CNI config written before the node has a pod CIDR: %v", err)
	}

	t.Run("the node's pod CIDR writes the CNI config", func(t *testing.T) {
		self := node("kind-worker", []string{"10.244.1.0/24"}, "172.18.0.3")
		if _, err := nodes.Update(ctx, self, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the conflist with the node's range", h.conflistHas(`"subnet": "10.244.1.0/24"`))
		if !h.conflistHas(`"mtu": 1500`)() {
			t.Error("conflist lacks the main interface's MTU")
		}
		if got, want := h.podRoutes(), []string{"10.244.0.0/24 via 172.18.0.2"}; !slices.Equal(got, want) {
			t.Errorf("pod routes %q, want %q: never a route to this node's own range", got, want)
		}
	})

	t.Run("a new node gets a route", func(t *testing.T) {
		if _, err := nodes.Create(ctx, node("kind-worker2", []string{"10.244.2.0/24"}, "172.18.0.4"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the route to the new node", h.hasRoute("10.244.2.0/24 via 172.18.0.4"))
	})

	t.Run("a node that changes address is routed via the new one", func(t *testing.T) {
		if _, err := nodes.Update(ctx, node("kind-worker2", []string{"10.244.2.0/24"}, "172.18.0.7"), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the route via the new address", h.hasRoute("10.244.2.0/24 via 172.18.0.7"))
		if h.hasRoute("10.244.2.0/24 via 172.18.0.4")() {
			t.Error("the route via the old address is still there")
		}
	})

	t.Run("a deleted node's route goes", func(t *testing.T) {
		if err := nodes.Delete(ctx, "kind-worker2", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		want := []string{"10.244.0.0/24 via 172.18.0.2"}
		eventually(t, "the deleted node's route to go", func() bool { return slices.Equal(h.podRoutes(), want) })
	})

	t.Run("the masquerade rules were applied", func(t *testing.T) {
		eventually(t, "a restore batch", func() bool { return len(h.iptables.restored()) > 0 })
		if b := h.iptables.restored()[0]; !strings.Contains(b, "-A KIND-MASQ-AGENT -d 10.96.0.0/16") || !strings.Contains(b, "-j MASQUERADE") {
			t.Errorf("batch %q", b)
		}
	})

	h.stop(t)
}

func TestPeriodicSyncHealsWhatNoEventReports(t *testing.T) {
	h := startKindnetd(t, 50*time.Millisecond,
		node("kind-control-plane", []string{"10.244.0.0/24"}, "172.18.0.2"),
		node("kind-worker", []string{"10.244.1.0/24"}, "172.18.0.3"),
	)
	eventually(t, "the route", h.hasRoute("10.244.0.0/24 via 172.18.0.2"))
	eventually(t, "the conflist", h.conflistHas("10.244.1.0/24"))

	h.routes.remove(netip.MustParsePrefix("10.244.0.0/24"))
	if err := os.Remove(h.conflist); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the removed route to come back", h.hasRoute("10.244.0.0/24 via 172.18.0.2"))
	eventually(t, "the removed conflist to come back", h.conflistHas("10.244.1.0/24"))
}

func TestNothingIsSyncedBeforeNodesAreListed(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("connection refused")
	})
	// A route left by an earlier run, for a node the API would still list.
	routes := newFakeRoutes(via("10.244.2.0/24", "172.18.0.4"))
	s := settings{
		nodeName:      "kind-worker",
		hostIP:        netip.MustParseAddr("172.18.0.3"),
		podSubnets:    []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")},
		cniConfigPath: filepath.Join(t.TempDir(), "10-kindnet.conflist"),
		routeSync:     10 * time.Millisecond,
		masqSync:      time.Hour,
		log:           slog.New(slog.DiscardHandler),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, s, dependencies{client: client, routes: routes, iptables: &fakeIPTables{}, linkMTU: func(int) (int, error) { return 1500, nil }})
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v, want nil on shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("kindnetd did not stop while waiting for the API")
	}
	if len(routes.ops) != 0 || !slices.Equal(routes.table(), []string{"10.244.2.0/24 via 172.18.0.4"}) {
		t.Errorf("routes changed before any Node was listed: ops %q", routes.ops)
	}
}

// nodeLister serves nodes from an index, as an informer's cache would.
func nodeLister(t *testing.T, nodes ...*corev1.Node) corelisters.NodeLister {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, n := range nodes {
		if err := indexer.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	return corelisters.NewNodeLister(indexer)
}

func TestNodeControllerSync(t *testing.T) {
	defaultRoute := route{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("172.18.0.1"), LinkIndex: 2}
	tests := []struct {
		name         string
		nodeName     string
		nodes        []*corev1.Node
		table        []route
		linkMTU      func(int) (int, error)
		wantRoutes   []string
		wantConflist string // a substring; "" for no conflist
		wantNoMTU    bool
	}{
		{
			name:     "without NODE_NAME the node is the one with HOST_IP, as kind finds it",
			nodeName: "",
			nodes: []*corev1.Node{
				node("kind-control-plane", []string{"10.244.0.0/24"}, "172.18.0.2"),
				node("kind-worker", []string{"10.244.1.0/24"}, "172.18.0.3"),
			},
			table:        []route{defaultRoute},
			wantRoutes:   []string{"10.244.0.0/24 via 172.18.0.2"},
			wantConflist: `"subnet": "10.244.1.0/24"`,
		},
		{
			name:     "a stale Node holding this node's address is never a gateway",
			nodeName: "kind-worker",
			nodes: []*corev1.Node{
				node("kind-worker", []string{"10.244.1.0/24"}, "172.18.0.3"),
				node("old-worker", []string{"10.244.9.0/24"}, "172.18.0.3"),
			},
			table:        []route{defaultRoute},
			wantConflist: `"subnet": "10.244.1.0/24"`,
		},
		{
			name:       "a Node not registered yet writes no conflist but still routes",
			nodeName:   "kind-worker",
			nodes:      []*corev1.Node{node("kind-control-plane", []string{"10.244.0.0/24"}, "172.18.0.2")},
			table:      []route{defaultRoute},
			wantRoutes: []string{"10.244.0.0/24 via 172.18.0.2"},
		},
		{
			name:         "without a default route the MTU is left to the plugin",
			nodeName:     "kind-worker",
			nodes:        []*corev1.Node{node("kind-worker", []string{"10.244.1.0/24"}, "172.18.0.3")},
			wantConflist: `"subnet": "10.244.1.0/24"`,
			wantNoMTU:    true,
		},
		{
			name:         "an interface whose MTU cannot be read leaves it to the plugin",
			nodeName:     "kind-worker",
			nodes:        []*corev1.Node{node("kind-worker", []string{"10.244.1.0/24"}, "172.18.0.3")},
			table:        []route{defaultRoute},
			linkMTU:      func(int) (int, error) { return 0, errors.New("no such network interface") },
			wantConflist: `"subnet": "10.244.1.0/24"`,
			wantNoMTU:    true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes := newFakeRoutes(tt.table...)
			linkMTU := tt.linkMTU
			if linkMTU == nil {
				linkMTU = func(int) (int, error) { return 1400, nil }
			}
			c := &nodeController{
				log:           slog.New(slog.DiscardHandler),
				nodes:         nodeLister(t, tt.nodes...),
				routes:        routes,
				linkMTU:       linkMTU,
				nodeName:      tt.nodeName,
				hostIP:        netip.MustParseAddr("172.18.0.3"),
				podSubnets:    []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16")},
				cniConfigPath: filepath.Join(t.TempDir(), "10-kindnet.conflist"),
			}
			if err := c.sync(context.Background()); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range routes.table() {
				if strings.HasPrefix(r, "10.244.") {
					got = append(got, r)
				}
			}
			if !slices.Equal(got, tt.wantRoutes) {
				t.Errorf("pod routes %q, want %q", got, tt.wantRoutes)
			}
			conflist, err := os.ReadFile(c.cniConfigPath)
			switch {
			case tt.wantConflist == "" && err == nil:
				t.Errorf("conflist written: %s", conflist)
			case tt.wantConflist != "" && err != nil:
				t.Errorf("no conflist: %v", err)
			case tt.wantConflist != "" && !strings.Contains(string(conflist), tt.wantConflist):
				t.Errorf("conflist lacks %s:\n%s", tt.wantConflist, conflist)
			}
			if tt.wantConflist != "" && strings.Contains(string(conflist), `"mtu"`) == tt.wantNoMTU {
				t.Errorf("conflist's MTU (want none: %v):\n%s", tt.wantNoMTU, conflist)
			}
		})
	}
}

func TestRoutingChanged(t *testing.T) {
	base := node("kind-worker2", []string{"10.244.2.0/24"}, "172.18.0.4")
	tests := []struct {
		name string
		edit func(*corev1.Node)
		want bool
	}{
		{
			name: "a status heartbeat does not matter",
			edit: func(n *corev1.Node) {
				n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now()}}
				n.ResourceVersion = "42"
			},
		},
		{
			name: "a pod CIDR given matters",
			edit: func(n *corev1.Node) { n.Spec.PodCIDRs = append(n.Spec.PodCIDRs, "fd00:10:244:2::/64") },
			want: true,
		},
		{
			name: "an address change matters",
			edit: func(n *corev1.Node) { n.Status.Addresses[1].Address = "172.18.0.7" },
			want: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := base.DeepCopy()
			tt.edit(cur)
			if got := routingChanged(base, cur); got != tt.want {
				t.Errorf("routingChanged = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMasqueradeLeavesIPv6RangesOut(t *testing.T) {
	ipt := &fakeIPTables{}
	s := settings{
		nodeName:      "kind-worker",
		hostIP:        netip.MustParseAddr("172.18.0.3"),
		podSubnets:    []netip.Prefix{netip.MustParsePrefix("10.244.0.0/16"), netip.MustParsePrefix("fd00:10:244::/56")},
		serviceSubnet: []netip.Prefix{netip.MustParsePrefix("10.96.0.0/16"), netip.MustParsePrefix("fd00:10:96::/112")},
		cniConfigPath: filepath.Join(t.TempDir(), "10-kindnet.conflist"),
		routeSync:     time.Hour,
		masqSync:      time.Hour,
		log:           slog.New(slog.DiscardHandler),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, s, dependencies{client: fake.NewClientset(), routes: newFakeRoutes(), iptables: ipt, linkMTU: func(int) (int, error) { return 1500, nil }})
	}()
	eventually(t, "a restore batch", func() bool { return len(ipt.restored()) > 0 })
	cancel()
	<-done
	batch := ipt.restored()[0]
	if strings.Contains(batch, "fd00:") || !strings.Contains(batch, "-d 10.244.0.0/16") || !strings.Contains(batch, "-d 10.96.0.0/16") {
		t.Errorf("batch for iptables (IPv4) holds the wrong ranges:\n%s", batch)
	}
}
