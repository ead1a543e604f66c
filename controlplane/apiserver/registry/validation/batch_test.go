package validation

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestJob(t *testing.T) {
	runCases(t, validJob, []errCase[*batchv1.Job]{
		{"pods do not restart for ever", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			[]string{`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"pods have a restart policy", func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" },
			[]string{`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"parallelism", func(j *batchv1.Job) { j.Spec.Parallelism = ptr(int32(-1)) },
			[]string{"spec.parallelism: Invalid value: -1: must be greater than or equal to 0"}},
		{"completions", func(j *batchv1.Job) { j.Spec.Completions = ptr(int32(-1)) },
			[]string{"spec.completions: Invalid value: -1: must be greater than or equal to 0"}},
		{"backoff limit", func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr(int32(-1)) },
			[]string{"spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"}},
		{"completion modes", func(j *batchv1.Job) { j.Spec.CompletionMode = ptr(batchv1.CompletionMode("Sometimes")) },
			[]string{`spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"`}},
		{"indexed jobs count completions", func(j *batchv1.Job) {
			j.Spec.CompletionMode, j.Spec.Parallelism = ptr(batchv1.IndexedCompletion), ptr(int32(2))
		}, []string{"spec.completions: Required value: when completion mode is Indexed"}},
		{"per-index backoff is for indexed jobs", func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr(int32(1)) },
			[]string{"spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode"}},
		{"selectors are generated", func(j *batchv1.Job) {
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: "other"}}
		}, []string{
			`spec.selector: Invalid value: {"matchLabels":{"batch.kubernetes.io/controller-uid":"other"}}: ` + "`selector` not auto-generated",
			`spec.template.metadata.labels: Invalid value: {"batch.kubernetes.io/controller-uid":"8f1c4f7e-0000-4000-8000-000000000001","batch.kubernetes.io/job-name":"pi","controller-uid":"8f1c4f7e-0000-4000-8000-000000000001","job-name":"pi"}: ` + selectorMismatch,
		}},
		{"generated labels name the job", func(j *batchv1.Job) { delete(j.Spec.Template.Labels, "job-name") },
			[]string{"spec.template.metadata.labels[job-name]: Required value: must be 'pi'"}},
		{"manual selectors select the template", func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
		}, []string{`spec.template.metadata.labels: Invalid value: {"batch.kubernetes.io/controller-uid":"8f1c4f7e-0000-4000-8000-000000000001","batch.kubernetes.io/job-name":"pi","controller-uid":"8f1c4f7e-0000-4000-8000-000000000001","job-name":"pi"}: ` + selectorMismatch}},
		{"a job before its selector is generated", func(j *batchv1.Job) { j.Spec.Selector = nil }, nil},
		{"pod failure policies need Never", func(j *batchv1.Job) {
			j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
				Action: batchv1.PodFailurePolicyActionFailJob,
				OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
					Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42},
				},
			}}}
		}, []string{`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`}},
		{"pod failure policy rules", func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: "Retry"}}}
		}, []string{
			`spec.podFailurePolicy.rules[0].action: Unsupported value: "Retry": supported values: "Count", "FailIndex", "FailJob", "Ignore"`,
			"spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
		}},
		{"indexed pod names are DNS labels", func(j *batchv1.Job) {
			j.Name = strings.Repeat("a", 62)
			j.Spec.CompletionMode, j.Spec.Completions = ptr(batchv1.IndexedCompletion), ptr(int32(10))
			j.Spec.Template.Labels["job-name"], j.Spec.Template.Labels[batchv1.JobNameLabel] = j.Name, j.Name
		}, []string{`metadata.name: Invalid value: "` + strings.Repeat("a", 62) + `": will not able to create pod with invalid DNS label: ` + strings.Repeat("a", 62) + "-9"}},
	})
	runUpdateCases(t, validJob, []updateCase[*batchv1.Job]{
		{name: "parallelism may change", mutate: func(j *batchv1.Job) { j.Spec.Parallelism = ptr(int32(4)) }},
		{name: "completions are fixed", mutate: func(j *batchv1.Job) { j.Spec.Completions = ptr(int32(3)) },
			want: []string{"spec.completions: Invalid value: 3: field is immutable"}},
		{name: "indexed jobs scale completions with parallelism", old: func(j *batchv1.Job) {
			j.Spec.CompletionMode, j.Spec.Completions, j.Spec.Parallelism = ptr(batchv1.IndexedCompletion), ptr(int32(2)), ptr(int32(2))
		}, mutate: func(j *batchv1.Job) { j.Spec.Completions, j.Spec.Parallelism = ptr(int32(4)), ptr(int32(4)) }},
		{name: "suspended jobs may move", old: func(j *batchv1.Job) { j.Spec.Suspend = ptr(true) },
			mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"} }},
	})
	old, j := validJob(), validJob()
	j.Spec.Template.Spec.Containers[0].Image = "perl:5.40"
	errs := validateUpdate(t, j, old)
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "spec.template: Invalid value: {") || !strings.HasSuffix(errs[0].Error(), "}: field is immutable") {
		t.Errorf("got %v", errs)
	}
}

func TestCronJob(t *testing.T) {
	runCases(t, validCronJob, []errCase[*batchv1.CronJob]{
		{"schedules are required", func(c *batchv1.CronJob) { c.Spec.Schedule = "" },
			[]string{"spec.schedule: Required value"}},
		{"schedules have five fields", func(c *batchv1.CronJob) { c.Spec.Schedule = "* * *" },
			[]string{`spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]`}},
		{"schedules are in range", func(c *batchv1.CronJob) { c.Spec.Schedule = "61 * * * *" },
			[]string{`spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61`}},
		{"descriptors", func(c *batchv1.CronJob) { c.Spec.Schedule = "@hourly" }, nil},
		{"unknown descriptors", func(c *batchv1.CronJob) { c.Spec.Schedule = "@fortnightly" },
			[]string{`spec.schedule: Invalid value: "@fortnightly": unrecognized descriptor: @fortnightly`}},
		{"zones are set apart", func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=UTC 0 * * * *" },
			[]string{`spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`}},
		{"zones", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr("") },
			[]string{`spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string`}},
		{"zone names", func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr("../etc/passwd") },
			[]string{`spec.timeZone: Invalid value: "../etc/passwd": unknown time zone ../etc/passwd`}},
		{"concurrency policies", func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "Sometimes" },
			[]string{`spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"`}},
		{"starting deadline", func(c *batchv1.CronJob) { c.Spec.StartingDeadlineSeconds = ptr(int64(-1)) },
			[]string{"spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0"}},
		{"job templates are jobs", func(c *batchv1.CronJob) { c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = "" },
			[]string{`spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`}},
		{"job selectors are generated", func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}, []string{`spec.jobTemplate.spec.selector: Invalid value: {"matchLabels":{"a":"b"}}: ` + "`selector` will be auto-generated"}},
		{"names leave room for job suffixes", func(c *batchv1.CronJob) { c.Name = strings.Repeat("c", 53) },
			[]string{`metadata.name: Invalid value: "` + strings.Repeat("c", 53) + `": must be no more than 52 characters`}},
	})
	runUpdateCases(t, validCronJob, []updateCase[*batchv1.CronJob]{
		{name: "long names stay updatable", old: func(c *batchv1.CronJob) { c.Name = strings.Repeat("c", 53) },
			mutate: func(c *batchv1.CronJob) { c.Spec.Schedule = "@daily" }},
		{name: "zones in schedules stay once accepted", old: func(c *batchv1.CronJob) { c.Spec.Schedule = "CRON_TZ=UTC 0 * * * *" },
			mutate: func(c *batchv1.CronJob) { c.Spec.Schedule = "CRON_TZ=UTC 30 * * * *" }},
	})
}

func TestCronSchedules(t *testing.T) {
	for _, tc := range []struct{ spec, err string }{
		{"*/5 * * * *", ""},
		{"0 0 * * MON-FRI", ""},
		{"0 9 1,15 jan,jul ?", ""},
		{"@every 1h30m", ""},
		{"@yearly", ""},
		{"* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"},
		{"0 24 * * *", "end of range (24) above maximum (23): 24"},
		{"0 0 0 * *", "beginning of range (0) below minimum (1): 0"},
		{"0 0 * * 7", "end of range (7) above maximum (6): 7"},
		{"5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"},
		{"*/0 * * * *", "step of range should be a positive number: */0"},
		{"1-2-3 * * * *", "too many hyphens: 1-2-3"},
		{"1/2/3 * * * *", "too many slashes: 1/2/3"},
		{"x * * * *", `failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`},
		{"@every fortnight", `failed to parse duration @every fortnight: time: invalid duration "fortnight"`},
		{"", "empty spec string"},
	} {
		err := parseCronSchedule(tc.spec)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.err {
			t.Errorf("%q: got %q, want %q", tc.spec, got, tc.err)
		}
	}
}
