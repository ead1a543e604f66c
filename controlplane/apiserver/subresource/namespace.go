package subresource

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

var namespaceKind = corev1.SchemeGroupVersion.WithKind("Namespace")

func (h *Handler) addNamespaces() {
	h.add(corev1.SchemeGroupVersion.WithResource("namespaces"), "finalize", verbs{"update": h.finalizeNamespace})
}

// finalizeNamespace sets a namespace's spec.finalizers, as the namespace
// controller does once it has emptied a Terminating namespace. A
// namespace being deleted goes when no finalizer of either kind is left
// (the namespaces' strategy holds its deletion while spec.finalizers has
// any).
func (h *Handler) finalizeNamespace(w http.ResponseWriter, r *http.Request, info *request.Info) {
	ns := &corev1.Namespace{}
	if err := decode(w, r, "", ns, namespaceKind); err != nil {
		rest.WriteError(w, err)
		return
	}
	if ns.Name != info.Name {
		rest.WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", ns.Name, info.Name)))
		return
	}
	if errs := validateFinalizers(ns.Spec.Finalizers); len(errs) > 0 {
		rest.WriteError(w, apierrors.NewInvalid(namespaceKind.GroupKind(), ns.Name, errs))
		return
	}
	dryRun, err := rest.IsDryRun(r)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	namespaces := h.parent(info)
	out, err := namespaces.Update(r.Context(), info, dryRun, func(_ context.Context, current runtime.Object) (runtime.Object, error) {
		obj := current.(*corev1.Namespace).DeepCopy()
		obj.Spec.Finalizers = ns.Spec.Finalizers
		// A resourceVersion in the request is a precondition.
		obj.ResourceVersion = ns.ResourceVersion
		return obj, nil
	})
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	namespaces.Respond(w, r, http.StatusOK, out)
}

// validateFinalizers is upstream's check of a namespace's finalizer
// names: qualified names, or one of the standard ones.
func validateFinalizers(finalizers []corev1.FinalizerName) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		path := field.NewPath("spec", "finalizers").Index(i)
		name := string(f)
		errs = append(errs, apivalidation.ValidateFinalizerName(name, path)...)
		if !strings.Contains(name, "/") && !standardFinalizers[name] {
			errs = append(errs, field.Invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

var standardFinalizers = map[string]bool{
	string(corev1.FinalizerKubernetes): true,
	metav1.FinalizerOrphanDependents:   true,
	metav1.FinalizerDeleteDependents:   true,
}
