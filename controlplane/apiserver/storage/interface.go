// Package storage keeps API objects in etcd: JSON under
// /registry/<resource>/<namespace>/<name>, with resourceVersion = the etcd
// revision of the object's last write. Updates are compare-and-swap on that
// revision; watches resume from it and report that it is gone once etcd
// has compacted it.
package storage

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// Interface is what the API server's handlers need from storage. Keys are
// full etcd keys ("/registry/pods/default/web-1"); a trailing "/" names a
// prefix for lists and watches.
type Interface interface {
	// Create stores obj under key, which must not exist. out receives the
	// stored object with its resourceVersion.
	Create(ctx context.Context, key string, obj, out runtime.Object) error
	// Get reads one object.
	Get(ctx context.Context, key string, opts GetOptions, out runtime.Object) error
	// GetList reads every object under the key prefix that the predicate
	// selects, into a list object (its Items and ListMeta are set), with
	// paging through Limit and Continue.
	GetList(ctx context.Context, prefix string, opts ListOptions, list runtime.Object) error
	// GuaranteedUpdate reads the object, calls tryUpdate with it, and
	// writes the result if nothing changed it in between, retrying tryUpdate
	// on a concurrent change. An unchanged result is not written. dest
	// receives the stored object.
	//
	// If dest already holds the object as this store returned it, with its
	// resourceVersion, that copy is tried first and saves a read; a stale
	// copy costs one more round trip, never a lost update. Never pass a
	// client's object as dest: it would be taken for the stored one.
	// tryUpdate may be called several times, and may be handed dest
	// itself.
	GuaranteedUpdate(ctx context.Context, key string, dest runtime.Object, ignoreNotFound bool, precond *Preconditions, tryUpdate UpdateFunc) error
	// Delete removes the object if the preconditions and validate accept
	// the current one; out receives the object as it was. As with
	// GuaranteedUpdate, an out that already holds the object with a
	// resourceVersion is checked first and saves a read.
	Delete(ctx context.Context, key string, out runtime.Object, precond *Preconditions, validate ValidateDeletion) error
	// Watch streams changes under key (one object) or prefix (trailing "/")
	// after opts.ResourceVersion ("" or "0": the current state first, as
	// ADDED events, then changes).
	Watch(ctx context.Context, key string, opts ListOptions) (watch.Interface, error)
	// CurrentRevision is etcd's current revision.
	CurrentRevision(ctx context.Context) (int64, error)
}

// UpdateFunc computes the new object from the current one. Returning an
// error aborts the update with that error.
type UpdateFunc func(current runtime.Object) (runtime.Object, error)

// ValidateDeletion may refuse to delete the current object.
type ValidateDeletion func(ctx context.Context, current runtime.Object) error

// Preconditions must hold for an update or delete to proceed; a mismatch is
// a Conflict.
type Preconditions struct {
	UID             *types.UID
	ResourceVersion *string
}

// GetOptions tune Get.
type GetOptions struct {
	// IgnoreNotFound returns an empty out instead of an error.
	IgnoreNotFound bool
	// ResourceVersion "" reads the latest; a number asks for a state at
	// least that recent.
	ResourceVersion string
}

// ListOptions tune GetList and Watch.
type ListOptions struct {
	ResourceVersion      string
	ResourceVersionMatch metav1.ResourceVersionMatch
	Predicate            SelectionPredicate
	// ProgressNotify asks for bookmark events on watches. They come from
	// etcd's progress notifications, as often as its
	// --watch-progress-notify-interval says (kubeadm sets 5s).
	ProgressNotify bool
	// SendInitialEvents, on watches, streams the current state first and
	// ends it with a bookmark carrying the k8s.io/initial-events-end
	// annotation.
	SendInitialEvents *bool
}

// SelectionPredicate selects objects by labels and fields, and pages lists.
type SelectionPredicate struct {
	Label labels.Selector
	Field fields.Selector
	// GetAttrs returns the object's labels and the fields its resource
	// supports in field selectors (metadata.name, spec.nodeName, ...). Nil
	// is DefaultAttrs. Lists call it from several goroutines at once.
	GetAttrs func(obj runtime.Object) (labels.Set, fields.Set, error)
	// Limit caps a list's length (0: no cap); Continue resumes a paged list.
	Limit    int64
	Continue string
}
