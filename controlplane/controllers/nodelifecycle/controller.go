// Package nodelifecycle is upstream's node-lifecycle-controller. Every
// monitor period it checks each node's two heartbeats, the Lease
// kube-node-lease/<node> and the Ready condition's lastHeartbeatTime; a
// node that renewed neither within the grace period gets its conditions
// set to Unknown ("Kubelet stopped posting node status."), its pods
// marked not ready, and the taint node.kubernetes.io/unreachable. A node
// that reports Ready=False gets node.kubernetes.io/not-ready. The
// NoExecute variants of those taints are what evicts pods, through the
// taint eviction controller; the NoSchedule variants, and those of the
// pressure conditions and of spec.unschedulable, keep the scheduler away.
//
// As upstream, NoExecute taints are added at a limited rate per zone, and
// not at all while every node of every zone is not ready: then the likely
// fault is the control plane's view, not the nodes.
package nodelifecycle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Name is the controller's name in the controller manager.
const Name = "node-lifecycle-controller"

// EventComponent is the source of the controller's events, upstream's.
const EventComponent = "node-controller"

// Defaults of Config, upstream's (kindish's grace period is the one
// upstream used before 1.32).
const (
	DefaultMonitorPeriod          = 5 * time.Second
	DefaultGracePeriod            = 40 * time.Second
	DefaultStartupGracePeriod     = 60 * time.Second
	DefaultEvictionQPS            = 0.1
	DefaultSecondaryEvictionQPS   = 0.01
	DefaultLargeClusterThreshold  = 50
	DefaultUnhealthyZoneThreshold = 0.55
)

// PodNodeNameIndex indexes pods by spec.nodeName. Controllers sharing
// the pod informer add it once, under this name.
const PodNodeNameIndex = "spec.nodeName"

// Config tunes the controller; zero fields take the defaults.
type Config struct {
	// MonitorPeriod is how often node health is checked.
	MonitorPeriod time.Duration
	// GracePeriod is how long a node may go without renewing its Lease
	// or its status before it is marked Unknown.
	GracePeriod time.Duration
	// StartupGracePeriod replaces GracePeriod for a node that never
	// posted a Ready condition.
	StartupGracePeriod time.Duration
	// EvictionQPS is the rate of NoExecute tainting per zone;
	// SecondaryEvictionQPS replaces it in a large zone that is partly
	// disrupted (a small one stops).
	EvictionQPS           float32
	SecondaryEvictionQPS  float32
	LargeClusterThreshold int
	// UnhealthyZoneThreshold is the share of not ready nodes (with more
	// than two) from which a zone counts as partly disrupted.
	UnhealthyZoneThreshold float32
	// Clock drives the monitor and every timestamp; tests pass a fake.
	Clock clock.WithTicker
	Log   *slog.Logger
}

func (cfg Config) withDefaults() Config {
	if cfg.MonitorPeriod == 0 {
		cfg.MonitorPeriod = DefaultMonitorPeriod
	}
	if cfg.GracePeriod == 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.StartupGracePeriod == 0 {
		cfg.StartupGracePeriod = DefaultStartupGracePeriod
	}
	if cfg.EvictionQPS == 0 {
		cfg.EvictionQPS = DefaultEvictionQPS
	}
	if cfg.SecondaryEvictionQPS == 0 {
		cfg.SecondaryEvictionQPS = DefaultSecondaryEvictionQPS
	}
	if cfg.LargeClusterThreshold == 0 {
		cfg.LargeClusterThreshold = DefaultLargeClusterThreshold
	}
	if cfg.UnhealthyZoneThreshold == 0 {
		cfg.UnhealthyZoneThreshold = DefaultUnhealthyZoneThreshold
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// Controller watches node health and taints nodes. Besides the monitor
// loop it has two queues: node names, whose NoSchedule taints and labels
// follow the node's conditions, and pods newly bound to a node, which are
// marked not ready when that node is.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	cfg      Config
	log      *slog.Logger

	nodeLister  corelisters.NodeLister
	leaseLister coordinationlisters.LeaseLister
	podLister   corelisters.PodLister
	podIndexer  cache.Indexer
	synced      []cache.InformerSynced

	health *healthMap

	// The monitor loop alone uses these.
	knownNodes   map[string]*corev1.Node
	zoneStates   map[string]zoneState
	zoneTainters map[string]*zoneTainter
	// nodesToRetry are nodes whose pods could not all be marked not
	// ready when the node stopped being ready.
	nodesToRetry map[string]bool

	nodeQueue workqueue.TypedRateLimitingInterface[string]
	podQueue  workqueue.TypedRateLimitingInterface[types.NamespacedName]
}

// New registers the controller's handlers and pod index on the factory's
// node, pod and Lease informers; it starts nothing. Events go to
// recorder, whose source should be EventComponent.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) *Controller {
	cfg = cfg.withDefaults()
	c := &Controller{
		client:       client,
		recorder:     recorder,
		cfg:          cfg,
		log:          cfg.Log.With("controller", Name),
		health:       &healthMap{nodes: map[string]*nodeHealth{}},
		knownNodes:   map[string]*corev1.Node{},
		zoneStates:   map[string]zoneState{},
		zoneTainters: map[string]*zoneTainter{},
		nodesToRetry: map[string]bool{},
		nodeQueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "node_lifecycle_controller", Clock: cfg.Clock},
		),
		podQueue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName](),
			workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{Name: "node_lifecycle_controller_pods", Clock: cfg.Clock},
		),
	}
	nodes := factory.Core().V1().Nodes()
	pods := factory.Core().V1().Pods()
	leases := factory.Coordination().V1().Leases()

	_, _ = nodes.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueNode(obj) },
		UpdateFunc: func(_, obj any) { c.enqueueNode(obj) },
	})
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.podUpdated(nil, obj) },
		UpdateFunc: func(old, obj any) {
			c.podUpdated(old, obj)
		},
	})
	AddPodNodeNameIndex(pods.Informer())

	c.nodeLister = nodes.Lister()
	c.podLister = pods.Lister()
	c.podIndexer = pods.Informer().GetIndexer()
	c.leaseLister = leases.Lister()
	c.synced = []cache.InformerSynced{nodes.Informer().HasSynced, pods.Informer().HasSynced, leases.Informer().HasSynced}
	return c
}

// AddPodNodeNameIndex adds the spec.nodeName index to a pod informer
// unless another controller already did.
func AddPodNodeNameIndex(informer cache.SharedIndexInformer) {
	if _, ok := informer.GetIndexer().GetIndexers()[PodNodeNameIndex]; ok {
		return
	}
	// Adding fails only once the informer runs, which the manager starts
	// after every controller is built.
	_ = informer.AddIndexers(cache.Indexers{PodNodeNameIndex: func(obj any) ([]string, error) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Spec.NodeName == "" {
			return nil, nil
		}
		return []string{pod.Spec.NodeName}, nil
	}})
}

func (c *Controller) enqueueNode(obj any) {
	if n, ok := obj.(*corev1.Node); ok {
		c.nodeQueue.Add(n.Name)
	}
}

// podUpdated queues a pod newly bound to a node: the monitor marks the
// pods of a node not ready once, when the node stops being ready, so a
// pod bound after that is handled here.
func (c *Controller) podUpdated(oldObj, newObj any) {
	pod, ok := newObj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return
	}
	if old, ok := oldObj.(*corev1.Pod); ok && old.Spec.NodeName == pod.Spec.NodeName {
		return
	}
	c.podQueue.Add(types.NamespacedName{Namespace: pod.Namespace, Name: pod.Name})
}

// Run monitors node health and works the queues until ctx ends, after
// the informers' caches have synced. workers sizes each queue's pool.
func (c *Controller) Run(ctx context.Context, workers int) {
	defer c.nodeQueue.ShutDown()
	defer c.podQueue.ShutDown()
	c.log.Info("Starting controller")
	defer c.log.Info("Shutting down controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { wait.UntilWithContext(ctx, c.runNodeWorker, time.Second) })
		wg.Go(func() { wait.UntilWithContext(ctx, c.runPodWorker, time.Second) })
	}
	wg.Go(func() { c.monitorLoop(ctx) })
	<-ctx.Done()
	c.nodeQueue.ShutDown()
	c.podQueue.ShutDown()
	wg.Wait()
}

// monitorLoop checks node health now and every monitor period.
func (c *Controller) monitorLoop(ctx context.Context) {
	ticker := c.cfg.Clock.NewTicker(c.cfg.MonitorPeriod)
	defer ticker.Stop()
	for {
		if err := c.monitorNodeHealth(ctx); err != nil {
			c.log.Error("Monitoring node health", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

func (c *Controller) runNodeWorker(ctx context.Context) {
	for {
		name, quit := c.nodeQueue.Get()
		if quit {
			return
		}
		err := c.syncNoScheduleTaints(ctx, name)
		if err == nil {
			err = c.reconcileNodeLabels(ctx, name)
		}
		if err != nil {
			c.log.Error("Syncing node taints and labels, requeuing", "node", name, "err", err)
			c.nodeQueue.AddRateLimited(name)
		} else {
			c.nodeQueue.Forget(name)
		}
		c.nodeQueue.Done(name)
	}
}

func (c *Controller) runPodWorker(ctx context.Context) {
	for {
		key, quit := c.podQueue.Get()
		if quit {
			return
		}
		if err := c.syncPod(ctx, key); err != nil {
			c.log.Error("Marking pod not ready, requeuing", "pod", key, "err", err)
			c.podQueue.AddRateLimited(key)
		} else {
			c.podQueue.Forget(key)
		}
		c.podQueue.Done(key)
	}
}

// nodeLease is the node's heartbeat Lease, or nil.
func (c *Controller) nodeLease(name string) *coordinationv1.Lease {
	lease, err := c.leaseLister.Leases(corev1.NamespaceNodeLease).Get(name)
	if err != nil {
		return nil
	}
	return lease
}
