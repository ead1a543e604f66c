package scheduler

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/controlplane/scheduler/queue"
)

// bindingReactor gives the fake clientset the binding subresource's
// effect: it sets the pod's node. The first failures bindings are refused.
func bindingReactor(client *fake.Clientset, failures int32) *atomic.Int32 {
	var calls atomic.Int32
	client.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "binding" {
			return false, nil, nil
		}
		if calls.Add(1) <= failures {
			return true, nil, apierrors.NewInternalError(errors.New("etcd is down"))
		}
		binding := action.(k8stesting.CreateAction).GetObject().(*corev1.Binding)
		obj, err := client.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), binding.Namespace, binding.Name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*corev1.Pod).DeepCopy()
		pod.Spec.NodeName = binding.Target.Name
		return true, binding, client.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), pod, pod.Namespace)
	})
	return &calls
}

func pendingPod(name, scheduler string) *corev1.Pod {
	p := podRequesting(name, "100m")
	p.UID = types.UID("uid-" + name)
	p.Spec.SchedulerName = scheduler
	return p
}

// runFake runs a Scheduler on a fake clientset, with backoffs short enough
// for a test, until the test ends.
func runFake(t *testing.T, client *fake.Clientset, recorder record.EventRecorder) *prometheus.Registry {
	t.Helper()
	registry := prometheus.NewRegistry()
	sched := New(client, Config{Log: quietLog(), Recorder: recorder, Registerer: registry, Queue: queue.Config{
		PodInitialBackoff: 10 * time.Millisecond, PodMaxBackoff: 50 * time.Millisecond, BackoffFlushInterval: 10 * time.Millisecond,
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sched.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler: %v", err)
		}
	})
	return registry
}

func nodeOf(t *testing.T, client *fake.Clientset, name string) string {
	t.Helper()
	p, err := client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p.Spec.NodeName
}

func TestARefusedBindingIsReportedForgottenAndRetried(t *testing.T) {
	client := fake.NewClientset(fakeNode("worker", "1"), pendingPod("web", "default-scheduler"))
	calls := bindingReactor(client, 1)
	recorder := record.NewFakeRecorder(100)
	runFake(t, client, recorder)

	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return nodeOf(t, client, "web") != "", nil
	})
	if err != nil {
		t.Fatalf("pod not bound after the refused binding: %d binding calls", calls.Load())
	}
	if node := nodeOf(t, client, "web"); node != "worker" || calls.Load() != 2 {
		t.Fatalf("bound to %q after %d binding calls, want worker after 2", node, calls.Load())
	}
	var events []string
	for len(events) < 2 {
		select {
		case e := <-recorder.Events:
			events = append(events, e)
		case <-time.After(5 * time.Second):
			t.Fatalf("events %q, want a FailedScheduling then a Scheduled", events)
		}
	}
	wantFailed := `Warning FailedScheduling running Bind plugin "DefaultBinder": Internal error occurred: etcd is down`
	if events[0] != wantFailed || events[1] != "Normal Scheduled Successfully assigned default/web to worker" {
		t.Fatalf("events %q\nwant %q, then the Scheduled event", events, wantFailed)
	}
}

func TestPodsOfOtherSchedulersAndDeletedPodsAreLeftAlone(t *testing.T) {
	deleting := pendingPod("deleting", "default-scheduler")
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	deleting.Finalizers = []string{"example.com/hold"}
	client := fake.NewClientset(fakeNode("worker", "4"), pendingPod("other", "my-scheduler"), deleting, pendingPod("mine", "default-scheduler"))
	bindingReactor(client, 0)
	runFake(t, client, record.NewFakeRecorder(100))

	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return nodeOf(t, client, "mine") != "", nil
	})
	if err != nil {
		t.Fatal("the default scheduler's pod was not bound")
	}
	time.Sleep(200 * time.Millisecond)
	for _, name := range []string{"other", "deleting"} {
		if node := nodeOf(t, client, name); node != "" {
			t.Errorf("pod %s was bound to %s", name, node)
		}
	}
}

func TestAnUnschedulablePodIsReportedOnceAndWaitsForAnEvent(t *testing.T) {
	client := fake.NewClientset(pendingPod("big", "default-scheduler"))
	bindingReactor(client, 0)
	registry := runFake(t, client, record.NewFakeRecorder(100))
	var cond *corev1.PodCondition
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "big", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for i := range p.Status.Conditions {
			if p.Status.Conditions[i].Type == corev1.PodScheduled {
				cond = &p.Status.Conditions[i]
			}
		}
		return cond != nil, nil
	})
	if err != nil {
		t.Fatal("no PodScheduled condition")
	}
	if cond.Status != corev1.ConditionFalse || cond.Reason != corev1.PodReasonUnschedulable || cond.Message != "no nodes available to schedule pods" {
		t.Fatalf("condition %+v, want False/Unschedulable: no nodes available to schedule pods", *cond)
	}
	patches := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "patch" && a.GetSubresource() == "status" {
			patches++
		}
	}
	if patches != 1 {
		t.Fatalf("%d status patches, want 1", patches)
	}
	// Its own status update does not wake it, and nothing else happens:
	// no retry, however short the backoff.
	time.Sleep(300 * time.Millisecond)
	if n := counterValue(t, registry, "scheduler_schedule_attempts_total", "result", "unschedulable"); n != 1 {
		t.Fatalf("%v attempts, want 1: the pod must wait for a cluster event", n)
	}
	if _, err := client.CoreV1().Nodes().Create(context.Background(), fakeNode("worker", "1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return nodeOf(t, client, "big") == "worker", nil
	})
	if err != nil {
		t.Fatal("a new node did not bring the pod back")
	}
}

func TestUpdatePodConditionKeepsTheTransitionTimeWhileTheStatusStays(t *testing.T) {
	earlier, now := metav1.NewTime(time.Unix(1000, 0)), metav1.NewTime(time.Unix(2000, 0))
	failing := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/1 nodes are available", LastTransitionTime: earlier}
	tests := []struct {
		name        string
		current     []corev1.PodCondition
		set         corev1.PodCondition
		wantChanged bool
		wantTime    metav1.Time
	}{
		{"new condition", nil, failing, true, now},
		{"same condition", []corev1.PodCondition{failing}, failing, false, earlier},
		{"new message, same status", []corev1.PodCondition{failing}, func() corev1.PodCondition { c := failing; c.Message = "0/2 nodes are available"; return c }(), true, earlier},
		{"new status", []corev1.PodCondition{failing}, func() corev1.PodCondition { c := failing; c.Status = corev1.ConditionTrue; return c }(), true, now},
	}
	for _, tt := range tests {
		status := &corev1.PodStatus{Conditions: append([]corev1.PodCondition(nil), tt.current...)}
		changed := updatePodCondition(status, tt.set, now)
		if changed != tt.wantChanged || len(status.Conditions) != 1 || !status.Conditions[0].LastTransitionTime.Equal(&tt.wantTime) {
			t.Errorf("%s: changed %v, conditions %+v; want changed %v at %v", tt.name, changed, status.Conditions, tt.wantChanged, tt.wantTime)
		}
	}
}

func TestHealthHandlerAnswersAsUpstream(t *testing.T) {
	ok := healthCheck{"ping", func() error { return nil }}
	bad := healthCheck{"leaderElection", func() error { return errors.New("lease not renewed") }}
	tests := []struct {
		name     string
		checks   []healthCheck
		path     string
		wantCode int
		wantBody string
	}{
		{"healthy", []healthCheck{ok}, "/healthz", 200, "ok"},
		{"healthy, verbose", []healthCheck{ok}, "/healthz?verbose", 200, "[+]ping ok\nhealthz check passed\n"},
		{"a failing check", []healthCheck{ok, bad}, "/healthz", 500, "[+]ping ok\n[-]leaderElection failed: reason withheld\nhealthz check failed\n"},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		healthHandler("healthz", tt.checks...).ServeHTTP(w, httptest.NewRequest(http.MethodGet, tt.path, nil))
		if w.Code != tt.wantCode || w.Body.String() != tt.wantBody || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("%s: %d %q, want %d %q", tt.name, w.Code, w.Body.String(), tt.wantCode, tt.wantBody)
		}
	}
}
