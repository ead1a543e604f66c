package kubeproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/kindish/kindish/nodeagent/kubeproxy/conntrack"
	"github.com/kindish/kindish/nodeagent/kubeproxy/iptables"
	"github.com/kindish/kindish/nodeagent/kubeproxy/rules"
	"github.com/kindish/kindish/nodeagent/kubeproxy/runner"
	"github.com/kindish/kindish/nodeagent/kubeproxy/servicemap"
)

// Labels that take a Service or EndpointSlice away from kube-proxy, as
// upstream's informers filter them: another proxy's services, and the
// slices of headless services.
const (
	labelServiceProxyName = "service.kubernetes.io/service-proxy-name"
	labelHeadless         = corev1.IsHeadlessService
)

// iptablesClient is what the proxier needs of iptables (*iptables.Client).
type iptablesClient interface {
	Save(ctx context.Context) (iptables.Tables, error)
	Restore(ctx context.Context, data []byte) error
}

// conntrackCleaner deletes conntrack entries (*conntrack.Cleaner).
type conntrackCleaner interface {
	Delete(ctx context.Context, dels []conntrack.Deletion) error
}

// proxierConfig is what a proxier is built from.
type proxierConfig struct {
	Client   kubernetes.Interface
	NodeName string
	IPTables iptablesClient
	// Conntrack is nil when the conntrack binary is missing.
	Conntrack conntrackCleaner
	// Rules holds the settings of the rules; its NodeIPs come from the
	// Node and are ignored here.
	Rules                     rules.Config
	MinSyncPeriod, SyncPeriod time.Duration
	Clock                     clock.WithTicker
	Log                       *slog.Logger
	Metrics                   *metrics
	Health                    *health
}

// proxier keeps the node's iptables rules in step with the cluster's
// Services and EndpointSlices: informers say something changed, and a
// rate-limited sync rewrites every rule from the informers' caches, so a
// missed or repeated event changes nothing.
type proxier struct {
	cfg      proxierConfig
	log      *slog.Logger
	runner   *runner.BoundedFrequencyRunner
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	factory  informers.SharedInformerFactory
	// nodeFactory watches this node alone.
	nodeFactory informers.SharedInformerFactory
	synced      []cache.InformerSynced

	// started is when the proxier was made.
	started time.Time

	// initialized is set once the caches are full: syncing before would
	// remove the rules of services not listed yet.
	initialized atomic.Bool

	mu sync.Mutex
	// nodeIPs are the Node's addresses that NodePorts answer on.
	nodeIPs []netip.Addr
	// triggerTimes are the EndpointSlices' last-change-trigger-times not
	// yet programmed, per service: the network programming latency.
	triggerTimes map[types.NamespacedName][]time.Time
	// applied is what the last successful sync programmed, for conntrack;
	// nil before the first one.
	applied *servicemap.Snapshot
}

func newProxier(cfg proxierConfig) (*proxier, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Metrics == nil {
		cfg.Metrics = newMetrics(nil)
	}
	if cfg.Health == nil {
		cfg.Health = newHealth(cfg.Clock, 2*cfg.SyncPeriod, cfg.Metrics)
	}
	p := &proxier{cfg: cfg, log: cfg.Log, started: cfg.Clock.Now(), triggerTimes: map[types.NamespacedName][]time.Time{}}
	// A failed sync is retried after syncPeriod, as upstream's; the full
	// resync every syncPeriod also heals rules someone else removed.
	r, err := runner.New(p.syncProxyRules, cfg.MinSyncPeriod, cfg.SyncPeriod, cfg.SyncPeriod, cfg.Clock)
	if err != nil {
		return nil, err
	}
	p.runner = r

	noProxyName, _ := labels.NewRequirement(labelServiceProxyName, selection.DoesNotExist, nil)
	notHeadless, _ := labels.NewRequirement(labelHeadless, selection.DoesNotExist, nil)
	selector := labels.NewSelector().Add(*noProxyName, *notHeadless).String()
	p.factory = informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	p.nodeFactory = informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", cfg.NodeName).String()
		}))

	svcInformer := p.factory.Core().V1().Services()
	sliceInformer := p.factory.Discovery().V1().EndpointSlices()
	nodeInformer := p.nodeFactory.Core().V1().Nodes()
	p.services, p.slices = svcInformer.Lister(), sliceInformer.Lister()

	var regs []cache.ResourceEventHandlerRegistration
	var errs []error
	add := func(inf cache.SharedIndexInformer, h cache.ResourceEventHandler) {
		reg, err := inf.AddEventHandler(h)
		regs = append(regs, reg)
		errs = append(errs, err)
	}
	add(svcInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.serviceChanged() },
		UpdateFunc: p.onServiceUpdate,
		DeleteFunc: func(any) { p.serviceChanged() },
	})
	add(sliceInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.onEndpointSliceUpdate(nil, obj) },
		UpdateFunc: p.onEndpointSliceUpdate,
		DeleteFunc: p.onEndpointSliceDelete,
	})
	add(nodeInformer.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    p.onNode,
		UpdateFunc: func(_, cur any) { p.onNode(cur) },
		DeleteFunc: func(any) { p.cfg.Health.SyncNode(nil) },
	})
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("add informer event handlers: %w", err)
	}
	for _, reg := range regs {
		p.synced = append(p.synced, reg.HasSynced)
	}
	return p, nil
}

// run syncs until ctx ends. Rules stay in place when it returns: a
// restarted kube-proxy rewrites the same rules, and established
// connections, tracked by conntrack, never notice.
func (p *proxier) run(ctx context.Context) {
	p.factory.Start(ctx.Done())
	p.nodeFactory.Start(ctx.Done())
	defer p.nodeFactory.Shutdown()
	defer p.factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), p.synced...) {
		return
	}
	p.initialized.Store(true)
	p.cfg.Health.Updated()
	p.cfg.Metrics.lastQueued.SetToCurrentTime()
	p.log.Info("caches synced; syncing iptables rules", "node", p.cfg.NodeName)
	p.runner.Run()
	p.runner.Loop(ctx)
}

// requestSync asks for a sync after a change. Before the caches are full
// the first sync is still to come, and it will see the change.
func (p *proxier) requestSync() {
	if !p.initialized.Load() {
		return
	}
	p.cfg.Health.QueuedUpdate()
	p.cfg.Metrics.lastQueued.SetToCurrentTime()
	p.runner.Run()
}

func (p *proxier) serviceChanged() {
	p.cfg.Metrics.serviceChangesTotal.Inc()
	p.cfg.Metrics.serviceChangesPending.Inc()
	p.requestSync()
}

// onServiceUpdate ignores updates that leave the spec alone (status,
// annotations): they change no rule.
func (p *proxier) onServiceUpdate(old, cur any) {
	o, ok1 := old.(*corev1.Service)
	c, ok2 := cur.(*corev1.Service)
	if ok1 && ok2 && equality.Semantic.DeepEqual(o.Spec, c.Spec) {
		return
	}
	p.serviceChanged()
}

func (p *proxier) endpointsChanged() {
	p.cfg.Metrics.endpointChangesTotal.Inc()
	p.cfg.Metrics.endpointChangesPending.Inc()
	p.requestSync()
}

// onEndpointSliceUpdate records the slice's last-change-trigger-time when
// its endpoints changed, as upstream's change tracker does; the time is
// when the change that led to the slice (a pod becoming ready) happened.
func (p *proxier) onEndpointSliceUpdate(old, cur any) {
	s, ok := cur.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	if o, ok := old.(*discoveryv1.EndpointSlice); ok &&
		equality.Semantic.DeepEqual(o.Endpoints, s.Endpoints) &&
		equality.Semantic.DeepEqual(o.Ports, s.Ports) && o.AddressType == s.AddressType {
		return
	}
	// A slice changed before kube-proxy started tells how old the slice
	// is, not how long programming took: upstream ignores those too.
	if t, ok := lastChangeTriggerTime(s); ok && t.After(p.started) {
		svc := types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
		p.mu.Lock()
		p.triggerTimes[svc] = append(p.triggerTimes[svc], t)
		p.mu.Unlock()
	}
	p.endpointsChanged()
}

// onEndpointSliceDelete drops the service's pending trigger times, as
// upstream does: a deleted slice's annotation dates its last update, not
// the deletion.
func (p *proxier) onEndpointSliceDelete(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
		p.mu.Lock()
		delete(p.triggerTimes, types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]})
		p.mu.Unlock()
	}
	p.endpointsChanged()
}

func lastChangeTriggerTime(s *discoveryv1.EndpointSlice) (time.Time, bool) {
	v, ok := s.Annotations[corev1.EndpointsLastChangeTriggerTime]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	return t, err == nil
}

// onNode takes the Node's addresses for NodePorts, and its eligibility
// for /healthz.
func (p *proxier) onNode(obj any) {
	node, ok := obj.(*corev1.Node)
	if !ok || node.Name != p.cfg.NodeName {
		return
	}
	p.cfg.Health.SyncNode(node)
	ips, loopback := nodePortAddresses(node)
	for _, ip := range loopback {
		p.log.Warn("NodePorts do not answer on loopback addresses (route_localnet is left off)", "address", ip)
	}
	p.mu.Lock()
	changed := !slices.Equal(ips, p.nodeIPs)
	p.nodeIPs = ips
	p.mu.Unlock()
	if changed {
		p.log.Info("node addresses for NodePorts", "node", node.Name, "addresses", ips)
		p.requestSync()
	}
}

// nodePortAddresses are the Node's IPv4 InternalIP and ExternalIP
// addresses, in that order, as upstream's "primary" nodePortAddresses;
// loopback ones are returned apart, as NodePorts skip them.
func nodePortAddresses(node *corev1.Node) (ips, loopback []netip.Addr) {
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP} {
		for _, a := range node.Status.Addresses {
			ip, err := netip.ParseAddr(a.Address)
			if a.Type != t || err != nil || !ip.Is4() || slices.Contains(ips, ip) {
				continue
			}
			if ip.IsLoopback() {
				loopback = append(loopback, ip)
				continue
			}
			ips = append(ips, ip)
		}
	}
	return ips, loopback
}

// syncProxyRules rewrites kube-proxy's rules from the caches: one
// iptables-save to see what exists, the jump rules that are missing, one
// iptables-restore for everything else, then conntrack cleanup.
func (p *proxier) syncProxyRules(ctx context.Context) (err error) {
	if !p.initialized.Load() {
		return nil
	}
	m := p.cfg.Metrics
	start := p.cfg.Clock.Now()
	p.mu.Lock()
	nodeIPs := p.nodeIPs
	triggers := p.triggerTimes
	p.triggerTimes = map[types.NamespacedName][]time.Time{}
	p.mu.Unlock()
	m.endpointChangesPending.Set(0)
	m.serviceChangesPending.Set(0)
	defer func() {
		took := p.cfg.Clock.Since(start)
		m.syncDuration.Observe(took.Seconds())
		m.fullSyncDuration.Observe(took.Seconds())
		if err != nil {
			// Keep the changes' times for the sync that programs them.
			p.mu.Lock()
			for svc, ts := range triggers {
				p.triggerTimes[svc] = append(ts, p.triggerTimes[svc]...)
			}
			p.mu.Unlock()
			p.log.Error("sync failed", "retryingTime", p.cfg.SyncPeriod, "err", err)
			return
		}
		p.log.Debug("SyncProxyRules complete", "elapsed", took)
	}()

	services, err := p.services.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list services: %w", err)
	}
	endpointSlices, err := p.slices.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("list endpointslices: %w", err)
	}
	snap := servicemap.Build(services, endpointSlices, p.cfg.NodeName)

	saved, err := p.cfg.IPTables.Save(ctx)
	if err != nil {
		return err
	}
	rc := p.cfg.Rules
	rc.NodeIPs = nodeIPs
	result := rules.Render(rc, snap, saved.Chains(rules.TableNAT))
	p.log.Debug("syncing iptables rules", "services", len(snap.Services), "filterRules", result.FilterRules,
		"natRules", result.NATRules, "deletedChains", len(result.DeletedChains))
	// The missing jumps go first in the same transaction: the chains they
	// need are declared there, empty, before the sync's part declares
	// them again and fills them.
	jumps := missingJumps(saved)
	batch := append(rules.RenderJumps(jumps, func(table, chain string) bool { return !saved.HasChain(table, chain) }), result.Data...)
	if err := p.cfg.IPTables.Restore(ctx, batch); err != nil {
		m.restoreFailures.Inc()
		return err
	}
	for _, j := range jumps {
		p.log.Info("added jump rule", "table", j.Table, "chain", j.From, "target", j.To)
	}

	now := p.cfg.Clock.Now()
	for svc, ts := range triggers {
		for _, t := range ts {
			latency := now.Sub(t)
			m.networkProgramming.Observe(latency.Seconds())
			p.log.Debug("network programming", "service", svc, "elapsed", latency)
		}
	}
	m.iptablesRules.WithLabelValues(rules.TableFilter).Set(float64(result.FilterRules))
	m.iptablesRules.WithLabelValues(rules.TableNAT).Set(float64(result.NATRules))
	m.iptablesRulesLastSync.WithLabelValues(rules.TableFilter).Set(float64(result.FilterRules))
	m.iptablesRulesLastSync.WithLabelValues(rules.TableNAT).Set(float64(result.NATRules))
	m.lastSync.SetToCurrentTime()
	p.cfg.Health.Updated()

	p.mu.Lock()
	prev := p.applied
	p.applied = &snap
	p.mu.Unlock()
	// The first sync after a start compares with nothing: it leaves
	// conntrack alone, so a restart keeps every flow, UDP ones included.
	if prev == nil || p.cfg.Conntrack == nil {
		return nil
	}
	if dels := conntrack.StaleEntries(*prev, snap); len(dels) > 0 {
		// Best effort, as upstream's: the rules are right whatever
		// happens here, and stale UDP entries time out eventually.
		if err := p.cfg.Conntrack.Delete(ctx, dels); err != nil {
			p.log.Error("failed to delete stale conntrack entries", "err", err)
		}
	}
	return nil
}

// missingJumps are the rules in built-in chains that lead to kube-proxy's
// chains and that iptables-save shows missing: all of them at the first
// start, and any that something flushed since (the periodic sync heals
// it).
func missingJumps(saved iptables.Tables) []rules.Jump {
	var missing []rules.Jump
	for _, j := range rules.Jumps() {
		if !saved.HasJump(j.Table, j.From, j.To) {
			missing = append(missing, j)
		}
	}
	return missing
}

// conntrackTCPBeLiberal reads nf_conntrack_tcp_be_liberal: when set, the
// kernel accepts out-of-window TCP packets, and kube-proxy need not drop
// INVALID ones.
func conntrackTCPBeLiberal(path string) bool {
	data, err := os.ReadFile(path)
	return err == nil && strings.TrimSpace(string(data)) != "0"
}
