package subresource

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

var (
	evictionKind = policyv1.SchemeGroupVersion.WithKind("Eviction")
	pdbsResource = policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets")
)

// maxDisruptedPods is upstream's cap on a budget's pending evictions: past
// it, the disruption controller has fallen behind and evictions wait.
const maxDisruptedPods = 2000

// maxEvictionAttempts bounds the retries of an eviction whose pod changed
// between reading it and deleting it.
const maxEvictionAttempts = 5

// evict deletes a pod if its PodDisruptionBudget allows, as upstream's
// EvictionREST (kubectl drain). A pod that is not running (pending,
// finished, or already being deleted) is deleted without asking its
// budget.
func (h *Handler) evict(w http.ResponseWriter, r *http.Request, info *request.Info) {
	eviction := &policyv1.Eviction{}
	if err := decode(w, r, info.Namespace, eviction, evictionKind); err != nil {
		rest.WriteError(w, err)
		return
	}
	if eviction.Name != info.Name {
		rest.WriteError(w, apierrors.NewBadRequest("name in URL does not match name in Eviction object"))
		return
	}
	opts, err := evictionDeleteOptions(r, eviction)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	if err := h.evictPod(r.Context(), info.Namespace, info.Name, opts); err != nil {
		rest.WriteError(w, err)
		return
	}
	writeSuccess(w, http.StatusCreated)
}

// evictionDeleteOptions are the eviction's DeleteOptions, with the
// request's dryRun, which must agree with theirs.
func evictionDeleteOptions(r *http.Request, eviction *policyv1.Eviction) (*metav1.DeleteOptions, error) {
	dryRun, err := rest.IsDryRun(r)
	if err != nil {
		return nil, err
	}
	var query []string
	if dryRun {
		query = []string{metav1.DryRunAll}
	}
	opts := &metav1.DeleteOptions{}
	if eviction.DeleteOptions != nil {
		opts = eviction.DeleteOptions.DeepCopy()
	}
	switch {
	case len(opts.DryRun) == 0:
		opts.DryRun = query
	case len(query) != 0 && !slices.Equal(query, opts.DryRun):
		return nil, apierrors.NewBadRequest(fmt.Sprintf("Non-matching dry-run options in request and content: %v and %v", query, opts.DryRun))
	}
	return opts, nil
}

func (h *Handler) evictPod(ctx context.Context, namespace, name string, opts *metav1.DeleteOptions) error {
	pods := h.resource(podsResource)
	dryRun := slices.Contains(opts.DryRun, metav1.DryRunAll)
	var pod *corev1.Pod
	for attempt := 1; ; attempt++ {
		obj, err := pods.Get(ctx, namespace, name)
		if err != nil {
			return err
		}
		pod = obj.(*corev1.Pod)
		if !canIgnoreBudget(pod) {
			break
		}
		deleteOpts := opts
		if enforceResourceVersion(pod) {
			deleteOpts = withResourceVersion(opts, pod.ResourceVersion)
		}
		err = h.markAndDelete(ctx, pod, deleteOpts, dryRun)
		// A pod that changed meanwhile is evicted again, unless the client
		// named the version it meant.
		if apierrors.IsConflict(err) && !hasResourceVersion(opts) && attempt < maxEvictionAttempts {
			continue
		}
		return err
	}

	budget, err := h.budgetOf(ctx, pod)
	if err != nil || budget == nil {
		if err == nil {
			err = h.markAndDelete(ctx, pod, opts, dryRun)
		}
		return err
	}
	// An unready pod does not count towards the budget: it may go without
	// spending a disruption when the policy says so, or when the healthy
	// pods are enough without it.
	if !podReady(pod) {
		policy := budget.Spec.UnhealthyPodEvictionPolicy
		alwaysAllow := policy != nil && *policy == policyv1.AlwaysAllow
		healthyEnough := budget.Status.CurrentHealthy >= budget.Status.DesiredHealthy && budget.Status.DesiredHealthy > 0
		if alwaysAllow || healthyEnough {
			err := h.markAndDelete(ctx, pod, withResourceVersion(opts, pod.ResourceVersion), dryRun)
			if apierrors.IsConflict(err) && !hasResourceVersion(opts) {
				// The pod may have become ready: the client tries again.
				return tooManyRequests(fmt.Sprintf("The disruption budget %s is still being processed by the server.", budget.Name))
			}
			return err
		}
	}
	if err := h.spendDisruption(ctx, budget, pod.Name, dryRun); err != nil {
		return err
	}
	return h.markAndDelete(ctx, pod, opts, dryRun)
}

// canIgnoreBudget is upstream's canIgnorePDB: a pod not running disrupts
// nothing by going.
func canIgnoreBudget(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed, corev1.PodPending:
		return true
	}
	return pod.DeletionTimestamp != nil
}

// enforceResourceVersion says whether a budget-free eviction must delete
// the very pod it looked at: a pending pod that became ready meanwhile is
// under its budget.
func enforceResourceVersion(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		return false
	}
	return pod.DeletionTimestamp == nil
}

func hasResourceVersion(opts *metav1.DeleteOptions) bool {
	return opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil
}

// withResourceVersion adds a resourceVersion precondition, unless the
// client gave one.
func withResourceVersion(opts *metav1.DeleteOptions, rv string) *metav1.DeleteOptions {
	if hasResourceVersion(opts) {
		return opts
	}
	opts = opts.DeepCopy()
	if opts.Preconditions == nil {
		opts.Preconditions = &metav1.Preconditions{}
	}
	opts.Preconditions.ResourceVersion = &rv
	return opts
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// budgetOf is the one PodDisruptionBudget selecting the pod, or nil. A pod
// under several is refused, as upstream.
func (h *Handler) budgetOf(ctx context.Context, pod *corev1.Pod) (*policyv1.PodDisruptionBudget, error) {
	pdbs := h.resource(pdbsResource)
	if pdbs == nil {
		return nil, nil
	}
	objs, err := pdbs.List(ctx, pod.Namespace)
	if err != nil {
		return nil, err
	}
	var found []*policyv1.PodDisruptionBudget
	for _, obj := range objs {
		pdb := obj.(*policyv1.PodDisruptionBudget)
		selector, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || !selector.Matches(labels.Set(pod.Labels)) {
			continue // an invalid selector selects nothing
		}
		found = append(found, pdb)
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return found[0], nil
	}
	return nil, &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusInternalServerError,
		Message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
	}}
}

// spendDisruption takes one of the budget's allowed disruptions and
// records the pod as about to go, so that the disruption controller does
// not count it healthy meanwhile. It refuses with 429 when none is left.
func (h *Handler) spendDisruption(ctx context.Context, budget *policyv1.PodDisruptionBudget, podName string, dryRun bool) error {
	pdbs := h.resource(pdbsResource)
	info := &request.Info{Namespace: budget.Namespace, Name: budget.Name, Subresource: "status"}
	_, err := pdbs.Update(ctx, info, dryRun, func(_ context.Context, current runtime.Object) (runtime.Object, error) {
		pdb := current.(*policyv1.PodDisruptionBudget).DeepCopy()
		if pdb.UID != budget.UID {
			return nil, apierrors.NewNotFound(pdbs.GroupResource(), budget.Name)
		}
		switch {
		case pdb.Status.ObservedGeneration < pdb.Generation:
			return nil, tooManyRequests(fmt.Sprintf("The disruption budget %s is still being processed by the server.", pdb.Name))
		case pdb.Status.DisruptionsAllowed < 0:
			return nil, apierrors.NewForbidden(policyv1.Resource("poddisruptionbudget"), pdb.Name, fmt.Errorf("pdb disruptions allowed is negative"))
		case len(pdb.Status.DisruptedPods) > maxDisruptedPods:
			return nil, apierrors.NewForbidden(policyv1.Resource("poddisruptionbudget"), pdb.Name, fmt.Errorf("DisruptedPods map too big - too many evictions not confirmed by PDB controller"))
		case pdb.Status.DisruptionsAllowed == 0:
			return nil, tooManyRequests(fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy))
		}
		pdb.Status.DisruptionsAllowed--
		if pdb.Status.DisruptionsAllowed == 0 {
			meta.SetStatusCondition(&pdb.Status.Conditions, metav1.Condition{
				Type:               policyv1.DisruptionAllowedCondition,
				Status:             metav1.ConditionFalse,
				Reason:             policyv1.InsufficientPodsReason,
				ObservedGeneration: pdb.Status.ObservedGeneration,
			})
		}
		if pdb.Status.DisruptedPods == nil {
			pdb.Status.DisruptedPods = map[string]metav1.Time{}
		}
		pdb.Status.DisruptedPods[podName] = metav1.NewTime(h.now())
		return pdb, nil
	})
	return err
}

// tooManyRequests is the eviction's refusal: 429, naming the budget in a
// DisruptionBudget cause. kubectl drain waits and tries again.
func tooManyRequests(cause string) error {
	err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause, Message: cause})
	return err
}

// markAndDelete marks the pod with the DisruptionTarget condition, which
// tells its controller why it goes, then deletes it with the eviction's
// options, as upstream's addConditionAndDeletePod.
func (h *Handler) markAndDelete(ctx context.Context, pod *corev1.Pod, opts *metav1.DeleteOptions, dryRun bool) error {
	pods := h.resource(podsResource)
	if !dryRun {
		info := &request.Info{Namespace: pod.Namespace, Name: pod.Name, Subresource: "status"}
		out, err := pods.Update(ctx, info, false, func(_ context.Context, current runtime.Object) (runtime.Object, error) {
			latest := current.(*corev1.Pod).DeepCopy()
			if p := opts.Preconditions; p != nil {
				if p.UID != nil && *p.UID != "" && *p.UID != latest.UID {
					return nil, apierrors.NewConflict(corev1.Resource("Pod"), latest.Name,
						fmt.Errorf("the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", *p.UID, latest.UID))
				}
				if p.ResourceVersion != nil && *p.ResourceVersion != "" && *p.ResourceVersion != latest.ResourceVersion {
					return nil, apierrors.NewConflict(corev1.Resource("Pod"), latest.Name,
						fmt.Errorf("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *p.ResourceVersion, latest.ResourceVersion))
				}
			}
			setPodCondition(&latest.Status, corev1.PodCondition{
				Type:    corev1.DisruptionTarget,
				Status:  corev1.ConditionTrue,
				Reason:  "EvictionByEvictionAPI",
				Message: "Eviction API: evicting",
			}, h.now())
			return latest, nil
		})
		if err != nil {
			return err
		}
		if hasResourceVersion(opts) {
			// The condition is this eviction's own change.
			opts = opts.DeepCopy()
			rv := out.(metav1.Object).GetResourceVersion()
			opts.Preconditions.ResourceVersion = &rv
		}
	}
	_, _, err := pods.Delete(ctx, pod.Namespace, pod.Name, opts, dryRun)
	return err
}
