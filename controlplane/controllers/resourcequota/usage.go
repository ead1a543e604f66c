package resourcequota

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/kindish/kindish/controlplane/apiserver/registry/podresources"
)

// The measures here must be the API server's quota admission's to the
// letter: admission charges an object's usage when it is created, and
// the controller's recalculation gives back what deleted objects used.
// If the two disagreed, every recalculation would move status.used.

// evaluator measures what the objects of one resource use of quotas, as
// upstream's quota evaluators.
type evaluator struct {
	// measures reports a quota resource name it tracks.
	measures func(name corev1.ResourceName) bool
	// usage is what one object uses.
	usage func(obj runtime.Object, now time.Time) corev1.ResourceList
	// inScope reports an object that a quota scope selects; nil selects
	// nothing, so scoped quotas never cover the resource.
	inScope func(obj runtime.Object, s corev1.ScopedResourceSelectorRequirement) (bool, error)
}

var (
	podsResource     = schema.GroupResource{Resource: "pods"}
	servicesResource = schema.GroupResource{Resource: "services"}
	claimsResource   = schema.GroupResource{Resource: "persistentvolumeclaims"}
)

// legacyCountNames are the names quota counted objects by before
// count/<resource>, still honoured.
var legacyCountNames = map[schema.GroupResource]corev1.ResourceName{
	{Resource: "configmaps"}:             corev1.ResourceConfigMaps,
	{Resource: "resourcequotas"}:         corev1.ResourceQuotas,
	{Resource: "replicationcontrollers"}: corev1.ResourceReplicationControllers,
	{Resource: "secrets"}:                corev1.ResourceSecrets,
}

func evaluatorFor(gr schema.GroupResource) evaluator {
	switch gr {
	case podsResource:
		return podEvaluator
	case servicesResource:
		return serviceEvaluator
	case claimsResource:
		return claimEvaluator
	}
	return objectCountEvaluator(gr)
}

// measuredBy is the resource whose objects a quota resource name counts.
func measuredBy(name corev1.ResourceName) (schema.GroupResource, bool) {
	for _, gr := range []schema.GroupResource{podsResource, servicesResource, claimsResource} {
		if evaluatorFor(gr).measures(name) {
			return gr, true
		}
	}
	for gr, legacy := range legacyCountNames {
		if legacy == name {
			return gr, true
		}
	}
	if counted, ok := strings.CutPrefix(string(name), "count/"); ok && counted != "" {
		res, group, _ := strings.Cut(counted, ".")
		return schema.GroupResource{Group: group, Resource: res}, true
	}
	return schema.GroupResource{}, false
}

// countName is the count/<resource>[.<group>] name of a resource.
func countName(gr schema.GroupResource) corev1.ResourceName {
	if gr.Group == "" {
		return corev1.ResourceName("count/" + gr.Resource)
	}
	return corev1.ResourceName("count/" + gr.Resource + "." + gr.Group)
}

func one() resource.Quantity { return *resource.NewQuantity(1, resource.DecimalSI) }

// objectCountEvaluator counts stored objects, under count/<resource> and
// the resource's legacy name if it has one.
func objectCountEvaluator(gr schema.GroupResource) evaluator {
	names := []corev1.ResourceName{countName(gr)}
	if legacy, ok := legacyCountNames[gr]; ok {
		names = append(names, legacy)
	}
	return evaluator{
		measures: func(name corev1.ResourceName) bool { return slices.Contains(names, name) },
		usage: func(runtime.Object, time.Time) corev1.ResourceList {
			usage := corev1.ResourceList{}
			for _, name := range names {
				usage[name] = one()
			}
			return usage
		},
	}
}

// serviceEvaluator counts services, and the node ports and load
// balancers they use.
var serviceEvaluator = evaluator{
	measures: func(name corev1.ResourceName) bool {
		switch name {
		case countName(servicesResource), corev1.ResourceServices, corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers:
			return true
		}
		return false
	},
	usage: func(obj runtime.Object, _ time.Time) corev1.ResourceList {
		svc := obj.(*corev1.Service)
		usage := corev1.ResourceList{
			countName(servicesResource):          one(),
			corev1.ResourceServices:              one(),
			corev1.ResourceServicesNodePorts:     {Format: resource.DecimalSI},
			corev1.ResourceServicesLoadBalancers: {Format: resource.DecimalSI},
		}
		ports := int64(len(svc.Spec.Ports))
		switch svc.Spec.Type {
		case corev1.ServiceTypeNodePort:
			usage[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
		case corev1.ServiceTypeLoadBalancer:
			if svc.Spec.AllocateLoadBalancerNodePorts != nil && !*svc.Spec.AllocateLoadBalancerNodePorts {
				ports = 0
				for _, port := range svc.Spec.Ports {
					if port.NodePort != 0 {
						ports++
					}
				}
			}
			usage[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
			usage[corev1.ResourceServicesLoadBalancers] = one()
		}
		return usage
	},
}

// storageClassSuffix names quota resources of one storage class:
// <class>.storageclass.storage.k8s.io/requests.storage.
const storageClassSuffix = ".storageclass.storage.k8s.io/"

// claimEvaluator counts claims and the storage they request, overall and
// per storage class.
var claimEvaluator = evaluator{
	measures: func(name corev1.ResourceName) bool {
		switch name {
		case countName(claimsResource), corev1.ResourcePersistentVolumeClaims, corev1.ResourceRequestsStorage:
			return true
		}
		return strings.HasSuffix(string(name), storageClassSuffix+string(corev1.ResourcePersistentVolumeClaims)) ||
			strings.HasSuffix(string(name), storageClassSuffix+string(corev1.ResourceRequestsStorage))
	},
	usage: func(obj runtime.Object, _ time.Time) corev1.ResourceList {
		pvc := obj.(*corev1.PersistentVolumeClaim)
		usage := corev1.ResourceList{
			countName(claimsResource):             one(),
			corev1.ResourcePersistentVolumeClaims: one(),
		}
		class := claimClass(pvc)
		if class != "" {
			usage[corev1.ResourceName(class+storageClassSuffix+string(corev1.ResourcePersistentVolumeClaims))] = one()
		}
		if storage, ok := claimStorage(pvc); ok {
			usage[corev1.ResourceRequestsStorage] = storage
			if class != "" {
				usage[corev1.ResourceName(class+storageClassSuffix+string(corev1.ResourceRequestsStorage))] = storage
			}
		}
		return usage
	},
}

// claimClass is the claim's storage class, the beta annotation first.
func claimClass(pvc *corev1.PersistentVolumeClaim) string {
	if class, ok := pvc.Annotations[corev1.BetaStorageClassAnnotation]; ok {
		return class
	}
	if pvc.Spec.StorageClassName != nil {
		return *pvc.Spec.StorageClassName
	}
	return ""
}

// claimStorage is the storage a claim holds: its request, or what was
// allocated if that is more, in whole bytes.
func claimStorage(pvc *corev1.PersistentVolumeClaim) (resource.Quantity, bool) {
	requested, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return resource.Quantity{}, false
	}
	if allocated, ok := pvc.Status.AllocatedResources[corev1.ResourceStorage]; ok && allocated.Cmp(requested) > 0 {
		requested = allocated
	}
	requested = requested.DeepCopy()
	requested.RoundUp(0)
	return requested, true
}

// podComputeNames are the quota names of what running pods use.
var podComputeNames = []corev1.ResourceName{
	countName(podsResource),
	corev1.ResourcePods,
	corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsEphemeralStorage,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage,
}

// podEvaluator counts pods that are not finished, and what their
// containers request and limit; count/pods counts every stored pod.
var podEvaluator = evaluator{
	measures: func(name corev1.ResourceName) bool {
		return slices.Contains(podComputeNames, name) ||
			strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) ||
			strings.HasPrefix(string(name), corev1.ResourceRequestsHugePagesPrefix) ||
			extendedQuotaName(name)
	},
	usage: func(obj runtime.Object, now time.Time) corev1.ResourceList {
		pod := obj.(*corev1.Pod)
		usage := corev1.ResourceList{countName(podsResource): one()}
		if !podCharged(pod, now) {
			return usage
		}
		addTo(usage, computeUsage(podRequests(&pod.Spec), podLimits(&pod.Spec)))
		return usage
	},
	inScope: podInScope,
}

// podCharged reports a pod that uses quota: not finished, and not stuck
// past the end of its deletion grace period (its node may be gone).
func podCharged(pod *corev1.Pod, now time.Time) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.DeletionTimestamp != nil && pod.DeletionGracePeriodSeconds != nil {
		grace := time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		if now.After(pod.DeletionTimestamp.Add(grace)) {
			return false
		}
	}
	return true
}

// podRequests is the pod's effective requests: its containers' (sidecars
// and init containers as upstream counts them), pod-level cpu and memory
// when set, plus the runtime class overhead.
func podRequests(spec *corev1.PodSpec) corev1.ResourceList {
	reqs := podresources.Total(spec, func(r *corev1.ResourceRequirements) corev1.ResourceList { return r.Requests })
	if spec.Resources != nil {
		for name, q := range spec.Resources.Requests {
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
				reqs[name] = q.DeepCopy()
			}
		}
	}
	podresources.Add(reqs, spec.Overhead)
	return reqs
}

// podLimits is podRequests for limits; overhead adds only to what is
// limited.
func podLimits(spec *corev1.PodSpec) corev1.ResourceList {
	limits := podresources.Total(spec, func(r *corev1.ResourceRequirements) corev1.ResourceList { return r.Limits })
	if spec.Resources != nil {
		for name, q := range spec.Resources.Limits {
			if name == corev1.ResourceCPU || name == corev1.ResourceMemory {
				limits[name] = q.DeepCopy()
			}
		}
	}
	for name, q := range spec.Overhead {
		if v, ok := limits[name]; ok {
			v.Add(q)
			limits[name] = v
		}
	}
	return limits
}

// computeUsage turns requests and limits into quota names: cpu and
// memory are their requests, and extended resources are quota'd by
// request only.
func computeUsage(requests, limits corev1.ResourceList) corev1.ResourceList {
	usage := corev1.ResourceList{corev1.ResourcePods: one()}
	for _, r := range []struct{ name, request, limit corev1.ResourceName }{
		{corev1.ResourceCPU, corev1.ResourceRequestsCPU, corev1.ResourceLimitsCPU},
		{corev1.ResourceMemory, corev1.ResourceRequestsMemory, corev1.ResourceLimitsMemory},
		{corev1.ResourceEphemeralStorage, corev1.ResourceRequestsEphemeralStorage, corev1.ResourceLimitsEphemeralStorage},
	} {
		if q, ok := requests[r.name]; ok {
			usage[r.name] = q
			usage[r.request] = q
		}
		if q, ok := limits[r.name]; ok {
			usage[r.limit] = q
		}
	}
	for name, q := range requests {
		if strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) {
			usage[name] = q
			usage[corev1.DefaultResourceRequestsPrefix+name] = q
		}
		if extendedResource(name) {
			usage[corev1.DefaultResourceRequestsPrefix+name] = q
		}
	}
	return usage
}

// nativeResource reports a resource name Kubernetes defines: unprefixed,
// or under kubernetes.io.
func nativeResource(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
}

// extendedResource reports a device plugin's resource (example.com/gpu).
func extendedResource(name corev1.ResourceName) bool {
	return !nativeResource(name) && !strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix)
}

// extendedQuotaName reports the quota name of an extended resource
// (requests.example.com/gpu).
func extendedQuotaName(name corev1.ResourceName) bool {
	return !nativeResource(name) && strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix)
}

// podInScope is upstream's scope test for pods.
func podInScope(obj runtime.Object, s corev1.ScopedResourceSelectorRequirement) (bool, error) {
	pod := obj.(*corev1.Pod)
	switch s.ScopeName {
	case corev1.ResourceQuotaScopeTerminating:
		return terminating(pod), nil
	case corev1.ResourceQuotaScopeNotTerminating:
		return !terminating(pod), nil
	case corev1.ResourceQuotaScopeBestEffort:
		return bestEffort(pod), nil
	case corev1.ResourceQuotaScopeNotBestEffort:
		return !bestEffort(pod), nil
	case corev1.ResourceQuotaScopePriorityClass:
		if s.Operator == corev1.ScopeSelectorOpExists {
			return pod.Spec.PriorityClassName != "", nil
		}
		return priorityClassSelected(pod, s)
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return crossNamespaceAffinity(pod), nil
	}
	return false, nil
}

// terminating pods have a deadline: they end by themselves.
func terminating(pod *corev1.Pod) bool {
	return pod.Spec.ActiveDeadlineSeconds != nil && *pod.Spec.ActiveDeadlineSeconds >= 0
}

func bestEffort(pod *corev1.Pod) bool {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass == corev1.PodQOSBestEffort
	}
	return podresources.QOSClass(&pod.Spec) == corev1.PodQOSBestEffort
}

// priorityClassSelected matches the pod's priority class as the value of
// a "PriorityClass" label against the requirement.
func priorityClassSelected(pod *corev1.Pod, s corev1.ScopedResourceSelectorRequirement) (bool, error) {
	ops := map[corev1.ScopeSelectorOperator]selection.Operator{
		corev1.ScopeSelectorOpIn:           selection.In,
		corev1.ScopeSelectorOpNotIn:        selection.NotIn,
		corev1.ScopeSelectorOpExists:       selection.Exists,
		corev1.ScopeSelectorOpDoesNotExist: selection.DoesNotExist,
	}
	op, ok := ops[s.Operator]
	if !ok {
		return false, fmt.Errorf("%q is not a valid scope selector operator", s.Operator)
	}
	req, err := labels.NewRequirement(string(s.ScopeName), op, s.Values)
	if err != nil {
		return false, fmt.Errorf("failed to parse and convert selector: %w", err)
	}
	set := labels.Set{}
	if pod.Spec.PriorityClassName != "" {
		set[string(s.ScopeName)] = pod.Spec.PriorityClassName
	}
	return labels.NewSelector().Add(*req).Matches(set), nil
}

// crossNamespaceAffinity reports pod (anti-)affinity terms that look at
// other namespaces.
func crossNamespaceAffinity(pod *corev1.Pod) bool {
	if pod.Spec.Affinity == nil {
		return false
	}
	var terms []corev1.PodAffinityTerm
	if a := pod.Spec.Affinity.PodAffinity; a != nil {
		terms = append(terms, a.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	if a := pod.Spec.Affinity.PodAntiAffinity; a != nil {
		terms = append(terms, a.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	return slices.ContainsFunc(terms, func(t corev1.PodAffinityTerm) bool {
		return len(t.Namespaces) > 0 || t.NamespaceSelector != nil
	})
}

// quotaScopes are the quota's scopes and scope selector as one list of
// requirements.
func quotaScopes(q *corev1.ResourceQuota) []corev1.ScopedResourceSelectorRequirement {
	var scopes []corev1.ScopedResourceSelectorRequirement
	for _, s := range q.Spec.Scopes {
		scopes = append(scopes, corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists})
	}
	if q.Spec.ScopeSelector != nil {
		scopes = append(scopes, q.Spec.ScopeSelector.MatchExpressions...)
	}
	return scopes
}

// covers reports whether every scope of the quota selects obj.
func (ev evaluator) covers(scopes []corev1.ScopedResourceSelectorRequirement, obj runtime.Object) (bool, error) {
	for _, s := range scopes {
		if ev.inScope == nil {
			return false, nil
		}
		if in, err := ev.inScope(obj, s); err != nil || !in {
			return false, err
		}
	}
	return true, nil
}

// Resource list arithmetic, on podresources' for the sums.

func addTo(dst, src corev1.ResourceList) { podresources.Add(dst, src) }

// mask keeps the names given.
func mask(l corev1.ResourceList, names []corev1.ResourceName) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, name := range names {
		if q, ok := l[name]; ok {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

func resourceNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for name := range l {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// equalLists compares by value: "1" and "1000m" are equal.
func equalLists(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for name, qa := range a {
		qb, ok := b[name]
		if !ok || qa.Cmp(qb) != 0 {
			return false
		}
	}
	return true
}
