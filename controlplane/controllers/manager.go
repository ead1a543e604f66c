package controllers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/controlplane/apiwait"
)

// Leader election, upstream's defaults and lock.
const (
	leaseName           = "kube-controller-manager"
	leaseDuration       = 15 * time.Second
	renewDeadline       = 10 * time.Second
	retryPeriod         = 2 * time.Second
	electionHealthSlack = 20 * time.Second
)

// minResyncPeriod is upstream's --min-resync-period; each manager start
// picks its informers' resync period between it and twice it, so that
// replicas do not relist in step.
const minResyncPeriod = 12 * time.Hour

// Run is kube-controller-manager: it serves health and metrics, waits to
// lead (with LeaderElect), then runs the enabled controllers until ctx
// ends. It returns an error if leadership is lost, as upstream exits then.
func Run(ctx context.Context, o Options) error {
	o = o.withDefaults()
	log := o.Log
	if err := o.validate(); err != nil {
		return err
	}
	selected, err := selectControllers(KnownControllers(), o.Controllers)
	if err != nil {
		return err
	}
	cfg, err := restConfig(o)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	ca, err := rootCA(o, cfg)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := newMetrics()
	electionHealth := leaderelection.NewLeaderHealthzAdaptor(electionHealthSlack)
	var serving sync.WaitGroup
	var serveErr error
	if o.SecurePort > 0 {
		addr := net.JoinHostPort(o.BindAddress, strconv.Itoa(o.SecurePort))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", addr, err)
		}
		cert, err := selfSignedCertificate(o.BindAddress)
		if err != nil {
			ln.Close()
			return fmt.Errorf("serving certificate: %w", err)
		}
		handler := newHandler(m, []healthCheck{{name: "leaderElection", check: electionHealth.Check}})
		serving.Go(func() {
			// Without its probes answering, the kubelet would restart
			// the manager anyway: stop now and say why.
			if serveErr = serveHTTPS(ctx, ln, handler, cert, log); serveErr != nil {
				cancel()
			}
		})
	}

	run := func(ctx context.Context) error {
		return runControllers(ctx, o, cfg, client, ca, selected, m)
	}
	if o.LeaderElect {
		err = leaderElectAndRun(ctx, cfg, client, electionHealth, m, log, run)
	} else {
		err = run(ctx)
	}
	cancel()
	serving.Wait()
	return errors.Join(err, serveErr)
}

// leaderElectAndRun runs run while this manager holds the Lease. Shutting
// down stops the controllers first and then gives up the Lease, so that
// the next leader starts at once and never alongside this one.
func leaderElectAndRun(ctx context.Context, cfg *rest.Config, client kubernetes.Interface, health *leaderelection.HealthzAdaptor, m *metrics, log *slog.Logger, run func(context.Context) error) error {
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("hostname for the leader election identity: %w", err)
	}
	id := host + "_" + string(uuid.NewUUID())

	// The elector outlives ctx until the controllers have stopped, and
	// so does the recorder of its "became leader" and "stopped leading".
	electionCtx, stopElection := context.WithCancel(context.WithoutCancel(ctx))
	defer stopElection()
	broadcaster := record.NewBroadcaster()
	defer broadcaster.Shutdown()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: userAgent})
	lock, err := resourcelock.NewFromKubeconfig(resourcelock.LeasesResourceLock, metav1.NamespaceSystem, leaseName,
		resourcelock.ResourceLockConfig{Identity: id, EventRecorder: recorder}, rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election"), renewDeadline)
	if err != nil {
		return fmt.Errorf("leader election lock: %w", err)
	}
	var started atomic.Bool
	finished := make(chan struct{})
	var runErr error
	defer context.AfterFunc(ctx, func() {
		if !started.Load() {
			stopElection()
		}
	})()
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   leaseDuration,
		RenewDeadline:   renewDeadline,
		RetryPeriod:     retryPeriod,
		ReleaseOnCancel: true,
		Name:            leaseName,
		WatchDog:        health,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leading context.Context) {
				started.Store(true)
				defer close(finished)
				m.leader.WithLabelValues(leaseName).Set(1)
				defer m.leader.WithLabelValues(leaseName).Set(0)
				log.Info("Started leading", "identity", id)
				runCtx, stopRun := context.WithCancel(leading)
				defer stopRun()
				defer context.AfterFunc(ctx, stopRun)()
				runErr = run(runCtx)
				stopElection()
			},
			OnStoppedLeading: func() { log.Info("Stopped leading", "identity", id) },
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	if err := apiwait.Ready(ctx, cfg); err != nil {
		return nil // stopped before the API server answered
	}
	log.Info("Attempting to acquire leader lease", "lease", metav1.NamespaceSystem+"/"+leaseName, "identity", id)
	elector.Run(electionCtx)
	if started.Load() {
		<-finished
	}
	switch {
	case runErr != nil:
		return runErr
	case ctx.Err() != nil:
		return nil
	default:
		return errors.New("leader election lost")
	}
}

// runControllers builds every selected controller, starts the shared
// informers, and runs the controllers until ctx ends.
func runControllers(ctx context.Context, o Options, cfg *rest.Config, client kubernetes.Interface, ca []byte, selected []Descriptor, m *metrics) error {
	log := o.Log
	resync := minResyncPeriod + time.Duration(rand.Int64N(int64(minResyncPeriod)))
	factory := informers.NewSharedInformerFactory(client, resync)
	defer factory.Shutdown()
	configFor := func(context.Context, string) (*rest.Config, error) { return cfg, nil }
	if o.UseServiceAccountCredentials {
		configFor = serviceAccountClients{manager: client, base: cfg, now: time.Now}.configFor
	}

	type running struct {
		name string
		run  Runner
	}
	var runners []running
	for _, d := range selected {
		if d.Init == nil {
			log.Info("Skipping controller", "controller", d.Name, "reason", d.Note)
			continue
		}
		controllerCfg, err := configFor(ctx, d.ServiceAccount)
		if err != nil {
			return fmt.Errorf("controller %s: %w", d.Name, err)
		}
		c, err := kubernetes.NewForConfig(controllerCfg)
		if err != nil {
			return fmt.Errorf("controller %s: client: %w", d.Name, err)
		}
		broadcaster := record.NewBroadcaster(record.WithContext(ctx))
		defer broadcaster.Shutdown()
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.CoreV1().Events("")})
		component := d.EventComponent
		if component == "" {
			component = d.Name
		}
		controllerLog := log.With("controller", d.Name)
		broadcaster.StartEventWatcher(func(e *corev1.Event) {
			controllerLog.Debug("Event", "object", e.InvolvedObject.Kind+" "+e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name,
				"type", e.Type, "reason", e.Reason, "message", e.Message)
		})
		run, err := d.Init(ctx, ControllerContext{
			Name:            d.Name,
			Client:          c,
			Config:          controllerCfg,
			InformerFactory: factory,
			Options:         o,
			Recorder:        broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component}),
			RootCA:          ca,
			Log:             log,
		})
		if err != nil {
			return fmt.Errorf("start controller %s: %w", d.Name, err)
		}
		if run == nil {
			log.Warn("Controller is disabled by its settings", "controller", d.Name)
			continue
		}
		runners = append(runners, running{name: d.Name, run: run})
	}

	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Go(func() {
			gauge := m.running.WithLabelValues(userAgent, r.name)
			gauge.Set(1)
			defer gauge.Set(0)
			log.Info("Started controller", "controller", r.name)
			r.run(ctx)
		})
	}
	wg.Wait()
	return nil
}
