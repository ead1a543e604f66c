package storage

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// resultBuffer is how many events a watcher holds for a slow reader
// before it stops reading from etcd.
const resultBuffer = 100

// Watch implements Interface, with the semantics kube-apiserver gives its
// clients (those of its watch cache, where etcd's and the cache's differ):
//
//   - ResourceVersion "" or "0": the current state as ADDED events, then
//     the changes after it. SendInitialEvents=false skips the current
//     state; SendInitialEvents=true sends it for any resourceVersion (which
//     is then a minimum), ended by a BOOKMARK annotated
//     k8s.io/initial-events-end.
//   - ResourceVersion N: the changes after N. If etcd compacted N away,
//     the only event is an ERROR carrying a 410 Expired status ("too old
//     resource version: N (oldest)"), as later on when a slow watcher falls
//     behind a compaction.
//   - With a predicate, an object that starts matching arrives as ADDED and
//     one that stops matching as DELETED.
//   - ProgressNotify turns etcd's progress notifications into BOOKMARK
//     events: an empty object of the store's type holding the
//     resourceVersion everything before which has been sent.
//
// Stop, or the end of ctx, ends the watch and closes the result channel.
func (s *Store) Watch(ctx context.Context, key string, opts ListOptions) (watch.Interface, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if s.newFunc == nil {
		return nil, errors.New("watch " + key + ": the store was made without WithNewFunc")
	}
	rv, err := parseResourceVersion(opts.ResourceVersion)
	if err != nil {
		return nil, err
	}
	w := &watcher{
		s:        s,
		key:      key,
		prefix:   strings.HasSuffix(key, "/"),
		match:    opts.Predicate.matcher(),
		rev:      rv,
		progress: opts.ProgressNotify,
		result:   make(chan watch.Event, resultBuffer),
	}
	switch {
	case opts.SendInitialEvents != nil && *opts.SendInitialEvents:
		w.initial, w.initialEnd, w.minRV = true, true, rv
	case opts.SendInitialEvents != nil:
		// Changes only, from now on if no revision was given.
		w.fromNow = rv == 0
	default:
		w.initial = rv == 0
	}
	// Like kube-apiserver, give up a watch when etcd loses its leader
	// rather than hang on a partitioned member.
	w.ctx, w.cancel = context.WithCancel(clientv3.WithRequireLeader(ctx))
	go w.run()
	return w, nil
}

type watcher struct {
	s      *Store
	key    string
	prefix bool
	match  func(runtime.Object) bool
	// rev is the revision delivered so far: the watch resumes after it.
	rev        int64
	minRV      int64
	initial    bool
	initialEnd bool
	fromNow    bool
	progress   bool

	ctx    context.Context
	cancel context.CancelFunc
	result chan watch.Event
}

// Stop implements watch.Interface.
func (w *watcher) Stop() { w.cancel() }

// ResultChan implements watch.Interface.
func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

func (w *watcher) run() {
	defer close(w.result)
	defer w.cancel()

	if w.initial && !w.sendCurrentState() {
		return
	}
	opts := []clientv3.OpOption{clientv3.WithPrevKV()}
	if !w.fromNow {
		opts = append(opts, clientv3.WithRev(w.rev+1))
	}
	if w.prefix {
		opts = append(opts, clientv3.WithPrefix())
	}
	if w.progress {
		opts = append(opts, clientv3.WithProgressNotify())
	}
	for resp := range w.s.client.Watch(w.ctx, w.key, opts...) {
		if err := resp.Err(); err != nil {
			w.fail(err, resp.CompactRevision)
			return
		}
		if resp.IsProgressNotify() {
			// etcd also answers progress requests made for other watches
			// on the same stream: only those who asked get bookmarks.
			if w.progress && resp.Header.Revision > w.rev {
				w.rev = resp.Header.Revision
				if !w.send(watch.Event{Type: watch.Bookmark, Object: w.bookmark(false)}) {
					return
				}
			}
			continue
		}
		for _, ev := range resp.Events {
			event, ok, err := w.transform(ev)
			if err != nil {
				w.fail(err, 0)
				return
			}
			w.rev = ev.Kv.ModRevision
			if ok && !w.send(event) {
				return
			}
		}
	}
	// The channel closes when ctx ends or the client closes.
}

// sendCurrentState sends the objects under the key as ADDED events and
// moves the watch to the revision they were read at.
func (w *watcher) sendCurrentState() bool {
	var opts []clientv3.OpOption
	if w.prefix {
		opts = append(opts, clientv3.WithPrefix())
	}
	resp, err := w.s.client.Get(w.ctx, w.key, opts...)
	if err != nil {
		w.fail(err, 0)
		return false
	}
	if w.minRV > resp.Header.Revision {
		w.fail(tooLargeResourceVersion(w.key, w.minRV, resp.Header.Revision), 0)
		return false
	}
	w.rev = resp.Header.Revision
	w.s.cache.observe(resp.Header.Revision)
	objType := reflect.TypeOf(w.s.newFunc())
	for i, kv := range resp.Kvs {
		var obj runtime.Object
		if cached := w.s.cache.get(kv.Key, kv.ModRevision, objType); cached != nil {
			obj = cached.DeepCopyObject()
		} else {
			obj = w.s.newFunc()
			if err := w.s.decode(string(kv.Key), kv.Value, obj, kv.ModRevision); err != nil {
				w.fail(err, 0)
				return false
			}
		}
		resp.Kvs[i] = nil
		if w.match != nil && !w.match(obj) {
			continue
		}
		if !w.send(watch.Event{Type: watch.Added, Object: obj}) {
			return false
		}
	}
	if w.initialEnd {
		return w.send(watch.Event{Type: watch.Bookmark, Object: w.bookmark(true)})
	}
	return true
}

// transform turns an etcd event into what this watcher's client sees, if
// anything.
func (w *watcher) transform(ev *clientv3.Event) (watch.Event, bool, error) {
	key := string(ev.Kv.Key)
	rev := ev.Kv.ModRevision
	deleted := ev.Type == clientv3.EventTypeDelete

	var cur, prev runtime.Object
	if !deleted {
		cur = w.s.newFunc()
		if err := w.s.decode(key, ev.Kv.Value, cur, rev); err != nil {
			return watch.Event{}, false, err
		}
	}
	// The previous state matters for deletions (it is what the client
	// gets) and, with a predicate, to tell a transition from a change.
	if deleted || (w.match != nil && !ev.IsCreate()) {
		if ev.PrevKv == nil {
			if deleted {
				return watch.Event{}, false, fmt.Errorf("watch %s: etcd sent a deletion without the previous value", key)
			}
		} else {
			prev = w.s.newFunc()
			// The deleted object carries the revision of its deletion.
			if err := w.s.decode(key, ev.PrevKv.Value, prev, rev); err != nil {
				return watch.Event{}, false, err
			}
		}
	}

	matches := func(obj runtime.Object) bool { return obj != nil && (w.match == nil || w.match(obj)) }
	switch {
	case deleted:
		return watch.Event{Type: watch.Deleted, Object: prev}, matches(prev), nil
	case ev.IsCreate():
		return watch.Event{Type: watch.Added, Object: cur}, matches(cur), nil
	case w.match == nil:
		return watch.Event{Type: watch.Modified, Object: cur}, true, nil
	}
	curOK, prevOK := matches(cur), matches(prev)
	switch {
	case curOK && prevOK:
		return watch.Event{Type: watch.Modified, Object: cur}, true, nil
	case curOK:
		return watch.Event{Type: watch.Added, Object: cur}, true, nil
	case prevOK:
		// The client last saw prev; it leaves the selection with the
		// revision of the change.
		return watch.Event{Type: watch.Deleted, Object: prev}, true, nil
	}
	return watch.Event{}, false, nil
}

// bookmark is an empty object of the watched type at the revision
// reached.
func (w *watcher) bookmark(initialEventsEnd bool) runtime.Object {
	obj := w.s.newFunc()
	m, err := meta.Accessor(obj)
	if err != nil {
		return obj
	}
	m.SetResourceVersion(strconv.FormatInt(w.rev, 10))
	if initialEventsEnd {
		m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
	}
	return obj
}

// fail ends the watch with an ERROR event, unless the watch was stopped.
func (w *watcher) fail(err error, compactRev int64) {
	if w.ctx.Err() != nil {
		return
	}
	var status metav1.Status
	switch {
	case errors.Is(err, rpctypes.ErrCompacted):
		// kube-apiserver's watch cache wording; the second number is the
		// oldest resourceVersion a watch can still start after.
		status = apierrors.NewResourceExpired(tooOldWatchMessage(w.rev, compactRev-1)).Status()
	default:
		var apiErr apierrors.APIStatus
		if !errors.As(ToAPIError(err, schema.GroupResource{}, ""), &apiErr) {
			apiErr = apierrors.NewInternalError(err)
		}
		status = apiErr.Status()
	}
	w.send(watch.Event{Type: watch.Error, Object: &status})
}

// send delivers an event unless the watch is stopped first.
func (w *watcher) send(ev watch.Event) bool {
	select {
	case w.result <- ev:
		return true
	case <-w.ctx.Done():
		return false
	}
}
