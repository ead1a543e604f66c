package validation

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// Leases.

var leaseStrategies = []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}

func validateLease(l *coordinationv1.Lease) field.ErrorList {
	var errs field.ErrorList
	spec := &l.Spec
	sp := root("spec")
	if d := spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(sp.path("leaseDurationSeconds"), d, "must be greater than 0"))
	}
	if t := spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(sp.path("leaseTransitions"), t, "must be greater than or equal to 0"))
	}
	if st := spec.Strategy; st != nil {
		// Upstream names the field twice.
		p := sp.path("strategy", "strategy")
		if !strings.Contains(string(*st), "/") {
			if !contains(leaseStrategies, *st) {
				errs = append(errs, field.NotSupported(p, *st, leaseStrategies))
			}
		} else {
			for _, msg := range validation.IsQualifiedName(string(*st)) {
				errs = append(errs, field.Invalid(p, *st, msg))
			}
		}
	}
	if h := spec.PreferredHolder; h != nil && *h != "" && (spec.Strategy == nil || *spec.Strategy == "") {
		errs = append(errs, field.Forbidden(sp.path("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}

// EndpointSlices.

const (
	maxSliceEndpoints      = 1000
	maxEndpointAddresses   = 100
	maxSlicePorts          = 20000
	maxEndpointTopology    = 16
	maxEndpointZoneHints   = 8
	maxEndpointNodeHints   = 8
	reservedTopologyZoneKy = corev1.LabelTopologyZone
)

var addressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

func validateEndpointSlice(es *discoveryv1.EndpointSlice) field.ErrorList {
	var errs field.ErrorList
	at := root("addressType")
	if es.AddressType == "" {
		errs = append(errs, field.Required(at.path(), ""))
	} else if !contains(addressTypes, es.AddressType) {
		errs = append(errs, field.NotSupported(at.path(), es.AddressType, addressTypes))
	}
	errs = validateSliceEndpoints(errs, es)
	return validateSlicePorts(errs, es.Ports)
}

func validateSliceEndpoints(errs field.ErrorList, es *discoveryv1.EndpointSlice) field.ErrorList {
	eps := root("endpoints")
	if len(es.Endpoints) > maxSliceEndpoints {
		return append(errs, field.TooMany(eps.path(), len(es.Endpoints), maxSliceEndpoints))
	}
	for i := range es.Endpoints {
		ep := &es.Endpoints[i]
		ei := eps.index(i)
		as := ei.child("addresses")
		if len(ep.Addresses) == 0 {
			errs = append(errs, field.Required(as.path(), "must contain at least 1 address"))
		} else if len(ep.Addresses) > maxEndpointAddresses {
			errs = append(errs, field.TooMany(as.path(), len(ep.Addresses), maxEndpointAddresses))
		}
		for j, a := range ep.Addresses {
			aj := as.index(j)
			switch es.AddressType {
			case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
				if ipErrs := validation.IsValidIPForLegacyField(aj.path(), a, true, nil); len(ipErrs) > 0 {
					errs = append(errs, ipErrs...)
					break
				}
				if v6 := netutils.IsIPv6String(a); es.AddressType == discoveryv1.AddressTypeIPv4 && v6 {
					errs = append(errs, field.Invalid(aj.path(), a, "must be an IPv4 address"))
				} else if es.AddressType == discoveryv1.AddressTypeIPv6 && !v6 {
					errs = append(errs, field.Invalid(aj.path(), a, "must be an IPv6 address"))
				}
				errs = validateNonSpecialIP(errs, a, &aj)
			case discoveryv1.AddressTypeFQDN:
				errs = append(errs, validation.IsFullyQualifiedDomainName(aj.path(), a)...)
			}
		}
		if ep.NodeName != nil {
			ns := ei.child("nodeName")
			errs = validateName(errs, *ep.NodeName, nameIsDNSSubdomain, &ns)
		}
		ts := ei.child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > maxEndpointTopology {
			errs = append(errs, field.TooMany(ts.path(), len(ep.DeprecatedTopology), maxEndpointTopology))
		}
		errs = validateLabels(errs, ep.DeprecatedTopology, &ts)
		if _, ok := ep.DeprecatedTopology[reservedTopologyZoneKy]; ok {
			errs = append(errs, field.InternalError(ts.path().Key(reservedTopologyZoneKy), fmt.Errorf("reserved key was not removed in conversion")))
		}
		if ep.Hostname != nil {
			hs := ei.child("hostname")
			errs = validateDNSLabel(errs, *ep.Hostname, &hs)
		}
		if h := ep.Hints; h != nil {
			hs := ei.child("hints")
			errs = validateEndpointHints(errs, h, &hs)
		}
	}
	return errs
}

func validateEndpointHints(errs field.ErrorList, h *discoveryv1.EndpointHints, s *step) field.ErrorList {
	zs := s.child("forZones")
	if len(h.ForZones) > maxEndpointZoneHints {
		return append(errs, field.TooMany(zs.path(), len(h.ForZones), maxEndpointZoneHints))
	}
	for i, z := range h.ForZones {
		zi := zs.index(i)
		ns := zi.child("name")
		for j := 0; j < i; j++ {
			if h.ForZones[j].Name == z.Name {
				errs = append(errs, field.Duplicate(ns.path(), z.Name))
				break
			}
		}
		errs = validateLabelValue(errs, z.Name, &ns)
	}
	nodes := s.child("forNodes")
	if len(h.ForNodes) > maxEndpointNodeHints {
		return append(errs, field.TooMany(nodes.path(), len(h.ForNodes), maxEndpointNodeHints))
	}
	for i, n := range h.ForNodes {
		ni := nodes.index(i)
		ns := ni.child("name")
		for j := 0; j < i; j++ {
			if h.ForNodes[j].Name == n.Name {
				errs = append(errs, field.Duplicate(ns.path(), n.Name))
				break
			}
		}
		errs = validateName(errs, n.Name, nameIsDNSSubdomain, &ns)
	}
	return errs
}

func validateSlicePorts(errs field.ErrorList, ports []discoveryv1.EndpointPort) field.ErrorList {
	ps := root("ports")
	if len(ports) > maxSlicePorts {
		return append(errs, field.TooMany(ps.path(), len(ports), maxSlicePorts))
	}
	for i := range ports {
		p := &ports[i]
		pi := ps.index(i)
		// An unset name is defaulted to "" and an unset protocol to TCP.
		name := deref(p.Name, "")
		ns := pi.child("name")
		if len(name) > 0 {
			errs = validateDNSLabel(errs, name, &ns)
		}
		for j := 0; j < i; j++ {
			if deref(ports[j].Name, "") == name {
				errs = append(errs, field.Duplicate(ns.path(), p.Name))
				break
			}
		}
		if p.Protocol != nil && !contains(supportedPortProtocols, *p.Protocol) {
			errs = append(errs, field.NotSupported(pi.path("protocol"), *p.Protocol, supportedPortProtocols))
		}
		if p.AppProtocol != nil {
			as := pi.child("appProtocol")
			errs = validateQualifiedName(errs, *p.AppProtocol, &as)
		}
	}
	return errs
}

func validateEndpointSliceUpdate(es, old *discoveryv1.EndpointSlice) field.ErrorList {
	errs := validateEndpointSlice(es)
	at := root("addressType")
	return validateImmutable(errs, es.AddressType, old.AddressType, &at)
}

// PodDisruptionBudgets.

var unhealthyPodEvictionPolicies = []string{string(policyv1.AlwaysAllow), string(policyv1.IfHealthyBudget)}

// internalPDBSpec renders a spec as upstream does: its internal type,
// which has no JSON names.
type internalPDBSpec struct {
	MinAvailable               *intstr.IntOrString
	Selector                   any
	MaxUnavailable             *intstr.IntOrString
	UnhealthyPodEvictionPolicy *policyv1.UnhealthyPodEvictionPolicyType
}

func validatePodDisruptionBudget(pdb *policyv1.PodDisruptionBudget) field.ErrorList {
	var errs field.ErrorList
	spec := &pdb.Spec
	sp := root("spec")
	if spec.MinAvailable != nil && spec.MaxUnavailable != nil {
		bad := internalPDBSpec{spec.MinAvailable, spec.Selector, spec.MaxUnavailable, spec.UnhealthyPodEvictionPolicy}
		errs = append(errs, field.Invalid(sp.path(), bad, "minAvailable and maxUnavailable cannot be both set"))
	}
	for _, f := range [...]struct {
		name string
		v    *intstr.IntOrString
	}{{"minAvailable", spec.MinAvailable}, {"maxUnavailable", spec.MaxUnavailable}} {
		if f.v != nil {
			fs := sp.child(f.name)
			errs = validatePositiveIntOrPercent(errs, *f.v, &fs)
			errs = validateNotMoreThan100Percent(errs, *f.v, &fs)
		}
	}
	ss := sp.child("selector")
	errs = validateLabelSelector(errs, spec.Selector, false, &ss)
	if p := spec.UnhealthyPodEvictionPolicy; p != nil && !contains(unhealthyPodEvictionPolicies, string(*p)) {
		errs = append(errs, field.NotSupported(sp.path("unhealthyPodEvictionPolicy"), *p, unhealthyPodEvictionPolicies))
	}
	return errs
}

func validatePodDisruptionBudgetStatusUpdate(pdb, _ *policyv1.PodDisruptionBudget) field.ErrorList {
	st := &pdb.Status
	s := root("status")
	errs := metav1validation.ValidateConditions(st.Conditions, s.path("conditions"))
	for _, f := range [...]struct {
		name string
		v    int32
	}{
		{"disruptionsAllowed", st.DisruptionsAllowed},
		{"currentHealthy", st.CurrentHealthy},
		{"desiredHealthy", st.DesiredHealthy},
		{"expectedPods", st.ExpectedPods},
	} {
		fs := s.child(f.name)
		errs = validateNonnegative(errs, int64(f.v), &fs)
	}
	return errs
}

// PriorityClasses.

const (
	highestUserDefinablePriority = 1000000000
	systemCriticalPriority       = 2 * highestUserDefinablePriority
	systemPriorityClassPrefix    = "system-"
)

// systemPriorityClasses are created by the API server; only they may use
// the system- prefix.
var systemPriorityClasses = []struct {
	name  string
	value int32
}{
	{"system-node-critical", systemCriticalPriority + 1000},
	{"system-cluster-critical", systemCriticalPriority},
}

func isKnownSystemPriorityClass(name string, value int32, globalDefault bool) error {
	for _, spc := range systemPriorityClasses {
		if spc.name != name {
			continue
		}
		if spc.value != value {
			return fmt.Errorf("value of %v PriorityClass must be %v", spc.name, spc.value)
		}
		if globalDefault {
			return fmt.Errorf("globalDefault of %v PriorityClass must be %v", spc.name, false)
		}
		return nil
	}
	return fmt.Errorf("%v is not a known system priority class", name)
}

func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if strings.HasPrefix(pc.Name, systemPriorityClassPrefix) {
		if err := isKnownSystemPriorityClass(pc.Name, pc.Value, pc.GlobalDefault); err != nil {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"),
				"priority class names with '"+systemPriorityClassPrefix+"' prefix are reserved for system use only. error: "+err.Error()))
		}
	} else if pc.Value > highestUserDefinablePriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", highestUserDefinablePriority)))
	}
	if pc.PreemptionPolicy != nil {
		ps := root("preemptionPolicy")
		errs = validatePreemptionPolicy(errs, pc.PreemptionPolicy, &ps)
	}
	return errs
}

func validatePriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if pc.Value != old.Value {
		errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	// An unset policy is defaulted to PreemptLowerPriority.
	def := corev1.PreemptLowerPriority
	if deref(pc.PreemptionPolicy, def) != deref(old.PreemptionPolicy, def) {
		ps := root("preemptionPolicy")
		errs = append(errs, field.Invalid(ps.path(), pc.PreemptionPolicy, fieldImmutableErrorMsg))
	}
	return errs
}

// StorageClasses.

const (
	maxProvisionerParameterSize = 256 * (1 << 10)
	maxProvisionerParameterLen  = 512
)

var (
	storageClassReclaimPolicies = []string{string(corev1.PersistentVolumeReclaimDelete), string(corev1.PersistentVolumeReclaimRetain)}
	volumeBindingModes          = []string{string(storagev1.VolumeBindingImmediate), string(storagev1.VolumeBindingWaitForFirstConsumer)}
)

func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	ps := root("provisioner")
	if len(sc.Provisioner) == 0 {
		errs = append(errs, field.Required(ps.path(), sc.Provisioner))
	} else {
		errs = validateQualifiedName(errs, strings.ToLower(sc.Provisioner), &ps)
	}
	pp := field.NewPath("parameters")
	if len(sc.Parameters) > maxProvisionerParameterLen {
		errs = append(errs, field.TooLong(pp, "", maxProvisionerParameterLen))
	} else {
		var size int64
		var buf [16]string
		for _, k := range sortedKeys(sc.Parameters, buf[:0]) {
			if len(k) < 1 {
				errs = append(errs, field.Invalid(pp, k, "field can not be empty."))
			}
			size += int64(len(k)) + int64(len(sc.Parameters[k]))
		}
		if size > maxProvisionerParameterSize {
			errs = append(errs, field.TooLong(pp, "", maxProvisionerParameterSize))
		}
	}
	if p := sc.ReclaimPolicy; p != nil && len(*p) > 0 && !contains(storageClassReclaimPolicies, string(*p)) {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), p, storageClassReclaimPolicies))
	}
	// An unset mode is defaulted to Immediate.
	if m := sc.VolumeBindingMode; m != nil && !contains(volumeBindingModes, string(*m)) {
		errs = append(errs, field.NotSupported(field.NewPath("volumeBindingMode"), m, volumeBindingModes))
	}
	ts := root("allowedTopologies")
	var seen []map[string][]string
	for i := range sc.AllowedTopologies {
		ti := ts.index(i)
		exprs, termErrs := validateTopologySelectorTerm(&sc.AllowedTopologies[i], &ti)
		errs = append(errs, termErrs...)
		for _, t := range seen {
			if reflect.DeepEqual(t, exprs) {
				errs = append(errs, field.Duplicate(ti.path("matchLabelExpressions"), ""))
			}
		}
		seen = append(seen, exprs)
	}
	return errs
}

// validateTopologySelectorTerm checks a term and returns it as key to
// sorted values, to find duplicate terms.
func validateTopologySelectorTerm(t *corev1.TopologySelectorTerm, s *step) (map[string][]string, field.ErrorList) {
	var errs field.ErrorList
	exprs := map[string][]string{}
	es := s.child("matchLabelExpressions")
	for i := range t.MatchLabelExpressions {
		r := &t.MatchLabelExpressions[i]
		ri := es.index(i)
		vs := ri.child("values")
		if len(r.Values) == 0 {
			errs = append(errs, field.Required(vs.path(), ""))
		}
		var values []string
		for j, v := range r.Values {
			if contains(values, v) {
				errs = append(errs, field.Duplicate(vs.path().Index(j), v))
				continue
			}
			values = append(values, v)
		}
		slices.Sort(values)
		ks := ri.child("key")
		errs = validateQualifiedName(errs, r.Key, &ks)
		if _, ok := exprs[r.Key]; ok {
			errs = append(errs, field.Duplicate(ks.path(), r.Key))
		}
		exprs[r.Key] = values
	}
	return exprs, errs
}

func validateStorageClassUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	if !reflect.DeepEqual(old.Parameters, sc.Parameters) {
		errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if sc.Provisioner != old.Provisioner {
		errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	// Unset policies and modes are defaulted to Delete and Immediate.
	if deref(sc.ReclaimPolicy, corev1.PersistentVolumeReclaimDelete) != deref(old.ReclaimPolicy, corev1.PersistentVolumeReclaimDelete) {
		errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	if deref(sc.VolumeBindingMode, storagev1.VolumeBindingImmediate) != deref(old.VolumeBindingMode, storagev1.VolumeBindingImmediate) {
		errs = append(errs, field.Invalid(field.NewPath("volumeBindingMode"), sc.VolumeBindingMode, fieldImmutableErrorMsg))
	}
	return errs
}
