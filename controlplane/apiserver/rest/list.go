package rest

import (
	"net/http"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

func (h *Handler) list(w http.ResponseWriter, r *http.Request, info *request.Info) {
	opts, err := h.listOptions(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	list := h.Resource.NewList()
	if err := h.Store.GetList(r.Context(), h.prefix(info.Namespace), opts, list); err != nil {
		WriteError(w, storage.ToAPIError(err, h.groupResource(), ""))
		return
	}
	h.setKind(list)
	h.respond(w, r, http.StatusOK, list)
}

// listOptions reads the query of a list or watch: selectors, paging and
// resource version.
func (h *Handler) listOptions(r *http.Request) (storage.ListOptions, error) {
	q := r.URL.Query()
	pred, err := h.predicate(q.Get("labelSelector"), q.Get("fieldSelector"))
	if err != nil {
		return storage.ListOptions{}, err
	}
	if s := q.Get("limit"); s != "" {
		if pred.Limit, err = strconv.ParseInt(s, 10, 64); err != nil || pred.Limit < 0 {
			return storage.ListOptions{}, badRequest("limit: invalid value %q", s)
		}
	}
	pred.Continue = q.Get("continue")
	opts := storage.ListOptions{
		ResourceVersion:      q.Get("resourceVersion"),
		ResourceVersionMatch: metav1.ResourceVersionMatch(q.Get("resourceVersionMatch")),
		Predicate:            pred,
		ProgressNotify:       q.Get("allowWatchBookmarks") == "true",
	}
	if s := q.Get("sendInitialEvents"); s != "" {
		v := s == "true"
		opts.SendInitialEvents = &v
	}
	return opts, nil
}

// predicate parses the selectors, refusing fields the resource cannot be
// selected by, with upstream's message.
func (h *Handler) predicate(labelSelector, fieldSelector string) (storage.SelectionPredicate, error) {
	ls, err := labels.Parse(labelSelector)
	if err != nil {
		return storage.SelectionPredicate{}, badRequest("unable to parse requirement: %v", err)
	}
	fs, err := fields.ParseSelector(fieldSelector)
	if err != nil {
		return storage.SelectionPredicate{}, badRequest("invalid field selector: %v", err)
	}
	supported := h.fieldSet(h.Resource.New())
	for _, req := range fs.Requirements() {
		if _, ok := supported[req.Field]; !ok {
			return storage.SelectionPredicate{}, badRequest("field label not supported: %s", req.Field)
		}
	}
	return storage.SelectionPredicate{Label: ls, Field: fs, GetAttrs: h.attrs}, nil
}

// fieldSet is what field selectors see of an object.
func (h *Handler) fieldSet(obj runtime.Object) fields.Set {
	m, err := meta.Accessor(obj)
	if err != nil {
		return fields.Set{}
	}
	set := fields.Set{"metadata.name": m.GetName()}
	if h.Resource.Namespaced {
		set["metadata.namespace"] = m.GetNamespace()
	}
	if f := h.Resource.Strategy.SelectableFields; f != nil {
		for k, v := range f(obj) {
			set[k] = v
		}
	}
	return set
}

func (h *Handler) attrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, err
	}
	return labels.Set(m.GetLabels()), h.fieldSet(obj), nil
}
