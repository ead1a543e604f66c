package nodeinit

import (
	"context"
	"os"
	"os/signal"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSIGTERMStopsEverythingWithinTheDeadline(t *testing.T) {
	cfg, out := testConfig(t,
		Service{Name: "containerd", Path: "/bin/sleep", Args: []string{"1000"}},
		// Ignores SIGTERM, as does the sleep it leaves behind when killed.
		Service{Name: "stubborn", Path: "/bin/sh", Args: []string{"-c", "trap '' TERM; sleep 1000 & wait"}},
		// Leaves a daemon behind, as containerd leaves its shims.
		Service{Name: "spawner", Path: "/bin/sh", Args: []string{"-c", "sleep 1000 >/dev/null 2>&1 & exec sleep 1000"}},
	)
	cfg.StopTimeout = 2 * time.Second
	cfg.ServiceStopTimeout = 300 * time.Millisecond

	ctx, cancel := signal.NotifyContext(context.Background(), unix.SIGTERM)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- New(cfg).Run(ctx) }()
	eventually(t, "the node to be up", func() bool { return strings.Contains(out.String(), "node is up") })
	eventually(t, "the services' children", func() bool { return len(liveDescendants(listProcesses(), os.Getpid())) >= 5 })

	if err := unix.Kill(os.Getpid(), unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return 5 s after SIGTERM")
	}
	if took := time.Since(began); took > cfg.StopTimeout+500*time.Millisecond {
		t.Errorf("shutdown took %s, more than the %s allowed", took, cfg.StopTimeout)
	}
	noLiveDescendants(t)

	log := out.String()
	for _, want := range []string{
		"kindish-node: spawner stopped (killed by SIGTERM)",
		"kindish-node: stubborn did not stop after SIGTERM; sending SIGKILL",
		"kindish-node: containerd stopped (killed by SIGTERM)",
		"kindish-node: sending SIGTERM to 2 remaining processes",
		"kindish-node: sending SIGKILL to 1 processes still running",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	// Reverse order: the last service started stops first.
	if strings.Index(log, "spawner stopped") > strings.Index(log, "containerd stopped") {
		t.Errorf("services stopped in start order:\n%s", log)
	}
}
