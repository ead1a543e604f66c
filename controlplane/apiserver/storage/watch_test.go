package storage

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// next waits for the next event.
func next(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("result channel closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return watch.Event{}
}

// expect checks the next event's type, pod name and, if given, its
// resourceVersion.
func expect(t *testing.T, w watch.Interface, typ watch.EventType, name, rv string) *corev1.Pod {
	t.Helper()
	ev := next(t, w)
	pod, ok := ev.Object.(*corev1.Pod)
	if ev.Type != typ || !ok || pod.Name != name || (rv != "" && pod.ResourceVersion != rv) {
		t.Fatalf("got %s %T %s, want %s %s at %q", ev.Type, ev.Object, describe(ev.Object), typ, name, rv)
	}
	return pod
}

func describe(obj kruntime.Object) string {
	switch o := obj.(type) {
	case *corev1.Pod:
		return o.Name + "@" + o.ResourceVersion
	case *metav1.Status:
		return fmt.Sprintf("%d %s: %s", o.Code, o.Reason, o.Message)
	}
	return fmt.Sprint(obj)
}

// expectNothing checks that no event arrives for a while.
func expectNothing(t *testing.T, w watch.Interface) {
	t.Helper()
	select {
	case ev := <-w.ResultChan():
		t.Fatalf("unexpected %s %s", ev.Type, describe(ev.Object))
	case <-time.After(300 * time.Millisecond):
	}
}

func relabel(app string) UpdateFunc {
	return func(obj kruntime.Object) (kruntime.Object, error) {
		pod := obj.(*corev1.Pod)
		pod.Labels = map[string]string{"app": app}
		return pod, nil
	}
}

func TestWatchFromResourceVersionSeesLaterEventsInOrder(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	a := mustCreate(t, s, prefix+"a", testPod("a"))

	w, err := s.Watch(ctx, prefix, ListOptions{ResourceVersion: a.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	updated := &corev1.Pod{}
	if err := s.GuaranteedUpdate(ctx, prefix+"a", updated, false, nil, increment); err != nil {
		t.Fatal(err)
	}
	b := mustCreate(t, s, prefix+"b", testPod("b"))
	deleted := &corev1.Pod{}
	if err := s.Delete(ctx, prefix+"a", deleted, nil, nil); err != nil {
		t.Fatal(err)
	}

	if got := expect(t, w, watch.Modified, "a", updated.ResourceVersion); annotationCounter(t, got) != 1 {
		t.Errorf("modified object has counter %d", annotationCounter(t, got))
	}
	expect(t, w, watch.Added, "b", b.ResourceVersion)
	// A deletion carries the last state at the deletion's revision.
	if got := expect(t, w, watch.Deleted, "a", deleted.ResourceVersion); annotationCounter(t, got) != 1 {
		t.Errorf("deleted object has counter %d", annotationCounter(t, got))
	}
	expectNothing(t, w)
}

func TestWatchFromZeroListsFirst(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	a := mustCreate(t, s, prefix+"a", testPod("a"))
	b := mustCreate(t, s, prefix+"b", testPod("b"))

	for _, rv := range []string{"", "0"} {
		t.Run("rv="+rv, func(t *testing.T) {
			w, err := s.Watch(ctx, prefix, ListOptions{ResourceVersion: rv})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			expect(t, w, watch.Added, "a", a.ResourceVersion)
			expect(t, w, watch.Added, "b", b.ResourceVersion)
			expectNothing(t, w)
		})
	}

	w, err := s.Watch(ctx, prefix, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	expect(t, w, watch.Added, "a", "")
	expect(t, w, watch.Added, "b", "")
	c := mustCreate(t, s, prefix+"c", testPod("c"))
	expect(t, w, watch.Added, "c", c.ResourceVersion)
}

func TestWatchOneKey(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	mustCreate(t, s, prefix+"a", testPod("a"))
	w, err := s.Watch(ctx, prefix+"a", ListOptions{ResourceVersion: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	expect(t, w, watch.Added, "a", "")
	mustCreate(t, s, prefix+"ab", testPod("ab"))
	if err := s.GuaranteedUpdate(ctx, prefix+"a", &corev1.Pod{}, false, nil, increment); err != nil {
		t.Fatal(err)
	}
	expect(t, w, watch.Modified, "a", "")
}

func TestWatchPredicateTransitions(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	start, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Watch(ctx, prefix, ListOptions{
		ResourceVersion: fmt.Sprint(start),
		Predicate:       SelectionPredicate{Label: labels.SelectorFromSet(labels.Set{"app": "web"}), GetAttrs: podAttrs},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	update := func(name string, fn UpdateFunc) *corev1.Pod {
		t.Helper()
		out := &corev1.Pod{}
		if err := s.GuaranteedUpdate(ctx, prefix+name, out, false, nil, fn); err != nil {
			t.Fatal(err)
		}
		return out
	}
	web := testPod("a") // app=web
	other := testPod("b")
	other.Labels = map[string]string{"app": "db"}
	created := mustCreate(t, s, prefix+"a", web)
	mustCreate(t, s, prefix+"b", other)
	update("b", increment)
	modified := update("a", increment)
	left := update("a", relabel("db"))
	update("a", increment) // while not selected: nothing
	back := update("a", relabel("web"))
	deleted := &corev1.Pod{}
	if err := s.Delete(ctx, prefix+"a", deleted, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, prefix+"b", &corev1.Pod{}, nil, nil); err != nil {
		t.Fatal(err)
	}

	expect(t, w, watch.Added, "a", created.ResourceVersion)
	expect(t, w, watch.Modified, "a", modified.ResourceVersion)
	// Leaving the selection: DELETED with the last state the client
	// could see, at the revision it left.
	if got := expect(t, w, watch.Deleted, "a", left.ResourceVersion); got.Labels["app"] != "web" {
		t.Errorf("left with labels %v", got.Labels)
	}
	expect(t, w, watch.Added, "a", back.ResourceVersion)
	expect(t, w, watch.Deleted, "a", deleted.ResourceVersion)
	expectNothing(t, w)
}

func TestWatchAfterCompactionIsExpired(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	old := mustCreate(t, s, prefix+"a", testPod("a"))
	mustCreate(t, s, prefix+"b", testPod("b"))
	// etcd keeps the compaction revision itself: a watch after old
	// starts at b, which must be older than that.
	mustCreate(t, s, prefix+"c", testPod("c"))
	compacted := compact(t)

	w, err := s.Watch(ctx, prefix, ListOptions{ResourceVersion: old.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := next(t, w)
	status, ok := ev.Object.(*metav1.Status)
	if ev.Type != watch.Error || !ok {
		t.Fatalf("got %s %s", ev.Type, describe(ev.Object))
	}
	want := fmt.Sprintf("too old resource version: %s (%d)", old.ResourceVersion, compacted-1)
	if status.Code != 410 || status.Reason != metav1.StatusReasonExpired || status.Message != want || status.Status != metav1.StatusFailure {
		t.Errorf("status = %+v, want 410 Expired %q", status, want)
	}
	select {
	case ev, ok := <-w.ResultChan():
		if ok {
			t.Errorf("event after the error: %s %s", ev.Type, describe(ev.Object))
		}
	case <-time.After(5 * time.Second):
		t.Error("result channel still open after the error")
	}

	// The compacted revision itself is still good to resume from.
	w2, err := s.Watch(ctx, prefix, ListOptions{ResourceVersion: fmt.Sprint(compacted - 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	expect(t, w2, watch.Added, "c", fmt.Sprint(compacted))
	d := mustCreate(t, s, prefix+"d", testPod("d"))
	expect(t, w2, watch.Added, "d", d.ResourceVersion)
}

func TestWatchBookmarks(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	a := mustCreate(t, s, prefix+"a", testPod("a"))
	w, err := s.Watch(ctx, prefix, ListOptions{ResourceVersion: a.ResourceVersion, ProgressNotify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Progress notifications come every progressInterval, but etcd
	// sends none to a watch whose start is still in the future: move
	// the revision on, as any write in a cluster does.
	if _, err := testClient.Put(ctx, "/registry/leases/"+t.Name(), "tick"); err != nil {
		t.Fatal(err)
	}
	ev := next(t, w)
	pod, ok := ev.Object.(*corev1.Pod)
	if ev.Type != watch.Bookmark || !ok {
		t.Fatalf("got %s %s", ev.Type, describe(ev.Object))
	}
	if rvOf(t, pod) < rvOf(t, a) || pod.Name != "" || len(pod.Annotations) != 0 || pod.Spec.Containers != nil {
		t.Errorf("bookmark = %+v", pod)
	}

	// Without ProgressNotify there are none.
	quiet, err := s.Watch(ctx, prefix, ListOptions{ResourceVersion: a.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Stop()
	select {
	case ev := <-quiet.ResultChan():
		t.Fatalf("unexpected %s %s", ev.Type, describe(ev.Object))
	case <-time.After(3 * progressInterval):
	}
}

func TestWatchSendInitialEvents(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	a := mustCreate(t, s, prefix+"a", testPod("a"))
	b := mustCreate(t, s, prefix+"b", testPod("b"))
	yes, no := true, false

	w, err := s.Watch(ctx, prefix, ListOptions{SendInitialEvents: &yes, ProgressNotify: true, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	expect(t, w, watch.Added, "a", a.ResourceVersion)
	expect(t, w, watch.Added, "b", b.ResourceVersion)
	ev := next(t, w)
	end, ok := ev.Object.(*corev1.Pod)
	if ev.Type != watch.Bookmark || !ok || end.Annotations[metav1.InitialEventsAnnotationKey] != "true" || rvOf(t, end) < rvOf(t, b) {
		t.Fatalf("got %s %s %v", ev.Type, describe(ev.Object), ev.Object)
	}
	c := mustCreate(t, s, prefix+"c", testPod("c"))
	for {
		// Periodic bookmarks may come in between.
		ev := next(t, w)
		if ev.Type == watch.Bookmark {
			continue
		}
		if pod, _ := ev.Object.(*corev1.Pod); ev.Type != watch.Added || pod == nil || pod.ResourceVersion != c.ResourceVersion {
			t.Fatalf("got %s %s", ev.Type, describe(ev.Object))
		}
		break
	}

	// SendInitialEvents=false: changes only.
	w2, err := s.Watch(ctx, prefix, ListOptions{SendInitialEvents: &no})
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	expectNothing(t, w2)
	d := mustCreate(t, s, prefix+"d", testPod("d"))
	expect(t, w2, watch.Added, "d", d.ResourceVersion)
}

func TestWatchStopReleasesEverything(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	start, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// More objects than a watcher buffers: unread watchers are blocked
	// sending when they are stopped.
	for i := range resultBuffer + 20 {
		name := fmt.Sprintf("pod-%03d", i)
		mustCreate(t, s, prefix+name, testPod(name))
	}

	settle := func() int {
		// The etcd client tears its streams down asynchronously.
		n := runtime.NumGoroutine()
		for range 50 {
			time.Sleep(20 * time.Millisecond)
			m := runtime.NumGoroutine()
			if m == n {
				return m
			}
			n = m
		}
		return n
	}
	before := settle()

	var watchers []watch.Interface
	for i := range 20 {
		opts := ListOptions{ProgressNotify: i%2 == 0}
		if i%3 == 0 {
			opts.Predicate = SelectionPredicate{Label: labels.SelectorFromSet(labels.Set{"app": "web"}), GetAttrs: podAttrs}
		}
		if i%4 == 0 {
			opts.ResourceVersion = fmt.Sprint(start)
		}
		w, err := s.Watch(ctx, prefix, opts)
		if err != nil {
			t.Fatal(err)
		}
		watchers = append(watchers, w)
	}
	for _, w := range watchers {
		expect(t, w, watch.Added, "pod-000", "")
	}
	for _, w := range watchers {
		w.Stop()
		w.Stop() // twice is fine
	}

	// Nothing is drained: stopped watchers must not wait for readers.
	var after int
	for range 100 {
		if after = settle(); after <= before {
			break
		}
	}
	t.Logf("goroutines: %d before, %d after", before, after)
	if after > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before the watches, %d after Stop:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
	for _, w := range watchers {
		deadline := time.After(5 * time.Second)
	drain:
		for {
			select {
			case _, ok := <-w.ResultChan():
				if !ok {
					break drain
				}
			case <-deadline:
				t.Fatal("result channel not closed after Stop")
			}
		}
	}
}

func TestWatchNeedsATypeAndAValidResourceVersion(t *testing.T) {
	ctx := ctxFor(t)
	if _, err := New(testClient, nil).Watch(ctx, "/registry/pods/", ListOptions{}); err == nil || !strings.Contains(err.Error(), "WithNewFunc") {
		t.Errorf("watch without a type: %v", err)
	}
	if _, err := podStore().Watch(ctx, "/registry/pods/", ListOptions{ResourceVersion: "x"}); !IsBadRequest(err) {
		t.Errorf("watch at rv x: %v", err)
	}
}

func TestWatchInitialEventsFromTheFutureIsAnError(t *testing.T) {
	s, ctx, prefix := podStore(), ctxFor(t), testPrefix(t)
	now, err := s.CurrentRevision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	w, err := s.Watch(ctx, prefix, ListOptions{SendInitialEvents: &yes, ResourceVersion: fmt.Sprint(now + 1000000)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := next(t, w)
	status, ok := ev.Object.(*metav1.Status)
	if ev.Type != watch.Error || !ok || status.Code != 504 || status.Reason != metav1.StatusReasonTimeout {
		t.Fatalf("got %s %s", ev.Type, describe(ev.Object))
	}
}
