package nodestatus

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func testInputs(machine MachineInfo, reservation Reservation) statusInputs {
	return statusInputs{
		now:            time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		nodeName:       testNode,
		hostname:       testNode,
		internalIP:     "172.18.0.3",
		machine:        machine,
		maxPods:        110,
		reservation:    reservation,
		runtimeVersion: "containerd://1.6.20",
		kubeletVersion: "v1.36.4",
		kubeletPort:    10250,
	}
}

func quantities(list corev1.ResourceList) map[string]string {
	out := map[string]string{}
	for name, q := range list {
		out[string(name)] = q.String()
	}
	return out
}

func ignoreEvents(string, string, string) {}

func TestCapacityComesFromMachineInfo(t *testing.T) {
	withHugePages := testMachine()
	withHugePages.HugePages = map[int64]int64{2 << 20: 512, 1 << 30: 0}
	tests := []struct {
		name            string
		machine         MachineInfo
		reservation     Reservation
		maxPods         int
		wantCapacity    map[string]string
		wantAllocatable map[string]string
	}{
		{
			name:        "upstream's eviction thresholds hold back 100Mi of memory and 10% of storage",
			machine:     testMachine(),
			reservation: upstreamReservation(),
			maxPods:     110,
			wantCapacity: map[string]string{
				"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi",
				"hugepages-2Mi": "0", "hugepages-1Gi": "0",
			},
			wantAllocatable: map[string]string{
				"cpu": "4", "memory": "8092Mi", "pods": "110", "ephemeral-storage": "90Gi",
				"hugepages-2Mi": "0", "hugepages-1Gi": "0",
			},
		},
		{
			name:    "no reservation makes allocatable equal capacity",
			machine: testMachine(),
			maxPods: 30,
			wantCapacity: map[string]string{
				"cpu": "4", "memory": "8Gi", "pods": "30", "ephemeral-storage": "100Gi",
				"hugepages-2Mi": "0", "hugepages-1Gi": "0",
			},
			wantAllocatable: map[string]string{
				"cpu": "4", "memory": "8Gi", "pods": "30", "ephemeral-storage": "100Gi",
				"hugepages-2Mi": "0", "hugepages-1Gi": "0",
			},
		},
		{
			name:    "memory reserved as huge pages is not allocatable memory",
			machine: withHugePages,
			maxPods: 110,
			wantCapacity: map[string]string{
				"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi",
				"hugepages-2Mi": "1Gi", "hugepages-1Gi": "0",
			},
			wantAllocatable: map[string]string{
				"cpu": "4", "memory": "7Gi", "pods": "110", "ephemeral-storage": "100Gi",
				"hugepages-2Mi": "1Gi", "hugepages-1Gi": "0",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode}}
			in := testInputs(tt.machine, tt.reservation)
			in.maxPods = tt.maxPods
			setNodeStatus(node, in, ignoreEvents)
			if diff := cmp.Diff(tt.wantCapacity, quantities(node.Status.Capacity)); diff != "" {
				t.Errorf("capacity (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAllocatable, quantities(node.Status.Allocatable)); diff != "" {
				t.Errorf("allocatable (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStaleExtendedResourceLeavesAllocatable(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode}}
	node.Status.Allocatable = corev1.ResourceList{"example.com/gpu": resource.MustParse("2")}
	setNodeStatus(node, testInputs(testMachine(), Reservation{}), ignoreEvents)
	if _, ok := node.Status.Allocatable["example.com/gpu"]; ok {
		t.Error("example.com/gpu still allocatable without capacity")
	}
}

func TestReadyConditionTransitions(t *testing.T) {
	before := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := before.Add(time.Hour)
	notReady := errors.New("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized")
	prior := func(status corev1.ConditionStatus) []corev1.NodeCondition {
		return []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: status,
			LastHeartbeatTime: metav1.NewTime(before), LastTransitionTime: metav1.NewTime(before),
		}}
	}
	tests := []struct {
		name           string
		prior          []corev1.NodeCondition
		err            error
		wantStatus     corev1.ConditionStatus
		wantReason     string
		wantMessage    string
		wantTransition time.Time
		wantEvents     []string
	}{
		{
			name: "a new condition starts at now without an event", err: nil,
			wantStatus: corev1.ConditionTrue, wantReason: "KubeletReady", wantMessage: "kubelet is posting ready status",
			wantTransition: now,
		},
		{
			name: "staying ready keeps the transition time", prior: prior(corev1.ConditionTrue),
			wantStatus: corev1.ConditionTrue, wantReason: "KubeletReady", wantMessage: "kubelet is posting ready status",
			wantTransition: before,
		},
		{
			name: "turning not ready moves the transition time and records NodeNotReady", prior: prior(corev1.ConditionTrue), err: notReady,
			wantStatus: corev1.ConditionFalse, wantReason: "KubeletNotReady", wantMessage: notReady.Error(),
			wantTransition: now, wantEvents: []string{"NodeNotReady"},
		},
		{
			name: "turning ready records NodeReady", prior: prior(corev1.ConditionFalse),
			wantStatus: corev1.ConditionTrue, wantReason: "KubeletReady", wantMessage: "kubelet is posting ready status",
			wantTransition: now, wantEvents: []string{"NodeReady"},
		},
		{
			name: "staying not ready keeps the transition time", prior: prior(corev1.ConditionFalse), err: notReady,
			wantStatus: corev1.ConditionFalse, wantReason: "KubeletNotReady", wantMessage: notReady.Error(),
			wantTransition: before,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode}}
			node.Status.Conditions = tt.prior
			var events []string
			setReadyCondition(node, now, tt.err, func(_, reason, _ string) { events = append(events, reason) })
			c := condition(node, corev1.NodeReady)
			if c.Status != tt.wantStatus || c.Reason != tt.wantReason || c.Message != tt.wantMessage {
				t.Errorf("Ready = %s %s %q, want %s %s %q", c.Status, c.Reason, c.Message, tt.wantStatus, tt.wantReason, tt.wantMessage)
			}
			if !c.LastTransitionTime.Time.Equal(tt.wantTransition) {
				t.Errorf("lastTransitionTime = %v, want %v", c.LastTransitionTime, tt.wantTransition)
			}
			if !c.LastHeartbeatTime.Time.Equal(now) {
				t.Errorf("lastHeartbeatTime = %v, want %v", c.LastHeartbeatTime, now)
			}
			if diff := cmp.Diff(tt.wantEvents, events); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPressureConditionsReportNoPressure(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode}}
	in := testInputs(testMachine(), Reservation{})
	var events []string
	record := func(_, reason, _ string) { events = append(events, reason) }
	setNodeStatus(node, in, record)

	want := map[corev1.NodeConditionType][2]string{
		corev1.NodeMemoryPressure: {"KubeletHasSufficientMemory", "kubelet has sufficient memory available"},
		corev1.NodeDiskPressure:   {"KubeletHasNoDiskPressure", "kubelet has no disk pressure"},
		corev1.NodePIDPressure:    {"KubeletHasSufficientPID", "kubelet has sufficient PID available"},
	}
	for conditionType, w := range want {
		c := condition(node, conditionType)
		if c == nil || c.Status != corev1.ConditionFalse || c.Reason != w[0] || c.Message != w[1] {
			t.Errorf("%s = %+v, want False %s %q", conditionType, c, w[0], w[1])
		}
	}
	wantEvents := []string{"NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"}
	if diff := cmp.Diff(wantEvents, events); diff != "" {
		t.Errorf("first events (-want +got):\n%s", diff)
	}

	events = nil
	later := in
	later.now = in.now.Add(time.Minute)
	setNodeStatus(node, later, record)
	if len(events) != 0 {
		t.Errorf("events on an unchanged heartbeat = %v, want none", events)
	}
	c := condition(node, corev1.NodeMemoryPressure)
	if !c.LastHeartbeatTime.Time.Equal(later.now) || !c.LastTransitionTime.Time.Equal(in.now) {
		t.Errorf("MemoryPressure heartbeat %v transition %v, want heartbeat %v transition %v",
			c.LastHeartbeatTime, c.LastTransitionTime, later.now, in.now)
	}
}

func TestMissingCapacityMakesNodeNotReady(t *testing.T) {
	node := &corev1.Node{}
	err := readyErrors(node, nil)
	const want = "missing node capacity for resources: cpu, memory, pods, ephemeral-storage"
	if err == nil || err.Error() != want {
		t.Errorf("readyErrors = %v, want %q", err, want)
	}
}

func TestNewBootIDRecordsNodeRebooted(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode}}
	node.Status.NodeInfo.BootID = "boot-0"
	var got []string
	setNodeStatus(node, testInputs(testMachine(), Reservation{}), func(eventType, reason, message string) {
		if reason == eventNodeRebooted {
			got = append(got, eventType+" "+message)
		}
	})
	want := []string{"Warning Node kindish-worker has been rebooted, boot id: boot-1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NodeRebooted events (-want +got):\n%s", diff)
	}
}

func TestContainerRuntimeVersion(t *testing.T) {
	tests := []struct {
		name           string
		runtimeVersion string
		failBefore     bool
		failNow        bool
		want           string
	}{
		{name: "a Debian suffix is dropped", runtimeVersion: "1.6.20~ds1", want: "containerd://1.6.20"},
		{name: "a leading v is dropped", runtimeVersion: "v1.7.18", want: "containerd://1.7.18"},
		{name: "a semantic pre-release is kept", runtimeVersion: "1.7.0-rc.1", want: "containerd://1.7.0-rc.1"},
		{name: "an unparsable version is Unknown", runtimeVersion: "devel", want: "containerd://Unknown"},
		{name: "a runtime that stops answering is Unknown", runtimeVersion: "1.6.20", failNow: true, want: "containerd://Unknown"},
		{name: "a runtime never heard from leaves the field alone", failBefore: true, failNow: true, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := newReadyRuntime()
			rt.runtimeVersion = tt.runtimeVersion
			m := newTestManager(t, testConfig(fake.NewClientset(), rt))
			ctx := context.Background()
			if !tt.failBefore {
				m.runtimeVersion(ctx)
			}
			if tt.failNow {
				rt.versionErr = errors.New("connection refused")
			}
			if got := m.runtimeVersion(ctx); got != tt.want {
				t.Errorf("runtimeVersion = %q, want %q", got, tt.want)
			}
		})
	}
}
