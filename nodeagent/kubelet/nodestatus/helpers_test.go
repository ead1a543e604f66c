package nodestatus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const testNode = "kindish-worker"

// fakeRuntime answers Status and Version from fields the test sets.
type fakeRuntime struct {
	mu             sync.Mutex
	runtimeReady   bool
	networkReady   bool
	networkReason  string
	networkMessage string
	statusErr      error
	versionErr     error
	runtimeVersion string
}

func newReadyRuntime() *fakeRuntime {
	return &fakeRuntime{runtimeReady: true, networkReady: true, runtimeVersion: "1.6.20~ds1"}
}

func (f *fakeRuntime) setNetwork(ready bool, reason, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.networkReady, f.networkReason, f.networkMessage = ready, reason, message
}

func (f *fakeRuntime) Status(ctx context.Context, _ *runtimeapi.StatusRequest, _ ...grpc.CallOption) (*runtimeapi.StatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.statusErr != nil {
		return nil, f.statusErr
	}
	return &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: f.runtimeReady},
		{Type: runtimeapi.NetworkReady, Status: f.networkReady, Reason: f.networkReason, Message: f.networkMessage},
	}}}, nil
}

func (f *fakeRuntime) Version(ctx context.Context, _ *runtimeapi.VersionRequest, _ ...grpc.CallOption) (*runtimeapi.VersionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.versionErr != nil {
		return nil, f.versionErr
	}
	return &runtimeapi.VersionResponse{
		Version:           "0.1.0",
		RuntimeName:       "containerd",
		RuntimeVersion:    f.runtimeVersion,
		RuntimeApiVersion: "v1",
	}, nil
}

// recordedEvent is one event a testRecorder received.
type recordedEvent struct {
	object  *corev1.ObjectReference
	kind    string
	reason  string
	message string
}

// testRecorder keeps the events recorded on the Node.
type testRecorder struct {
	mu     sync.Mutex
	events []recordedEvent
}

func (r *testRecorder) Event(object runtime.Object, eventType, reason, message string) {
	ref, _ := object.(*corev1.ObjectReference)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, recordedEvent{ref, eventType, reason, message})
}

func (r *testRecorder) Eventf(object runtime.Object, eventType, reason, messageFmt string, args ...any) {
	r.Event(object, eventType, reason, fmt.Sprintf(messageFmt, args...))
}

func (r *testRecorder) AnnotatedEventf(object runtime.Object, _ map[string]string, eventType, reason, messageFmt string, args ...any) {
	r.Eventf(object, eventType, reason, messageFmt, args...)
}

// reasons lists the recorded reasons in order.
func (r *testRecorder) reasons() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var reasons []string
	for _, e := range r.events {
		reasons = append(reasons, e.reason)
	}
	return reasons
}

func (r *testRecorder) find(reason string) (recordedEvent, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := slices.IndexFunc(r.events, func(e recordedEvent) bool { return e.reason == reason })
	if i < 0 {
		return recordedEvent{}, false
	}
	return r.events[i], true
}

func testMachine() MachineInfo {
	return MachineInfo{
		NumCPU:                4,
		MemoryBytes:           8 << 30,
		SwapBytes:             1 << 30,
		EphemeralStorageBytes: 100 << 30,
		HugePages:             map[int64]int64{2 << 20: 0, 1 << 30: 0},
		MachineID:             "0123456789abcdef0123456789abcdef",
		SystemUUID:            "4c4c4544-0000-1000-8000-000000000000",
		BootID:                "boot-1",
		KernelVersion:         "6.1.0-18-amd64",
		OSImage:               "Debian GNU/Linux 12 (bookworm)",
		Architecture:          "amd64",
	}
}

// testConfig has short intervals, so that tests wait for events rather
// than for periods.
func testConfig(client *fake.Clientset, rt Runtime) Config {
	return Config{
		NodeName:              testNode,
		Client:                client,
		InternalIP:            "172.18.0.3",
		KubeletVersion:        "v1.36.4",
		Runtime:               rt,
		Machine:               testMachine(),
		StatusUpdateFrequency: 20 * time.Millisecond,
		LeaseRenewInterval:    20 * time.Millisecond,
		RuntimeCheckInterval:  10 * time.Millisecond,
	}
}

func newTestManager(t *testing.T, cfg Config) *Manager {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	m.registerBackoff = time.Millisecond
	m.leaseBackoff = time.Millisecond
	return m
}

// start runs m until the test ends.
func start(t *testing.T, m *Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// waitFor polls cond until it holds, failing the test after a generous
// limit; the limit only bounds a broken test, it asserts no timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func getNode(t *testing.T, client *fake.Clientset) *corev1.Node {
	t.Helper()
	obj, err := client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("nodes"), "", testNode)
	if err != nil {
		return nil
	}
	return obj.(*corev1.Node)
}

func condition(node *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	if node == nil {
		return nil
	}
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == t {
			return &node.Status.Conditions[i]
		}
	}
	return nil
}

// countActions counts the client's calls of verb on resource (and
// subresource).
func countActions(client *fake.Clientset, verb, resource, subresource string) int {
	n := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource && a.GetSubresource() == subresource {
			n++
		}
	}
	return n
}

// failFirst makes the first n calls of verb on resource fail as a
// connection to an API server that is not up yet does.
func failFirst(client *fake.Clientset, verb, resource string, n int) {
	var mu sync.Mutex
	client.PrependReactor(verb, resource, func(k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if n > 0 {
			n--
			return true, nil, errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
		}
		return false, nil, nil
	})
}
