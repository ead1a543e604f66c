package scheduler

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/kindish/kindish/controlplane/scheduler/cache"
	"github.com/kindish/kindish/controlplane/scheduler/framework"
	"github.com/kindish/kindish/controlplane/scheduler/plugins"
	"github.com/kindish/kindish/controlplane/scheduler/queue"
)

// Config tunes a Scheduler; the zero value is upstream's defaults.
type Config struct {
	// Profile is the plugins to run and the schedulerName they serve;
	// plugins.DefaultProfile() when its SchedulerName is empty.
	Profile framework.Profile
	Log     *slog.Logger
	// Registerer receives the scheduler's metrics; nil leaves them
	// unregistered.
	Registerer prometheus.Registerer
	// Recorder records the scheduler's events; nil records them to the
	// API server as the scheduler's profile name (default-scheduler).
	Recorder record.EventRecorder
	// Queue tunes backoff and retries; its Clock, when nil, is Clock.
	Queue queue.Config
	Clock clock.WithTicker
	// Rand breaks ties between equally good nodes; nil seeds one.
	Rand *rand.Rand
}

// Scheduler assigns pods that name its profile to nodes.
type Scheduler struct {
	client    kubernetes.Interface
	log       *slog.Logger
	clock     clock.WithTicker
	name      string
	framework *framework.Framework
	cache     *cache.Cache
	queue     *queue.Queue
	metrics   *metrics

	informers informers.SharedInformerFactory
	pods      corelisters.PodLister
	objects   listerObjects

	recorder    record.EventRecorder
	broadcaster record.EventBroadcaster // ours to start and stop, when set

	// handlersSynced, or the error that kept the handlers from being
	// added, which Run reports.
	handlersSynced []toolscache.InformerSynced
	handlersErr    error

	binding sync.WaitGroup
	synced  atomic.Bool
}

// New returns a Scheduler that reads the cluster and binds pods through
// client. Nothing runs until Run.
func New(client kubernetes.Interface, cfg Config) *Scheduler {
	profile := cfg.Profile
	if profile.SchedulerName == "" {
		profile = plugins.DefaultProfile()
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Queue.Clock == nil {
		cfg.Queue.Clock = cfg.Clock
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	s := &Scheduler{
		client:    client,
		log:       cfg.Log,
		clock:     cfg.Clock,
		name:      profile.SchedulerName,
		framework: framework.New(profile, cfg.Rand),
		cache:     cache.New(),
		queue:     queue.New(cfg.Queue),
		informers: factory,
		pods:      factory.Core().V1().Pods().Lister(),
		objects: listerObjects{
			namespaces: factory.Core().V1().Namespaces().Lister(),
			services:   factory.Core().V1().Services().Lister(),
		},
		recorder: cfg.Recorder,
	}
	s.metrics = newMetrics(cfg.Registerer, profile.SchedulerName, s.queue)
	if s.recorder == nil {
		s.broadcaster = record.NewBroadcaster()
		s.recorder = s.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: profile.SchedulerName})
	}
	s.handlersSynced, s.handlersErr = s.addEventHandlers()
	return s
}

// Run schedules pods until ctx ends, then waits for the bindings under
// way. Its only error is event handlers that could not be added.
func (s *Scheduler) Run(ctx context.Context) error {
	if s.handlersErr != nil {
		return s.handlersErr
	}
	if s.broadcaster != nil {
		s.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: s.client.CoreV1().Events("")})
		defer s.broadcaster.Shutdown()
	}
	s.informers.Start(ctx.Done())
	defer s.informers.Shutdown()
	// Informers retry until they sync; only the end of ctx stops the wait.
	s.informers.WaitForCacheSync(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), s.handlersSynced...) {
		return nil
	}
	s.synced.Store(true)
	s.log.Info("scheduler started", "profile", s.name)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.queue.Run(ctx)
	}()
	for {
		qp, ok := s.queue.Pop()
		if !ok {
			break
		}
		s.scheduleOne(ctx, qp)
	}
	wg.Wait()
	s.binding.Wait()
	return nil
}

// HasSynced says whether the informers have synced and scheduling began.
func (s *Scheduler) HasSynced() bool { return s.synced.Load() }
