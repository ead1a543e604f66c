package integration

import (
	"context"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	watchtools "k8s.io/client-go/tools/watch"
)

// change is one event of a watch.
type change[T any] struct {
	Type   watch.EventType
	Object T
}

// history is every change a watch saw, in the server's order: what the
// tests check ordering and invariants on, without depending on when
// they look.
type history[T any] struct {
	mu      sync.Mutex
	changes []change[T]
}

// snapshot is the changes seen so far.
func (h *history[T]) snapshot() []change[T] {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]change[T](nil), h.changes...)
}

// len is how many changes were seen so far: a mark to check from.
func (h *history[T]) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.changes)
}

// watchFunc opens a watch, as a typed client's Watch.
type watchFunc func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)

func (f watchFunc) WatchWithContext(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return f(ctx, opts)
}

// record watches from resourceVersion on, resuming the watch if the
// server ends it, until the test ends.
func record[T any](c *cluster, what, resourceVersion string, open watchFunc) *history[T] {
	c.t.Helper()
	ctx, cancel := context.WithCancel(c.ctx)
	w, err := watchtools.NewRetryWatcherWithContext(ctx, resourceVersion, open)
	if err != nil {
		cancel()
		c.t.Fatalf("watch %s: %v", what, err)
	}
	h := &history[T]{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(T)
			if !ok {
				continue // bookmarks and errors
			}
			h.mu.Lock()
			h.changes = append(h.changes, change[T]{Type: ev.Type, Object: obj})
			h.mu.Unlock()
		}
	}()
	c.t.Cleanup(func() {
		cancel()
		w.Stop()
		<-done
	})
	return h
}

// recordPods records the changes to a namespace's pods from now on.
func (c *cluster) recordPods(namespace string) *history[*corev1.Pod] {
	c.t.Helper()
	pods := c.client.CoreV1().Pods(namespace)
	list, err := pods.List(c.ctx, metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return record[*corev1.Pod](c, fmt.Sprintf("pods in %s", namespace), list.ResourceVersion, pods.Watch)
}

// recordReplicaSets records the changes to a namespace's ReplicaSets
// from now on.
func (c *cluster) recordReplicaSets(namespace string) *history[*appsv1.ReplicaSet] {
	c.t.Helper()
	rss := c.client.AppsV1().ReplicaSets(namespace)
	list, err := rss.List(c.ctx, metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return record[*appsv1.ReplicaSet](c, fmt.Sprintf("replicasets in %s", namespace), list.ResourceVersion, rss.Watch)
}

// replay calls visit after each change with the state it left: the
// objects by name.
func replay[T interface{ GetName() string }](changes []change[T], visit func(i int, state map[string]T)) {
	state := map[string]T{}
	for i, ch := range changes {
		if ch.Type == watch.Deleted {
			delete(state, ch.Object.GetName())
		} else {
			state[ch.Object.GetName()] = ch.Object
		}
		visit(i, state)
	}
}
