package admission

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"github.com/kindish/kindish/controlplane/apiserver/registry/podresources"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// limitRangePrefix is where LimitRanges live in etcd.
const limitRangePrefix = "/registry/limitranges/"

// limitRangerAnnotation records on a pod which defaults it was given.
const limitRangerAnnotation = "kubernetes.io/limit-ranger"

// LimitRanger applies the namespace's LimitRanges, as upstream's plugin:
// new pods first get the Container defaults (default → limits,
// defaultRequest → requests), then pods and PersistentVolumeClaims are
// held to the min, max and maxLimitRequestRatio of every LimitRange. A
// violation is 403 Forbidden naming each broken constraint.
type LimitRanger struct {
	// Store holds the LimitRanges.
	Store storage.Interface
}

func (LimitRanger) Name() string { return "LimitRanger" }

func (p LimitRanger) Admit(ctx context.Context, a rest.AdmissionAttributes) error {
	var validate func(lr *corev1.LimitRange) []error
	var mutate func(lr *corev1.LimitRange)
	switch obj := a.Object.(type) {
	case *corev1.Pod:
		// Containers cannot change once the pod exists, so only a new pod
		// is defaulted and checked, as upstream.
		if a.Operation != "CREATE" {
			return nil
		}
		mutate = func(lr *corev1.LimitRange) { defaultPodResources(obj, lr) }
		validate = func(lr *corev1.LimitRange) []error { return podLimitErrors(obj, lr) }
	case *corev1.PersistentVolumeClaim:
		if !claimRequestChanged(a, obj) {
			return nil
		}
		validate = func(lr *corev1.LimitRange) []error { return claimLimitErrors(obj, lr) }
	default:
		return nil
	}
	if p.Store == nil {
		return nil // a server without LimitRanges
	}
	ranges, err := p.list(ctx, a.Namespace)
	if err != nil || len(ranges) == 0 {
		return err
	}
	// Every default goes in before any check, as upstream's mutating
	// phase runs before its validating one.
	if mutate != nil {
		for i := range ranges {
			mutate(&ranges[i])
		}
		if pod, ok := a.Object.(*corev1.Pod); ok && pod.Status.QOSClass != "" {
			// The class was computed before the defaults changed the
			// resources it derives from.
			pod.Status.QOSClass = podresources.QOSClass(&pod.Spec)
		}
	}
	for i := range ranges {
		if errs := validate(&ranges[i]); len(errs) > 0 {
			return apierrors.NewForbidden(a.Resource.GroupVersionResource().GroupResource(), a.Name, utilerrors.NewAggregate(errs))
		}
	}
	return nil
}

func (p LimitRanger) list(ctx context.Context, namespace string) ([]corev1.LimitRange, error) {
	list := &corev1.LimitRangeList{}
	if err := p.Store.GetList(ctx, limitRangePrefix+namespace+"/", storage.ListOptions{}, list); err != nil {
		return nil, fmt.Errorf("list limit ranges in %s: %w", namespace, err)
	}
	return list.Items, nil
}

// claimRequestChanged reports a write that can break a claim's storage
// limits: a new claim, or a change of its requests. Status writes and
// deletions in progress pass, as upstream skips subresources and objects
// being deleted.
func claimRequestChanged(a rest.AdmissionAttributes, pvc *corev1.PersistentVolumeClaim) bool {
	switch a.Operation {
	case "CREATE":
		return true
	case "UPDATE":
		old, ok := a.Old.(*corev1.PersistentVolumeClaim)
		return !ok || (old.DeletionTimestamp == nil && !apiequality.Semantic.DeepEqual(old.Spec.Resources.Requests, pvc.Spec.Resources.Requests))
	}
	return false
}

// defaultPodResources gives every container the LimitRange's Container
// defaults for the resources it leaves out, and notes them in the pod's
// limit-ranger annotation, as upstream.
func defaultPodResources(pod *corev1.Pod, lr *corev1.LimitRange) {
	limits, requests := corev1.ResourceList{}, corev1.ResourceList{}
	for _, item := range lr.Spec.Limits {
		if item.Type != corev1.LimitTypeContainer {
			continue
		}
		for name, q := range item.Default {
			limits[name] = q.DeepCopy()
		}
		for name, q := range item.DefaultRequest {
			requests[name] = q.DeepCopy()
		}
	}
	if len(limits) == 0 && len(requests) == 0 {
		return
	}
	var notes []string
	for i := range pod.Spec.Containers {
		notes = defaultContainerResources(&pod.Spec.Containers[i], limits, requests, "container", notes)
	}
	for i := range pod.Spec.InitContainers {
		notes = defaultContainerResources(&pod.Spec.InitContainers[i], limits, requests, "init container", notes)
	}
	if len(notes) > 0 {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[limitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
	}
}

func defaultContainerResources(c *corev1.Container, limits, requests corev1.ResourceList, kind string, notes []string) []string {
	setLimits := fillResources(&c.Resources.Limits, limits)
	setRequests := fillResources(&c.Resources.Requests, requests)
	// A limit that came from the LimitRange without a default request
	// brings its request along, as API defaulting does for the pod's own
	// limits.
	given := corev1.ResourceList{}
	for _, name := range setLimits {
		given[name] = c.Resources.Limits[name]
	}
	setRequests = append(setRequests, fillResources(&c.Resources.Requests, given)...)
	if len(setRequests) > 0 {
		notes = append(notes, joinNames(setRequests)+" request for "+kind+" "+c.Name)
	}
	if len(setLimits) > 0 {
		notes = append(notes, joinNames(setLimits)+" limit for "+kind+" "+c.Name)
	}
	return notes
}

// fillResources copies into *dst what it lacks from defaults and returns
// the names it set.
func fillResources(dst *corev1.ResourceList, defaults corev1.ResourceList) []corev1.ResourceName {
	var set []corev1.ResourceName
	for name, q := range defaults {
		if _, ok := (*dst)[name]; ok {
			continue
		}
		if *dst == nil {
			*dst = corev1.ResourceList{}
		}
		(*dst)[name] = q.DeepCopy()
		set = append(set, name)
	}
	return set
}

func joinNames(names []corev1.ResourceName) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// podLimitErrors checks each container against the Container limits and
// the whole pod against the Pod limits.
func podLimitErrors(pod *corev1.Pod, lr *corev1.LimitRange) []error {
	var errs []error
	for _, item := range lr.Spec.Limits {
		switch item.Type {
		case corev1.LimitTypeContainer:
			for _, containers := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
				for _, c := range containers {
					errs = append(errs, rangeErrors(item, c.Resources.Requests, c.Resources.Limits)...)
				}
			}
		case corev1.LimitTypePod:
			errs = append(errs, rangeErrors(item, podRequests(&pod.Spec, false), podLimits(&pod.Spec, false))...)
		}
	}
	return errs
}

// claimLimitErrors checks a claim's storage request against the
// PersistentVolumeClaim limits. A claim's limits are not the user's
// request, so only its requests count, and the max applies to them.
func claimLimitErrors(pvc *corev1.PersistentVolumeClaim, lr *corev1.LimitRange) []error {
	var errs []error
	for _, item := range lr.Spec.Limits {
		if item.Type != corev1.LimitTypePersistentVolumeClaim {
			continue
		}
		for _, name := range sortedNames(item.Min) {
			if err := minConstraint(item.Type, name, item.Min[name], pvc.Spec.Resources.Requests, nil); err != nil {
				errs = append(errs, err)
			}
		}
		for _, name := range sortedNames(item.Max) {
			if err := maxRequestConstraint(item.Type, name, item.Max[name], pvc.Spec.Resources.Requests); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

// rangeErrors checks requests and limits against one LimitRange item:
// its minimums, then its maximums, then its ratios, each by resource name.
func rangeErrors(item corev1.LimitRangeItem, requests, limits corev1.ResourceList) []error {
	var errs []error
	for _, check := range []struct {
		bounds corev1.ResourceList
		fn     func(corev1.LimitType, corev1.ResourceName, resource.Quantity, corev1.ResourceList, corev1.ResourceList) error
	}{
		{item.Min, minConstraint},
		{item.Max, maxConstraint},
		{item.MaxLimitRequestRatio, limitRequestRatioConstraint},
	} {
		for _, name := range sortedNames(check.bounds) {
			if err := check.fn(item.Type, name, check.bounds[name], requests, limits); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errs
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for name := range l {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// atCommonScale returns the three quantities at a common precision: milli
// units unless one of them would overflow there.
func atCommonScale(request, limit, enforced resource.Quantity) (int64, int64, int64) {
	r, l, e := request.Value(), limit.Value(), enforced.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && e <= resource.MaxMilliValue {
		return request.MilliValue(), limit.MilliValue(), enforced.MilliValue()
	}
	return r, l, e
}

func minConstraint(t corev1.LimitType, name corev1.ResourceName, enforced resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, e := atCommonScale(req, lim, enforced)
	switch {
	case !hasReq:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, t, enforced.String())
	case r < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, t, enforced.String(), req.String())
	case hasLim && l < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, t, enforced.String(), lim.String())
	}
	return nil
}

func maxConstraint(t corev1.LimitType, name corev1.ResourceName, enforced resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, e := atCommonScale(req, lim, enforced)
	switch {
	case !hasLim:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, t, enforced.String())
	case l > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, t, enforced.String(), lim.String())
	case hasReq && r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, t, enforced.String(), req.String())
	}
	return nil
}

func maxRequestConstraint(t corev1.LimitType, name corev1.ResourceName, enforced resource.Quantity, requests corev1.ResourceList) error {
	req, hasReq := requests[name]
	r, _, e := atCommonScale(req, resource.Quantity{}, enforced)
	switch {
	case !hasReq:
		return fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", name, t, enforced.String())
	case r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, t, enforced.String(), req.String())
	}
	return nil
}

func limitRequestRatioConstraint(t corev1.LimitType, name corev1.ResourceName, enforced resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, _ := atCommonScale(req, lim, enforced)
	if !hasReq || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, t, enforced.String())
	}
	if !hasLim || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, t, enforced.String())
	}
	ratio := float64(l) / float64(r)
	observed, allowed := ratio, float64(enforced.Value())
	if enforced.Value() <= resource.MaxMilliValue {
		observed, allowed = ratio*1000, float64(enforced.MilliValue())
	}
	if observed > allowed {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, t, enforced.String(), ratio)
	}
	return nil
}

// podRequests is what a pod asks for as upstream's resource helper counts
// it: the sum over its containers and sidecars, or the most any init
// container needs (with the sidecars started before it) if that is more;
// pod-level requests replace the containers' total for what they name.
// overhead adds the runtime class's overhead, which quota charges and
// limit ranges do not.
func podRequests(spec *corev1.PodSpec, overhead bool) corev1.ResourceList {
	reqs := podresources.Total(spec, func(r *corev1.ResourceRequirements) corev1.ResourceList { return r.Requests })
	if spec.Resources != nil {
		for name, q := range spec.Resources.Requests {
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
				reqs[name] = q.DeepCopy()
			}
		}
	}
	if overhead {
		podresources.Add(reqs, spec.Overhead)
	}
	return reqs
}

// podLimits is podRequests for limits; overhead adds only to what is
// limited.
func podLimits(spec *corev1.PodSpec, overhead bool) corev1.ResourceList {
	limits := podresources.Total(spec, func(r *corev1.ResourceRequirements) corev1.ResourceList { return r.Limits })
	if spec.Resources != nil {
		for name, q := range spec.Resources.Limits {
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
				limits[name] = q.DeepCopy()
			}
		}
	}
	if overhead {
		for name, q := range spec.Overhead {
			if v, ok := limits[name]; ok {
				v.Add(q)
				limits[name] = v
			}
		}
	}
	return limits
}
