package queue

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	testingclock "k8s.io/utils/clock/testing"
)

func newTestQueue() (*Queue, *testingclock.FakeClock) {
	clock := testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return New(Config{Clock: clock}), clock
}

func testPod(name string, priority int32) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{Priority: &priority},
	}
}

// popNow pops a pod that must be ready at once.
func popNow(t *testing.T, q *Queue) *QueuedPod {
	t.Helper()
	got := make(chan *QueuedPod, 1)
	go func() {
		qp, _ := q.Pop()
		got <- qp
	}()
	select {
	case qp := <-got:
		return qp
	case <-time.After(5 * time.Second):
		q.Close()
		t.Fatal("Pop blocked: no pod was ready")
		return nil
	}
}

// failToFit pops name and hands it back as rejected by plugins.
func failToFit(t *testing.T, q *Queue, plugins ...string) *QueuedPod {
	t.Helper()
	qp := popNow(t, q)
	cycle := q.SchedulingCycle()
	qp.UnschedulablePlugins = sets.New(plugins...)
	q.AddUnschedulable(qp, cycle)
	return qp
}

func TestActiveQueueOrdersByPriorityThenAge(t *testing.T) {
	q, clock := newTestQueue()
	q.Add(testPod("low-old", 0))
	clock.Step(time.Second)
	q.Add(testPod("high", 100))
	clock.Step(time.Second)
	q.Add(testPod("low-new", 0))
	for _, want := range []string{"high", "low-old", "low-new"} {
		if got := popNow(t, q).Pod.Name; got != want {
			t.Fatalf("popped %s, want %s", got, want)
		}
	}
}

func TestUnschedulablePodWaitsForAnEventThatConcernsIt(t *testing.T) {
	q, _ := newTestQueue()
	q.Add(testPod("p", 0))
	failToFit(t, q, "NodeResourcesFit")
	if c := q.Counts(); c.Unschedulable != 1 || c.Active+c.Backoff != 0 {
		t.Fatalf("after failing to fit: %+v, want it parked as unschedulable", c)
	}
	q.MoveAll("TaintToleration")
	if c := q.Counts(); c.Unschedulable != 1 {
		t.Fatalf("an event for another plugin moved it: %+v", c)
	}
	q.MoveAll("NodeResourcesFit", "NodePorts")
	if c := q.Counts(); c.Unschedulable != 0 || c.Backoff != 1 {
		t.Fatalf("after a relevant event: %+v, want it backing off", c)
	}
	// Nothing else is active, so it is tried at once rather than after
	// its backoff (upstream's SchedulerPopFromBackoffQ).
	if qp := popNow(t, q); qp.Pod.Name != "p" || qp.Attempts != 2 {
		t.Fatalf("popped %s after %d attempts", qp.Pod.Name, qp.Attempts)
	}
}

func TestAnEventDuringTheAttemptSendsThePodBackAtOnce(t *testing.T) {
	q, _ := newTestQueue()
	q.Add(testPod("p", 0))
	qp := popNow(t, q)
	cycle := q.SchedulingCycle()
	q.MoveAll("NodeAffinity") // a node arrived while the pod was being tried
	qp.UnschedulablePlugins = sets.New("NodeResourcesFit")
	q.AddUnschedulable(qp, cycle)
	if c := q.Counts(); c.Unschedulable != 0 || c.Backoff != 1 {
		t.Fatalf("%+v: want the pod retried, not parked, since the cluster changed during its attempt", c)
	}
}

func TestBackoffDoublesFromOneSecondUpToTen(t *testing.T) {
	q, _ := newTestQueue()
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i, w := range want {
		qp := &QueuedPod{UnschedulableCount: i + 1}
		if got := q.backoffDuration(qp); got != w*time.Second {
			t.Errorf("after %d failures: %v, want %v", i+1, got, w*time.Second)
		}
	}
	if got := q.backoffDuration(&QueuedPod{UnschedulableCount: 5, ConsecutiveErrors: 1}); got != time.Second {
		t.Errorf("an error after failures to fit backs off %v, want 1s: errors count on their own", got)
	}
}

func TestAPodThatFailedWithAnErrorWaitsOutItsBackoff(t *testing.T) {
	q, clock := newTestQueue()
	q.Add(testPod("p", 0))
	failToFit(t, q) // no plugin: the binding was refused, say
	if c := q.Counts(); c.Backoff != 1 {
		t.Fatalf("%+v: want it backing off", c)
	}
	popped := make(chan struct{})
	go func() {
		q.Pop()
		close(popped)
	}()
	select {
	case <-popped:
		t.Fatal("a pod that failed with an error was retried before its backoff ended")
	case <-time.After(100 * time.Millisecond):
	}
	clock.Step(time.Second)
	q.flushBackoffCompleted()
	select {
	case <-popped:
	case <-time.After(5 * time.Second):
		t.Fatal("not retried after its backoff")
	}
}

func TestStatusUpdatesDoNotWakeAnUnschedulablePod(t *testing.T) {
	q, _ := newTestQueue()
	p := testPod("p", 0)
	q.Add(p)
	failToFit(t, q, "NodeResourcesFit")

	withCondition := p.DeepCopy()
	withCondition.ResourceVersion = "2"
	withCondition.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse}}
	q.Update(p, withCondition)
	if c := q.Counts(); c.Unschedulable != 1 {
		t.Fatalf("the scheduler's own status update woke the pod: %+v", c)
	}
	tolerant := withCondition.DeepCopy()
	tolerant.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	q.Update(withCondition, tolerant)
	if c := q.Counts(); c.Unschedulable != 0 {
		t.Fatalf("a spec change did not wake the pod: %+v", c)
	}
	if got := popNow(t, q).Pod; len(got.Spec.Tolerations) != 1 {
		t.Fatal("the pod retried is not the updated one")
	}
}

func TestUnschedulablePodsAreRetriedAfterFiveMinutesAnyway(t *testing.T) {
	q, clock := newTestQueue()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	q.Add(testPod("p", 0))
	failToFit(t, q, "NodeResourcesFit")

	// Step in 30 s flush intervals; the pod stays parked for five minutes.
	for elapsed := time.Duration(0); elapsed < 5*time.Minute; elapsed += 30 * time.Second {
		waitForTickers(t, clock)
		clock.Step(30 * time.Second)
		if c := q.Counts(); c.Unschedulable != 1 && elapsed+30*time.Second <= 5*time.Minute {
			t.Fatalf("retried after %v: %+v", elapsed+30*time.Second, c)
		}
	}
	waitForTickers(t, clock)
	clock.Step(30 * time.Second)
	err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return q.Counts().Unschedulable == 0, nil
	})
	if err != nil {
		t.Fatalf("not retried after five and a half minutes: %+v", q.Counts())
	}
}

func waitForTickers(t *testing.T, clock *testingclock.FakeClock) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return clock.HasWaiters(), nil
	})
	if err != nil {
		t.Fatal("the queue's tickers are not running")
	}
}

func TestGatedPodsWaitForTheirGatesToGo(t *testing.T) {
	q, _ := newTestQueue()
	p := testPod("p", 0)
	p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
	q.Add(p)
	if c := q.Counts(); c.Gated != 1 || c.Active != 0 {
		t.Fatalf("%+v: want the gated pod held", c)
	}
	ungated := p.DeepCopy()
	ungated.Spec.SchedulingGates = nil
	q.Update(p, ungated)
	if got := popNow(t, q); got.Pod.Name != "p" {
		t.Fatalf("popped %s", got.Pod.Name)
	}
}

func TestAPodDeletedDuringItsAttemptIsDropped(t *testing.T) {
	q, _ := newTestQueue()
	p := testPod("p", 0)
	q.Add(p)
	qp := popNow(t, q)
	q.Delete(p)
	qp.UnschedulablePlugins = sets.New("NodeResourcesFit")
	q.AddUnschedulable(qp, q.SchedulingCycle())
	if c := q.Counts(); c != (Counts{}) {
		t.Fatalf("%+v: a deleted pod came back", c)
	}
}

func TestCloseWakesPop(t *testing.T) {
	q, _ := newTestQueue()
	done := make(chan bool, 1)
	go func() {
		_, ok := q.Pop()
		done <- ok
	}()
	time.Sleep(10 * time.Millisecond)
	q.Close()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("Pop returned a pod from an empty, closed queue")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Pop")
	}
}
