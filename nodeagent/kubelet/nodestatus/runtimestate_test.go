package nodestatus

import (
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func runtimeStatus(conditions ...*runtimeapi.RuntimeCondition) *runtimeapi.RuntimeStatus {
	return &runtimeapi.RuntimeStatus{Conditions: conditions}
}

func cond(conditionType string, status bool, reason, message string) *runtimeapi.RuntimeCondition {
	return &runtimeapi.RuntimeCondition{Type: conditionType, Status: status, Reason: reason, Message: message}
}

func TestReadinessIsWordedAsUpstream(t *testing.T) {
	tests := []struct {
		name        string
		status      *runtimeapi.RuntimeStatus
		wantReady   string
		wantNetwork string
	}{
		{
			name:   "runtime and network ready",
			status: runtimeStatus(cond(runtimeapi.RuntimeReady, true, "", ""), cond(runtimeapi.NetworkReady, true, "", "")),
		},
		{
			name: "CNI not initialized",
			status: runtimeStatus(cond(runtimeapi.RuntimeReady, true, "", ""),
				cond(runtimeapi.NetworkReady, false, "NetworkPluginNotReady", "Network plugin returns error: cni plugin not initialized")),
			wantReady:   "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
			wantNetwork: "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
		},
		{
			name: "runtime not ready",
			status: runtimeStatus(cond(runtimeapi.RuntimeReady, false, "RuntimeStarting", "loading plugins"),
				cond(runtimeapi.NetworkReady, true, "", "")),
			wantReady: "[container runtime status check may not have completed yet, container runtime not ready: RuntimeReady=false reason:RuntimeStarting message:loading plugins]",
		},
		{
			name:        "no conditions at all",
			status:      runtimeStatus(),
			wantReady:   "[container runtime status check may not have completed yet, container runtime not ready: <nil>, container runtime network not ready: <nil>]",
			wantNetwork: "container runtime network not ready: <nil>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestManager(t, testConfig(fake.NewClientset(), newReadyRuntime()))
			if !m.runtime.update(tt.status) && tt.wantReady != "" {
				t.Error("update reported no change from the initial state")
			}
			if got := errorString(m.ReadyError()); got != tt.wantReady {
				t.Errorf("ReadyError = %q, want %q", got, tt.wantReady)
			}
			if got := errorString(m.NetworkError()); got != tt.wantNetwork {
				t.Errorf("NetworkError = %q, want %q", got, tt.wantNetwork)
			}
		})
	}
}

func TestSilentRuntimeIsReportedDown(t *testing.T) {
	clock := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := newRuntimeState(clock)
	ready := runtimeStatus(cond(runtimeapi.RuntimeReady, true, "", ""), cond(runtimeapi.NetworkReady, true, "", ""))
	if !s.update(ready) {
		t.Error("first ready status reported no change")
	}
	if s.update(ready) {
		t.Error("the same status again reported a change")
	}

	clock.Step(runtimeDownThreshold - time.Second)
	if s.refresh() || s.runtimeErrors() != nil {
		t.Errorf("runtime reported down before the threshold: %v", s.runtimeErrors())
	}
	clock.Step(time.Second)
	if !s.refresh() {
		t.Error("going silent reported no change")
	}
	if got := errorString(s.runtimeErrors()); got != "container runtime is down" {
		t.Errorf("runtimeErrors = %q, want \"container runtime is down\"", got)
	}
	if !s.update(ready) || s.runtimeErrors() != nil {
		t.Errorf("answering again: runtimeErrors = %v, want nil and a change", s.runtimeErrors())
	}
}

func errorString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
