package validation

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podOptions says where a pod spec sits.
type podOptions struct {
	// isPod is set for a Pod's own spec, unset for a workload's template:
	// a few rules only apply to pods that will run as they are.
	isPod bool
	// podName names the pod, whose ephemeral volumes become claims named
	// after it; empty for templates.
	podName string
}

// defaultGracePeriod is what upstream's defaulting puts in an unset
// terminationGracePeriodSeconds.
const defaultGracePeriod = 30

// validatePodSpec is upstream's ValidatePodSpec. Fields that upstream's
// defaulting always fills before validation (restartPolicy, dnsPolicy,
// protocols, pull policies, probe thresholds...) are accepted when empty:
// with defaulting in place the outcome is the same, and without it a valid
// object is not turned away.
func validatePodSpec(errs field.ErrorList, spec *corev1.PodSpec, s *step, opts podOptions) field.ErrorList {
	gracePeriod := deref(spec.TerminationGracePeriodSeconds, defaultGracePeriod)
	hostUsers := spec.HostUsers == nil || *spec.HostUsers

	var validBuf [32]bool
	valid := validBuf[:]
	if len(spec.Volumes) > len(validBuf) {
		valid = make([]bool, len(spec.Volumes))
	}
	vs := s.child("volumes")
	var vols volumeSet
	errs, vols = validateVolumes(errs, spec.Volumes, opts.podName, &vs, opts, valid[:len(spec.Volumes)])

	rcs := s.child("resourceClaims")
	errs = validatePodResourceClaims(errs, spec.ResourceClaims, &rcs)

	ctx := containerContext{
		vols:          vols,
		claims:        spec.ResourceClaims,
		restartPolicy: spec.RestartPolicy,
		hostUsers:     hostUsers,
		gracePeriod:   gracePeriod,
	}
	cs := s.child("containers")
	errs = validateContainers(errs, spec.Containers, &cs, &ctx)
	ics := s.child("initContainers")
	errs = validateInitContainers(errs, spec.InitContainers, spec.Containers, &ics, &ctx)
	ecs := s.child("ephemeralContainers")
	errs = validateEphemeralContainers(errs, spec, &ecs, &ctx, opts)

	if spec.Resources != nil {
		rs := s.child("resources")
		if spec.Resources.Claims != nil {
			errs = append(errs, field.Forbidden(rs.path("claims"), "claims cannot be set for Resources at pod-level"))
		}
		errs = validateResourceRequirements(errs, spec.Resources, podResourceNames, spec.ResourceClaims, &rs)
	}

	// With the host's network, a port is the host's port.
	if spec.HostNetwork {
		for i := range spec.Containers {
			for j, p := range spec.Containers[i].Ports {
				// An unset host port is defaulted to the container's.
				if p.HostPort != 0 && p.HostPort != p.ContainerPort {
					errs = append(errs, field.Invalid(cs.path().Index(i).Child("ports").Index(j).Child("hostPort"), p.HostPort,
						"must match `containerPort` when `hostNetwork` is true"))
				}
			}
		}
	}

	switch spec.RestartPolicy {
	case corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever, "":
	default:
		errs = append(errs, field.NotSupported(s.path("restartPolicy"), spec.RestartPolicy,
			[]corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	}
	switch spec.DNSPolicy {
	case corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone, "":
	default:
		errs = append(errs, field.NotSupported(s.path("dnsPolicy"), spec.DNSPolicy,
			[]corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}))
	}
	nss := s.child("nodeSelector")
	errs = validateLabels(errs, spec.NodeSelector, &nss)
	scs := s.child("securityContext")
	errs = validatePodSecurityContext(errs, spec, &scs)
	if spec.Affinity != nil {
		as := s.child("affinity")
		errs = validateAffinity(errs, spec.Affinity, &as)
	}
	dcs := s.child("dnsConfig")
	errs = validatePodDNSConfig(errs, spec.DNSConfig, spec.DNSPolicy, &dcs)
	rgs := s.child("readinessGates")
	for i, g := range spec.ReadinessGates {
		is := rgs.index(i)
		ct := is.child("conditionType")
		errs = validateQualifiedName(errs, string(g.ConditionType), &ct)
	}
	sgs := s.child("schedulingGates")
	for i, g := range spec.SchedulingGates {
		is := sgs.index(i)
		errs = validateQualifiedName(errs, g.Name, &is)
		for j := 0; j < i; j++ {
			if spec.SchedulingGates[j].Name == g.Name {
				errs = append(errs, field.Duplicate(is.path(), g.Name))
				break
			}
		}
	}
	tscs := s.child("topologySpreadConstraints")
	errs = validateTopologySpreadConstraints(errs, spec.TopologySpreadConstraints, &tscs)
	if !hostUsers {
		const msg = "when `pod.Spec.HostUsers` is false"
		if spec.HostNetwork {
			errs = append(errs, field.Forbidden(s.path("hostNetwork"), msg))
		}
		// Upstream spells these two in Go's case.
		if spec.HostPID {
			errs = append(errs, field.Forbidden(s.path("HostPID"), msg))
		}
		if spec.HostIPC {
			errs = append(errs, field.Forbidden(s.path("HostIPC"), msg))
		}
	}
	if len(spec.ServiceAccountName) > 0 {
		sa := s.child("serviceAccountName")
		errs = validateName(errs, spec.ServiceAccountName, nameIsDNSSubdomain, &sa)
	}
	if len(spec.NodeName) > 0 {
		nn := s.child("nodeName")
		errs = validateName(errs, spec.NodeName, nameIsDNSSubdomain, &nn)
	}
	if spec.ActiveDeadlineSeconds != nil {
		if v := *spec.ActiveDeadlineSeconds; v < 1 || v > math.MaxInt32 {
			errs = append(errs, field.Invalid(s.path("activeDeadlineSeconds"), v, validation.InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	if len(spec.Hostname) > 0 {
		hs := s.child("hostname")
		errs = validateDNSLabel(errs, spec.Hostname, &hs)
	}
	if len(spec.Subdomain) > 0 {
		ss := s.child("subdomain")
		errs = validateDNSLabel(errs, spec.Subdomain, &ss)
	}
	if len(spec.Tolerations) > 0 {
		ts := s.child("tolerations")
		errs = validateTolerations(errs, spec.Tolerations, &ts)
	}
	has := s.child("hostAliases")
	for i, ha := range spec.HostAliases {
		is := has.index(i)
		errs = append(errs, validation.IsValidIP(is.path("ip"), ha.IP)...)
		hns := is.child("hostnames")
		for j, h := range ha.Hostnames {
			hj := hns.index(j)
			errs = validateDNSSubdomain(errs, h, &hj)
		}
	}
	if len(spec.PriorityClassName) > 0 {
		pc := s.child("priorityClassName")
		errs = validateName(errs, spec.PriorityClassName, nameIsDNSSubdomain, &pc)
	}
	if spec.RuntimeClassName != nil {
		rc := s.child("runtimeClassName")
		errs = validateName(errs, *spec.RuntimeClassName, nameIsDNSSubdomain, &rc)
	}
	if spec.PreemptionPolicy != nil {
		pp := s.child("preemptionPolicy")
		errs = validatePreemptionPolicy(errs, spec.PreemptionPolicy, &pp)
	}
	if spec.Overhead != nil {
		os := s.child("overhead")
		errs = validateResourceRequirements(errs, &corev1.ResourceRequirements{Limits: spec.Overhead}, containerResourceNames, nil, &os)
	}
	if spec.OS != nil {
		oss := s.child("os")
		errs = validatePodOS(errs, spec, s, &oss)
	}
	return errs
}

func validatePreemptionPolicy(errs field.ErrorList, p *corev1.PreemptionPolicy, s *step) field.ErrorList {
	switch *p {
	case corev1.PreemptLowerPriority, corev1.PreemptNever:
	case "":
		errs = append(errs, field.Required(s.path(), ""))
	default:
		errs = append(errs, field.NotSupported(s.path(), p, []corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}))
	}
	return errs
}

func validatePodResourceClaims(errs field.ErrorList, claims []corev1.PodResourceClaim, s *step) field.ErrorList {
	for i := range claims {
		c := &claims[i]
		is := s.index(i)
		ns := is.child("name")
		dup := false
		for j := 0; j < i; j++ {
			if claims[j].Name == c.Name {
				dup = true
				break
			}
		}
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(ns.path(), ""))
		case dup:
			errs = append(errs, field.Duplicate(ns.path(), c.Name))
		default:
			errs = validateDNSLabel(errs, c.Name, &ns)
		}
		if c.ResourceClaimName != nil && c.ResourceClaimTemplateName != nil {
			errs = append(errs, field.Invalid(is.path(), c, "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"))
		}
		if c.ResourceClaimName == nil && c.ResourceClaimTemplateName == nil {
			errs = append(errs, field.Invalid(is.path(), c, "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"))
		}
		if c.ResourceClaimName != nil {
			rs := is.child("resourceClaimName")
			errs = validateName(errs, *c.ResourceClaimName, nameIsDNSSubdomain, &rs)
		}
		if c.ResourceClaimTemplateName != nil {
			rs := is.child("resourceClaimTemplateName")
			errs = validateName(errs, *c.ResourceClaimTemplateName, nameIsDNSSubdomain, &rs)
		}
	}
	return errs
}

// validateContainers checks a pod's regular containers. An empty list is
// the error users hit most: spec.containers: Required value.
func validateContainers(errs field.ErrorList, containers []corev1.Container, s *step, ctx *containerContext) field.ErrorList {
	if len(containers) == 0 {
		return append(errs, field.Required(s.path(), ""))
	}
	for i := range containers {
		c := &containers[i]
		cs := s.index(i)
		errs = validateContainerCommon(errs, c, &cs, ctx)
		// Regular names must differ; clashes with init and ephemeral
		// containers are reported on those.
		for j := 0; j < i; j++ {
			if containers[j].Name == c.Name {
				errs = append(errs, field.Duplicate(cs.path("name"), c.Name))
				break
			}
		}
		if c.Lifecycle != nil {
			ls := cs.child("lifecycle")
			errs = validateLifecycle(errs, c.Lifecycle, ctx.gracePeriod, &ls)
		}
		lp := cs.child("livenessProbe")
		errs = validateLivenessProbe(errs, c.LivenessProbe, ctx.gracePeriod, &lp)
		rp := cs.child("readinessProbe")
		errs = validateReadinessProbe(errs, c.ReadinessProbe, ctx.gracePeriod, &rp)
		sp := cs.child("startupProbe")
		errs = validateLivenessProbe(errs, c.StartupProbe, ctx.gracePeriod, &sp)
		if c.RestartPolicy != nil {
			errs = append(errs, field.Forbidden(cs.path("restartPolicy"), "may not be set for non-init containers"))
		}
	}
	return validateHostPortConflicts(errs, containers, s)
}

func validateInitContainers(errs field.ErrorList, inits, regular []corev1.Container, s *step, ctx *containerContext) field.ErrorList {
	for i := range inits {
		c := &inits[i]
		cs := s.index(i)
		errs = validateContainerCommon(errs, c, &cs, ctx)
		restartAlways := false
		if c.RestartPolicy != nil {
			if *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
				errs = append(errs, field.NotSupported(cs.path("restartPolicy"), *c.RestartPolicy,
					[]corev1.ContainerRestartPolicy{corev1.ContainerRestartPolicyAlways}))
			}
			restartAlways = *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
		dup := false
		for j := range regular {
			dup = dup || regular[j].Name == c.Name
		}
		for j := 0; j < i && !dup; j++ {
			dup = inits[j].Name != "" && inits[j].Name == c.Name
		}
		if dup {
			errs = append(errs, field.Duplicate(cs.path("name"), c.Name))
		}
		// Init containers run one by one, so only one at a time holds
		// its host ports.
		errs = validateHostPortConflicts(errs, inits[i:i+1], s)
		if restartAlways {
			if c.Lifecycle != nil {
				ls := cs.child("lifecycle")
				errs = validateLifecycle(errs, c.Lifecycle, ctx.gracePeriod, &ls)
			}
			lp := cs.child("livenessProbe")
			errs = validateLivenessProbe(errs, c.LivenessProbe, ctx.gracePeriod, &lp)
			rp := cs.child("readinessProbe")
			errs = validateReadinessProbe(errs, c.ReadinessProbe, ctx.gracePeriod, &rp)
			sp := cs.child("startupProbe")
			errs = validateLivenessProbe(errs, c.StartupProbe, ctx.gracePeriod, &sp)
		} else {
			const msg = "may not be set for init containers without restartPolicy=Always"
			if c.Lifecycle != nil {
				errs = append(errs, field.Forbidden(cs.path("lifecycle"), msg))
			}
			if c.LivenessProbe != nil {
				errs = append(errs, field.Forbidden(cs.path("livenessProbe"), msg))
			}
			if c.ReadinessProbe != nil {
				errs = append(errs, field.Forbidden(cs.path("readinessProbe"), msg))
			}
			if c.StartupProbe != nil {
				errs = append(errs, field.Forbidden(cs.path("startupProbe"), msg))
			}
		}
	}
	return errs
}

func validateEphemeralContainers(errs field.ErrorList, spec *corev1.PodSpec, s *step, ctx *containerContext, opts podOptions) field.ErrorList {
	for i := range spec.EphemeralContainers {
		ec := &spec.EphemeralContainers[i]
		es := s.index(i)
		c := (*corev1.Container)(&ec.EphemeralContainerCommon)
		errs = validateContainerCommon(errs, c, &es, ctx)
		errs = validateImageWhitespace(errs, c, &es)
		dup := false
		for j := range spec.Containers {
			dup = dup || spec.Containers[j].Name == ec.Name
		}
		for j := range spec.InitContainers {
			dup = dup || spec.InitContainers[j].Name == ec.Name
		}
		for j := 0; j < i; j++ {
			dup = dup || spec.EphemeralContainers[j].Name == ec.Name
		}
		if dup {
			errs = append(errs, field.Duplicate(es.path("name"), ec.Name))
		}
		if ec.TargetContainerName != "" {
			found := false
			for j := range spec.Containers {
				found = found || spec.Containers[j].Name == ec.TargetContainerName
			}
			for j := range spec.InitContainers {
				found = found || spec.InitContainers[j].Name == ec.TargetContainerName
			}
			if !found {
				errs = append(errs, field.NotFound(es.path("targetContainerName"), ec.TargetContainerName))
			}
		}
		// Ephemeral containers must not be relied on to serve the pod.
		const msg = "cannot be set for an Ephemeral Container"
		for _, f := range [...]struct {
			name string
			set  bool
		}{
			{"ports", c.Ports != nil},
			{"resources", c.Resources.Limits != nil || c.Resources.Requests != nil || c.Resources.Claims != nil},
			{"resizePolicy", c.ResizePolicy != nil},
			{"restartPolicy", c.RestartPolicy != nil},
			{"restartPolicyRules", c.RestartPolicyRules != nil},
			{"livenessProbe", c.LivenessProbe != nil},
			{"readinessProbe", c.ReadinessProbe != nil},
			{"startupProbe", c.StartupProbe != nil},
			{"lifecycle", c.Lifecycle != nil},
		} {
			if f.set {
				errs = append(errs, field.Forbidden(es.path(f.name), msg))
			}
		}
		for j, vm := range c.VolumeMounts {
			if vm.SubPath != "" {
				errs = append(errs, field.Forbidden(es.path("volumeMounts").Index(j).Child("subPath"), msg))
			}
			if vm.SubPathExpr != "" {
				errs = append(errs, field.Forbidden(es.path("volumeMounts").Index(j).Child("subPathExpr"), msg))
			}
		}
	}
	return errs
}

// validateImageWhitespace is checked for pods only, not templates.
func validateImageWhitespace(errs field.ErrorList, c *corev1.Container, s *step) field.ErrorList {
	if len(c.Image) != len(strings.TrimSpace(c.Image)) {
		errs = append(errs, field.Invalid(s.path("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	return errs
}

var (
	sysctlNameRegexp            = regexp.MustCompile("^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$")
	validFSGroupChangePolicies  = []corev1.PodFSGroupChangePolicy{corev1.FSGroupChangeAlways, corev1.FSGroupChangeOnRootMismatch}
	validSupplementalGroupsPols = []corev1.SupplementalGroupsPolicy{corev1.SupplementalGroupsPolicyMerge, corev1.SupplementalGroupsPolicyStrict}
	validSELinuxChangePolicies  = []corev1.PodSELinuxChangePolicy{corev1.SELinuxChangePolicyMountOption, corev1.SELinuxChangePolicyRecursive}
)

// validatePodSecurityContext checks spec.securityContext; the host
// namespace switches that upstream keeps there live in the spec in v1.
func validatePodSecurityContext(errs field.ErrorList, spec *corev1.PodSpec, s *step) field.ErrorList {
	if spec.ShareProcessNamespace != nil && *spec.ShareProcessNamespace && spec.HostPID {
		errs = append(errs, field.Invalid(s.path("shareProcessNamespace"), *spec.ShareProcessNamespace, "ShareProcessNamespace and HostPID cannot both be enabled"))
	}
	sc := spec.SecurityContext
	if sc == nil {
		return errs
	}
	if sc.FSGroup != nil {
		fs := s.child("fsGroup")
		errs = invalidEach(errs, &fs, *sc.FSGroup, validation.IsValidGroupID(*sc.FSGroup))
	}
	if sc.RunAsUser != nil {
		rs := s.child("runAsUser")
		errs = invalidEach(errs, &rs, *sc.RunAsUser, validation.IsValidUserID(*sc.RunAsUser))
	}
	if sc.RunAsGroup != nil {
		rs := s.child("runAsGroup")
		errs = invalidEach(errs, &rs, *sc.RunAsGroup, validation.IsValidGroupID(*sc.RunAsGroup))
	}
	sgs := s.child("supplementalGroups")
	for i, gid := range sc.SupplementalGroups {
		if gid < 0 || gid > math.MaxInt32 {
			gs := sgs.index(i)
			errs = invalidEach(errs, &gs, gid, validation.IsValidGroupID(gid))
		}
	}
	if len(sc.Sysctls) != 0 {
		ss := s.child("sysctls")
		errs = validateSysctls(errs, spec, &ss)
	}
	if p := sc.FSGroupChangePolicy; p != nil && !contains(validFSGroupChangePolicies, *p) {
		errs = append(errs, field.NotSupported(s.path("fsGroupChangePolicy"), p, validFSGroupChangePolicies))
	}
	sp := s.child("seccompProfile")
	errs = validateSeccompProfile(errs, sc.SeccompProfile, &sp)
	ap := s.child("appArmorProfile")
	errs = validateAppArmorProfile(errs, sc.AppArmorProfile, &ap)
	if p := sc.SupplementalGroupsPolicy; p != nil && !contains(validSupplementalGroupsPols, *p) {
		errs = append(errs, field.NotSupported(s.path("supplementalGroupsPolicy"), p, validSupplementalGroupsPols))
	}
	if p := sc.SELinuxChangePolicy; p != nil && !contains(validSELinuxChangePolicies, *p) {
		errs = append(errs, field.NotSupported(s.path("seLinuxChangePolicy"), *p, validSELinuxChangePolicies))
	}
	return errs
}

func validateSysctls(errs field.ErrorList, spec *corev1.PodSpec, s *step) field.ErrorList {
	sysctls := spec.SecurityContext.Sysctls
	for i, sc := range sysctls {
		ns := s.index(i)
		np := ns.child("name")
		dup := false
		for j := 0; j < i; j++ {
			dup = dup || sysctls[j].Name == sc.Name
		}
		switch {
		case len(sc.Name) == 0:
			errs = append(errs, field.Required(np.path(), ""))
		case len(sc.Name) > 253 || !sysctlNameRegexp.MatchString(sc.Name):
			errs = append(errs, field.Invalid(np.path(), sc.Name, fmt.Sprintf("must have at most %d characters and match regex %s", 253, sysctlNameRegexp)))
		case dup:
			errs = append(errs, field.Duplicate(np.path(), sc.Name))
		}
		// Namespaced sysctls would change the host's own settings.
		name := strings.ReplaceAll(sc.Name, "/", ".")
		switch {
		case spec.HostNetwork && strings.HasPrefix(name, "net."):
			errs = append(errs, field.Invalid(np.path(), sc.Name, "may not be specified when 'hostNetwork' is true"))
		case spec.HostIPC && (strings.HasPrefix(name, "kernel.shm") || strings.HasPrefix(name, "kernel.msg") ||
			name == "kernel.sem" || strings.HasPrefix(name, "fs.mqueue.")):
			errs = append(errs, field.Invalid(np.path(), sc.Name, "may not be specified when 'hostIPC' is true"))
		}
	}
	return errs
}

// Scheduling: affinity, tolerations, topology spread.

func validateAffinity(errs field.ErrorList, a *corev1.Affinity, s *step) field.ErrorList {
	if na := a.NodeAffinity; na != nil {
		ns := s.child("nodeAffinity")
		if r := na.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			rs := ns.child("requiredDuringSchedulingIgnoredDuringExecution")
			errs = validateNodeSelector(errs, r, false, &rs)
		}
		ps := ns.child("preferredDuringSchedulingIgnoredDuringExecution")
		for i := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			t := &na.PreferredDuringSchedulingIgnoredDuringExecution[i]
			is := ps.index(i)
			if t.Weight <= 0 || t.Weight > 100 {
				errs = append(errs, field.Invalid(is.path("weight"), t.Weight, "must be in the range 1-100"))
			}
			// Preferences may name label values that no node has yet.
			pr := is.child("preference")
			errs = validateNodeSelectorTerm(errs, &t.Preference, true, &pr)
		}
	}
	if pa := a.PodAffinity; pa != nil {
		ps := s.child("podAffinity")
		errs = validatePodAffinityTerms(errs, pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, &ps)
	}
	if pa := a.PodAntiAffinity; pa != nil {
		ps := s.child("podAntiAffinity")
		errs = validatePodAffinityTerms(errs, pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, &ps)
	}
	return errs
}

func validateNodeSelector(errs field.ErrorList, ns *corev1.NodeSelector, allowInvalidValues bool, s *step) field.ErrorList {
	ts := s.child("nodeSelectorTerms")
	if len(ns.NodeSelectorTerms) == 0 {
		return append(errs, field.Required(ts.path(), "must have at least one node selector term"))
	}
	for i := range ns.NodeSelectorTerms {
		is := ts.index(i)
		errs = validateNodeSelectorTerm(errs, &ns.NodeSelectorTerms[i], allowInvalidValues, &is)
	}
	return errs
}

func validateNodeSelectorTerm(errs field.ErrorList, t *corev1.NodeSelectorTerm, allowInvalidValues bool, s *step) field.ErrorList {
	mes := s.child("matchExpressions")
	for j := range t.MatchExpressions {
		r := &t.MatchExpressions[j]
		rs := mes.index(j)
		switch r.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			if len(r.Values) == 0 {
				errs = append(errs, field.Required(rs.path("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
			if len(r.Values) > 0 {
				errs = append(errs, field.Forbidden(rs.path("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
			if len(r.Values) != 1 {
				errs = append(errs, field.Required(rs.path("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
			}
		default:
			errs = append(errs, field.Invalid(rs.path("operator"), r.Operator, "not a valid selector operator"))
		}
		ks := rs.child("key")
		errs = validateQualifiedName(errs, r.Key, &ks)
		if !allowInvalidValues {
			vs := rs.child("values")
			for k, v := range r.Values {
				vk := vs.index(k)
				errs = validateLabelValue(errs, v, &vk)
			}
		}
	}
	mfs := s.child("matchFields")
	for j := range t.MatchFields {
		r := &t.MatchFields[j]
		rs := mfs.index(j)
		switch r.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			if len(r.Values) != 1 {
				errs = append(errs, field.Required(rs.path("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
			}
		default:
			errs = append(errs, field.Invalid(rs.path("operator"), r.Operator, "not a valid selector operator"))
		}
		if r.Key != metav1.ObjectNameField {
			errs = append(errs, field.Invalid(rs.path("key"), r.Key, "not a valid field selector key"))
			continue
		}
		vs := rs.child("values")
		for k, v := range r.Values {
			vk := vs.index(k)
			errs = validateName(errs, v, nameIsDNSSubdomain, &vk)
		}
	}
	return errs
}

func validatePodAffinityTerms(errs field.ErrorList, required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm, s *step) field.ErrorList {
	rs := s.child("requiredDuringSchedulingIgnoredDuringExecution")
	for i := range required {
		is := rs.index(i)
		errs = validatePodAffinityTerm(errs, &required[i], &is)
	}
	ps := s.child("preferredDuringSchedulingIgnoredDuringExecution")
	for i := range preferred {
		w := &preferred[i]
		is := ps.index(i)
		if w.Weight <= 0 || w.Weight > 100 {
			errs = append(errs, field.Invalid(is.path("weight"), w.Weight, "must be in the range 1-100"))
		}
		ts := is.child("podAffinityTerm")
		errs = validatePodAffinityTerm(errs, &w.PodAffinityTerm, &ts)
	}
	return errs
}

func validatePodAffinityTerm(errs field.ErrorList, t *corev1.PodAffinityTerm, s *step) field.ErrorList {
	ls := s.child("labelSelector")
	errs = validateLabelSelector(errs, t.LabelSelector, false, &ls)
	nss := s.child("namespaceSelector")
	errs = validateLabelSelector(errs, t.NamespaceSelector, false, &nss)
	// Upstream names the list "namespace".
	ns := s.child("namespace")
	for _, n := range t.Namespaces {
		errs = validateName(errs, n, nameIsDNSLabel, &ns)
	}
	errs = validateMatchLabelKeys(errs, t, s)
	tk := s.child("topologyKey")
	if len(t.TopologyKey) == 0 {
		errs = append(errs, field.Required(tk.path(), "can not be empty"))
	}
	return validateQualifiedName(errs, t.TopologyKey, &tk)
}

func validateMatchLabelKeys(errs field.ErrorList, t *corev1.PodAffinityTerm, s *step) field.ErrorList {
	for _, keys := range [...]struct {
		name string
		list []string
	}{{"matchLabelKeys", t.MatchLabelKeys}, {"mismatchLabelKeys", t.MismatchLabelKeys}} {
		if len(keys.list) == 0 {
			continue
		}
		ks := s.child(keys.name)
		if t.LabelSelector == nil {
			errs = append(errs, field.Forbidden(ks.path(), "must not be specified when labelSelector is not set"))
			continue
		}
		for i, k := range keys.list {
			is := ks.index(i)
			errs = validateQualifiedName(errs, k, &is)
		}
	}
	if t.LabelSelector != nil {
		for _, e := range t.LabelSelector.MatchExpressions {
			_, inLabels := t.LabelSelector.MatchLabels[e.Key]
			if i := indexOf(t.MatchLabelKeys, e.Key); i >= 0 && inLabels {
				errs = append(errs, field.Invalid(s.path().Index(i), e.Key, "exists in both matchLabelKeys and labelSelector"))
			}
		}
	}
	for i, k := range t.MatchLabelKeys {
		if contains(t.MismatchLabelKeys, k) {
			errs = append(errs, field.Invalid(s.path("matchLabelKeys").Index(i), k, "exists in both matchLabelKeys and mismatchLabelKeys"))
		}
	}
	return errs
}

func indexOf(list []string, v string) int {
	for i, x := range list {
		if x == v {
			return i
		}
	}
	return -1
}

var taintEffects = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}

func validateTaintEffect(errs field.ErrorList, effect corev1.TaintEffect, allowEmpty bool, s *step) field.ErrorList {
	if !allowEmpty && len(effect) == 0 {
		return append(errs, field.Required(s.path(), ""))
	}
	if !contains(taintEffects, effect) {
		errs = append(errs, field.NotSupported(s.path(), effect, taintEffects))
	}
	return errs
}

func validateTolerations(errs field.ErrorList, tolerations []corev1.Toleration, s *step) field.ErrorList {
	for i := range tolerations {
		t := &tolerations[i]
		is := s.index(i)
		if len(t.Key) > 0 {
			ks := is.child("key")
			errs = validateQualifiedName(errs, t.Key, &ks)
		}
		if len(t.Key) == 0 && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(is.path("operator"), t.Operator,
				"operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(is.path("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
		switch t.Operator {
		case corev1.TolerationOpEqual, "":
			if !surelyLabelValue(t.Value) {
				if msgs := validation.IsValidLabelValue(t.Value); len(msgs) != 0 {
					errs = append(errs, field.Invalid(is.path("operator"), t.Value, strings.Join(msgs, ";")))
				}
			}
		case corev1.TolerationOpExists:
			if len(t.Value) > 0 {
				errs = append(errs, field.Invalid(is.path("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
			}
		default:
			errs = append(errs, field.NotSupported(is.path("operator"), t.Operator, []corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
		}
		if len(t.Effect) > 0 {
			es := is.child("effect")
			errs = validateTaintEffect(errs, t.Effect, true, &es)
		}
	}
	return errs
}

var (
	whenUnsatisfiable = []corev1.UnsatisfiableConstraintAction{corev1.DoNotSchedule, corev1.ScheduleAnyway}
	inclusionPolicies = []corev1.NodeInclusionPolicy{corev1.NodeInclusionPolicyHonor, corev1.NodeInclusionPolicyIgnore}
)

func validateTopologySpreadConstraints(errs field.ErrorList, cs []corev1.TopologySpreadConstraint, s *step) field.ErrorList {
	for i := range cs {
		c := &cs[i]
		is := s.index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, field.Invalid(is.path("maxSkew"), c.MaxSkew, isNotPositiveErrorMsg))
		}
		if len(c.TopologyKey) == 0 {
			errs = append(errs, field.Required(is.path("topologyKey"), "can not be empty"))
		}
		if !contains(whenUnsatisfiable, c.WhenUnsatisfiable) {
			errs = append(errs, field.NotSupported(is.path("whenUnsatisfiable"), c.WhenUnsatisfiable, whenUnsatisfiable))
		}
		for j := i + 1; j < len(cs); j++ {
			if cs[j].TopologyKey == c.TopologyKey && cs[j].WhenUnsatisfiable == c.WhenUnsatisfiable {
				errs = append(errs, field.Duplicate(is.path("{topologyKey, whenUnsatisfiable}"), fmt.Sprintf("{%v, %v}", c.TopologyKey, c.WhenUnsatisfiable)))
				break
			}
		}
		if c.MinDomains != nil {
			if *c.MinDomains <= 0 {
				errs = append(errs, field.Invalid(is.path("minDomains"), c.MinDomains, isNotPositiveErrorMsg))
			}
			if c.WhenUnsatisfiable != corev1.DoNotSchedule {
				errs = append(errs, field.Invalid(is.path("minDomains"), c.MinDomains,
					fmt.Sprintf("can only use minDomains if whenUnsatisfiable=%s, not %s", corev1.DoNotSchedule, c.WhenUnsatisfiable)))
			}
		}
		if p := c.NodeAffinityPolicy; p != nil && !contains(inclusionPolicies, *p) {
			errs = append(errs, field.NotSupported(is.path("nodeAffinityPolicy"), p, inclusionPolicies))
		}
		if p := c.NodeTaintsPolicy; p != nil && !contains(inclusionPolicies, *p) {
			errs = append(errs, field.NotSupported(is.path("nodeTaintsPolicy"), p, inclusionPolicies))
		}
		if len(c.MatchLabelKeys) > 0 {
			mk := is.child("matchLabelKeys")
			if c.LabelSelector == nil {
				errs = append(errs, field.Forbidden(mk.path(), "must not be specified when labelSelector is not set"))
			}
			for j, k := range c.MatchLabelKeys {
				kj := mk.index(j)
				errs = validateQualifiedName(errs, k, &kj)
				if c.LabelSelector != nil && selectorHasKey(c.LabelSelector, k) {
					errs = append(errs, field.Invalid(kj.path(), k, "exists in both matchLabelKeys and labelSelector"))
				}
			}
		}
		ls := is.child("labelSelector")
		errs = validateLabelSelector(errs, c.LabelSelector, false, &ls)
	}
	return errs
}

func selectorHasKey(ls *metav1.LabelSelector, k string) bool {
	if _, ok := ls.MatchLabels[k]; ok {
		return true
	}
	for _, e := range ls.MatchExpressions {
		if e.Key == k {
			return true
		}
	}
	return false
}

// DNS limits follow libc's resolver.
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
)

func validatePodDNSConfig(errs field.ErrorList, c *corev1.PodDNSConfig, policy corev1.DNSPolicy, s *step) field.ErrorList {
	if policy == corev1.DNSNone {
		if c == nil {
			return append(errs, field.Required(s.path(), fmt.Sprintf("must provide `dnsConfig` when `dnsPolicy` is %s", corev1.DNSNone)))
		}
		if len(c.Nameservers) == 0 {
			return append(errs, field.Required(s.path("nameservers"), fmt.Sprintf("must provide at least one DNS nameserver when `dnsPolicy` is %s", corev1.DNSNone)))
		}
	}
	if c == nil {
		return errs
	}
	if len(c.Nameservers) > maxDNSNameservers {
		errs = append(errs, field.Invalid(s.path("nameservers"), c.Nameservers, fmt.Sprintf("must not have more than %v nameservers", maxDNSNameservers)))
	}
	for i, ns := range c.Nameservers {
		errs = append(errs, validation.IsValidIP(s.path("nameservers").Index(i), ns)...)
	}
	if len(c.Searches) > maxDNSSearchPaths {
		errs = append(errs, field.Invalid(s.path("searches"), c.Searches, fmt.Sprintf("must not have more than %v search paths", maxDNSSearchPaths)))
	}
	if len(strings.Join(c.Searches, " ")) > maxDNSSearchListChars {
		errs = append(errs, field.Invalid(s.path("searches"), c.Searches, fmt.Sprintf("must not have more than %v characters (including spaces) in the search list", maxDNSSearchListChars)))
	}
	for i, search := range c.Searches {
		if search == "." {
			continue
		}
		search = strings.TrimSuffix(search, ".")
		if msgs := validation.IsDNS1123SubdomainWithUnderscore(search); len(msgs) > 0 {
			ss := s.child("searches")
			si := ss.index(i)
			errs = invalidEach(errs, &si, search, msgs)
		}
	}
	for i, o := range c.Options {
		if len(o.Name) == 0 {
			errs = append(errs, field.Required(s.path("options").Index(i), "must not be empty"))
		}
	}
	return errs
}

func validatePodOS(errs field.ErrorList, spec *corev1.PodSpec, specStep, s *step) field.ErrorList {
	switch spec.OS.Name {
	case "":
		return append(errs, field.Required(s.path("name"), "cannot be empty"))
	case corev1.Linux:
		const msg = "windows options cannot be set for a linux pod"
		if spec.SecurityContext != nil && spec.SecurityContext.WindowsOptions != nil {
			errs = append(errs, field.Forbidden(specStep.path("securityContext", "windowsOptions"), msg))
		}
		visitContainers(spec, func(c *corev1.Container, list string, i int) {
			if c.SecurityContext != nil && c.SecurityContext.WindowsOptions != nil {
				errs = append(errs, field.Forbidden(specStep.path(list).Index(i).Child("securityContext", "windowsOptions"), msg))
			}
		})
	case corev1.Windows:
		errs = validateWindowsPod(errs, spec, specStep)
	default:
		errs = append(errs, field.NotSupported(s.path(), spec.OS.Name, []corev1.OSName{corev1.Linux, corev1.Windows}))
	}
	return errs
}

func validateWindowsPod(errs field.ErrorList, spec *corev1.PodSpec, s *step) field.ErrorList {
	const msg = "cannot be set for a windows pod"
	if sc := spec.SecurityContext; sc != nil {
		for _, f := range [...]struct {
			path []string
			set  bool
		}{
			{[]string{"securityContext", "appArmorProfile"}, sc.AppArmorProfile != nil},
			{[]string{"securityContext", "seLinuxOptions"}, sc.SELinuxOptions != nil},
			{[]string{"securityContext", "seccompProfile"}, sc.SeccompProfile != nil},
			{[]string{"securityContext", "fsGroup"}, sc.FSGroup != nil},
			{[]string{"securityContext", "fsGroupChangePolicy"}, sc.FSGroupChangePolicy != nil},
			{[]string{"securityContext", "sysctls"}, len(sc.Sysctls) > 0},
			{[]string{"securityContext", "runAsUser"}, sc.RunAsUser != nil},
			{[]string{"securityContext", "runAsGroup"}, sc.RunAsGroup != nil},
			{[]string{"securityContext", "supplementalGroups"}, sc.SupplementalGroups != nil},
			{[]string{"securityContext", "supplementalGroupsPolicy"}, sc.SupplementalGroupsPolicy != nil},
			{[]string{"securityContext", "seLinuxChangePolicy"}, sc.SELinuxChangePolicy != nil},
		} {
			if f.set {
				errs = append(errs, field.Forbidden(s.path(f.path...), msg))
			}
		}
	}
	if spec.HostUsers != nil {
		errs = append(errs, field.Forbidden(s.path("hostUsers"), msg))
	}
	if spec.HostPID {
		errs = append(errs, field.Forbidden(s.path("hostPID"), msg))
	}
	if spec.HostIPC {
		errs = append(errs, field.Forbidden(s.path("hostIPC"), msg))
	}
	if spec.ShareProcessNamespace != nil {
		errs = append(errs, field.Forbidden(s.path("shareProcessNamespace"), msg))
	}
	visitContainers(spec, func(c *corev1.Container, list string, i int) {
		sc := c.SecurityContext
		if sc == nil {
			return
		}
		for _, f := range [...]struct {
			name string
			set  bool
		}{
			{"appArmorProfile", sc.AppArmorProfile != nil},
			{"seLinuxOptions", sc.SELinuxOptions != nil},
			{"seccompProfile", sc.SeccompProfile != nil},
			{"capabilities", sc.Capabilities != nil},
			{"readOnlyRootFilesystem", sc.ReadOnlyRootFilesystem != nil},
			{"privileged", sc.Privileged != nil},
			{"allowPrivilegeEscalation", sc.AllowPrivilegeEscalation != nil},
			{"procMount", sc.ProcMount != nil},
			{"runAsUser", sc.RunAsUser != nil},
			{"runAsGroup", sc.RunAsGroup != nil},
		} {
			if f.set {
				errs = append(errs, field.Forbidden(s.path(list).Index(i).Child("securityContext", f.name), msg))
			}
		}
	})
	return errs
}

// visitContainers calls fn for every container of the spec, in upstream's
// order (init, regular, ephemeral), with the list it is in and its index.
func visitContainers(spec *corev1.PodSpec, fn func(c *corev1.Container, list string, i int)) {
	for i := range spec.InitContainers {
		fn(&spec.InitContainers[i], "initContainers", i)
	}
	for i := range spec.Containers {
		fn(&spec.Containers[i], "containers", i)
	}
	for i := range spec.EphemeralContainers {
		fn((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon), "ephemeralContainers", i)
	}
}
