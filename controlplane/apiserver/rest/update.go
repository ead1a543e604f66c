package rest

import (
	"context"
	"errors"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// optimisticLockMessage is upstream's text for a stale resourceVersion.
const optimisticLockMessage = "the object has been modified; please apply your changes to the latest version and try again"

func (h *Handler) update(w http.ResponseWriter, r *http.Request, info *request.Info) {
	obj, warnings, err := h.decodeBody(w, r)
	if err != nil {
		WriteError(w, err)
		return
	}
	if err := h.checkNamespaceAndName(metaOf(obj), info); err != nil {
		WriteError(w, err)
		return
	}
	h.applyUpdate(w, r, info, func() []string { return warnings }, func(context.Context, runtime.Object) (runtime.Object, error) {
		return obj.DeepCopyObject(), nil
	})
}

// newObjectFunc computes the object a write asks for from the current one
// (an empty object when creating through PUT).
type newObjectFunc func(ctx context.Context, current runtime.Object) (runtime.Object, error)

// applyUpdate is the write path shared by PUT and PATCH: a compare-and-swap
// loop around newObject, the strategy, admission and validation.
// warnings is read once the write is done: a patch learns its own while
// decoding the patched object.
func (h *Handler) applyUpdate(w http.ResponseWriter, r *http.Request, info *request.Info, warnings func() []string, newObject newObjectFunc) {
	dryRun, err := isDryRun(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	out, created, err := h.write(r.Context(), info, dryRun, newObject)
	if err != nil {
		WriteError(w, err)
		return
	}
	addWarnings(w, warnings())
	h.setKind(out)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	h.respond(w, r, code, out)
}

// write is the compare-and-swap loop of applyUpdate and Update. Errors
// are API statuses.
func (h *Handler) write(ctx context.Context, info *request.Info, dryRun bool, newObject newObjectFunc) (out runtime.Object, created bool, err error) {
	tryUpdate := func(current runtime.Object) (runtime.Object, error) {
		created = metaOf(current).ResourceVersion == ""
		obj, err := newObject(ctx, current)
		if err != nil {
			return nil, err
		}
		if err := h.checkNamespaceAndName(metaOf(obj), info); err != nil {
			return nil, err
		}
		if created {
			return h.prepareCreateThroughUpdate(ctx, obj, info, dryRun)
		}
		return h.prepareUpdate(ctx, obj, current, info, dryRun)
	}
	out = h.Resource.New()
	key := h.key(info.Namespace, info.Name)
	if dryRun {
		err = h.dryRunUpdate(ctx, key, out, tryUpdate)
	} else {
		err = h.Store.GuaranteedUpdate(ctx, key, out, h.Resource.Strategy.AllowCreateOnUpdate && info.Subresource == "", nil, tryUpdate)
	}
	if err != nil {
		return nil, false, storage.ToAPIError(err, h.groupResource(), info.Name)
	}
	if !dryRun && h.finishedDeleting(out) {
		// The last finalizer of an object being deleted is gone: the
		// object goes, as upstream.
		uid := metaOf(out).UID
		if err := h.Store.Delete(ctx, key, h.Resource.New(), &storage.Preconditions{UID: &uid}, nil); err != nil && !storage.IsNotFound(err) {
			return nil, false, storage.ToAPIError(err, h.groupResource(), info.Name)
		}
	}
	return out, created, nil
}

func (h *Handler) dryRunUpdate(ctx context.Context, key string, out runtime.Object, tryUpdate storage.UpdateFunc) error {
	current := h.Resource.New()
	opts := storage.GetOptions{IgnoreNotFound: h.Resource.Strategy.AllowCreateOnUpdate}
	if err := h.Store.Get(ctx, key, opts, current); err != nil {
		return err
	}
	obj, err := tryUpdate(current)
	if err != nil {
		return err
	}
	copyInto(out, obj)
	return nil
}

// copyInto sets *dst to *src for two objects of the same type.
func copyInto(dst, src runtime.Object) {
	reflectSet(dst, src)
}

// prepareCreateThroughUpdate handles a PUT that creates.
func (h *Handler) prepareCreateThroughUpdate(ctx context.Context, obj runtime.Object, info *request.Info, dryRun bool) (runtime.Object, error) {
	h.prepareCreate(obj)
	if f := h.Resource.Strategy.Defaults; f != nil {
		f(obj)
	}
	om := metaOf(obj)
	if err := h.admit(ctx, AdmissionAttributes{Operation: "CREATE", Namespace: om.Namespace, Name: om.Name, Object: obj, DryRun: dryRun}); err != nil {
		return nil, err
	}
	return obj, h.validateCreate(obj)
}

// prepareUpdate carries over what a client may not change, bumps the
// generation, and runs admission and validation.
func (h *Handler) prepareUpdate(ctx context.Context, obj, current runtime.Object, info *request.Info, dryRun bool) (runtime.Object, error) {
	om, cur := metaOf(obj), metaOf(current)
	if om.ResourceVersion != "" && om.ResourceVersion != cur.ResourceVersion {
		return nil, apierrors.NewConflict(h.groupResource(), info.Name, errors.New(optimisticLockMessage))
	}
	if om.UID != "" && om.UID != cur.UID {
		return nil, apierrors.NewConflict(h.groupResource(), info.Name, errors.New("Precondition failed: UID in precondition: "+string(om.UID)+", UID in object meta: "+string(cur.UID)))
	}
	om.ResourceVersion = cur.ResourceVersion
	// Server-owned metadata: a client cannot change it with an update.
	om.UID = cur.UID
	om.CreationTimestamp = cur.CreationTimestamp
	om.DeletionTimestamp = cur.DeletionTimestamp
	om.DeletionGracePeriodSeconds = cur.DeletionGracePeriodSeconds
	om.Generation = cur.Generation
	om.SelfLink = ""

	if h.Resource.Strategy.StatusSplit {
		if info.Subresource == "status" {
			// Only the status changes; everything else is the current
			// object's, including labels and annotations, as upstream.
			status := obj
			annotations := om.Annotations
			obj = current.DeepCopyObject()
			copyStatus(obj, status)
			metav1.ResetObjectMetaForStatus(metaOf(obj), cur)
			om = metaOf(obj)
			if h.Resource.Strategy.StatusKeepsAnnotations {
				om.Annotations = annotations
			}
		} else {
			copyStatus(obj, current)
		}
	}
	if h.Resource.Strategy.Generation && specChanged(obj, current) {
		om.Generation = cur.Generation + 1
	}
	if f := h.Resource.Strategy.PrepareForUpdate; f != nil {
		f(obj, current)
	}
	if f := h.Resource.Strategy.Defaults; f != nil {
		f(obj)
	}
	if err := h.admit(ctx, AdmissionAttributes{Operation: "UPDATE", Namespace: om.Namespace, Name: om.Name, Object: obj, Old: current, DryRun: dryRun}); err != nil {
		return nil, err
	}
	if err := h.validateUpdate(obj, current, info.Subresource); err != nil {
		return nil, err
	}
	return obj, nil
}

// finishedDeleting reports an object whose deletion waited only for
// finalizers that are now all gone.
func (h *Handler) finishedDeleting(obj runtime.Object) bool {
	om := metaOf(obj)
	return om.DeletionTimestamp != nil && len(om.Finalizers) == 0 &&
		(om.DeletionGracePeriodSeconds == nil || *om.DeletionGracePeriodSeconds == 0) &&
		!h.deletionHeld(obj)
}
