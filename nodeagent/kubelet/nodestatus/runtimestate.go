package nodestatus

import (
	"errors"
	"fmt"
	"sync"
	"time"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// NetworkNotReadyMessage prefixes the error a pod that needs the pod network
// gets while the network is not ready, as upstream words it:
// "network is not ready: container runtime network not ready: ...".
const NetworkNotReadyMessage = "network is not ready"

// runtimeDownThreshold is how long the runtime may go without reporting
// ready before the node says it is down (upstream's maxWaitForContainerRuntime).
const runtimeDownThreshold = 30 * time.Second

// runtimeState is the runtime's readiness as the last CRI Status call saw it,
// worded as upstream's kubelet words it in the Ready condition.
type runtimeState struct {
	clock clock.PassiveClock

	mu sync.RWMutex
	// lastReady is when the runtime last reported RuntimeReady; zero until
	// it has once.
	lastReady  time.Time
	runtimeErr error
	networkErr error
	// readyMessage is the Ready condition's message at the last update, so
	// that update can tell a change.
	readyMessage string
}

func newRuntimeState(c clock.PassiveClock) *runtimeState {
	s := &runtimeState{clock: c}
	// Not yet asked is not ready, and the first answer a change.
	s.refreshReadyMessageLocked()
	return s
}

// update records a CRI Status answer and tells whether the node's readiness,
// as the Ready condition words it, changed. A failed call changes nothing:
// the runtime is reported down once it has been silent long enough.
func (s *runtimeState) update(status *runtimeapi.RuntimeStatus) bool {
	network := findCondition(status, runtimeapi.NetworkReady)
	runtime := findCondition(status, runtimeapi.RuntimeReady)

	s.mu.Lock()
	defer s.mu.Unlock()
	if network == nil || !network.Status {
		s.networkErr = fmt.Errorf("container runtime network not ready: %s", formatCondition(network))
	} else {
		s.networkErr = nil
	}
	if runtime == nil || !runtime.Status {
		s.runtimeErr = fmt.Errorf("container runtime not ready: %s", formatCondition(runtime))
	} else {
		s.runtimeErr = nil
		s.lastReady = s.clock.Now()
	}
	return s.refreshReadyMessageLocked()
}

// refresh tells whether the readiness changed with the passing of time alone
// (the runtime going silent).
func (s *runtimeState) refresh() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshReadyMessageLocked()
}

func (s *runtimeState) refreshReadyMessageLocked() bool {
	msg := ""
	if err := utilerrors.NewAggregate([]error{s.runtimeErrorsLocked(), s.networkErr}); err != nil {
		msg = err.Error()
	}
	changed := msg != s.readyMessage
	s.readyMessage = msg
	return changed
}

// runtimeErrors is upstream's runtimeState.runtimeErrors: nil while the
// runtime is up and ready.
func (s *runtimeState) runtimeErrors() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.runtimeErrorsLocked()
}

func (s *runtimeState) runtimeErrorsLocked() error {
	var errs []error
	if s.lastReady.IsZero() {
		errs = append(errs, errors.New("container runtime status check may not have completed yet"))
	} else if !s.lastReady.Add(runtimeDownThreshold).After(s.clock.Now()) {
		errs = append(errs, errors.New("container runtime is down"))
	}
	if s.runtimeErr != nil {
		errs = append(errs, s.runtimeErr)
	}
	return utilerrors.NewAggregate(errs)
}

// networkErrors is upstream's runtimeState.networkErrors: nil while the
// runtime reports NetworkReady.
func (s *runtimeState) networkErrors() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.networkErr == nil {
		return nil
	}
	return utilerrors.NewAggregate([]error{s.networkErr})
}

func findCondition(status *runtimeapi.RuntimeStatus, conditionType string) *runtimeapi.RuntimeCondition {
	for _, c := range status.GetConditions() {
		if c.GetType() == conditionType {
			return c
		}
	}
	return nil
}

// formatCondition prints a runtime condition as upstream's
// kubecontainer.RuntimeCondition.String does, and a missing one as fmt
// prints upstream's nil pointer.
func formatCondition(c *runtimeapi.RuntimeCondition) string {
	if c == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s=%t reason:%s message:%s", c.Type, c.Status, c.Reason, c.Message)
}
