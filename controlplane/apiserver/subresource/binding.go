package subresource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

var (
	podsResource = corev1.SchemeGroupVersion.WithResource("pods")
	bindingKind  = corev1.SchemeGroupVersion.WithKind("Binding")
)

// addPods serves the pod subresources: binding and eviction here, the
// kubelet's in kubelet.go; and the bindings resource, the older path to
// binding a pod.
func (h *Handler) addPods() {
	if h.resource(podsResource) == nil {
		return
	}
	h.add(podsResource, "binding", verbs{"create": h.bind})
	h.add(corev1.SchemeGroupVersion.WithResource("bindings"), "", verbs{"create": h.bind})
	h.add(podsResource, "eviction", verbs{"create": h.evict})
	h.addKubeletSubresources()
}

// bind assigns a pod to a node, as upstream's BindingREST: the scheduler's
// last step. The pod must not have a node yet; the write bypasses the pod's
// strategy, since no update of a pod may change its node.
func (h *Handler) bind(w http.ResponseWriter, r *http.Request, info *request.Info) {
	binding := &corev1.Binding{}
	if err := decode(w, r, info.Namespace, binding, bindingKind); err != nil {
		rest.WriteError(w, err)
		return
	}
	// pods/<name>/binding names the pod twice; bindings only in the body.
	if info.Subresource != "" && binding.Name != info.Name {
		rest.WriteError(w, apierrors.NewBadRequest("name in URL does not match name in Binding object"))
		return
	}
	if errs := validateBinding(binding); len(errs) > 0 {
		rest.WriteError(w, apierrors.NewInvalid(bindingKind.GroupKind(), binding.Name, errs))
		return
	}
	dryRun, err := rest.IsDryRun(r)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	if err := h.assignPod(r.Context(), binding, dryRun); err != nil {
		rest.WriteError(w, err)
		return
	}
	writeSuccess(w, http.StatusCreated)
}

// validateBinding is upstream's ValidatePodBinding.
func validateBinding(b *corev1.Binding) field.ErrorList {
	var errs field.ErrorList
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		errs = append(errs, field.Required(field.NewPath("target", "name"), ""))
	}
	return errs
}

// errBinding is a pod that cannot take the binding; it is a Conflict on
// pods/binding, as upstream.
type errBinding struct{ error }

// assignPod sets the pod's node and the binding's annotations, and marks
// the pod scheduled. The binding's UID and resourceVersion, when set, are
// preconditions on the pod.
func (h *Handler) assignPod(ctx context.Context, binding *corev1.Binding, dryRun bool) error {
	pods := h.resource(podsResource)
	var precond *storage.Preconditions
	if binding.UID != "" || binding.ResourceVersion != "" {
		precond = &storage.Preconditions{}
		if binding.UID != "" {
			precond.UID = &binding.UID
		}
		if binding.ResourceVersion != "" {
			precond.ResourceVersion = &binding.ResourceVersion
		}
	}
	assign := func(current runtime.Object) (runtime.Object, error) {
		pod := current.(*corev1.Pod).DeepCopy()
		switch {
		case pod.DeletionTimestamp != nil:
			return nil, errBinding{fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name)}
		case pod.Spec.NodeName != "":
			return nil, errBinding{fmt.Errorf("pod %v is already assigned to node %q", pod.Name, pod.Spec.NodeName)}
		case len(pod.Spec.SchedulingGates) != 0:
			return nil, errBinding{fmt.Errorf("pod %v has non-empty .spec.schedulingGates", pod.Name)}
		}
		pod.Spec.NodeName = binding.Target.Name
		if len(binding.Annotations) > 0 && pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		for k, v := range binding.Annotations {
			pod.Annotations[k] = v
		}
		setPodCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, h.now())
		return pod, nil
	}
	key := pods.Key(binding.Namespace, binding.Name)
	var err error
	if dryRun {
		current := &corev1.Pod{}
		if err = pods.Store.Get(ctx, key, storage.GetOptions{}, current); err == nil {
			_, err = assign(current)
		}
	} else {
		err = pods.Store.GuaranteedUpdate(ctx, key, &corev1.Pod{}, false, precond, assign)
	}
	var refused errBinding
	if errors.As(err, &refused) {
		return apierrors.NewConflict(corev1.Resource("pods/binding"), binding.Name, refused.error)
	}
	return storage.ToAPIError(err, pods.GroupResource(), binding.Name)
}

// setPodCondition is upstream's UpdatePodCondition: the condition
// replaces the one of its type, keeping its transition time when its
// status did not change.
func setPodCondition(status *corev1.PodStatus, c corev1.PodCondition, now time.Time) {
	c.LastTransitionTime = metav1.NewTime(now)
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		*old = c
		return
	}
	status.Conditions = append(status.Conditions, c)
}
