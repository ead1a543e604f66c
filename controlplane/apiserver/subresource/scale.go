package subresource

import (
	"context"
	"fmt"
	"net/http"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

var scaleKind = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// addScale serves the scale subresource of the workloads that have one:
// the Scale is a view of the parent's spec.replicas, status.replicas and
// selector, and writing it writes the parent, as upstream's ScaleREST.
func (h *Handler) addScale() {
	for _, gvr := range []schema.GroupVersionResource{
		appsv1.SchemeGroupVersion.WithResource("deployments"),
		appsv1.SchemeGroupVersion.WithResource("replicasets"),
		appsv1.SchemeGroupVersion.WithResource("statefulsets"),
		corev1.SchemeGroupVersion.WithResource("replicationcontrollers"),
	} {
		h.add(gvr, "scale", verbs{"get": h.getScale, "update": h.updateScale, "patch": h.patchScale})
	}
}

func (h *Handler) getScale(w http.ResponseWriter, r *http.Request, info *request.Info) {
	obj, err := h.parent(info).Get(r.Context(), info.Namespace, info.Name)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	h.respondScale(w, r, obj)
}

func (h *Handler) updateScale(w http.ResponseWriter, r *http.Request, info *request.Info) {
	scale := &autoscalingv1.Scale{}
	if err := decode(w, r, info.Namespace, scale, scaleKind); err != nil {
		rest.WriteError(w, err)
		return
	}
	if scale.Name != info.Name {
		rest.WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", scale.Name, info.Name)))
		return
	}
	out, err := h.writeScale(r, info, func(*autoscalingv1.Scale) (*autoscalingv1.Scale, error) { return scale, nil })
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	h.respondScale(w, r, out)
}

// patchScale patches the Scale, not the parent: kubectl scale sends
// {"spec":{"replicas":N}} as a merge patch.
func (h *Handler) patchScale(w http.ResponseWriter, r *http.Request, info *request.Info) {
	patch, err := rest.ReadPatch(w, r, routeOf(info).groupResource(), info.Name)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	var warnings []string
	out, err := h.writeScale(r, info, func(old *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
		scale := &autoscalingv1.Scale{}
		decodeWarnings, err := patch.Apply(old, scale, scaleKind)
		warnings = decodeWarnings
		return scale, err
	})
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	rest.AddWarnings(w, warnings)
	h.respondScale(w, r, out)
}

// writeScale sets the parent's replicas to what newScale computes from
// the parent's current Scale, inside the parent's update loop, and
// returns the parent as written.
func (h *Handler) writeScale(r *http.Request, info *request.Info, newScale func(old *autoscalingv1.Scale) (*autoscalingv1.Scale, error)) (runtime.Object, error) {
	dryRun, err := rest.IsDryRun(r)
	if err != nil {
		return nil, err
	}
	gr := routeOf(info).groupResource()
	return h.parent(info).Update(r.Context(), info, dryRun, func(_ context.Context, current runtime.Object) (runtime.Object, error) {
		old, err := scaleOf(current)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		scale, err := newScale(old)
		if err != nil {
			return nil, err
		}
		if errs := validateScale(scale); len(errs) > 0 {
			return nil, apierrors.NewInvalid(scaleKind.GroupKind(), info.Name, errs)
		}
		if scale.UID != "" && scale.UID != old.UID {
			return nil, apierrors.NewConflict(gr, info.Name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", scale.UID, old.UID))
		}
		obj := current.DeepCopyObject()
		setReplicas(obj, scale.Spec.Replicas)
		// The Scale's resourceVersion is the parent's: a stale one is the
		// parent's Conflict.
		obj.(metav1.Object).SetResourceVersion(scale.ResourceVersion)
		return obj, nil
	})
}

func (h *Handler) respondScale(w http.ResponseWriter, r *http.Request, parent runtime.Object) {
	scale, err := scaleOf(parent)
	if err != nil {
		rest.WriteError(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	if rest.WantsTable(r) {
		rest.WriteJSON(w, http.StatusOK, scaleTable(scale))
		return
	}
	writeObject(w, http.StatusOK, scale, scaleKind)
}

// scaleOf is the Scale view of a workload.
func scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	var (
		spec, status int32
		selector     labels.Selector
		err          error
	)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		spec, status = replicas(o.Spec.Replicas), o.Status.Replicas
		selector, err = metav1.LabelSelectorAsSelector(o.Spec.Selector)
	case *appsv1.ReplicaSet:
		spec, status = replicas(o.Spec.Replicas), o.Status.Replicas
		selector, err = metav1.LabelSelectorAsSelector(o.Spec.Selector)
	case *appsv1.StatefulSet:
		spec, status = replicas(o.Spec.Replicas), o.Status.Replicas
		selector, err = metav1.LabelSelectorAsSelector(o.Spec.Selector)
	case *corev1.ReplicationController:
		spec, status = replicas(o.Spec.Replicas), o.Status.Replicas
		selector = labels.SelectorFromSet(o.Spec.Selector)
	default:
		return nil, fmt.Errorf("%T has no scale", obj)
	}
	if err != nil {
		return nil, err
	}
	m := obj.(metav1.Object)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: scaleKind.GroupVersion().String(), Kind: scaleKind.Kind},
		ObjectMeta: metav1.ObjectMeta{
			Name:              m.GetName(),
			Namespace:         m.GetNamespace(),
			UID:               m.GetUID(),
			ResourceVersion:   m.GetResourceVersion(),
			CreationTimestamp: m.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector.String()},
	}, nil
}

// setReplicas sets a workload's spec.replicas.
func setReplicas(obj runtime.Object, n int32) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas = &n
	case *appsv1.ReplicaSet:
		o.Spec.Replicas = &n
	case *appsv1.StatefulSet:
		o.Spec.Replicas = &n
	case *corev1.ReplicationController:
		o.Spec.Replicas = &n
	default:
		panic(fmt.Sprintf("%T has no scale", obj))
	}
}

// replicas reads a defaulted spec.replicas (upstream's default is 1).
func replicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

// validateScale is upstream's ValidateScale.
func validateScale(scale *autoscalingv1.Scale) field.ErrorList {
	var errs field.ErrorList
	if scale.Spec.Replicas < 0 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "replicas"), scale.Spec.Replicas, "must be greater than or equal to 0"))
	}
	return errs
}

// scaleTable is upstream's table of a Scale (kubectl get --subresource=scale).
func scaleTable(scale *autoscalingv1.Scale) *metav1.Table {
	return &metav1.Table{
		TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "Table"},
		ListMeta: metav1.ListMeta{ResourceVersion: scale.ResourceVersion},
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
			{Name: "Desired", Type: "integer", Description: autoscalingv1.ScaleSpec{}.SwaggerDoc()["replicas"]},
			{Name: "Available", Type: "integer", Description: autoscalingv1.ScaleStatus{}.SwaggerDoc()["replicas"]},
		},
		Rows: []metav1.TableRow{{
			Cells: []any{scale.Name, int64(scale.Spec.Replicas), int64(scale.Status.Replicas)},
			Object: runtime.RawExtension{Object: &metav1.PartialObjectMetadata{
				TypeMeta:   metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"},
				ObjectMeta: scale.ObjectMeta,
			}},
		}},
	}
}
