package validation

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateWorkloadSelector checks a workload's selector and that it selects
// the pods of its template. kind names the workload in upstream's message
// about empty selectors. ok is false when the selector cannot be used, and
// upstream then leaves the template alone.
func validateWorkloadSelector(errs field.ErrorList, sel *metav1.LabelSelector, t *corev1.PodTemplateSpec, kind string, sp *step) (_ field.ErrorList, ok bool) {
	ss := sp.child("selector")
	if sel == nil {
		errs = append(errs, field.Required(ss.path(), ""))
	} else {
		errs = validateLabelSelector(errs, sel, false, &ss)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(ss.path(), sel, "empty selector is invalid for "+kind))
		}
	}
	matches, ok := selectorMatches(sel, t.Labels)
	if !ok {
		return append(errs, field.Invalid(ss.path(), sel, "invalid label selector")), false
	}
	// A missing selector selects nothing; an empty one, everything.
	if (sel == nil || len(sel.MatchLabels)+len(sel.MatchExpressions) > 0) && !matches {
		errs = append(errs, field.Invalid(sp.path("template", "metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
	}
	return errs, true
}

// validateReplicatedTemplate checks the template of a workload whose pods
// run forever; what names the workload in the message about deadlines.
func validateReplicatedTemplate(errs field.ErrorList, t *corev1.PodTemplateSpec, what string, sp *step) field.ErrorList {
	ts := sp.child("template")
	errs = validatePodTemplateSpec(errs, t, &ts)
	if p := t.Spec.RestartPolicy; p != corev1.RestartPolicyAlways && p != "" {
		errs = append(errs, field.NotSupported(ts.path("spec", "restartPolicy"), p, []string{string(corev1.RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(ts.path("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in "+what+" is not Supported"))
	}
	return errs
}

func validateSelectorImmutable(errs field.ErrorList, sel, old *metav1.LabelSelector) field.ErrorList {
	s := root("spec.selector")
	return validateImmutable(errs, sel, old, &s)
}

// Deployments.

func validateDeployment(d *appsv1.Deployment) field.ErrorList {
	var errs field.ErrorList
	sp := root("spec")
	spec := &d.Spec
	rs := sp.child("replicas")
	errs = validateNonnegative(errs, int64(deref(spec.Replicas, 1)), &rs)
	errs, ok := validateWorkloadSelector(errs, spec.Selector, &spec.Template, "deployment", &sp)
	if ok {
		errs = validateReplicatedTemplate(errs, &spec.Template, "ReplicaSet", &sp)
	}
	ss := sp.child("strategy")
	errs = validateDeploymentStrategy(errs, &spec.Strategy, &ss)
	ms := sp.child("minReadySeconds")
	errs = validateNonnegative(errs, int64(spec.MinReadySeconds), &ms)
	if spec.RevisionHistoryLimit != nil {
		hs := sp.child("revisionHistoryLimit")
		errs = validateNonnegative(errs, int64(*spec.RevisionHistoryLimit), &hs)
	}
	if spec.ProgressDeadlineSeconds != nil {
		ps := sp.child("progressDeadlineSeconds")
		errs = validateNonnegative(errs, int64(*spec.ProgressDeadlineSeconds), &ps)
		if *spec.ProgressDeadlineSeconds <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(ps.path(), spec.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

// internalDeploymentStrategy renders a strategy as upstream does: its
// internal type, which has no JSON names.
type internalDeploymentStrategy struct {
	Type          appsv1.DeploymentStrategyType
	RollingUpdate *internalRollingUpdateDeployment
}

type internalRollingUpdateDeployment struct {
	MaxUnavailable intstr.IntOrString
	MaxSurge       intstr.IntOrString
}

func validateDeploymentStrategy(errs field.ErrorList, st *appsv1.DeploymentStrategy, s *step) field.ErrorList {
	switch st.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if st.RollingUpdate != nil {
			errs = append(errs, field.Forbidden(s.path("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
		}
	case appsv1.RollingUpdateDeploymentStrategyType, "":
		// Defaulting fills an unset type and rolling update: 25% each.
		if ru := st.RollingUpdate; ru != nil {
			maxUnavailable := deref(ru.MaxUnavailable, intstr.FromString("25%"))
			maxSurge := deref(ru.MaxSurge, intstr.FromString("25%"))
			rs := s.child("rollingUpdate")
			mu := rs.child("maxUnavailable")
			ms := rs.child("maxSurge")
			errs = validatePositiveIntOrPercent(errs, maxUnavailable, &mu)
			errs = validatePositiveIntOrPercent(errs, maxSurge, &ms)
			if intOrPercentValue(maxUnavailable) == 0 && intOrPercentValue(maxSurge) == 0 {
				errs = append(errs, field.Invalid(mu.path(), maxUnavailable, "may not be 0 when `maxSurge` is 0"))
			}
			errs = validateNotMoreThan100Percent(errs, maxUnavailable, &mu)
		}
	default:
		bad := internalDeploymentStrategy{Type: st.Type}
		if ru := st.RollingUpdate; ru != nil {
			bad.RollingUpdate = &internalRollingUpdateDeployment{deref(ru.MaxUnavailable, intstr.IntOrString{}), deref(ru.MaxSurge, intstr.IntOrString{})}
		}
		errs = append(errs, field.NotSupported(s.path(), bad, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)}))
	}
	return errs
}

func validateDeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	errs := validateDeployment(d)
	return validateSelectorImmutable(errs, d.Spec.Selector, old.Spec.Selector)
}

func validateDeploymentStatusUpdate(d, old *appsv1.Deployment) field.ErrorList {
	st := &d.Status
	ss := root("status")
	var errs field.ErrorList
	for _, f := range [...]struct {
		name string
		v    int64
	}{
		{"observedGeneration", st.ObservedGeneration},
		{"replicas", int64(st.Replicas)},
		{"updatedReplicas", int64(st.UpdatedReplicas)},
		{"readyReplicas", int64(st.ReadyReplicas)},
		{"availableReplicas", int64(st.AvailableReplicas)},
		{"unavailableReplicas", int64(st.UnavailableReplicas)},
	} {
		fs := ss.child(f.name)
		errs = validateNonnegative(errs, f.v, &fs)
	}
	if st.CollisionCount != nil {
		cs := ss.child("collisionCount")
		errs = validateNonnegative(errs, int64(*st.CollisionCount), &cs)
	}
	const msg = "cannot be greater than status.replicas"
	if st.UpdatedReplicas > st.Replicas {
		errs = append(errs, field.Invalid(ss.path("updatedReplicas"), st.UpdatedReplicas, msg))
	}
	if st.ReadyReplicas > st.Replicas {
		errs = append(errs, field.Invalid(ss.path("readyReplicas"), st.ReadyReplicas, msg))
	}
	if st.AvailableReplicas > st.Replicas {
		errs = append(errs, field.Invalid(ss.path("availableReplicas"), st.AvailableReplicas, msg))
	}
	if st.AvailableReplicas > st.ReadyReplicas {
		errs = append(errs, field.Invalid(ss.path("availableReplicas"), st.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return validateCollisionCount(errs, st.CollisionCount, old.Status.CollisionCount)
}

func validateCollisionCount(errs field.ErrorList, count, old *int32) field.ErrorList {
	decremented := count == nil && old != nil || count != nil && old != nil && *count < *old
	if decremented {
		errs = append(errs, field.Invalid(field.NewPath("status", "collisionCount"), deref(count, 0), "cannot be decremented"))
	}
	return errs
}

// ReplicaSets.

func validateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	var errs field.ErrorList
	sp := root("spec")
	spec := &rs.Spec
	r := sp.child("replicas")
	errs = validateNonnegative(errs, int64(deref(spec.Replicas, 1)), &r)
	ms := sp.child("minReadySeconds")
	errs = validateNonnegative(errs, int64(spec.MinReadySeconds), &ms)
	// Upstream's message names deployments here too.
	errs, ok := validateWorkloadSelector(errs, spec.Selector, &spec.Template, "deployment", &sp)
	if !ok {
		return errs
	}
	return validateReplicatedTemplate(errs, &spec.Template, "ReplicaSet", &sp)
}

func validateReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	errs := validateReplicaSet(rs)
	return validateSelectorImmutable(errs, rs.Spec.Selector, old.Spec.Selector)
}

func validateReplicaSetStatusUpdate(rs, _ *appsv1.ReplicaSet) field.ErrorList {
	st := &rs.Status
	return validateReplicaCounts(nil, st.Replicas, st.FullyLabeledReplicas, st.ReadyReplicas, st.AvailableReplicas, st.ObservedGeneration)
}

// StatefulSets.

var pvcRetentionPolicies = []string{string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType), string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType)}

func validateStatefulSet(ss *appsv1.StatefulSet) field.ErrorList {
	var errs field.ErrorList
	n := root("metadata.name")
	// Pods of a StatefulSet are named after it and become DNS labels.
	errs = validateName(errs, ss.Name, nameIsDNSLabel, &n)
	return validateStatefulSetSpec(errs, &ss.Spec)
}

func validateStatefulSetSpec(errs field.ErrorList, spec *appsv1.StatefulSetSpec) field.ErrorList {
	sp := root("spec")
	switch spec.PodManagementPolicy {
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement, "":
	default:
		errs = append(errs, field.Invalid(sp.path("podManagementPolicy"), spec.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	us := sp.child("updateStrategy")
	switch spec.UpdateStrategy.Type {
	case appsv1.OnDeleteStatefulSetStrategyType:
		if spec.UpdateStrategy.RollingUpdate != nil {
			errs = append(errs, field.Invalid(us.path("rollingUpdate"), spec.UpdateStrategy.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType, "":
		if ru := spec.UpdateStrategy.RollingUpdate; ru != nil {
			rs := us.child("rollingUpdate")
			ps := rs.child("partition")
			errs = validateNonnegative(errs, int64(deref(ru.Partition, 0)), &ps)
			if ru.MaxUnavailable != nil {
				mu := rs.child("maxUnavailable")
				errs = validatePositiveIntOrPercent(errs, *ru.MaxUnavailable, &mu)
				if intOrPercentValue(*ru.MaxUnavailable) == 0 {
					errs = append(errs, field.Invalid(mu.path(), *ru.MaxUnavailable, "cannot be 0"))
				}
				errs = validateNotMoreThan100Percent(errs, *ru.MaxUnavailable, &mu)
			}
		}
	default:
		errs = append(errs, field.Invalid(us.path(), spec.UpdateStrategy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		ps := sp.child("persistentVolumeClaimRetentionPolicy")
		for _, f := range [...]struct {
			name string
			v    appsv1.PersistentVolumeClaimRetentionPolicyType
		}{{"whenDeleted", p.WhenDeleted}, {"whenScaled", p.WhenScaled}} {
			// Unset policies are defaulted to Retain.
			if f.v != "" && !contains(pvcRetentionPolicies, string(f.v)) {
				errs = append(errs, field.NotSupported(ps.path(f.name), f.v, pvcRetentionPolicies))
			}
		}
	}
	rs := sp.child("replicas")
	errs = validateNonnegative(errs, int64(deref(spec.Replicas, 1)), &rs)
	ms := sp.child("minReadySeconds")
	errs = validateNonnegative(errs, int64(spec.MinReadySeconds), &ms)
	if spec.Ordinals != nil {
		// Upstream spells this path with the dot inside the name.
		os := sp.child("ordinals.start")
		errs = validateNonnegative(errs, int64(spec.Ordinals.Start), &os)
	}
	ss := sp.child("selector")
	if spec.Selector == nil {
		errs = append(errs, field.Required(ss.path(), ""))
	} else {
		errs = validateLabelSelector(errs, spec.Selector, false, &ss)
		if len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(ss.path(), spec.Selector, "empty selector is invalid for statefulset"))
		}
	}
	t := &spec.Template
	ts := sp.child("template")
	if matches, ok := selectorMatches(spec.Selector, t.Labels); !ok {
		errs = append(errs, field.Invalid(ss.path(), spec.Selector, ""))
	} else {
		if (spec.Selector == nil || len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) > 0) && !matches {
			errs = append(errs, field.Invalid(ts.path("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
		}
		errs = validatePodTemplateSpec(errs, t, &ts)
	}
	if p := t.Spec.RestartPolicy; p != corev1.RestartPolicyAlways && p != "" {
		errs = append(errs, field.NotSupported(ts.path("spec", "restartPolicy"), p, []string{string(corev1.RestartPolicyAlways)}))
	}
	if t.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(ts.path("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in StatefulSet is not Supported"))
	}
	vs := sp.child("volumeClaimTemplates")
	for i := range spec.VolumeClaimTemplates {
		c := &spec.VolumeClaimTemplates[i]
		vi := vs.index(i)
		cs := vi.child("spec")
		errs = validatePVCSpec(errs, &c.Spec, &cs)
	}
	return errs
}

const statefulSetUpdateForbidden = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', " +
	"'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"

func validateStatefulSetUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	// The name is not checked again: names allowed before the DNS label
	// rule must stay deletable, and names cannot change anyway.
	errs := validateStatefulSetSpec(nil, &ss.Spec)
	spec := ss.Spec
	spec.Replicas = old.Spec.Replicas
	spec.Template = old.Spec.Template
	spec.UpdateStrategy = old.Spec.UpdateStrategy
	spec.MinReadySeconds = old.Spec.MinReadySeconds
	spec.Ordinals = old.Spec.Ordinals
	spec.RevisionHistoryLimit = old.Spec.RevisionHistoryLimit
	spec.PersistentVolumeClaimRetentionPolicy = old.Spec.PersistentVolumeClaimRetentionPolicy
	if !semanticEqual(&spec, &old.Spec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), statefulSetUpdateForbidden))
	}
	return errs
}

func validateStatefulSetStatusUpdate(ss, old *appsv1.StatefulSet) field.ErrorList {
	st := &ss.Status
	s := root("status")
	var errs field.ErrorList
	for _, f := range [...]struct {
		name string
		v    int64
	}{
		{"replicas", int64(st.Replicas)},
		{"readyReplicas", int64(st.ReadyReplicas)},
		{"currentReplicas", int64(st.CurrentReplicas)},
		{"updatedReplicas", int64(st.UpdatedReplicas)},
		{"availableReplicas", int64(st.AvailableReplicas)},
		{"observedGeneration", st.ObservedGeneration},
	} {
		fs := s.child(f.name)
		errs = validateNonnegative(errs, f.v, &fs)
	}
	if st.CollisionCount != nil {
		cs := s.child("collisionCount")
		errs = validateNonnegative(errs, int64(*st.CollisionCount), &cs)
	}
	const msg = "cannot be greater than status.replicas"
	for _, f := range [...]struct {
		name string
		v    int32
	}{{"readyReplicas", st.ReadyReplicas}, {"currentReplicas", st.CurrentReplicas}, {"updatedReplicas", st.UpdatedReplicas}, {"availableReplicas", st.AvailableReplicas}} {
		if f.v > st.Replicas {
			errs = append(errs, field.Invalid(s.path(f.name), f.v, msg))
		}
	}
	if st.AvailableReplicas > st.ReadyReplicas {
		errs = append(errs, field.Invalid(s.path("availableReplicas"), st.AvailableReplicas, "cannot be greater than status.readyReplicas"))
	}
	return validateCollisionCount(errs, st.CollisionCount, old.Status.CollisionCount)
}

// DaemonSets.

// internalDaemonSetUpdateStrategy renders a strategy as upstream does.
type internalDaemonSetUpdateStrategy struct {
	Type          appsv1.DaemonSetUpdateStrategyType
	RollingUpdate *internalRollingUpdateDaemonSet
}

type internalRollingUpdateDaemonSet struct {
	MaxUnavailable intstr.IntOrString
	MaxSurge       intstr.IntOrString
}

func validateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	var errs field.ErrorList
	sp := root("spec")
	spec := &ds.Spec
	ss := sp.child("selector")
	errs = validateLabelSelector(errs, spec.Selector, false, &ss)
	// Unlike the other workloads, an unset selector is only reported as
	// selecting nothing.
	if matches, ok := selectorMatches(spec.Selector, spec.Template.Labels); ok && !matches {
		errs = append(errs, field.Invalid(sp.path("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	if spec.Selector != nil && len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(ss.path(), spec.Selector, "empty selector is invalid for daemonset"))
	}
	errs = validateReplicatedTemplate(errs, &spec.Template, "DaemonSet", &sp)
	ms := sp.child("minReadySeconds")
	errs = validateNonnegative(errs, int64(spec.MinReadySeconds), &ms)
	us := sp.child("updateStrategy")
	st := &spec.UpdateStrategy
	switch st.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
	case appsv1.RollingUpdateDaemonSetStrategyType, "":
		// Defaulting fills an unset type and rolling update: one pod at
		// a time, no surge.
		if ru := st.RollingUpdate; ru != nil {
			maxUnavailable := deref(ru.MaxUnavailable, intstr.FromInt32(1))
			maxSurge := deref(ru.MaxSurge, intstr.FromInt32(0))
			rs := us.child("rollingUpdate")
			mu, msu := rs.child("maxUnavailable"), rs.child("maxSurge")
			errs = validatePositiveIntOrPercent(errs, maxUnavailable, &mu)
			errs = validatePositiveIntOrPercent(errs, maxSurge, &msu)
			errs = validateNotMoreThan100Percent(errs, maxUnavailable, &mu)
			errs = validateNotMoreThan100Percent(errs, maxSurge, &msu)
			hasUnavailable, hasSurge := intOrPercentValue(maxUnavailable) != 0, intOrPercentValue(maxSurge) != 0
			switch {
			case hasUnavailable && hasSurge:
				errs = append(errs, field.Invalid(msu.path(), maxSurge, "may not be set when maxUnavailable is non-zero"))
			case !hasUnavailable && !hasSurge:
				errs = append(errs, field.Required(mu.path(), "cannot be 0 when maxSurge is 0"))
			}
		}
	default:
		bad := internalDaemonSetUpdateStrategy{Type: st.Type}
		if ru := st.RollingUpdate; ru != nil {
			bad.RollingUpdate = &internalRollingUpdateDaemonSet{deref(ru.MaxUnavailable, intstr.IntOrString{}), deref(ru.MaxSurge, intstr.IntOrString{})}
		}
		errs = append(errs, field.NotSupported(us.path(), bad, []string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)}))
	}
	if spec.RevisionHistoryLimit != nil {
		hs := sp.child("revisionHistoryLimit")
		errs = validateNonnegative(errs, int64(*spec.RevisionHistoryLimit), &hs)
	}
	return errs
}

func validateDaemonSetUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	errs := validateDaemonSet(ds)
	return validateSelectorImmutable(errs, ds.Spec.Selector, old.Spec.Selector)
}

func validateDaemonSetStatusUpdate(ds, old *appsv1.DaemonSet) field.ErrorList {
	st := &ds.Status
	s := root("status")
	var errs field.ErrorList
	for _, f := range [...]struct {
		name string
		v    int64
	}{
		{"currentNumberScheduled", int64(st.CurrentNumberScheduled)},
		{"numberMisscheduled", int64(st.NumberMisscheduled)},
		{"desiredNumberScheduled", int64(st.DesiredNumberScheduled)},
		{"numberReady", int64(st.NumberReady)},
		{"observedGeneration", st.ObservedGeneration},
		{"updatedNumberScheduled", int64(st.UpdatedNumberScheduled)},
		{"numberAvailable", int64(st.NumberAvailable)},
		{"numberUnavailable", int64(st.NumberUnavailable)},
	} {
		fs := s.child(f.name)
		errs = validateNonnegative(errs, f.v, &fs)
	}
	if st.CollisionCount != nil {
		cs := s.child("collisionCount")
		errs = validateNonnegative(errs, int64(*st.CollisionCount), &cs)
	}
	return validateCollisionCount(errs, st.CollisionCount, old.Status.CollisionCount)
}

// ControllerRevisions.

func validateControllerRevision(cr *appsv1.ControllerRevision) field.ErrorList {
	var errs field.ErrorList
	if cr.Data.Raw == nil && cr.Data.Object == nil {
		errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	rs := root("revision")
	return validateNonnegative(errs, cr.Revision, &rs)
}

func validateControllerRevisionUpdate(cr, old *appsv1.ControllerRevision) field.ErrorList {
	errs := validateControllerRevision(cr)
	ds := root("data")
	return validateImmutable(errs, cr.Data, old.Data, &ds)
}
