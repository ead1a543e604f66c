package validation

import (
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxSecretSize bounds the data of a Secret or ConfigMap: 1 MiB.
const maxSecretSize = corev1.MaxSecretSize

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	total := 0
	ds := root("data")
	var buf [16]string
	for _, k := range sortedKeys(cm.Data, buf[:0]) {
		ks := ds.key(k)
		errs = invalidEach(errs, &ks, k, validation.IsConfigMapKey(k))
		if _, dup := cm.BinaryData[k]; dup {
			errs = append(errs, field.Invalid(ks.path(), k, "duplicate of key present in binaryData"))
		}
		total += len(cm.Data[k])
	}
	bs := root("binaryData")
	for _, k := range sortedKeys(cm.BinaryData, buf[:0]) {
		ks := bs.key(k)
		errs = invalidEach(errs, &ks, k, validation.IsConfigMapKey(k))
		total += len(cm.BinaryData[k])
	}
	if total > maxSecretSize {
		// The whole object is too large, so upstream names no field.
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxSecretSize))
	}
	return errs
}

func validateConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	if old.Immutable != nil && *old.Immutable {
		const msg = "field is immutable when `immutable` is set"
		if cm.Immutable == nil || !*cm.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), msg))
		}
		if !reflect.DeepEqual(cm.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), msg))
		}
		if !reflect.DeepEqual(cm.BinaryData, old.BinaryData) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), msg))
		}
	}
	return append(errs, validateConfigMap(cm)...)
}

// secretType is the type after defaulting.
func secretType(s *corev1.Secret) corev1.SecretType {
	if s.Type == "" {
		return corev1.SecretTypeOpaque
	}
	return s.Type
}

func validateSecret(sec *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	ds := root("data")
	total := 0
	var buf [16]string
	for _, k := range sortedKeys(sec.Data, buf[:0]) {
		ks := ds.key(k)
		errs = invalidEach(errs, &ks, k, validation.IsConfigMapKey(k))
		total += len(sec.Data[k])
	}
	if total > maxSecretSize {
		errs = append(errs, field.TooLong(ds.path(), "", maxSecretSize))
	}
	required := func(key string) {
		errs = append(errs, field.Required(ds.path().Key(key), ""))
	}
	switch sec.Type {
	case corev1.SecretTypeServiceAccountToken:
		// Only the account's name is required; a controller adds the rest.
		if sec.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg, corev1.SecretTypeDockerConfigJson:
		key := corev1.DockerConfigKey
		if sec.Type == corev1.SecretTypeDockerConfigJson {
			key = corev1.DockerConfigJsonKey
		}
		data, ok := sec.Data[key]
		if !ok {
			required(key)
			break
		}
		if err := json.Unmarshal(data, &map[string]any{}); err != nil {
			errs = append(errs, field.Invalid(ds.path().Key(key), "<secret contents redacted>", err.Error()))
		}
	case corev1.SecretTypeBasicAuth:
		_, user := sec.Data[corev1.BasicAuthUsernameKey]
		_, pass := sec.Data[corev1.BasicAuthPasswordKey]
		// Either may be empty, but one must be there.
		if !user && !pass {
			required(corev1.BasicAuthUsernameKey)
			required(corev1.BasicAuthPasswordKey)
		}
	case corev1.SecretTypeSSHAuth:
		if len(sec.Data[corev1.SSHAuthPrivateKey]) == 0 {
			required(corev1.SSHAuthPrivateKey)
		}
	case corev1.SecretTypeTLS:
		if _, ok := sec.Data[corev1.TLSCertKey]; !ok {
			required(corev1.TLSCertKey)
		}
		if _, ok := sec.Data[corev1.TLSPrivateKeyKey]; !ok {
			required(corev1.TLSPrivateKeyKey)
		}
	}
	return errs
}

func validateSecretUpdate(sec, old *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	if t, ot := secretType(sec), secretType(old); t != ot {
		errs = append(errs, field.Invalid(field.NewPath("type"), t, fieldImmutableErrorMsg))
	}
	if old.Immutable != nil && *old.Immutable {
		const msg = "field is immutable when `immutable` is set"
		if sec.Immutable == nil || !*sec.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), msg))
		}
		if !reflect.DeepEqual(sec.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), msg))
		}
	}
	return append(errs, validateSecret(sec)...)
}

var standardFinalizers = []string{string(corev1.FinalizerKubernetes), metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents}

// validateFinalizerName: a qualified name, and a known one if unprefixed.
func validateFinalizerName(errs field.ErrorList, name string, s *step) field.ErrorList {
	errs = validateQualifiedName(errs, name, s)
	if !strings.Contains(name, "/") && !contains(standardFinalizers, name) {
		errs = append(errs, field.Invalid(s.path(), name, "name is neither a standard finalizer name nor is it fully qualified"))
	}
	return errs
}

func validateNamespace(ns *corev1.Namespace) field.ErrorList {
	var errs field.ErrorList
	n := root("metadata.name")
	// Namespaces are DNS labels; the server only checks subdomains.
	errs = validateName(errs, ns.Name, nameIsDNSLabel, &n)
	// Upstream reports these without an index.
	fs := root("spec.finalizers")
	for _, f := range ns.Spec.Finalizers {
		errs = validateFinalizerName(errs, string(f), &fs)
	}
	return errs
}

func validateNamespaceStatusUpdate(ns, _ *corev1.Namespace) field.ErrorList {
	p := field.NewPath("status", "Phase")
	if ns.DeletionTimestamp.IsZero() {
		if ns.Status.Phase != corev1.NamespaceActive {
			return field.ErrorList{field.Invalid(p, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty")}
		}
	} else if ns.Status.Phase != corev1.NamespaceTerminating {
		return field.ErrorList{field.Invalid(p, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty")}
	}
	return nil
}

func validateNamespaceFinalize(ns, _ *corev1.Namespace) field.ErrorList {
	var errs field.ErrorList
	fs := root("spec.finalizers")
	for i, f := range ns.Spec.Finalizers {
		fi := fs.index(i)
		errs = validateFinalizerName(errs, string(f), &fi)
	}
	return errs
}

// nodePodCIDRs are the node's CIDRs as upstream's strategy leaves them:
// podCIDRs follows a lone podCIDR.
func nodePodCIDRs(n *corev1.Node) []string {
	if len(n.Spec.PodCIDRs) == 0 && n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return n.Spec.PodCIDRs
}

// internalTaint renders a duplicate taint as upstream does: its internal
// type, which has no JSON names.
type internalTaint struct {
	Key       string
	Value     string
	Effect    corev1.TaintEffect
	TimeAdded *metav1.Time
}

func validateNode(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	// Upstream reports taints under metadata.
	ts := root("metadata.taints")
	errs = validateNodeTaints(errs, n.Spec.Taints, &ts)
	errs = validateNodeResources(errs, n)
	cidrs := nodePodCIDRs(n)
	if len(cidrs) > 0 {
		p := field.NewPath("spec", "podCIDRs")
		for i, c := range cidrs {
			errs = append(errs, validation.IsValidCIDRForLegacyField(p.Index(i), c, true, nil)...)
		}
		if len(cidrs) > 1 {
			if len(cidrs) > 2 || !dualStackCIDRs(cidrs) {
				errs = append(errs, field.Invalid(p, cidrs, "may specify no more than one CIDR for each IP family"))
			}
			for i := range cidrs {
				for j := 0; j < i; j++ {
					if cidrs[j] == cidrs[i] {
						errs = append(errs, field.Duplicate(p.Index(i), cidrs[i]))
						break
					}
				}
			}
		}
	}
	return errs
}

func dualStackCIDRs(cidrs []string) bool {
	ips := make([]string, len(cidrs))
	for i, c := range cidrs {
		ips[i], _, _ = strings.Cut(c, "/")
	}
	return dualStack(ips...)
}

func validateNodeTaints(errs field.ErrorList, taints []corev1.Taint, s *step) field.ErrorList {
	for i := range taints {
		t := &taints[i]
		is := s.index(i)
		ks := is.child("key")
		errs = validateQualifiedName(errs, t.Key, &ks)
		if !surelyLabelValue(t.Value) {
			if msgs := validation.IsValidLabelValue(t.Value); len(msgs) != 0 {
				errs = append(errs, field.Invalid(is.path("value"), t.Value, strings.Join(msgs, ";")))
			}
		}
		es := is.child("effect")
		errs = validateTaintEffect(errs, t.Effect, false, &es)
		for j := 0; j < i; j++ {
			if taints[j].Key == t.Key && taints[j].Effect == t.Effect {
				dup := field.Duplicate(is.path(), internalTaint{t.Key, t.Value, t.Effect, t.TimeAdded})
				dup.Detail = "taints must be unique by key and effect pair"
				errs = append(errs, dup)
				break
			}
		}
	}
	return errs
}

func validateNodeResources(errs field.ErrorList, n *corev1.Node) field.ErrorList {
	var buf [16]corev1.ResourceName
	for _, k := range sortedKeys(n.Status.Capacity, buf[:0]) {
		s := root("status.capacity." + string(k))
		errs = validateResourceQuantityValue(errs, k, n.Status.Capacity[k], &s)
	}
	for _, k := range sortedKeys(n.Status.Allocatable, buf[:0]) {
		s := root("status.allocatable." + string(k))
		errs = validateResourceQuantityValue(errs, k, n.Status.Allocatable[k], &s)
	}
	return errs
}

func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	errs := validateNodeResources(nil, n)
	for i, a := range n.Status.Addresses {
		for j := 0; j < i; j++ {
			if n.Status.Addresses[j] == a {
				errs = append(errs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
				break
			}
		}
	}
	// The controller manager may assign CIDRs to a node that has none.
	if oldCIDRs := nodePodCIDRs(old); len(oldCIDRs) > 0 {
		cidrs := nodePodCIDRs(n)
		const msg = "node updates may not change podCIDR except from \"\" to valid"
		if len(oldCIDRs) != len(cidrs) {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), msg))
		} else {
			for i := range oldCIDRs {
				if oldCIDRs[i] != cidrs[i] {
					errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), msg))
				}
			}
		}
	}
	if len(old.Spec.ProviderID) > 0 && old.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	ts := root("metadata.taints")
	errs = validateNodeTaints(errs, n.Spec.Taints, &ts)
	if n.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return errs
}

func validateEndpoints(ep *corev1.Endpoints) field.ErrorList {
	var errs field.ErrorList
	ss := root("subsets")
	for i := range ep.Subsets {
		sub := &ep.Subsets[i]
		is := ss.index(i)
		// Headless services' endpoints may have no ports.
		if len(sub.Addresses) == 0 && len(sub.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(is.path(), "must specify `addresses` or `notReadyAddresses`"))
		}
		as := is.child("addresses")
		for j := range sub.Addresses {
			aj := as.index(j)
			errs = validateEndpointAddress(errs, &sub.Addresses[j], &aj)
		}
		ns := is.child("notReadyAddresses")
		for j := range sub.NotReadyAddresses {
			nj := ns.index(j)
			errs = validateEndpointAddress(errs, &sub.NotReadyAddresses[j], &nj)
		}
		ps := is.child("ports")
		for j := range sub.Ports {
			p := &sub.Ports[j]
			pj := ps.index(j)
			pn := pj.child("name")
			if len(sub.Ports) > 1 && len(p.Name) == 0 {
				errs = append(errs, field.Required(pn.path(), ""))
			} else if len(p.Name) != 0 {
				errs = validateDNSLabel(errs, p.Name, &pn)
			}
			pp := pj.child("port")
			errs = validatePortNum(errs, int(p.Port), &pp)
			if p.Protocol != "" && !contains(supportedPortProtocols, p.Protocol) {
				errs = append(errs, field.NotSupported(pj.path("protocol"), p.Protocol, supportedPortProtocols))
			}
			if p.AppProtocol != nil {
				ap := pj.child("appProtocol")
				errs = validateQualifiedName(errs, *p.AppProtocol, &ap)
			}
		}
	}
	return errs
}

func validateEndpointAddress(errs field.ErrorList, a *corev1.EndpointAddress, s *step) field.ErrorList {
	ips := s.child("ip")
	errs = append(errs, validation.IsValidIPForLegacyField(ips.path(), a.IP, true, nil)...)
	if len(a.Hostname) > 0 {
		hs := s.child("hostname")
		errs = validateDNSLabel(errs, a.Hostname, &hs)
	}
	if a.NodeName != nil {
		ns := s.child("nodeName")
		errs = validateName(errs, *a.NodeName, nameIsDNSSubdomain, &ns)
	}
	return validateNonSpecialIP(errs, a.IP, &ips)
}

// validateLimitRange is upstream's check that limits are consistent.
func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	var errs field.ErrorList
	ls := root("spec.limits")
	for i := range lr.Spec.Limits {
		l := &lr.Spec.Limits[i]
		is := ls.index(i)
		ts := is.child("type")
		errs = validateLimitRangeType(errs, l.Type, &ts)
		for j := 0; j < i; j++ {
			if lr.Spec.Limits[j].Type == l.Type {
				errs = append(errs, field.Duplicate(ts.path(), l.Type))
				break
			}
		}
		checkNames := func(list corev1.ResourceList, name string) {
			s := is.child(name)
			var buf [8]corev1.ResourceName
			for _, k := range sortedKeys(list, buf[:0]) {
				ks := s.key(string(k))
				if l.Type == corev1.LimitTypePod || l.Type == corev1.LimitTypeContainer {
					errs = validateContainerResourceName(errs, k, &ks)
				} else {
					errs = validateResourceName(errs, k, &ks)
				}
			}
		}
		checkNames(l.Max, "max")
		checkNames(l.Min, "min")
		if l.Type == corev1.LimitTypePod {
			if len(l.Default) > 0 {
				errs = append(errs, field.Forbidden(is.path("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(l.DefaultRequest) > 0 {
				errs = append(errs, field.Forbidden(is.path("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		} else {
			checkNames(l.Default, "default")
			checkNames(l.DefaultRequest, "defaultRequest")
		}
		if l.Type == corev1.LimitTypePersistentVolumeClaim {
			_, hasMin := l.Min[corev1.ResourceStorage]
			_, hasMax := l.Max[corev1.ResourceStorage]
			if !hasMin && !hasMax {
				errs = append(errs, field.Required(is.path("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		checkNames(l.MaxLimitRequestRatio, "maxLimitRequestRatio")
		errs = validateLimitRangeItem(errs, l, &is)
	}
	return errs
}

func validateLimitRangeType(errs field.ErrorList, t corev1.LimitType, s *step) field.ErrorList {
	before := len(errs)
	errs = validateQualifiedName(errs, string(t), s)
	if len(errs) != before {
		return errs
	}
	if !strings.Contains(string(t), "/") && t != corev1.LimitTypePod && t != corev1.LimitTypeContainer && t != corev1.LimitTypePersistentVolumeClaim {
		errs = append(errs, field.Invalid(s.path(), t, "must be a standard limit type or fully qualified"))
	}
	return errs
}

func validateLimitRangeItem(errs field.ErrorList, l *corev1.LimitRangeItem, s *step) field.ErrorList {
	keys := map[corev1.ResourceName]bool{}
	if l.Type != corev1.LimitTypePod {
		for k := range l.Default {
			keys[k] = true
		}
		for k := range l.DefaultRequest {
			keys[k] = true
		}
	}
	for _, list := range []corev1.ResourceList{l.Max, l.Min, l.MaxLimitRequestRatio} {
		for k := range list {
			keys[k] = true
		}
	}
	var buf [8]corev1.ResourceName
	for _, k := range sortedKeys(keys, buf[:0]) {
		min, hasMin := l.Min[k]
		max, hasMax := l.Max[k]
		var def, defReq resource.Quantity
		var hasDef, hasDefReq bool
		if l.Type != corev1.LimitTypePod {
			def, hasDef = l.Default[k]
			defReq, hasDefReq = l.DefaultRequest[k]
		}
		ratio, hasRatio := l.MaxLimitRequestRatio[k]
		key := string(k)
		if hasMin && hasMax && min.Cmp(max) > 0 {
			errs = append(errs, field.Invalid(s.path("min").Key(key), min, fmt.Sprintf("min value %s is greater than max value %s", min.String(), max.String())))
		}
		if hasDefReq && hasMin && min.Cmp(defReq) > 0 {
			errs = append(errs, field.Invalid(s.path("defaultRequest").Key(key), defReq, fmt.Sprintf("min value %s is greater than default request value %s", min.String(), defReq.String())))
		}
		if hasDefReq && hasMax && defReq.Cmp(max) > 0 {
			errs = append(errs, field.Invalid(s.path("defaultRequest").Key(key), defReq, fmt.Sprintf("default request value %s is greater than max value %s", defReq.String(), max.String())))
		}
		if hasDefReq && hasDef && defReq.Cmp(def) > 0 {
			errs = append(errs, field.Invalid(s.path("defaultRequest").Key(key), defReq, fmt.Sprintf("default request value %s is greater than default limit value %s", defReq.String(), def.String())))
		}
		if hasDef && hasMin && min.Cmp(def) > 0 {
			errs = append(errs, field.Invalid(s.path("default").Key(key), min, fmt.Sprintf("min value %s is greater than default value %s", min.String(), def.String())))
		}
		if hasDef && hasMax && def.Cmp(max) > 0 {
			errs = append(errs, field.Invalid(s.path("default").Key(key), max, fmt.Sprintf("default value %s is greater than max value %s", def.String(), max.String())))
		}
		if hasRatio && ratio.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
			errs = append(errs, field.Invalid(s.path("maxLimitRequestRatio").Key(key), ratio, fmt.Sprintf("ratio %s is less than 1", ratio.String())))
		}
		if hasRatio && hasMin && hasMax {
			r := float64(ratio.Value())
			minV, maxV := min.Value(), max.Value()
			if ratio.Value() < resource.MaxMilliValue && minV < resource.MaxMilliValue && maxV < resource.MaxMilliValue {
				r = float64(ratio.MilliValue()) / 1000
				minV, maxV = min.MilliValue(), max.MilliValue()
			}
			if limit := float64(maxV) / float64(minV); r > limit {
				errs = append(errs, field.Invalid(s.path("maxLimitRequestRatio").Key(key), ratio, fmt.Sprintf("ratio %s is greater than max/min = %f", ratio.String(), limit)))
			}
		}
		// Resources that cannot be overcommitted get what they request.
		if !isOvercommitAllowed(k) && hasDef && hasDefReq && def.Cmp(defReq) != 0 {
			errs = append(errs, field.Invalid(s.path("defaultRequest").Key(key), defReq, fmt.Sprintf("default value %s must equal to defaultRequest value %s in %s", def.String(), defReq.String(), k)))
		}
	}
	return errs
}

// Resource quotas.

var (
	standardQuotaScopes = []corev1.ResourceQuotaScope{
		corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeBestEffort,
		corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopePriorityClass,
		corev1.ResourceQuotaScopeCrossNamespacePodAffinity, corev1.ResourceQuotaScopeVolumeAttributesClass,
	}
	podComputeQuotaResources = []string{"cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}
)

func quotaScopeValidFor(scope corev1.ResourceQuotaScope, name string) bool {
	switch scope {
	case corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeNotBestEffort,
		corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return name == "pods" || contains(podComputeQuotaResources, name)
	case corev1.ResourceQuotaScopeBestEffort:
		return name == "pods"
	case corev1.ResourceQuotaScopeVolumeAttributesClass:
		return name == "persistentvolumeclaims" || name == "requests.storage"
	}
	return true
}

func validateQuotaResourceName(errs field.ErrorList, name corev1.ResourceName, s *step) field.ErrorList {
	errs = validateResourceName(errs, name, s)
	if !strings.Contains(string(name), "/") && !contains(standardQuotaResources, string(name)) && !isQuotaHugePageResourceName(name) {
		errs = append(errs, field.Invalid(s.path(), name, "must be a standard resource for quota"))
	}
	return errs
}

func validateQuotaList(errs field.ErrorList, list corev1.ResourceList, s *step) field.ErrorList {
	var buf [16]corev1.ResourceName
	for _, k := range sortedKeys(list, buf[:0]) {
		ks := s.key(string(k))
		errs = validateQuotaResourceName(errs, k, &ks)
		errs = validateResourceQuantityValue(errs, k, list[k], &ks)
	}
	return errs
}

func validateResourceQuotaSpec(errs field.ErrorList, spec *corev1.ResourceQuotaSpec, s *step) field.ErrorList {
	hs := s.child("hard")
	errs = validateQuotaList(errs, spec.Hard, &hs)
	var buf [16]corev1.ResourceName
	hard := sortedKeys(spec.Hard, buf[:0])
	conflicting := func(has func(corev1.ResourceQuotaScope) bool) bool {
		return has(corev1.ResourceQuotaScopeBestEffort) && has(corev1.ResourceQuotaScopeNotBestEffort) ||
			has(corev1.ResourceQuotaScopeTerminating) && has(corev1.ResourceQuotaScopeNotTerminating)
	}
	if len(spec.Scopes) > 0 {
		ss := s.child("scopes")
		for _, scope := range spec.Scopes {
			if !contains(standardQuotaScopes, scope) {
				errs = append(errs, field.Invalid(ss.path(), spec.Scopes, "unsupported scope"))
			}
			for _, k := range hard {
				if contains(standardQuotaResources, string(k)) && !quotaScopeValidFor(scope, string(k)) {
					errs = append(errs, field.Invalid(ss.path(), spec.Scopes, "unsupported scope applied to resource"))
				}
			}
		}
		if conflicting(func(sc corev1.ResourceQuotaScope) bool { return contains(spec.Scopes, sc) }) {
			errs = append(errs, field.Invalid(ss.path(), spec.Scopes, "conflicting scopes"))
		}
	}
	if sel := spec.ScopeSelector; sel != nil {
		ss := s.child("scopeSelector")
		ms := ss.child("matchExpressions")
		var scopes []corev1.ResourceQuotaScope
		for _, req := range sel.MatchExpressions {
			if !contains(standardQuotaScopes, req.ScopeName) {
				errs = append(errs, field.Invalid(ms.path("scopeName"), req.ScopeName, "unsupported scope"))
			}
			for _, k := range hard {
				if contains(standardQuotaResources, string(k)) && !quotaScopeValidFor(req.ScopeName, string(k)) {
					errs = append(errs, field.Invalid(ms.path(), sel, "unsupported scope applied to resource"))
				}
			}
			switch req.ScopeName {
			case corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopeTerminating,
				corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
				if req.Operator != corev1.ScopeSelectorOpExists {
					errs = append(errs, field.Invalid(ms.path("operator"), req.Operator,
						"must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"))
				}
			}
			switch req.Operator {
			case corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn:
				if len(req.Values) == 0 {
					errs = append(errs, field.Required(ms.path("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
				}
			case corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist:
				if len(req.Values) != 0 {
					errs = append(errs, field.Invalid(ms.path("values"), req.Values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
				}
			default:
				errs = append(errs, field.Invalid(ms.path("operator"), req.Operator, "not a valid selector operator"))
			}
			scopes = append(scopes, req.ScopeName)
		}
		if conflicting(func(sc corev1.ResourceQuotaScope) bool { return contains(scopes, sc) }) {
			errs = append(errs, field.Invalid(ms.path(), spec.Scopes, "conflicting scopes"))
		}
	}
	return errs
}

func validateResourceQuotaStatus(errs field.ErrorList, st *corev1.ResourceQuotaStatus) field.ErrorList {
	hs := root("status.hard")
	errs = validateQuotaList(errs, st.Hard, &hs)
	us := root("status.used")
	return validateQuotaList(errs, st.Used, &us)
}

func validateResourceQuota(q *corev1.ResourceQuota) field.ErrorList {
	sp := root("spec")
	errs := validateResourceQuotaSpec(nil, &q.Spec, &sp)
	return validateResourceQuotaStatus(errs, &q.Status)
}

func validateResourceQuotaUpdate(q, old *corev1.ResourceQuota) field.ErrorList {
	sp := root("spec")
	errs := validateResourceQuotaSpec(nil, &q.Spec, &sp)
	same := len(q.Spec.Scopes) == len(old.Spec.Scopes)
	for _, sc := range q.Spec.Scopes {
		same = same && contains(old.Spec.Scopes, sc)
	}
	for _, sc := range old.Spec.Scopes {
		same = same && contains(q.Spec.Scopes, sc)
	}
	if !same {
		errs = append(errs, field.Invalid(sp.path("scopes"), q.Spec.Scopes, fieldImmutableErrorMsg))
	}
	return errs
}

func validateResourceQuotaStatusUpdate(q, _ *corev1.ResourceQuota) field.ErrorList {
	return validateResourceQuotaStatus(nil, &q.Status)
}

// Persistent volumes and claims.

var (
	supportedAccessModes   = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod}
	supportedReclaimPolicy = []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain}
	supportedVolumeModes   = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}
)

func validateAccessModes(errs field.ErrorList, modes []corev1.PersistentVolumeAccessMode, s *step) field.ErrorList {
	rwop, other := false, false
	for _, m := range modes {
		if !contains(supportedAccessModes, m) {
			errs = append(errs, field.NotSupported(s.path(), m, supportedAccessModes))
		}
		if m == corev1.ReadWriteOncePod {
			rwop = true
		} else if contains(supportedAccessModes, m) {
			other = true
		}
	}
	if rwop && other {
		errs = append(errs, field.Forbidden(s.path(), "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

// validatePVCSpec checks a claim's spec, also in ephemeral volumes and
// StatefulSet templates.
func validatePVCSpec(errs field.ErrorList, spec *corev1.PersistentVolumeClaimSpec, s *step) field.ErrorList {
	ams := s.child("accessModes")
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(ams.path(), "at least 1 access mode is required"))
	}
	if spec.Selector != nil {
		ss := s.child("selector")
		errs = validateLabelSelector(errs, spec.Selector, false, &ss)
	}
	errs = validateAccessModes(errs, spec.AccessModes, &ams)
	// Upstream names the request resources[storage].
	res := s.child("resources")
	rs := res.key(string(corev1.ResourceStorage))
	if q, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(rs.path(), ""))
	} else if q.Sign() <= 0 {
		errs = validatePositiveQuantity(errs, q, &rs)
	} else {
		errs = validateResourceQuantityValue(errs, corev1.ResourceStorage, q, &rs)
	}
	if spec.StorageClassName != nil && len(*spec.StorageClassName) > 0 {
		cs := s.child("storageClassName")
		errs = validateName(errs, *spec.StorageClassName, nameIsDNSSubdomain, &cs)
	}
	if spec.VolumeMode != nil && !contains(supportedVolumeModes, *spec.VolumeMode) {
		errs = append(errs, field.NotSupported(s.path("volumeMode"), *spec.VolumeMode, supportedVolumeModes))
	}
	if ds := spec.DataSource; ds != nil {
		dss := s.child("dataSource")
		errs = validateDataSource(errs, ds.Name, ds.Kind, ds.APIGroup, &dss)
	}
	if ref := spec.DataSourceRef; ref != nil {
		rss := s.child("dataSourceRef")
		errs = validateDataSource(errs, ref.Name, ref.Kind, ref.APIGroup, &rss)
		if ref.Namespace != nil && len(*ref.Namespace) > 0 {
			ns := rss.child("namespace")
			errs = validateName(errs, *ref.Namespace, nameIsDNSLabel, &ns)
		}
	}
	if ref := spec.DataSourceRef; ref != nil && ref.Namespace != nil && len(*ref.Namespace) > 0 {
		if spec.DataSource != nil {
			errs = append(errs, field.Invalid(s.path(), s.path("dataSource"), "may not be specified when dataSourceRef.namespace is specified"))
		}
	} else if ds := spec.DataSource; ds != nil && ref != nil {
		if !reflect.DeepEqual(ds.APIGroup, ref.APIGroup) || ds.Kind != ref.Kind || ds.Name != ref.Name {
			errs = append(errs, field.Invalid(s.path(), s.path("dataSource"), "must match dataSourceRef"))
		}
	}
	if c := spec.VolumeAttributesClassName; c != nil && len(*c) > 0 {
		cs := s.child("volumeAttributesClassName")
		errs = validateName(errs, *c, nameIsDNSSubdomain, &cs)
	}
	return errs
}

func validateDataSource(errs field.ErrorList, name, kind string, apiGroup *string, s *step) field.ErrorList {
	if len(name) == 0 {
		errs = append(errs, field.Required(s.path("name"), ""))
	}
	if len(kind) == 0 {
		errs = append(errs, field.Required(s.path("kind"), ""))
	}
	group := deref(apiGroup, "")
	if len(group) == 0 && kind != "PersistentVolumeClaim" {
		errs = append(errs, field.Invalid(s.path(), kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
	}
	if len(group) > 0 {
		gs := s.child("apiGroup")
		errs = validateDNSSubdomain(errs, group, &gs)
	}
	return errs
}

func validatePVC(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	sp := root("spec")
	return validatePVCSpec(nil, &pvc.Spec, &sp)
}

func validatePVCUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := validatePVC(pvc)
	newSpec, oldSpec := pvc.Spec.DeepCopy(), old.Spec.DeepCopy()
	// The volume controller binds the claim once.
	if len(old.Spec.VolumeName) == 0 {
		oldSpec.VolumeName = newSpec.VolumeName
	}
	// A claim without a class may be given one.
	if oldSpec.StorageClassName == nil && newSpec.StorageClassName != nil {
		if ann, ok := old.Annotations[corev1.BetaStorageClassAnnotation]; !ok || ann == *newSpec.StorageClassName {
			newSpec.StorageClassName = nil
		}
	}
	// Bound claims may be resized and change their attributes class.
	if pvc.Status.Phase == corev1.ClaimBound {
		if newSpec.Resources.Requests != nil {
			if q, ok := old.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
				newSpec.Resources.Requests[corev1.ResourceStorage] = q
			} else {
				delete(newSpec.Resources.Requests, corev1.ResourceStorage)
			}
		}
		if newSpec.VolumeAttributesClassName != nil {
			newSpec.VolumeAttributesClassName = oldSpec.VolumeAttributesClassName
		}
	}
	if !semanticEqual(newSpec, oldSpec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"),
			"spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"+cmp.Diff(*oldSpec, *newSpec)))
	}
	newSize := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	oldSize := old.Spec.Resources.Requests[corev1.ResourceStorage]
	// Shrinking back is how users recover from a failed expansion, but
	// never below what the volume has.
	if newSize.Cmp(oldSize) < 0 {
		if status := old.Status.Capacity[corev1.ResourceStorage]; newSize.Cmp(status) <= 0 {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than status.capacity"))
		}
	}
	vm := root("volumeMode")
	return validateImmutable(errs, pvc.Spec.VolumeMode, old.Spec.VolumeMode, &vm)
}

func validatePVCStatusUpdate(pvc, _ *corev1.PersistentVolumeClaim) field.ErrorList {
	var errs field.ErrorList
	if len(pvc.Spec.AccessModes) == 0 {
		errs = append(errs, field.Required(field.NewPath("Spec", "accessModes"), ""))
	}
	var buf [4]corev1.ResourceName
	for _, k := range sortedKeys(pvc.Status.Capacity, buf[:0]) {
		if q := pvc.Status.Capacity[k]; q.Value() < 0 {
			errs = append(errs, field.Invalid(field.NewPath("status", "capacity").Key(string(k)), q.Value(), "must be a valid resource quantity"))
		}
	}
	return errs
}

// pvSources are the sources of a persistent volume, in upstream's order;
// flexVolume is counted without the check for a second source, as
// upstream.
var pvSources = []struct {
	name string
	set  func(*corev1.PersistentVolumeSource) bool
}{
	{"hostPath", func(s *corev1.PersistentVolumeSource) bool { return s.HostPath != nil }},
	{"gcePersistentDisk", func(s *corev1.PersistentVolumeSource) bool { return s.GCEPersistentDisk != nil }},
	{"awsElasticBlockStore", func(s *corev1.PersistentVolumeSource) bool { return s.AWSElasticBlockStore != nil }},
	{"glusterfs", func(s *corev1.PersistentVolumeSource) bool { return s.Glusterfs != nil }},
	{"flocker", func(s *corev1.PersistentVolumeSource) bool { return s.Flocker != nil }},
	{"nfs", func(s *corev1.PersistentVolumeSource) bool { return s.NFS != nil }},
	{"rbd", func(s *corev1.PersistentVolumeSource) bool { return s.RBD != nil }},
	{"quobyte", func(s *corev1.PersistentVolumeSource) bool { return s.Quobyte != nil }},
	{"cephFS", func(s *corev1.PersistentVolumeSource) bool { return s.CephFS != nil }},
	{"iscsi", func(s *corev1.PersistentVolumeSource) bool { return s.ISCSI != nil }},
	{"cinder", func(s *corev1.PersistentVolumeSource) bool { return s.Cinder != nil }},
	{"fc", func(s *corev1.PersistentVolumeSource) bool { return s.FC != nil }},
	{"flexVolume", func(s *corev1.PersistentVolumeSource) bool { return s.FlexVolume != nil }},
	{"azureFile", func(s *corev1.PersistentVolumeSource) bool { return s.AzureFile != nil }},
	{"vsphereVolume", func(s *corev1.PersistentVolumeSource) bool { return s.VsphereVolume != nil }},
	{"photonPersistentDisk", func(s *corev1.PersistentVolumeSource) bool { return s.PhotonPersistentDisk != nil }},
	{"portworxVolume", func(s *corev1.PersistentVolumeSource) bool { return s.PortworxVolume != nil }},
	{"azureDisk", func(s *corev1.PersistentVolumeSource) bool { return s.AzureDisk != nil }},
	{"scaleIO", func(s *corev1.PersistentVolumeSource) bool { return s.ScaleIO != nil }},
	{"local", func(s *corev1.PersistentVolumeSource) bool { return s.Local != nil }},
	{"storageos", func(s *corev1.PersistentVolumeSource) bool { return s.StorageOS != nil }},
	{"csi", func(s *corev1.PersistentVolumeSource) bool { return s.CSI != nil }},
}

func validatePV(pv *corev1.PersistentVolume) field.ErrorList {
	var errs field.ErrorList
	spec := &pv.Spec
	sp := root("spec")
	ams := sp.child("accessModes")
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(ams.path(), ""))
	}
	errs = validateAccessModes(errs, spec.AccessModes, &ams)
	cs := sp.child("capacity")
	if len(spec.Capacity) == 0 {
		errs = append(errs, field.Required(cs.path(), ""))
	}
	if _, ok := spec.Capacity[corev1.ResourceStorage]; !ok || len(spec.Capacity) > 1 {
		errs = append(errs, field.NotSupported(cs.path(), spec.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
	}
	var buf [4]corev1.ResourceName
	for _, k := range sortedKeys(spec.Capacity, buf[:0]) {
		q := spec.Capacity[k]
		ks := cs.key(string(k))
		if q.Value() < 0 {
			errs = append(errs, field.Invalid(ks.path(), q.Value(), "must be a valid resource quantity"))
		}
		errs = validatePositiveQuantity(errs, q, &ks)
	}
	if p := spec.PersistentVolumeReclaimPolicy; len(p) > 0 && !contains(supportedReclaimPolicy, p) {
		errs = append(errs, field.NotSupported(sp.path("persistentVolumeReclaimPolicy"), p, supportedReclaimPolicy))
	}
	hasAffinity := false
	if na := spec.NodeAffinity; na != nil {
		hasAffinity = true
		ns := sp.child("nodeAffinity")
		if na.Required != nil {
			rs := ns.child("required")
			errs = validateNodeSelector(errs, na.Required, false, &rs)
		} else {
			errs = append(errs, field.Required(ns.path("required"), "must specify required node constraints"))
		}
	}
	n := 0
	for _, src := range pvSources {
		if !src.set(&spec.PersistentVolumeSource) {
			continue
		}
		if n > 0 && src.name != "flexVolume" {
			errs = append(errs, field.Forbidden(sp.path(src.name), "may not specify more than 1 volume type"))
			continue
		}
		n++
		ss := sp.child(src.name)
		switch src.name {
		case "hostPath":
			errs = validateHostPath(errs, spec.HostPath, &ss)
		case "nfs":
			errs = checkNFS(errs, &corev1.VolumeSource{NFS: spec.NFS}, &ss, nil)
		case "local":
			ps := ss.child("path")
			if spec.Local.Path == "" {
				errs = append(errs, field.Required(ps.path(), ""))
			} else {
				errs = validatePathNoBacksteps(errs, spec.Local.Path, &ps)
			}
			if !hasAffinity {
				errs = append(errs, field.Required(sp.path("nodeAffinity"), "Local volume requires node affinity"))
			}
		case "csi":
			ds := ss.child("driver")
			errs = validateCSIDriverName(errs, spec.CSI.Driver, &ds)
			if len(spec.CSI.VolumeHandle) == 0 {
				errs = append(errs, field.Required(ss.path("volumeHandle"), ""))
			}
		}
	}
	if n == 0 {
		errs = append(errs, field.Required(sp.path(), "must specify a volume type"))
	}
	if spec.HostPath != nil && path.Clean(spec.HostPath.Path) == "/" && spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRecycle {
		errs = append(errs, field.Forbidden(sp.path("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
	}
	if len(spec.StorageClassName) > 0 {
		cs := sp.child("storageClassName")
		errs = validateName(errs, spec.StorageClassName, nameIsDNSSubdomain, &cs)
	}
	if m := spec.VolumeMode; m != nil && !contains(supportedVolumeModes, *m) {
		errs = append(errs, field.NotSupported(sp.path("volumeMode"), *m, supportedVolumeModes))
	}
	if c := spec.VolumeAttributesClassName; c != nil {
		if len(*c) == 0 {
			errs = append(errs, field.Required(sp.path("volumeAttributesClassName"), "an empty string is disallowed"))
		} else {
			cs := sp.child("volumeAttributesClassName")
			errs = validateName(errs, *c, nameIsDNSSubdomain, &cs)
		}
		if spec.CSI == nil {
			errs = append(errs, field.Required(sp.path("csi"), "has to be specified when using volumeAttributesClassName"))
		}
	}
	return errs
}

func validatePVUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	errs := validatePV(pv)
	src := pv.Spec.PersistentVolumeSource
	// A controller expansion secret may be added later.
	if old.Spec.CSI != nil && old.Spec.CSI.ControllerExpandSecretRef == nil && src.CSI != nil && src.CSI.ControllerExpandSecretRef != nil {
		csi := *src.CSI
		csi.ControllerExpandSecretRef = nil
		src.CSI = &csi
	}
	if !semanticEqual(&src, &old.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "persistentvolumesource"),
			"spec.persistentvolumesource is immutable after creation\n"+cmp.Diff(old.Spec.PersistentVolumeSource, src)))
	}
	vm := root("volumeMode")
	errs = validateImmutable(errs, pv.Spec.VolumeMode, old.Spec.VolumeMode, &vm)
	if old.Spec.NodeAffinity != nil && !semanticEqual(pv.Spec.NodeAffinity, old.Spec.NodeAffinity) {
		errs = append(errs, field.Invalid(field.NewPath("nodeAffinity"), pv.Spec.NodeAffinity, fieldImmutableErrorMsg+", except for updating from beta label to GA"))
	}
	if old.Spec.VolumeAttributesClassName != nil && pv.Spec.VolumeAttributesClassName == nil {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update from non-nil value to nil is forbidden"))
	}
	return errs
}

// Replication controllers.

// rcSelector is the selector after defaulting: the template's labels when
// unset.
func rcSelector(rc *corev1.ReplicationController) map[string]string {
	if len(rc.Spec.Selector) == 0 && rc.Spec.Template != nil {
		return rc.Spec.Template.Labels
	}
	return rc.Spec.Selector
}

func validateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	var errs field.ErrorList
	sp := root("spec")
	ms := sp.child("minReadySeconds")
	errs = validateNonnegative(errs, int64(rc.Spec.MinReadySeconds), &ms)
	sel := rcSelector(rc)
	if len(sel) == 0 {
		errs = append(errs, field.Required(sp.path("selector"), ""))
	}
	rs := sp.child("replicas")
	errs = validateNonnegative(errs, int64(deref(rc.Spec.Replicas, 1)), &rs)
	ts := sp.child("template")
	t := rc.Spec.Template
	if t == nil {
		return append(errs, field.Required(ts.path(), ""))
	}
	if len(sel) > 0 {
		for k, v := range sel {
			if got, ok := t.Labels[k]; !ok || got != v {
				errs = append(errs, field.Invalid(ts.path("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
				break
			}
		}
	}
	errs = validatePodTemplateSpec(errs, t, &ts)
	if p := t.Spec.RestartPolicy; p != corev1.RestartPolicyAlways && p != "" {
		errs = append(errs, field.NotSupported(ts.path("spec", "restartPolicy"), p, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(ts.path("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicationController is not Supported"))
	}
	return errs
}

// validateReplicaCounts checks the counts in a replicating controller's
// status, as upstream does for ReplicationControllers and ReplicaSets.
func validateReplicaCounts(errs field.ErrorList, replicas, fullyLabeled, ready, available int32, observedGeneration int64) field.ErrorList {
	ss := root("status")
	for _, f := range [...]struct {
		name string
		v    int64
	}{
		{"replicas", int64(replicas)},
		{"fullyLabeledReplicas", int64(fullyLabeled)},
		{"readyReplicas", int64(ready)},
		{"availableReplicas", int64(available)},
		{"observedGeneration", observedGeneration},
	} {
		fs := ss.child(f.name)
		errs = validateNonnegative(errs, f.v, &fs)
	}
	const msg = "cannot be greater than status.replicas"
	if fullyLabeled > replicas {
		errs = append(errs, field.Invalid(ss.path("fullyLabeledReplicas"), fullyLabeled, msg))
	}
	if ready > replicas {
		errs = append(errs, field.Invalid(ss.path("readyReplicas"), ready, msg))
	}
	if available > replicas {
		errs = append(errs, field.Invalid(ss.path("availableReplicas"), available, msg))
	}
	if available > ready {
		errs = append(errs, field.Invalid(ss.path("availableReplicas"), available, "cannot be greater than readyReplicas"))
	}
	return errs
}

func validateReplicationControllerStatus(rc, _ *corev1.ReplicationController) field.ErrorList {
	st := &rc.Status
	return validateReplicaCounts(nil, st.Replicas, st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas, st.ObservedGeneration)
}
