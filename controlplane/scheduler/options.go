package scheduler

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/controlplane/apiwait"
	"github.com/kindish/kindish/controlplane/scheduler/plugins"
)

// Options are kube-scheduler's flags, as kubeadm's manifest sets them.
type Options struct {
	// Kubeconfig reaches the API server; empty means in-cluster.
	Kubeconfig string
	// AuthenticationKubeconfig and AuthorizationKubeconfig are accepted
	// and unused: upstream delegates authentication and authorization of
	// its own endpoints to the API server, kindish serves /metrics to any
	// TLS client.
	AuthenticationKubeconfig string
	AuthorizationKubeconfig  string
	// BindAddress and SecurePort are where the health and metrics
	// endpoints listen: 127.0.0.1 and 10259 when empty or zero; a negative
	// port serves nothing.
	BindAddress string
	SecurePort  int
	// LeaderElect takes the kube-system/kube-scheduler Lease before
	// scheduling, so that several copies can run and one schedules.
	LeaderElect bool
	Log         *slog.Logger
}

// Where kubeadm has kube-scheduler listen, and the client's limits.
// Upstream's 50 QPS and burst of 100 cap a scheduler at about 50 binds a
// second whatever the machine; kindish's clusters are small and local, so
// its scheduler is held back by the API server's own capacity instead.
const (
	defaultBindAddress = "127.0.0.1"
	defaultSecurePort  = 10259
	clientQPS          = 1000
	clientBurst        = 2000
)

// Run is kube-scheduler: it serves its endpoints, takes the lease if asked
// to, and schedules until ctx ends. Losing the lease is an error, so that
// the process exits and its kubelet restarts it as a candidate.
func Run(ctx context.Context, o Options) error {
	var ln net.Listener
	if o.SecurePort >= 0 {
		addr := net.JoinHostPort(cmp.Or(o.BindAddress, defaultBindAddress), strconv.Itoa(cmp.Or(o.SecurePort, defaultSecurePort)))
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("listen on --bind-address:--secure-port %s: %w", addr, err)
		}
	}
	return run(ctx, o, ln)
}

// run is Run with its listener chosen, or none.
func run(ctx context.Context, o Options, ln net.Listener) error {
	if ln != nil {
		// Serving closes it too; this covers the returns before serving.
		defer ln.Close()
	}
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return fmt.Errorf("load --kubeconfig %q: %w", o.Kubeconfig, err)
	}
	restConfig = rest.AddUserAgent(restConfig, "scheduler")
	restConfig.QPS, restConfig.Burst = clientQPS, clientBurst
	// Protobuf, as upstream's kube-scheduler speaks: decoding the pod and
	// node watches in JSON costs more than scheduling the pods.
	restConfig.ContentType = runtime.ContentTypeProtobuf
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("client for --kubeconfig %q: %w", o.Kubeconfig, err)
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	broadcaster := record.NewBroadcaster()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: plugins.DefaultSchedulerName})

	sched := New(client, Config{Log: log, Registerer: registry, Recorder: recorder})
	var election *elector
	if o.LeaderElect {
		if election, err = newElector(client, recorder, log); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	serveErr := make(chan error, 1)
	if ln != nil {
		srv, err := newServer(ln, sched, election, registry)
		if err != nil {
			return err
		}
		go func() { serveErr <- srv.serve(ctx) }()
		log.Info("serving securely", "address", ln.Addr().String())
	} else {
		close(serveErr)
	}

	var runErr error
	if election == nil {
		runErr = sched.Run(ctx)
	} else if apiwait.Ready(ctx, restConfig) == nil { // else stopped before the API server answered
		runErr = election.run(ctx, sched.Run)
	}
	cancel()
	if err := <-serveErr; err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// shutdownTimeout bounds how long the endpoints wait for their requests
// when the scheduler stops.
const shutdownTimeout = 5 * time.Second

// errLeaderElectionLost ends a scheduler that another copy replaced.
var errLeaderElectionLost = errors.New("leaderelection lost")
