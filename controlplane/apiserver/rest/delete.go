package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// errDeleteNow ends the deletion's update loop: the object goes at once.
var errDeleteNow = errors.New("delete immediately")

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, info *request.Info) {
	opts, dryRun, err := deleteOptions(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	out, deleted, err := h.deleteOne(r.Context(), info.Namespace, info.Name, opts, dryRun)
	if err != nil {
		WriteError(w, storage.ToAPIError(err, h.groupResource(), info.Name))
		return
	}
	if deleted && h.Resource.Strategy.GracePeriod == nil {
		m := metaOf(out)
		writeJSON(w, http.StatusOK, &metav1.Status{
			TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status:   metav1.StatusSuccess,
			Details:  &metav1.StatusDetails{Name: m.Name, Group: h.Resource.GroupVersion.Group, Kind: h.Resource.Name, UID: m.UID},
		})
		return
	}
	h.setKind(out)
	h.respond(w, r, http.StatusOK, out)
}

// deleteOne deletes one object: at once, or by marking it deleted and
// letting its finalizers or its grace period run out. deleted reports
// whether it is gone from storage.
func (h *Handler) deleteOne(ctx context.Context, namespace, name string, opts *metav1.DeleteOptions, dryRun bool) (runtime.Object, bool, error) {
	key := h.key(namespace, name)
	var precond *storage.Preconditions
	if p := opts.Preconditions; p != nil {
		precond = &storage.Preconditions{UID: p.UID, ResourceVersion: p.ResourceVersion}
	}
	mark := func(current runtime.Object) (runtime.Object, error) {
		obj := current.DeepCopyObject()
		om := metaOf(obj)
		om.Finalizers = withPropagationFinalizer(om.Finalizers, opts)
		seconds, graceful := int64(0), false
		if f := h.Resource.Strategy.GracePeriod; f != nil {
			seconds, graceful = f(obj, opts.GracePeriodSeconds)
		}
		if !graceful && len(om.Finalizers) == 0 && !h.deletionHeld(obj) {
			return nil, errDeleteNow
		}
		if f := h.Resource.Strategy.PrepareForDelete; f != nil {
			f(obj)
		}
		switch {
		case om.DeletionTimestamp == nil:
			at := metav1.NewTime(h.now().Add(time.Duration(seconds) * time.Second).Truncate(time.Second))
			om.DeletionTimestamp, om.DeletionGracePeriodSeconds = &at, &seconds
		case graceful && om.DeletionGracePeriodSeconds != nil && seconds < *om.DeletionGracePeriodSeconds:
			// A shorter grace period than the one running wins, as upstream.
			at := metav1.NewTime(h.now().Add(time.Duration(seconds) * time.Second).Truncate(time.Second))
			om.DeletionTimestamp, om.DeletionGracePeriodSeconds = &at, &seconds
		}
		if !dryRun {
			if err := h.admit(ctx, AdmissionAttributes{Operation: "DELETE", Namespace: namespace, Name: name, Object: current}); err != nil {
				return nil, err
			}
		}
		return obj, nil
	}

	out := h.Resource.New()
	var err error
	if dryRun {
		err = h.Store.Get(ctx, key, storage.GetOptions{}, out)
		if err == nil {
			var marked runtime.Object
			if marked, err = mark(out); err == nil {
				return marked, false, nil
			}
		}
	} else {
		err = h.Store.GuaranteedUpdate(ctx, key, out, false, precond, mark)
	}
	if !errors.Is(err, errDeleteNow) {
		return out, false, err
	}
	if dryRun {
		return out, true, nil
	}
	if err := h.Store.Delete(ctx, key, out, precond, nil); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// deletionHeld reports finalizers the resource keeps outside metadata (a
// namespace's spec.finalizers) that the object's deletion still waits for.
func (h *Handler) deletionHeld(obj runtime.Object) bool {
	f := h.Resource.Strategy.DeletionHeld
	return f != nil && f(obj)
}

// withPropagationFinalizer adds the finalizer a propagation policy asks
// for: the garbage collector then deletes or orphans the dependents before
// the owner goes.
func withPropagationFinalizer(finalizers []string, opts *metav1.DeleteOptions) []string {
	add := ""
	switch {
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationForeground:
		add = metav1.FinalizerDeleteDependents
	case opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationOrphan,
		opts.PropagationPolicy == nil && opts.OrphanDependents != nil && *opts.OrphanDependents:
		add = metav1.FinalizerOrphanDependents
	}
	if add == "" || slices.Contains(finalizers, add) {
		return finalizers
	}
	return append(slices.Clone(finalizers), add)
}

// deleteOptions reads DeleteOptions from the body and the query.
func deleteOptions(w http.ResponseWriter, r *http.Request) (*metav1.DeleteOptions, bool, error) {
	opts := &metav1.DeleteOptions{}
	body, err := readBody(w, r)
	if err != nil {
		return nil, false, err
	}
	if len(body) > 0 {
		if isProtobuf(r.Header.Get("Content-Type")) {
			if _, _, err := protobufSerializer.Decode(body, nil, opts); err != nil {
				return nil, false, badRequest("DeleteOptions: %v", err)
			}
		} else if err := json.Unmarshal(body, opts); err != nil {
			return nil, false, badRequest("DeleteOptions: %v", err)
		}
	}
	q := r.URL.Query()
	if s := q.Get("gracePeriodSeconds"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, false, badRequest("gracePeriodSeconds: invalid value %q", s)
		}
		opts.GracePeriodSeconds = &v
	}
	if s := q.Get("propagationPolicy"); s != "" {
		p := metav1.DeletionPropagation(s)
		opts.PropagationPolicy = &p
	}
	if s := q.Get("orphanDependents"); s != "" {
		v := s == "true"
		opts.OrphanDependents = &v
	}
	if p := opts.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
		default:
			return nil, false, badRequest("DeleteOptions.propagationPolicy: Unsupported value: %q: supported values: \"Foreground\", \"Background\", \"Orphan\"", *p)
		}
	}
	dryRun, err := isDryRun(r)
	if err == nil && slices.Contains(opts.DryRun, "All") {
		dryRun = true
	}
	return opts, dryRun, err
}

func (h *Handler) deleteCollection(w http.ResponseWriter, r *http.Request, info *request.Info) {
	listOpts, err := h.listOptions(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	opts, dryRun, err := deleteOptions(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	list := h.Resource.NewList()
	if err := h.Store.GetList(r.Context(), h.prefix(info.Namespace), listOpts, list); err != nil {
		WriteError(w, storage.ToAPIError(err, h.groupResource(), ""))
		return
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		WriteError(w, err)
		return
	}
	// Each delete is an etcd transaction of its own, and etcd commits
	// concurrent ones together: deleted one after another, a namespace's
	// 10,000 pods took 25 s here, most of it waiting for the disk.
	g, gctx := errgroup.WithContext(r.Context())
	g.SetLimit(max(h.DeleteCollectionWorkers, 1))
	for _, item := range items {
		m := metaOf(item)
		g.Go(func() error {
			if _, _, err := h.deleteOne(gctx, m.Namespace, m.Name, opts, dryRun); err != nil && !storage.IsNotFound(err) {
				return storage.ToAPIError(err, h.groupResource(), m.Name)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		WriteError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess})
}
