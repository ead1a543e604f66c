package nodeinit

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// killWait is how long a process gets to vanish after SIGKILL, which
	// takes effect at once unless it is stuck in the kernel.
	killWait = 500 * time.Millisecond
	// pollInterval paces the checks for processes that are still alive.
	pollInterval = 50 * time.Millisecond
)

// shutdown stops the services in reverse order (the kubelet before
// containerd), then every process left in the node (pods, shims), all
// within StopTimeout.
func (in *Init) shutdown(sups []*supervisor) {
	in.log.printf("stopping")
	deadline := time.Now().Add(in.cfg.StopTimeout)
	// The pods' processes get at least a quarter of the time for their own
	// graceful exit, however slow the services were.
	servicesBy := deadline.Add(-in.cfg.StopTimeout / 4)
	for i := len(sups) - 1; i >= 0; i-- {
		termBy := earliest(time.Now().Add(in.cfg.ServiceStopTimeout), servicesBy.Add(-killWait))
		sups[i].stop(termBy, termBy.Add(killWait))
	}
	in.stopRemainingProcesses(deadline)
	in.log.printf("stopped")
}

// stopRemainingProcesses sends SIGTERM to every process below this one,
// then SIGKILL to those still alive shortly before deadline.
func (in *Init) stopRemainingProcesses(deadline time.Time) {
	self := os.Getpid()
	pids := liveDescendants(listProcesses(), self)
	if len(pids) == 0 {
		return
	}
	in.log.printf("sending SIGTERM to %d remaining processes", len(pids))
	signalAll(pids, unix.SIGTERM)
	left := waitForNoDescendants(self, deadline.Add(-killWait), nil)
	if len(left) == 0 {
		return
	}
	in.log.printf("sending SIGKILL to %d processes still running", len(left))
	// Each poll kills again: a dying shim may have started a new child.
	kill := func(pids []int) { signalAll(pids, unix.SIGKILL) }
	if left = waitForNoDescendants(self, deadline, kill); len(left) > 0 {
		in.log.printf("%d processes survived SIGKILL", len(left))
	}
}

// waitForNoDescendants polls until root has no live descendant or deadline
// passes, calling each (when not nil) with the live ones at every poll. It
// returns those still alive.
func waitForNoDescendants(root int, deadline time.Time, each func([]int)) []int {
	for {
		pids := liveDescendants(listProcesses(), root)
		if len(pids) == 0 || !time.Now().Before(deadline) {
			return pids
		}
		if each != nil {
			each(pids)
		}
		time.Sleep(min(pollInterval, time.Until(deadline)))
	}
}

func signalAll(pids []int, sig unix.Signal) {
	for _, pid := range pids {
		_ = unix.Kill(pid, sig) // it may have exited since it was listed
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
