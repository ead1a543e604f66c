package staticpod

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
)

// Upstream's file source re-lists the directory every fileCheckFrequency
// (20 s) and reacts to inotify in between. Polling the listing every second
// gives the same reaction time without inotify's corner cases (editors
// that replace files, directories mounted over).
const (
	DefaultCheckInterval  = time.Second
	DefaultResyncInterval = 20 * time.Second
)

// Source watches a manifest directory and hands the complete set of its
// static pods to a callback, once at start and after every change.
type Source struct {
	dir      string
	nodeName string
	log      *slog.Logger

	// CheckInterval is how often the directory's listing (names, sizes,
	// modification times) is compared with the last one read.
	CheckInterval time.Duration
	// ResyncInterval is how often every file is read again, changed or
	// not, for changes the listing does not show.
	ResyncInterval time.Duration
}

// NewSource watches dir for the static pods of node nodeName.
func NewSource(dir, nodeName string, log *slog.Logger) *Source {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{
		dir:            dir,
		nodeName:       nodeName,
		log:            log,
		CheckInterval:  DefaultCheckInterval,
		ResyncInterval: DefaultResyncInterval,
	}
}

// Run calls update with the directory's static pods at once, even when
// there are none (so the kubelet knows the source has been read), then
// whenever they change, until ctx is done. update runs on Run's goroutine
// and owns the pods it is given.
//
// A change is read once the listing has stayed the same for one check
// interval: a file being written is read after its writer is done, not
// half-written, which would stop its pod until the next read.
func (s *Source) Run(ctx context.Context, update func(pods []*corev1.Pod)) {
	w := &watch{source: s, seen: map[types.UID]string{}}
	w.read(update)

	check := time.NewTicker(s.CheckInterval)
	defer check.Stop()
	resync := time.NewTicker(s.ResyncInterval)
	defer resync.Stop()
	// pending is a new listing seen at one check, to be read if the next
	// check sees it again.
	var pending string
	var hasPending bool
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync.C:
			w.read(update)
			hasPending = false
		case <-check.C:
			listing := s.listing()
			switch {
			case listing == w.readListing:
				hasPending = false
			case hasPending && listing == pending:
				w.read(update)
				hasPending = false
			default:
				pending, hasPending = listing, true
			}
		}
	}
}

// watch is the state of one Run.
type watch struct {
	source *Source
	// readListing is the listing taken just before the last read.
	readListing string
	// last is what update was last given; sent tells nil from nothing.
	last []*corev1.Pod
	sent bool
	// seen holds each current pod's config.seen stamp by UID: a pod keeps
	// the time it was first seen for as long as its manifest is unchanged.
	seen map[types.UID]string
	// lastErrs are the last read's errors, so that a lasting problem is
	// logged once rather than at every resync.
	lastErrs []string
}

func (w *watch) read(update func([]*corev1.Pod)) {
	s := w.source
	// The listing is taken first, so that a change made during the read is
	// seen as a change at the next check.
	w.readListing = s.listing()
	now := time.Now().Format(RFC3339NanoFixed)
	pods, errs := load(s.dir, s.nodeName, func(uid types.UID) string {
		if stamp, ok := w.seen[uid]; ok {
			return stamp
		}
		return now
	})
	w.logErrors(errs)

	seen := make(map[types.UID]string, len(pods))
	for _, pod := range pods {
		seen[pod.UID] = pod.Annotations[ConfigFirstSeenAnnotationKey]
	}
	w.seen = seen

	if w.sent && apiequality.Semantic.DeepEqual(pods, w.last) {
		return
	}
	w.last, w.sent = pods, true
	s.log.Info("static pods changed", "dir", s.dir, "pods", podNames(pods))
	update(copyPods(pods))
}

func (w *watch) logErrors(errs []error) {
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	if slices.Equal(msgs, w.lastErrs) {
		return
	}
	w.lastErrs = msgs
	for _, err := range errs {
		w.source.log.Error("could not process static pod manifest", "err", err)
	}
}

// listing sums up the manifests' names, sizes and modification times; an
// unreadable directory sums up as its error, so that a repaired one is a
// change.
func (s *Source) listing() string {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	for _, e := range entries {
		if !isManifestName(e.Name()) {
			continue
		}
		// Stat follows symbolic links, as the read does.
		info, err := os.Stat(filepath.Join(s.dir, e.Name()))
		if err != nil {
			fmt.Fprintf(&b, "%s:error\n", e.Name())
			continue
		}
		fmt.Fprintf(&b, "%s:%s:%d:%d\n", e.Name(), info.Mode(), info.Size(), info.ModTime().UnixNano())
	}
	return b.String()
}

func podNames(pods []*corev1.Pod) []string {
	names := make([]string, len(pods))
	for i, pod := range pods {
		names[i] = pod.Namespace + "/" + pod.Name
	}
	return names
}

// copyPods keeps the watcher's pods its own: the callback may change
// what it is given.
func copyPods(pods []*corev1.Pod) []*corev1.Pod {
	out := make([]*corev1.Pod, len(pods))
	for i, pod := range pods {
		out[i] = pod.DeepCopy()
	}
	return out
}
