package apiserver

import (
	"context"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kindish/kindish/controlplane/apiserver/rest"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// eventHandler receives a resource's objects, in client-go's handler shape.
type eventHandler interface {
	OnAdd(obj any, isInInitialList bool)
	OnUpdate(oldObj, newObj any)
	OnDelete(obj any)
}

// replacer takes a whole list at once, so it can drop what the list lacks.
type replacer interface {
	Replace(items []runtime.Object, revision int64)
}

// feed keeps h informed of every object of a resource, straight from
// storage: a list, then a watch from the list's revision, and again after
// any error. The server uses it for state it must hold in memory (RBAC).
// synced is closed after the first list.
func (s *Server) feed(ctx context.Context, gvr schema.GroupVersionResource, h eventHandler, synced chan<- struct{}) {
	handler := s.handlers[gvr]
	store := s.stores[gvr]
	prefix := rest.KeyPrefix(handler.Resource) + "/"
	first := true
	for ctx.Err() == nil {
		rv, err := s.feedOnce(ctx, store, handler, prefix, h, first, synced)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("watch of "+gvr.Resource+" ended; listing again", "error", err, "resourceVersion", rv)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		first = false
	}
}

func (s *Server) feedOnce(ctx context.Context, store storage.Interface, handler *rest.Handler, prefix string, h eventHandler, first bool, synced chan<- struct{}) (string, error) {
	list := handler.Resource.NewList()
	if err := store.GetList(ctx, prefix, storage.ListOptions{}, list); err != nil {
		return "", err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return "", err
	}
	rev := int64(0)
	if l, err := meta.ListAccessor(list); err == nil {
		rev, _ = strconv.ParseInt(l.GetResourceVersion(), 10, 64)
	}
	if r, ok := h.(replacer); ok {
		r.Replace(items, rev)
	} else {
		for _, item := range items {
			h.OnAdd(item, true)
		}
	}
	if first && synced != nil {
		close(synced)
	}
	rv := ""
	if l, err := meta.ListAccessor(list); err == nil {
		rv = l.GetResourceVersion()
	}
	w, err := store.Watch(ctx, prefix, storage.ListOptions{ResourceVersion: rv})
	if err != nil {
		return rv, err
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		switch ev.Type {
		case watch.Added:
			h.OnAdd(ev.Object, false)
		case watch.Modified:
			h.OnUpdate(nil, ev.Object)
		case watch.Deleted:
			h.OnDelete(ev.Object)
		case watch.Error:
			return rv, apiErrorOf(ev.Object)
		}
	}
	return rv, ctx.Err()
}
