package kindnetd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Run runs kindnetd until ctx ends.
func Run(ctx context.Context, o Options) error {
	s, err := o.settings()
	if err != nil {
		return err
	}
	cfg, err := restConfig(o)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("API client: %w", err)
	}
	s.log.Info("kindnetd starting", "node", s.nodeName, "hostIP", s.hostIP, "podSubnet", s.podSubnets, "apiServer", cfg.Host)
	return run(ctx, s, dependencies{
		client:   client,
		routes:   newNetlinkRoutes(),
		iptables: execIPTables{lookPath: exec.LookPath},
		linkMTU:  interfaceMTU,
	})
}

// dependencies are what kindnetd acts on: the API, the routing table,
// iptables and the interfaces.
type dependencies struct {
	client   kubernetes.Interface
	routes   routeTable
	iptables iptables
	// linkMTU is the MTU of the interface of that index.
	linkMTU func(index int) (int, error)
}

func interfaceMTU(index int) (int, error) {
	ifc, err := net.InterfaceByIndex(index)
	if err != nil {
		return 0, err
	}
	return ifc.MTU, nil
}

func run(ctx context.Context, s settings, d dependencies) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	factory := informers.NewSharedInformerFactory(d.client, 0)
	// Stop everything started here before returning, informers included.
	defer func() {
		cancel()
		factory.Shutdown()
		wg.Wait()
	}()

	// The agent speaks iptables, IPv4's: an IPv6 range cannot be in its
	// batch, and a cluster without IPv4 pods has nothing for it to do.
	if len(ipv4Only(s.podSubnets)) > 0 {
		masq := &masqAgent{log: s.log, iptables: d.iptables, noMasq: ipv4Only(slices.Concat(s.podSubnets, s.serviceSubnet))}
		wg.Go(func() { masq.run(ctx, s.masqSync) })
	}

	nodes := factory.Core().V1().Nodes()
	// One pending signal is enough: a sync reads every Node from the cache.
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	if _, err := nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { poke() },
		UpdateFunc: func(old, cur any) {
			if routingChanged(old, cur) {
				poke()
			}
		},
		DeleteFunc: func(any) { poke() },
	}); err != nil {
		return fmt.Errorf("watch nodes: %w", err)
	}
	factory.Start(ctx.Done())
	// An empty cache would look like a cluster without other nodes, and
	// every route would go: nothing is synced before the first list.
	if !cache.WaitForCacheSync(ctx.Done(), nodes.Informer().HasSynced) {
		return nil
	}

	c := &nodeController{
		log:           s.log,
		nodes:         nodes.Lister(),
		routes:        d.routes,
		linkMTU:       d.linkMTU,
		nodeName:      s.nodeName,
		hostIP:        s.hostIP,
		podSubnets:    s.podSubnets,
		cniConfigPath: s.cniConfigPath,
	}
	c.run(ctx, changed, s.routeSync)
	return nil
}

func ipv4Only(prefixes []netip.Prefix) []netip.Prefix {
	return slices.DeleteFunc(slices.Clone(prefixes), func(p netip.Prefix) bool { return !p.Addr().Is4() })
}

// routingChanged says whether a Node update matters here: its ranges or
// its addresses. Status heartbeats do not.
func routingChanged(old, cur any) bool {
	o, ok1 := old.(*corev1.Node)
	n, ok2 := cur.(*corev1.Node)
	if !ok1 || !ok2 {
		return true
	}
	return o.Spec.PodCIDR != n.Spec.PodCIDR ||
		!slices.Equal(o.Spec.PodCIDRs, n.Spec.PodCIDRs) ||
		!equality.Semantic.DeepEqual(o.Status.Addresses, n.Status.Addresses)
}

// nodeController keeps this node's CNI configuration and its routes to
// the other nodes' pods in line with the Nodes. Each sync reads every
// Node and the whole routing table, so it heals whatever changed,
// missed events and hand-made changes alike.
type nodeController struct {
	log     *slog.Logger
	nodes   corelisters.NodeLister
	routes  routeTable
	linkMTU func(index int) (int, error)

	nodeName      string
	hostIP        netip.Addr
	podSubnets    []netip.Prefix
	cniConfigPath string
}

// run syncs on every relevant change and every period, and retries a
// failed sync sooner, backing off up to the period.
func (c *nodeController) run(ctx context.Context, changed <-chan struct{}, period time.Duration) {
	resync := time.NewTicker(period)
	defer resync.Stop()
	const firstRetry = time.Second
	backoff := firstRetry
	var retry <-chan time.Time
	for {
		if err := c.sync(ctx); err != nil && ctx.Err() == nil {
			c.log.Error("sync node network", "err", err, "retryIn", backoff)
			retry = time.After(backoff)
			backoff = min(2*backoff, period)
		} else {
			retry, backoff = nil, firstRetry
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-resync.C:
		case <-retry:
		}
	}
}

func (c *nodeController) sync(ctx context.Context) error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	have, err := c.routes.List(ctx)
	if err != nil {
		return err
	}
	var errs []error
	if err := c.syncCNIConfig(nodes, have); err != nil {
		errs = append(errs, err)
	}
	if err := syncRoutes(ctx, c.log, c.routes, have, c.podSubnets, nodeRoutes(c.log, nodes, c.isSelf)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// syncCNIConfig writes the conflist for this node's ranges, once it has
// them.
func (c *nodeController) syncCNIConfig(nodes []*corev1.Node, routes []route) error {
	self := c.findSelf(nodes)
	if self == nil {
		c.log.Info("waiting for this node's Node object", "node", c.nodeName, "hostIP", c.hostIP)
		return nil
	}
	cidrs, err := podCIDRs(self)
	if err != nil {
		return fmt.Errorf("node %s pod CIDR: %w", self.Name, err)
	}
	if len(cidrs) == 0 {
		c.log.Info("waiting for the node's pod CIDR", "node", self.Name)
		return nil
	}
	conflist, err := renderConflist(cidrs, c.mainMTU(routes))
	if err != nil {
		return fmt.Errorf("CNI config for node %s: %w", self.Name, err)
	}
	wrote, err := writeFileIfChanged(c.cniConfigPath, conflist)
	if err != nil {
		return fmt.Errorf("write CNI config %s: %w", c.cniConfigPath, err)
	}
	if wrote {
		c.log.Info("wrote CNI config", "path", c.cniConfigPath, "podCIDRs", cidrs)
	}
	return nil
}

// findSelf is this node's Node: the one named NodeName, or without a
// name the one whose InternalIP is HostIP, as kind finds it.
func (c *nodeController) findSelf(nodes []*corev1.Node) *corev1.Node {
	for _, n := range nodes {
		if (c.nodeName != "" && n.Name == c.nodeName) || (c.nodeName == "" && hasInternalIP(n, c.hostIP)) {
			return n
		}
	}
	return nil
}

// isSelf says whether a Node is this node, by name or by address: never
// route this node's traffic through itself, even when a stale Node holds
// its address.
func (c *nodeController) isSelf(n *corev1.Node) bool {
	return (c.nodeName != "" && n.Name == c.nodeName) || hasInternalIP(n, c.hostIP)
}

func hasInternalIP(n *corev1.Node, ip netip.Addr) bool {
	for _, a := range n.Status.Addresses {
		if a.Type != corev1.NodeInternalIP {
			continue
		}
		if addr, err := netip.ParseAddr(a.Address); err == nil && addr.Unmap() == ip.Unmap() {
			return true
		}
	}
	return false
}

// mainMTU is the MTU of the interface that holds the default route of the
// host IP's family (a kindish node's eth0, on the Docker network), or 0,
// leaving it to the plugin, when there is none.
func (c *nodeController) mainMTU(routes []route) int {
	for _, r := range routes {
		if r.Dst.Bits() != 0 || r.Dst.Addr().Is4() != c.hostIP.Unmap().Is4() || r.LinkIndex <= 0 {
			continue
		}
		mtu, err := c.linkMTU(r.LinkIndex)
		if err != nil {
			c.log.Warn("MTU of the default route's interface", "ifindex", r.LinkIndex, "err", err)
			return 0
		}
		return mtu
	}
	return 0
}
