package admission

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
	"github.com/kindish/kindish/controlplane/apiserver/registry/podresources"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
)

// resourceQuotaPrefix is where ResourceQuotas live in etcd.
const resourceQuotaPrefix = "/registry/resourcequotas/"

// ResourceQuota enforces the namespace's ResourceQuotas, as upstream's
// plugin: a write that adds to what a quota tracks is refused with 403
// Forbidden if it would take the quota's status.used past spec.hard, and
// otherwise charged to status.used with compare-and-swap before it is
// stored, so that concurrent writes cannot overshoot together.
//
// As upstream, admission only ever charges: what deleted objects used is
// given back by the quota controller, through Recalculate.
type ResourceQuota struct {
	// Store holds the ResourceQuotas.
	Store storage.Interface
	// Objects reads what quota measures; Recalculate counts them.
	Objects QuotaObjects
	// Now is the clock for pods past their deletion grace period; nil is
	// time.Now.
	Now func() time.Time
}

// QuotaObjects reads the objects quota measures.
type QuotaObjects interface {
	// List returns a namespace's objects of a resource; ok is false when
	// the server does not store that resource.
	List(ctx context.Context, resource schema.GroupResource, namespace string) (objs []runtime.Object, ok bool, err error)
	// Exists reports whether an object is stored.
	Exists(ctx context.Context, resource schema.GroupResource, namespace, name string) (bool, error)
}

func (ResourceQuota) Name() string { return "ResourceQuota" }

func (p ResourceQuota) Admit(ctx context.Context, a rest.AdmissionAttributes) error {
	if p.Store == nil || a.Resource == nil || !a.Resource.Namespaced || a.Namespace == "" || unquotaed(a.Resource) {
		return nil
	}
	ev := evaluatorFor(a.Resource.GroupVersionResource().GroupResource())
	if !slices.Contains(ev.operations, a.Operation) {
		return nil
	}
	quotas, err := p.quotas(ctx, a.Namespace)
	if err != nil || len(quotas) == 0 {
		return err
	}
	delta, covering, err := p.request(ctx, quotas, a, ev)
	if err != nil || len(covering) == 0 || len(delta) == 0 || a.DryRun {
		return err
	}
	if refused, err := p.refusedLater(ctx, a); err != nil || refused {
		return err
	}
	return p.charge(ctx, a, covering, delta)
}

// request checks the write against the quotas and returns what it adds
// to usage and the quotas that cover it. A quota whose usage is not known
// yet is measured first, as the quota controller would have.
func (p ResourceQuota) request(ctx context.Context, quotas []corev1.ResourceQuota, a rest.AdmissionAttributes, ev evaluator) (corev1.ResourceList, []corev1.ResourceQuota, error) {
	covering, err := coveringQuotas(quotas, a, ev)
	var unknown *usageUnknownError
	if errors.As(err, &unknown) {
		if err := p.recalculate(ctx, a.Namespace, true); err != nil {
			return nil, nil, err
		}
		if quotas, err = p.quotas(ctx, a.Namespace); err != nil {
			return nil, nil, err
		}
		covering, err = coveringQuotas(quotas, a, ev)
	}
	if err != nil {
		return nil, nil, forbidden(a, err)
	}
	if len(covering) == 0 {
		return nil, nil, nil
	}
	delta, err := usageDelta(a, ev, p.now())
	if err != nil {
		return nil, nil, forbidden(a, err)
	}
	for i := range covering {
		if err := exceeds(&covering[i], delta); err != nil {
			return nil, nil, forbidden(a, err)
		}
	}
	return delta, covering, nil
}

// coveringQuotas returns the quotas that track what the object uses and
// whose scopes select it. It refuses an object that lacks what a quota
// needs to measure it.
func coveringQuotas(quotas []corev1.ResourceQuota, a rest.AdmissionAttributes, ev evaluator) ([]corev1.ResourceQuota, error) {
	var covering []corev1.ResourceQuota
	for i := range quotas {
		q := &quotas[i]
		restricted, ok, err := ev.covers(q, a.Object)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if ev.constraints != nil {
			if err := ev.constraints(a.Object, restricted); err != nil {
				return nil, fmt.Errorf("failed quota: %s: %w", q.Name, err)
			}
		}
		if missing := missingUsage(q, restricted); len(missing) > 0 {
			return nil, &usageUnknownError{quota: q.Name, resources: missing}
		}
		covering = append(covering, *q)
	}
	return covering, nil
}

// usageDelta is what the write adds: the object's usage, less what the
// object it replaces used; never negative, without zeros.
func usageDelta(a rest.AdmissionAttributes, ev evaluator, now time.Time) (corev1.ResourceList, error) {
	delta := ev.usage(a.Object, now)
	if negative := negativeNames(delta); len(negative) > 0 {
		return nil, fmt.Errorf("quota usage is negative for resource(s): %s", joinNamesComma(negative))
	}
	if a.Operation == "UPDATE" && a.Old != nil {
		if m, err := meta.Accessor(a.Old); err == nil && m.GetResourceVersion() != "" {
			delta = subtractNonNegative(delta, ev.usage(a.Old, now))
		}
	}
	return removeZeros(delta), nil
}

// exceeds refuses delta if it would take one of q's usages past its hard
// limit, with upstream's message.
func exceeds(q *corev1.ResourceQuota, delta corev1.ResourceList) error {
	requested := mask(delta, hardNames(q))
	if len(requested) == 0 {
		return nil
	}
	if missing := missingUsage(q, resourceNames(requested)); len(missing) > 0 {
		return &usageUnknownError{quota: q.Name, resources: missing}
	}
	used := mask(addLists(q.Status.Used, requested), resourceNames(requested))
	var exceeded []corev1.ResourceName
	for name, hard := range q.Spec.Hard {
		if u, ok := used[name]; ok && u.Cmp(hard) > 0 {
			exceeded = append(exceeded, name)
		}
	}
	if len(exceeded) == 0 {
		return nil
	}
	return &exceededError{fmt.Sprintf("exceeded quota: %s, requested: %s, used: %s, limited: %s", q.Name,
		prettyPrint(mask(requested, exceeded)), prettyPrint(mask(q.Status.Used, exceeded)), prettyPrint(mask(q.Spec.Hard, exceeded)))}
}

// exceededError is a write that would take a quota past its hard limit.
type exceededError struct{ msg string }

func (e *exceededError) Error() string { return e.msg }

// usageUnknownError is a quota whose status does not say yet how much of
// a resource is used.
type usageUnknownError struct {
	quota     string
	resources []corev1.ResourceName
}

func (e *usageUnknownError) Error() string {
	return fmt.Sprintf("status unknown for quota: %s, resources: %s", e.quota, joinNamesComma(e.resources))
}

// charge adds delta to the usage of each covering quota, checking it again
// against the quota as it is at the moment of writing. If one quota
// refuses, the ones already charged are given back.
func (p ResourceQuota) charge(ctx context.Context, a rest.AdmissionAttributes, covering []corev1.ResourceQuota, delta corev1.ResourceList) error {
	charged := map[string]corev1.ResourceList{}
	for i := range covering {
		q := &covering[i]
		var requested corev1.ResourceList
		err := p.updateStatus(ctx, q, func(cur *corev1.ResourceQuota) error {
			if err := exceeds(cur, delta); err != nil {
				return err
			}
			requested = mask(delta, hardNames(cur))
			cur.Status.Used = addLists(cur.Status.Used, requested)
			return nil
		})
		if storage.IsNotFound(err) {
			continue // deleted meanwhile: it limits nothing any more
		}
		if err != nil {
			p.release(ctx, a.Namespace, charged)
			var unknown *usageUnknownError
			var exceeded *exceededError
			if errors.As(err, &unknown) || errors.As(err, &exceeded) {
				return forbidden(a, err)
			}
			return fmt.Errorf("charge quota %s/%s: %w", a.Namespace, q.Name, err)
		}
		charged[q.Name] = requested
	}
	return nil
}

// release gives back what charge took from quotas. It runs after the
// request has failed, so it does not stop when the client goes away; what
// it cannot give back, the next Recalculate does.
func (p ResourceQuota) release(ctx context.Context, namespace string, charged map[string]corev1.ResourceList) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for name, requested := range charged {
		q := &corev1.ResourceQuota{}
		q.Namespace, q.Name = namespace, name
		_ = p.updateStatus(ctx, q, func(cur *corev1.ResourceQuota) error {
			for res, v := range requested {
				if used, ok := cur.Status.Used[res]; ok {
					used.Sub(v)
					if used.Sign() < 0 {
						used = resource.Quantity{Format: used.Format}
					}
					cur.Status.Used[res] = used
				}
			}
			return nil
		})
	}
}

// Recalculate sets the status of every ResourceQuota in the namespace
// from the objects stored there, as upstream's quota controller does on
// each sync: hard from spec.hard, and used measured afresh for each
// resource it names. Admission charges are never lost to it: a charge made
// while it measures changes the quota, and the measurement starts over.
func (p ResourceQuota) Recalculate(ctx context.Context, namespace string) error {
	return p.recalculate(ctx, namespace, false)
}

// recalculate measures every resource of each quota, or with onlyMissing
// just those whose usage the status lacks: the others may include charges
// for objects admitted but not stored yet, which a measurement would miss.
func (p ResourceQuota) recalculate(ctx context.Context, namespace string, onlyMissing bool) error {
	quotas, err := p.quotas(ctx, namespace)
	if err != nil {
		return err
	}
	var errs []error
	for i := range quotas {
		err := p.updateStatus(ctx, &quotas[i], func(q *corev1.ResourceQuota) error {
			names := hardNames(q)
			used := corev1.ResourceList{}
			if onlyMissing {
				used = mask(q.Status.Used, names)
				names = missingUsage(q, names)
			}
			measured, err := p.measure(ctx, q, names)
			if err != nil {
				return err
			}
			for name, v := range measured {
				used[name] = v
			}
			q.Status.Used = used
			return nil
		})
		if err != nil && !storage.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("recalculate quota %s/%s: %w", namespace, quotas[i].Name, err))
		}
	}
	return errors.Join(errs...)
}

// measure sums what the namespace's objects use of the named resources of
// q, counting only the objects q's scopes select. Every name gets a value,
// zero for what nothing measures.
func (p ResourceQuota) measure(ctx context.Context, q *corev1.ResourceQuota, names []corev1.ResourceName) (corev1.ResourceList, error) {
	used := corev1.ResourceList{}
	byResource := map[schema.GroupResource][]corev1.ResourceName{}
	for _, name := range names {
		used[name] = resource.Quantity{Format: resource.DecimalSI}
		if gr, ok := measuredBy(name); ok {
			byResource[gr] = append(byResource[gr], name)
		}
	}
	if len(byResource) > 0 && p.Objects == nil {
		return nil, fmt.Errorf("measure quota %s/%s: no object reader", q.Namespace, q.Name)
	}
	now := p.now()
	for gr, names := range byResource {
		objs, ok, err := p.Objects.List(ctx, gr, q.Namespace)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		ev := evaluatorFor(gr)
		for _, obj := range objs {
			if _, ok, err := ev.covers(q, obj); err != nil || !ok {
				if err != nil {
					return nil, err
				}
				continue
			}
			used = addLists(used, mask(ev.usage(obj, now), names))
		}
	}
	return used, nil
}

// updateStatus changes a quota's status with compare-and-swap on its key,
// calling change again with the latest quota after a conflict. status.hard
// follows spec.hard and status.used names nothing else, as the quota
// controller keeps them.
func (p ResourceQuota) updateStatus(ctx context.Context, known *corev1.ResourceQuota, change func(q *corev1.ResourceQuota) error) error {
	key := resourceQuotaPrefix + known.Namespace + "/" + known.Name
	// A quota as listed from the store saves the first read.
	dest := known.DeepCopy()
	return p.Store.GuaranteedUpdate(ctx, key, dest, false, nil, func(current runtime.Object) (runtime.Object, error) {
		q := current.(*corev1.ResourceQuota).DeepCopy()
		if err := change(q); err != nil {
			return nil, err
		}
		q.Status.Hard = q.Spec.Hard.DeepCopy()
		q.Status.Used = mask(q.Status.Used, hardNames(q))
		return q, nil
	})
}

func (p ResourceQuota) quotas(ctx context.Context, namespace string) ([]corev1.ResourceQuota, error) {
	list := &corev1.ResourceQuotaList{}
	if err := p.Store.GetList(ctx, resourceQuotaPrefix+namespace+"/", storage.ListOptions{}, list); err != nil {
		return nil, fmt.Errorf("list resource quotas in %s: %w", namespace, err)
	}
	return list.Items, nil
}

func (p ResourceQuota) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// refusedLater reports a write that the server refuses after admission:
// invalid, or creating a name that is taken. Upstream charges quota only
// after validation; without this, such writes would hold quota for
// objects that were never stored.
func (p ResourceQuota) refusedLater(ctx context.Context, a rest.AdmissionAttributes) (bool, error) {
	if invalid(a) {
		return true, nil
	}
	if a.Operation != "CREATE" || p.Objects == nil {
		return false, nil
	}
	return p.Objects.Exists(ctx, a.Resource.GroupVersionResource().GroupResource(), a.Namespace, a.Name)
}

// invalid runs the validation the server runs after admission.
func invalid(a rest.AdmissionAttributes) bool {
	m, err := meta.Accessor(a.Object)
	if err != nil {
		return false
	}
	path := field.NewPath("metadata")
	errs := apivalidation.ValidateObjectMetaAccessor(m, a.Resource.Namespaced, apivalidation.NameIsDNSSubdomain, path)
	s := a.Resource.Strategy
	switch {
	case a.Operation == "UPDATE" && a.Old != nil && s.ValidateUpdate != nil:
		errs = append(errs, s.ValidateUpdate(a.Object, a.Old)...)
	case s.Validate != nil:
		errs = append(errs, s.Validate(a.Object)...)
	}
	return len(errs) > 0
}

// unquotaed are the resources quota never counts: events, as upstream,
// and what the server answers rather than stores (reviews, bindings).
func unquotaed(r *registry.Resource) bool {
	return r.Name == "events" || !slices.Contains(r.Verbs, "get")
}

func forbidden(a rest.AdmissionAttributes, err error) error {
	return apierrors.NewForbidden(a.Resource.GroupVersionResource().GroupResource(), a.Name, err)
}

// evaluator measures what the objects of one resource use of quotas, as
// upstream's quota evaluators.
type evaluator struct {
	// operations are those that can change usage.
	operations []string
	// measures reports a quota resource name it tracks.
	measures func(name corev1.ResourceName) bool
	// usage is what one object uses.
	usage func(obj runtime.Object, now time.Time) corev1.ResourceList
	// inScope reports an object that a quota scope selects; nil selects
	// nothing, so scoped quotas never cover the resource.
	inScope func(obj runtime.Object, s corev1.ScopedResourceSelectorRequirement) (bool, error)
	// constraints refuses an object that lacks what the quota resources
	// it is counted in need; nil refuses nothing.
	constraints func(obj runtime.Object, required []corev1.ResourceName) error
}

// covers reports whether q tracks what obj uses and selects it; restricted
// are the quota's resources the evaluator measures.
func (ev evaluator) covers(q *corev1.ResourceQuota, obj runtime.Object) (restricted []corev1.ResourceName, ok bool, err error) {
	for _, name := range hardNames(q) {
		if ev.measures(name) {
			restricted = append(restricted, name)
		}
	}
	if len(restricted) == 0 {
		return nil, false, nil
	}
	for _, s := range quotaScopes(q) {
		if ev.inScope == nil {
			return nil, false, nil
		}
		in, err := ev.inScope(obj, s)
		if err != nil || !in {
			return nil, false, err
		}
	}
	return restricted, true, nil
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

// objectCountEvaluator counts created objects, under count/<resource> and
// the resource's legacy name if it has one.
func objectCountEvaluator(gr schema.GroupResource) evaluator {
	names := []corev1.ResourceName{countName(gr)}
	if legacy, ok := legacyCountNames[gr]; ok {
		names = append(names, legacy)
	}
	return evaluator{
		operations: []string{"CREATE"},
		measures:   func(name corev1.ResourceName) bool { return slices.Contains(names, name) },
		usage: func(runtime.Object, time.Time) corev1.ResourceList {
			usage := corev1.ResourceList{}
			for _, name := range names {
				usage[name] = one()
			}
			return usage
		},
	}
}

// serviceEvaluator counts services, and the node ports and load balancers
// they ask for; a service can become a NodePort or LoadBalancer one on
// update.
var serviceEvaluator = evaluator{
	operations: []string{"CREATE", "UPDATE"},
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
			// Node ports are not allocated yet: count what the service
			// asks for. Without allocation, only the ports it names.
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
	operations: []string{"CREATE", "UPDATE"},
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

// claimClass is the claim's storage class, the beta annotation first, as
// upstream reads it.
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

// requiredPodNames are the quota resources every container must request
// or limit for the pod to be counted in them. Upstream calls this coupling
// a mistake it keeps for compatibility and extends to nothing else.
var requiredPodNames = []corev1.ResourceName{
	corev1.ResourceCPU, corev1.ResourceMemory,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory,
	corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory,
}

// podEvaluator counts pods that are not finished, and what their
// containers request and limit. A pod's resources cannot change after it
// is created, so only creates are charged.
var podEvaluator = evaluator{
	operations: []string{"CREATE"},
	measures: func(name corev1.ResourceName) bool {
		return slices.Contains(podComputeNames, name) ||
			strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix) ||
			strings.HasPrefix(string(name), corev1.ResourceRequestsHugePagesPrefix) ||
			extendedQuotaName(name)
	},
	usage: func(obj runtime.Object, now time.Time) corev1.ResourceList {
		pod := obj.(*corev1.Pod)
		// The object count covers every stored pod; the rest only pods
		// that still run.
		usage := corev1.ResourceList{countName(podsResource): one()}
		if !podCharged(pod, now) {
			return usage
		}
		return addLists(usage, computeUsage(podRequests(&pod.Spec, true), podLimits(&pod.Spec, true)))
	},
	inScope:     podInScope,
	constraints: podConstraints,
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

// computeUsage turns requests and limits into quota names: cpu and memory
// are their requests, and extended resources are quota'd by request only.
func computeUsage(requests, limits corev1.ResourceList) corev1.ResourceList {
	usage := corev1.ResourceList{corev1.ResourcePods: one()}
	for _, r := range []struct{ name, plain, request, limit corev1.ResourceName }{
		{corev1.ResourceCPU, corev1.ResourceCPU, corev1.ResourceRequestsCPU, corev1.ResourceLimitsCPU},
		{corev1.ResourceMemory, corev1.ResourceMemory, corev1.ResourceRequestsMemory, corev1.ResourceLimitsMemory},
		{corev1.ResourceEphemeralStorage, corev1.ResourceEphemeralStorage, corev1.ResourceRequestsEphemeralStorage, corev1.ResourceLimitsEphemeralStorage},
	} {
		if q, ok := requests[r.name]; ok {
			usage[r.plain] = q
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

// podConstraints refuses a pod with a container that does not say how
// much cpu or memory it uses when a covering quota tracks it, with
// upstream's message.
func podConstraints(obj runtime.Object, required []corev1.ResourceName) error {
	pod := obj.(*corev1.Pod)
	var checked []corev1.ResourceName
	for _, name := range required {
		if slices.Contains(requiredPodNames, name) {
			checked = append(checked, name)
		}
	}
	missing := map[corev1.ResourceName][]string{}
	for _, containers := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range containers {
			usage := computeUsage(c.Resources.Requests, c.Resources.Limits)
			for _, name := range checked {
				if _, ok := usage[name]; !ok && !slices.Contains(missing[name], c.Name) {
					missing[name] = append(missing[name], c.Name)
				}
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var parts []string
	for _, name := range sortedKeys(missing) {
		containers := missing[name]
		sort.Strings(containers)
		parts = append(parts, fmt.Sprintf("%s for: %s", name, strings.Join(containers, ",")))
	}
	return fmt.Errorf("must specify %s", strings.Join(parts, "; "))
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
	for _, t := range terms {
		if len(t.Namespaces) > 0 || t.NamespaceSelector != nil {
			return true
		}
	}
	return false
}

// Resource list arithmetic, as upstream's quota helpers.

func hardNames(q *corev1.ResourceQuota) []corev1.ResourceName { return sortedNames(q.Spec.Hard) }

func resourceNames(l corev1.ResourceList) []corev1.ResourceName { return sortedNames(l) }

// missingUsage are the names the quota's status has no usage for.
func missingUsage(q *corev1.ResourceQuota, names []corev1.ResourceName) []corev1.ResourceName {
	var missing []corev1.ResourceName
	for _, name := range names {
		if _, ok := q.Status.Used[name]; !ok {
			missing = append(missing, name)
		}
	}
	return missing
}

func addLists(a, b corev1.ResourceList) corev1.ResourceList {
	sum := a.DeepCopy()
	if sum == nil {
		sum = corev1.ResourceList{}
	}
	podresources.Add(sum, b)
	return sum
}

func mask(l corev1.ResourceList, names []corev1.ResourceName) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, name := range names {
		if q, ok := l[name]; ok {
			out[name] = q.DeepCopy()
		}
	}
	return out
}

func subtractNonNegative(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range a {
		q = q.DeepCopy()
		if other, ok := b[name]; ok {
			q.Sub(other)
		}
		if q.Sign() < 0 {
			q = resource.Quantity{Format: q.Format}
		}
		out[name] = q
	}
	return out
}

func removeZeros(l corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for name, q := range l {
		if !q.IsZero() {
			out[name] = q
		}
	}
	return out
}

func negativeNames(l corev1.ResourceList) []corev1.ResourceName {
	var negative []corev1.ResourceName
	for name, q := range l {
		if q.Sign() < 0 {
			negative = append(negative, name)
		}
	}
	return negative
}

// prettyPrint is upstream's name=value,... by name.
func prettyPrint(l corev1.ResourceList) string {
	var parts []string
	for _, name := range sortedNames(l) {
		q := l[name]
		parts = append(parts, string(name)+"="+q.String())
	}
	return strings.Join(parts, ",")
}

func joinNamesComma(names []corev1.ResourceName) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func sortedKeys[V any](m map[corev1.ResourceName]V) []corev1.ResourceName {
	keys := make([]corev1.ResourceName, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// StoreObjects reads quota's objects from the server's stores.
type StoreObjects struct {
	Resources []registry.Resource
	Stores    map[schema.GroupVersionResource]storage.Interface
}

func (s StoreObjects) find(gr schema.GroupResource) (*registry.Resource, storage.Interface) {
	for i := range s.Resources {
		r := &s.Resources[i]
		if r.Namespaced && r.GroupVersion.Group == gr.Group && r.Name == gr.Resource && slices.Contains(r.Verbs, "list") {
			return r, s.Stores[r.GroupVersionResource()]
		}
	}
	return nil, nil
}

// List implements QuotaObjects.
func (s StoreObjects) List(ctx context.Context, gr schema.GroupResource, namespace string) ([]runtime.Object, bool, error) {
	r, store := s.find(gr)
	if store == nil {
		return nil, false, nil
	}
	list := r.NewList()
	if err := store.GetList(ctx, rest.KeyPrefix(r)+"/"+namespace+"/", storage.ListOptions{}, list); err != nil {
		return nil, false, fmt.Errorf("list %s in %s: %w", gr, namespace, err)
	}
	objs, err := meta.ExtractList(list)
	return objs, true, err
}

// Exists implements QuotaObjects.
func (s StoreObjects) Exists(ctx context.Context, gr schema.GroupResource, namespace, name string) (bool, error) {
	r, store := s.find(gr)
	if store == nil || name == "" {
		return false, nil
	}
	obj := r.New()
	if err := store.Get(ctx, rest.KeyPrefix(r)+"/"+namespace+"/"+name, storage.GetOptions{IgnoreNotFound: true}, obj); err != nil {
		return false, fmt.Errorf("get %s %s/%s: %w", gr, namespace, name, err)
	}
	m, err := meta.Accessor(obj)
	return err == nil && m.GetResourceVersion() != "", err
}
