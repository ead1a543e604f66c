package validation

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits of Jobs, from upstream.
const (
	maxParallelismForIndexedJob             = 100000
	maxFailedIndexesForIndexedJob           = 100_000
	completionsSoftLimit                    = 100_000
	parallelismLimitForHighCompletions      = 10_000
	maxFailedIndexesLimitForHighCompletions = 10_000
	maxPodFailurePolicyRules                = 20
	maxPodFailurePolicyOnExitCodesValues    = 255
	maxPodFailurePolicyOnPodConditions      = 20
	maxManagedByLength                      = 63
	maxSucceededIndexesLength               = 64 * 1024
	maxSuccessPolicyRules                   = 20
)

var (
	podFailurePolicyActions = []batchv1.PodFailurePolicyAction{
		batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex,
		batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore,
	}
	onExitCodesOperators  = []batchv1.PodFailurePolicyOnExitCodesOperator{batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn}
	conditionStatuses     = []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown}
	podReplacementPolicys = []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}
)

// jobCompletions is spec.completions after defaulting: a job that sets
// neither completions nor parallelism runs one pod to completion.
func jobCompletions(spec *batchv1.JobSpec) *int32 {
	if spec.Completions == nil && spec.Parallelism == nil {
		one := int32(1)
		return &one
	}
	return spec.Completions
}

func isIndexed(spec *batchv1.JobSpec) bool {
	return spec.CompletionMode != nil && *spec.CompletionMode == batchv1.IndexedCompletion
}

func validateJob(job *batchv1.Job) field.ErrorList {
	errs := validateGeneratedSelector(nil, job)
	sp := root("spec")
	errs = validateJobSpecWithSelector(errs, &job.Spec, &sp)
	if c := jobCompletions(&job.Spec); isIndexed(&job.Spec) && c != nil && *c > 0 {
		// Indexed pods' hostnames end in their index, and must stay DNS
		// labels.
		host := fmt.Sprintf("%s-%d", job.Name, *c-1)
		if len(validation.IsDNS1123Label(host)) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), job.Name, fmt.Sprintf("will not able to create pod with invalid DNS label: %s", host)))
		}
	}
	return errs
}

// validateGeneratedSelector checks that a job's generated selector and pod
// labels name the job. A job with neither a selector nor manualSelector
// has its selector generated, as upstream's create strategy does before
// validation; until then there is nothing to check.
func validateGeneratedSelector(errs field.ErrorList, job *batchv1.Job) field.ErrorList {
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector || job.Spec.Selector == nil {
		return errs
	}
	if job.UID == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	meta := &job.Spec.Template.ObjectMeta
	mp := field.NewPath("spec", "template", "metadata")
	expected := [...][2]string{
		{"controller-uid", string(job.UID)},
		{"job-name", job.Name},
		{batchv1.ControllerUidLabel, string(job.UID)},
		{batchv1.JobNameLabel, job.Name},
	}
	for _, l := range expected {
		errs = validateHasLabel(errs, meta, mp, l[0], l[1])
	}
	want := make(map[string]string, len(expected))
	for _, l := range expected {
		want[l[0]] = l[1]
	}
	if matches, ok := selectorMatches(job.Spec.Selector, want); ok && !matches {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), job.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

func validateHasLabel(errs field.ErrorList, meta *metav1.ObjectMeta, p *field.Path, key, value string) field.ErrorList {
	got, ok := meta.Labels[key]
	switch {
	case !ok:
		errs = append(errs, field.Required(p.Child("labels").Key(key), fmt.Sprintf("must be '%s'", value)))
	case got != value:
		errs = append(errs, field.Invalid(p.Child("labels").Key(key), meta.Labels, fmt.Sprintf("must be '%s'", value)))
	}
	return errs
}

// validateJobSpecWithSelector is a Job's own spec: unlike a CronJob's job
// template, it has a selector.
func validateJobSpecWithSelector(errs field.ErrorList, spec *batchv1.JobSpec, s *step) field.ErrorList {
	errs = validateJobSpec(errs, spec, s)
	ss := s.child("selector")
	generated := spec.Selector == nil && (spec.ManualSelector == nil || !*spec.ManualSelector)
	if generated {
		return errs
	}
	if spec.Selector == nil {
		errs = append(errs, field.Required(ss.path(), ""))
	} else {
		errs = validateLabelSelector(errs, spec.Selector, false, &ss)
	}
	if matches, ok := selectorMatches(spec.Selector, spec.Template.Labels); ok && !matches {
		errs = append(errs, field.Invalid(s.path("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

func validateJobSpec(errs field.ErrorList, spec *batchv1.JobSpec, s *step) field.ErrorList {
	completions := jobCompletions(spec)
	for _, f := range [...]struct {
		name string
		v    *int32
	}{
		{"parallelism", spec.Parallelism},
		{"completions", spec.Completions},
	} {
		if f.v != nil {
			fs := s.child(f.name)
			errs = validateNonnegative(errs, int64(*f.v), &fs)
		}
	}
	if spec.ActiveDeadlineSeconds != nil {
		fs := s.child("activeDeadlineSeconds")
		errs = validateNonnegative(errs, *spec.ActiveDeadlineSeconds, &fs)
	}
	for _, f := range [...]struct {
		name string
		v    *int32
	}{
		{"backoffLimit", spec.BackoffLimit},
		{"ttlSecondsAfterFinished", spec.TTLSecondsAfterFinished},
		{"backoffLimitPerIndex", spec.BackoffLimitPerIndex},
	} {
		if f.v != nil {
			fs := s.child(f.name)
			errs = validateNonnegative(errs, int64(*f.v), &fs)
		}
	}
	if spec.MaxFailedIndexes != nil {
		fs := s.child("maxFailedIndexes")
		errs = validateNonnegative(errs, int64(*spec.MaxFailedIndexes), &fs)
		if spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(s.path("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
	}
	if spec.ManagedBy != nil {
		ms := s.path("managedBy")
		errs = append(errs, validation.IsDomainPrefixedPath(ms, *spec.ManagedBy)...)
		if len(*spec.ManagedBy) > maxManagedByLength {
			errs = append(errs, field.TooLong(ms, *spec.ManagedBy, maxManagedByLength))
		}
	}
	if m := spec.CompletionMode; m != nil {
		if *m != batchv1.NonIndexedCompletion && *m != batchv1.IndexedCompletion {
			errs = append(errs, field.NotSupported(s.path("completionMode"), m, []batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}))
		}
		if *m == batchv1.IndexedCompletion {
			if completions == nil {
				errs = append(errs, field.Required(s.path("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
			}
			if spec.Parallelism != nil && *spec.Parallelism > maxParallelismForIndexedJob {
				errs = append(errs, field.Invalid(s.path("parallelism"), *spec.Parallelism, fmt.Sprintf("must be less than or equal to %d when completion mode is %s", maxParallelismForIndexedJob, batchv1.IndexedCompletion)))
			}
			if completions != nil && spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > *completions {
				errs = append(errs, field.Invalid(s.path("maxFailedIndexes"), *spec.MaxFailedIndexes, "must be less than or equal to completions"))
			}
			if spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > maxFailedIndexesForIndexedJob {
				errs = append(errs, field.Invalid(s.path("maxFailedIndexes"), *spec.MaxFailedIndexes, fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesForIndexedJob)))
			}
			if completions != nil && *completions > completionsSoftLimit && spec.BackoffLimitPerIndex != nil {
				if spec.MaxFailedIndexes == nil {
					errs = append(errs, field.Required(s.path("maxFailedIndexes"), fmt.Sprintf("must be specified when completions is above %d", completionsSoftLimit)))
				}
				if spec.Parallelism != nil && *spec.Parallelism > parallelismLimitForHighCompletions {
					errs = append(errs, field.Invalid(s.path("parallelism"), *spec.Parallelism, fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", parallelismLimitForHighCompletions, completionsSoftLimit)))
				}
				if spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > maxFailedIndexesLimitForHighCompletions {
					errs = append(errs, field.Invalid(s.path("maxFailedIndexes"), *spec.MaxFailedIndexes, fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", maxFailedIndexesLimitForHighCompletions, completionsSoftLimit)))
				}
			}
		}
	}
	if !isIndexed(spec) {
		if spec.BackoffLimitPerIndex != nil {
			errs = append(errs, field.Invalid(s.path("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if spec.MaxFailedIndexes != nil {
			errs = append(errs, field.Invalid(s.path("maxFailedIndexes"), *spec.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	if spec.PodFailurePolicy != nil {
		ps := s.child("podFailurePolicy")
		errs = validatePodFailurePolicy(errs, spec, &ps)
	}
	if spec.SuccessPolicy != nil {
		ss := s.child("successPolicy")
		if !isIndexed(spec) {
			errs = append(errs, field.Invalid(ss.path(), *spec.SuccessPolicy, "requires indexed completion mode"))
		} else {
			errs = validateSuccessPolicy(errs, spec, completions, &ss)
		}
	}
	if p := spec.PodReplacementPolicy; p != nil {
		rs := s.child("podReplacementPolicy")
		if spec.PodFailurePolicy != nil {
			if *p != batchv1.Failed {
				errs = append(errs, field.NotSupported(rs.path(), *p, []batchv1.PodReplacementPolicy{batchv1.Failed}))
			}
		} else if !contains(podReplacementPolicys, *p) {
			errs = append(errs, field.NotSupported(rs.path(), *p, podReplacementPolicys))
		}
	}
	ts := s.child("template")
	errs = validatePodTemplateSpec(errs, &spec.Template, &ts)
	tss := ts.child("spec")
	rp := tss.child("restartPolicy")
	// Defaulting turns an unset policy into Always, which jobs refuse.
	switch p := spec.Template.Spec.RestartPolicy; {
	case p == corev1.RestartPolicyAlways || p == "":
		errs = append(errs, field.Required(rp.path(), fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case p != corev1.RestartPolicyOnFailure && p != corev1.RestartPolicyNever:
		errs = append(errs, field.NotSupported(rp.path(), p, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	case spec.PodFailurePolicy != nil && p != corev1.RestartPolicyNever:
		errs = append(errs, field.Invalid(rp.path(), p, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return errs
}

func validatePodFailurePolicy(errs field.ErrorList, spec *batchv1.JobSpec, s *step) field.ErrorList {
	rules := spec.PodFailurePolicy.Rules
	rs := s.child("rules")
	if len(rules) > maxPodFailurePolicyRules {
		errs = append(errs, field.TooMany(rs.path(), len(rules), maxPodFailurePolicyRules))
	}
	for i := range rules {
		r := &rules[i]
		ri := rs.index(i)
		as := ri.child("action")
		switch {
		case r.Action == "":
			errs = append(errs, field.Required(as.path(), fmt.Sprintf("valid values: %q", podFailurePolicyActions)))
		case r.Action == batchv1.PodFailurePolicyActionFailIndex:
			if spec.BackoffLimitPerIndex == nil {
				errs = append(errs, field.Invalid(as.path(), r.Action, "requires the backoffLimitPerIndex to be set"))
			}
		case !contains(podFailurePolicyActions, r.Action):
			errs = append(errs, field.NotSupported(as.path(), r.Action, podFailurePolicyActions))
		}
		if oe := r.OnExitCodes; oe != nil {
			es := ri.child("onExitCodes")
			errs = validateOnExitCodes(errs, oe, &spec.Template.Spec, &es)
		}
		if len(r.OnPodConditions) > 0 {
			cs := ri.child("onPodConditions")
			if len(r.OnPodConditions) > maxPodFailurePolicyOnPodConditions {
				errs = append(errs, field.TooMany(cs.path(), len(r.OnPodConditions), maxPodFailurePolicyOnPodConditions))
			}
			for j, c := range r.OnPodConditions {
				cj := cs.index(j)
				ct := cj.child("type")
				errs = validateQualifiedName(errs, string(c.Type), &ct)
				switch {
				case c.Status == "":
					errs = append(errs, field.Required(cj.path("status"), fmt.Sprintf("valid values: %q", conditionStatuses)))
				case !contains(conditionStatuses, c.Status):
					errs = append(errs, field.NotSupported(cj.path("status"), c.Status, conditionStatuses))
				}
			}
		}
		if r.OnExitCodes != nil && len(r.OnPodConditions) > 0 {
			errs = append(errs, field.Invalid(ri.path(), field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		}
		if r.OnExitCodes == nil && len(r.OnPodConditions) == 0 {
			errs = append(errs, field.Invalid(ri.path(), field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		}
	}
	return errs
}

func validateOnExitCodes(errs field.ErrorList, oe *batchv1.PodFailurePolicyOnExitCodesRequirement, pod *corev1.PodSpec, s *step) field.ErrorList {
	switch {
	case oe.Operator == "":
		errs = append(errs, field.Required(s.path("operator"), fmt.Sprintf("valid values: %q", onExitCodesOperators)))
	case !contains(onExitCodesOperators, oe.Operator):
		errs = append(errs, field.NotSupported(s.path("operator"), oe.Operator, onExitCodesOperators))
	}
	if oe.ContainerName != nil {
		found := false
		visitContainers(pod, func(c *corev1.Container, list string, _ int) {
			found = found || list != "ephemeralContainers" && c.Name == *oe.ContainerName
		})
		if !found {
			errs = append(errs, field.Invalid(s.path("containerName"), *oe.ContainerName, "must be one of the container or initContainer names in the pod template"))
		}
	}
	vs := s.child("values")
	if len(oe.Values) == 0 {
		errs = append(errs, field.Invalid(vs.path(), oe.Values, "at least one value is required"))
	} else if len(oe.Values) > maxPodFailurePolicyOnExitCodesValues {
		errs = append(errs, field.TooMany(vs.path(), len(oe.Values), maxPodFailurePolicyOnExitCodesValues))
	}
	ordered := true
	for j, v := range oe.Values {
		if oe.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
			errs = append(errs, field.Invalid(vs.path().Index(j), v, "must not be 0 for the In operator"))
		}
		for k := 0; k < j; k++ {
			if oe.Values[k] == v {
				errs = append(errs, field.Duplicate(vs.path().Index(j), v))
				break
			}
		}
		if j > 0 && oe.Values[j-1] > v {
			ordered = false
		}
	}
	if !ordered {
		errs = append(errs, field.Invalid(vs.path(), oe.Values, "must be ordered"))
	}
	return errs
}

func validateSuccessPolicy(errs field.ErrorList, spec *batchv1.JobSpec, completions *int32, s *step) field.ErrorList {
	rules := spec.SuccessPolicy.Rules
	rs := s.child("rules")
	if len(rules) == 0 {
		errs = append(errs, field.Required(rs.path(), "at least one rules must be specified when the successPolicy is specified"))
	}
	if len(rules) > maxSuccessPolicyRules {
		errs = append(errs, field.TooMany(rs.path(), len(rules), maxSuccessPolicyRules))
	}
	total := deref(completions, 0)
	for i := range rules {
		r := &rules[i]
		ri := rs.index(i)
		if r.SucceededCount == nil && r.SucceededIndexes == nil {
			errs = append(errs, field.Required(ri.path(), "at least one of succeededCount or succeededIndexes must be specified"))
		}
		var indexes int32
		if r.SucceededIndexes != nil {
			is := ri.path("succeededIndexes")
			if len(*r.SucceededIndexes) > maxSucceededIndexesLength {
				errs = append(errs, field.TooLong(is, *r.SucceededIndexes, maxSucceededIndexesLength))
			}
			var err error
			if indexes, err = validateIndexesFormat(*r.SucceededIndexes, total); err != nil {
				errs = append(errs, field.Invalid(is, *r.SucceededIndexes, fmt.Sprintf("error parsing succeededIndexes: %s", err.Error())))
			}
		}
		if r.SucceededCount != nil {
			cs := ri.child("succeededCount")
			errs = validateNonnegative(errs, int64(*r.SucceededCount), &cs)
			if *r.SucceededCount > total {
				errs = append(errs, field.Invalid(cs.path(), *r.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", total)))
			}
			if r.SucceededIndexes != nil && *r.SucceededCount > indexes {
				errs = append(errs, field.Invalid(cs.path(), *r.SucceededCount, fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", indexes)))
			}
		}
	}
	return errs
}

// validateIndexesFormat parses an index list such as "1,3-5" and counts it.
func validateIndexesFormat(indexes string, completions int32) (int32, error) {
	if len(indexes) == 0 {
		return 0, nil
	}
	var last *int32
	var total int32
	for _, interval := range strings.Split(indexes, ",") {
		x, y, err := parseIndexInterval(interval, completions)
		if err != nil {
			return 0, err
		}
		if last != nil && *last >= x {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", *last, x)
		}
		total += y - x + 1
		last = &y
	}
	return total, nil
}

func parseIndexInterval(interval string, completions int32) (int32, int32, error) {
	limits := strings.Split(interval, "-")
	if len(limits) > 2 {
		return 0, 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", interval)
	}
	x, err := strconv.Atoi(limits[0])
	if err != nil {
		return 0, 0, fmt.Errorf("cannot convert string to integer for index: %q", limits[0])
	}
	if x >= int(completions) {
		return 0, 0, fmt.Errorf("too large index: %q", limits[0])
	}
	if len(limits) == 1 {
		return int32(x), int32(x), nil
	}
	y, err := strconv.Atoi(limits[1])
	if err != nil {
		return 0, 0, fmt.Errorf("cannot convert string to integer for index: %q", limits[1])
	}
	if y >= int(completions) {
		return 0, 0, fmt.Errorf("too large index: %q", limits[1])
	}
	if x >= y {
		return 0, 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", x, y)
	}
	return int32(x), int32(y), nil
}

func validateJobUpdate(job, old *batchv1.Job) field.ErrorList {
	sp := root("spec")
	errs := validateJobSpecWithSelector(nil, &job.Spec, &sp)
	spec, oldSpec := &job.Spec, &old.Spec
	cs := sp.child("completions")
	// Indexed jobs may scale, if completions and parallelism move
	// together.
	if isIndexed(spec) {
		if c := spec.Completions; c != nil && !semanticEqual(c, oldSpec.Completions) && (spec.Parallelism == nil || *c != *spec.Parallelism) {
			errs = append(errs, field.Invalid(cs.path(), c, "can only be modified in tandem with spec.parallelism"))
		}
	} else {
		errs = validateImmutable(errs, spec.Completions, oldSpec.Completions, &cs)
	}
	errs = validateSelectorImmutable(errs, spec.Selector, oldSpec.Selector)
	ts := sp.child("template")
	template, oldTemplate := &spec.Template, &oldSpec.Template
	// A suspended job that never ran may still be steered to other nodes.
	if deref(spec.Suspend, false) && old.Status.StartTime == nil {
		t := oldTemplate.DeepCopy()
		switch {
		case template.Spec.Affinity == nil && t.Spec.Affinity != nil:
			t.Spec.Affinity.NodeAffinity = nil
			if *t.Spec.Affinity == (corev1.Affinity{}) {
				t.Spec.Affinity = nil
			}
		case template.Spec.Affinity != nil && t.Spec.Affinity == nil:
			t.Spec.Affinity = &corev1.Affinity{NodeAffinity: template.Spec.Affinity.NodeAffinity}
		case template.Spec.Affinity != nil && t.Spec.Affinity != nil:
			t.Spec.Affinity.NodeAffinity = template.Spec.Affinity.NodeAffinity
		}
		t.Spec.NodeSelector = template.Spec.NodeSelector
		t.Spec.Tolerations = template.Spec.Tolerations
		t.Annotations = template.Annotations
		t.Labels = template.Labels
		t.Spec.SchedulingGates = template.Spec.SchedulingGates
		oldTemplate = t
	}
	errs = validateImmutable(errs, template, oldTemplate, &ts)
	for _, f := range [...]struct {
		name     string
		new, old any
	}{
		{"completionMode", spec.CompletionMode, oldSpec.CompletionMode},
		{"podFailurePolicy", spec.PodFailurePolicy, oldSpec.PodFailurePolicy},
		{"backoffLimitPerIndex", spec.BackoffLimitPerIndex, oldSpec.BackoffLimitPerIndex},
		{"managedBy", spec.ManagedBy, oldSpec.ManagedBy},
		{"successPolicy", spec.SuccessPolicy, oldSpec.SuccessPolicy},
	} {
		fs := sp.child(f.name)
		errs = validateImmutable(errs, f.new, f.old, &fs)
	}
	return errs
}

func validateJobStatusUpdate(job, _ *batchv1.Job) field.ErrorList {
	st := &job.Status
	s := root("status")
	var errs field.ErrorList
	for _, f := range [...]struct {
		name string
		v    *int32
	}{
		{"active", &st.Active}, {"succeeded", &st.Succeeded}, {"failed", &st.Failed},
		{"ready", st.Ready}, {"terminating", st.Terminating},
	} {
		if f.v != nil {
			fs := s.child(f.name)
			errs = validateNonnegative(errs, int64(*f.v), &fs)
		}
	}
	if u := st.UncountedTerminatedPods; u != nil {
		us := s.child("uncountedTerminatedPods")
		var seen []string
		for _, list := range [...]struct {
			name string
			uids []string
		}{{"succeeded", uidStrings(u.Succeeded)}, {"failed", uidStrings(u.Failed)}} {
			for i, uid := range list.uids {
				p := us.path(list.name).Index(i)
				switch {
				case uid == "":
					errs = append(errs, field.Invalid(p, uid, "must not be empty"))
				case contains(seen, uid):
					errs = append(errs, field.Duplicate(p, uid))
				default:
					seen = append(seen, uid)
				}
			}
		}
	}
	if st.Ready != nil && *st.Ready > st.Active {
		errs = append(errs, field.Invalid(s.path("ready"), *st.Ready, "cannot set more ready pods than active"))
	}
	return errs
}

// CronJobs.

var concurrencyPolicies = []batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent}

func validateCronJob(cj *batchv1.CronJob) field.ErrorList {
	errs := validateCronJobSpec(nil, &cj.Spec, nil)
	// Jobs are named after their CronJob plus an 11-character suffix, and
	// job names must fit in 63.
	if len(cj.Name) > validation.DNS1035LabelMaxLength-11 {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, "must be no more than 52 characters"))
	}
	return errs
}

// validateCronJobUpdate does not check the name's length: older CronJobs
// with longer names must stay updatable and deletable.
func validateCronJobUpdate(cj, old *batchv1.CronJob) field.ErrorList {
	return validateCronJobSpec(nil, &cj.Spec, &old.Spec)
}

func validateCronJobSpec(errs field.ErrorList, spec, old *batchv1.CronJobSpec) field.ErrorList {
	sp := root("spec")
	ss := sp.child("schedule")
	if len(spec.Schedule) == 0 {
		errs = append(errs, field.Required(ss.path(), ""))
	} else {
		// Schedules with a zone stay valid once accepted.
		allowTZ := old != nil && strings.Contains(old.Schedule, "TZ")
		if err := parseCronSchedule(spec.Schedule); err != nil {
			errs = append(errs, field.Invalid(ss.path(), spec.Schedule, err.Error()))
		}
		switch hasTZ := strings.Contains(spec.Schedule, "TZ"); {
		case allowTZ && hasTZ && spec.TimeZone != nil:
			errs = append(errs, field.Invalid(ss.path(), spec.Schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
		case !allowTZ && hasTZ:
			errs = append(errs, field.Invalid(ss.path(), spec.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	if spec.StartingDeadlineSeconds != nil {
		ds := sp.child("startingDeadlineSeconds")
		errs = validateNonnegative(errs, *spec.StartingDeadlineSeconds, &ds)
	}
	if old == nil || deref(old.TimeZone, "\x00") != deref(spec.TimeZone, "\x00") {
		errs = validateTimeZone(errs, spec.TimeZone, sp.path("timeZone"))
	}
	if p := spec.ConcurrencyPolicy; p != "" && !contains(concurrencyPolicies, p) {
		errs = append(errs, field.NotSupported(sp.path("concurrencyPolicy"), p, concurrencyPolicies))
	}
	jt := sp.child("jobTemplate")
	js := jt.child("spec")
	errs = validateJobSpec(errs, &spec.JobTemplate.Spec, &js)
	// Each job gets its own selector.
	if spec.JobTemplate.Spec.Selector != nil {
		errs = append(errs, field.Invalid(js.path("selector"), spec.JobTemplate.Spec.Selector, "`selector` will be auto-generated"))
	}
	if m := spec.JobTemplate.Spec.ManualSelector; m != nil && *m {
		errs = append(errs, field.NotSupported(js.path("manualSelector"), m, []string{"nil", "false"}))
	}
	for _, f := range [...]struct {
		name string
		v    *int32
	}{{"successfulJobsHistoryLimit", spec.SuccessfulJobsHistoryLimit}, {"failedJobsHistoryLimit", spec.FailedJobsHistoryLimit}} {
		if f.v != nil {
			fs := sp.child(f.name)
			errs = validateNonnegative(errs, int64(*f.v), &fs)
		}
	}
	return errs
}

// validTimeZoneCharacters follows the IANA naming rules, tolerating the
// digits and + of legacy names.
var validTimeZoneCharacters = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

func validateTimeZone(errs field.ErrorList, tz *string, p *field.Path) field.ErrorList {
	if tz == nil {
		return errs
	}
	if len(*tz) == 0 {
		return append(errs, field.Invalid(p, tz, "timeZone must be nil or non-empty string"))
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTimeZoneCharacters.MatchString(part) {
			return append(errs, field.Invalid(p, tz, fmt.Sprintf("unknown time zone %s", *tz)))
		}
	}
	if strings.EqualFold(*tz, "Local") {
		errs = append(errs, field.Invalid(p, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		errs = append(errs, field.Invalid(p, tz, err.Error()))
	}
	return errs
}

func uidStrings(uids []types.UID) []string {
	out := make([]string, len(uids))
	for i, u := range uids {
		out[i] = string(u)
	}
	return out
}
