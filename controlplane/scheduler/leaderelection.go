package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
)

// Upstream's leader election: the kube-system/kube-scheduler Lease, held
// 15 s, renewed within 10 s, retried every 2 s; the health check fails 20 s
// after a renewal is missed.
const (
	leaseNamespace     = metav1.NamespaceSystem
	leaseName          = "kube-scheduler"
	leaseDuration      = 15 * time.Second
	renewDeadline      = 10 * time.Second
	retryPeriod        = 2 * time.Second
	healthzGracePeriod = 20 * time.Second
)

// elector runs the scheduler while it holds the lease.
type elector struct {
	config   leaderelection.LeaderElectionConfig
	watchdog *leaderelection.HealthzAdaptor
	log      *slog.Logger
}

func newElector(client kubernetes.Interface, recorder record.EventRecorder, log *slog.Logger) (*elector, error) {
	hostname, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("leader election identity: %w", err)
	}
	// Upstream's identity: the host, and a UUID so that two copies on one
	// host differ.
	id := hostname + "_" + string(uuid.NewUUID())
	e := &elector{watchdog: leaderelection.NewLeaderHealthzAdaptor(healthzGracePeriod), log: log}
	e.config = leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: leaseNamespace, Name: leaseName},
			Client:     client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id, EventRecorder: recorder},
		},
		LeaseDuration:   leaseDuration,
		RenewDeadline:   renewDeadline,
		RetryPeriod:     retryPeriod,
		WatchDog:        e.watchdog,
		ReleaseOnCancel: true,
		Name:            leaseName,
	}
	return e, nil
}

// run waits for the lease, then runs lead until the lease is lost or ctx
// ends, and waits for lead to return. Losing the lease is
// errLeaderElectionLost.
func (e *elector) run(ctx context.Context, lead func(context.Context) error) error {
	// client-go starts the leader in a goroutine it does not wait for;
	// the state says whether that goroutine got to run lead before the
	// election ended.
	const (
		waiting = iota
		leading
		abandoned
	)
	var mu sync.Mutex
	state := waiting
	// A leader that stops on its own gives the lease up.
	electCtx, stopElecting := context.WithCancel(ctx)
	defer stopElecting()
	done := make(chan error, 1)
	config := e.config
	config.Callbacks = leaderelection.LeaderCallbacks{
		OnStartedLeading: func(ctx context.Context) {
			mu.Lock()
			if state == abandoned {
				mu.Unlock()
				return
			}
			state = leading
			mu.Unlock()
			e.log.Info("became leader", "lease", leaseNamespace+"/"+leaseName)
			done <- lead(ctx)
			stopElecting()
		},
		OnStoppedLeading: func() {},
		OnNewLeader: func(identity string) {
			e.log.Info("new leader elected", "identity", identity)
		},
	}
	le, err := leaderelection.NewLeaderElector(config)
	if err != nil {
		return fmt.Errorf("leader election on lease %s/%s: %w", leaseNamespace, leaseName, err)
	}
	e.watchdog.SetLeaderElection(le)
	le.Run(electCtx)

	mu.Lock()
	if state == waiting {
		state = abandoned
	}
	led := state == leading
	mu.Unlock()
	var leadErr error
	if led {
		leadErr = <-done
	}
	switch {
	case leadErr != nil:
		return leadErr
	case ctx.Err() != nil:
		return nil
	}
	return errLeaderElectionLost
}

// check is the leaderElection health check.
func (e *elector) check() error {
	if e == nil {
		return nil
	}
	return e.watchdog.Check(nil)
}
