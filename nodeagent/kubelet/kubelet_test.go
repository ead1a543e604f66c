package kubelet

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// slowWorkers holds the first UpdatePod until released or a second has
// passed, and records what RemoveOrphans was told exists.
type slowWorkers struct {
	podWorkers
	release chan struct{}
	once    sync.Once

	mu     sync.Mutex
	known  map[types.UID]bool
	called chan struct{}
}

func (w *slowWorkers) UpdatePod(*corev1.Pod) {
	w.once.Do(func() {
		select {
		case <-w.release:
		case <-time.After(time.Second):
		}
	})
}

func (w *slowWorkers) RemoveOrphans(_ context.Context, known map[types.UID]bool) error {
	w.mu.Lock()
	w.known = known
	w.mu.Unlock()
	close(w.release)
	close(w.called)
	return nil
}

// The orphan sweep after a kubelet start must know every pod bound to the
// node: one it missed would be killed and lose its logs and restart count.
// The informer's store fills before its handlers have run, so the sweep
// waits for the pod manager's handler, not for the store.
func TestRemoveOrphansWaitsForEveryAPIPod(t *testing.T) {
	const node = "n1"
	uids := []types.UID{"uid-a", "uid-b", "uid-c"}
	client := fake.NewClientset()
	for _, uid := range uids {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: string(uid), Namespace: "default", UID: uid},
			Spec:       corev1.PodSpec{NodeName: node},
		}
		if _, err := client.CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	workers := &slowWorkers{release: make(chan struct{}), called: make(chan struct{})}
	k := &kubelet{
		log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		pods:         newPodManager(),
		workers:      workers,
		staticLoaded: make(chan struct{}),
	}
	close(k.staticLoaded)
	k.nodePods = informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", node).String()
		}))
	k.podInformer = k.nodePods.Core().V1().Pods().Informer()
	if err := k.handleNodePods(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	k.nodePods.Start(ctx.Done())
	defer k.nodePods.Shutdown()
	defer cancel() // before Shutdown, which waits for the informers to stop
	go k.removeOrphansOnce(ctx)

	select {
	case <-workers.called:
	case <-ctx.Done():
		t.Fatal("RemoveOrphans was never called")
	}
	workers.mu.Lock()
	defer workers.mu.Unlock()
	for _, uid := range uids {
		if !workers.known[uid] {
			t.Errorf("RemoveOrphans ran without pod %s in the known set %v: it would be removed as an orphan", uid, workers.known)
		}
	}
}

// syncAllWorkers records SyncAll calls.
type syncAllWorkers struct {
	podWorkers
	synced chan struct{}
}

func (w *syncAllWorkers) SyncAll() { w.synced <- struct{}{} }

// A pod from the API cannot start before the Services are listed (its
// containers' service variables come from them); its failed sync is
// retried as soon as they are, not at its next periodic sync.
func TestPodsSyncOnceServicesAreListed(t *testing.T) {
	client := fake.NewClientset()
	shared := informers.NewSharedInformerFactory(client, 0)
	shared.Core().V1().Services().Informer() // as the pod workers ask for it
	workers := &syncAllWorkers{synced: make(chan struct{}, 1)}
	k := &kubelet{
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		workers: workers,
		shared:  shared,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer shared.Shutdown()
	defer cancel()
	done := make(chan struct{})
	go func() { k.syncWhenServicesSynced(ctx); close(done) }()

	select {
	case <-workers.synced:
		t.Fatal("every pod was synced before the Services were listed")
	case <-time.After(300 * time.Millisecond):
	}
	shared.Start(ctx.Done())
	select {
	case <-workers.synced:
	case <-ctx.Done():
		t.Fatal("the pods were not synced once the Services were listed")
	}
	<-done
}
