package defaults_test

import (
	"math"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/registry/defaults"
)

func TestJob(t *testing.T) {
	neverTemplate := func() corev1.PodTemplateSpec {
		t := minimalTemplate()
		t.Spec.RestartPolicy = corev1.RestartPolicyNever
		return t
	}
	defaultedNeverTemplate := func() corev1.PodTemplateSpec {
		t := defaultedTemplate()
		t.Spec.RestartPolicy = corev1.RestartPolicyNever
		return t
	}
	runCases(t, defaults.Job, []defaultingCase[batchv1.Job]{
		{
			name: "one pod, one completion, six retries, non-indexed, running, replaced once gone",
			in:   &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi"}, Spec: batchv1.JobSpec{Template: neverTemplate()}},
			want: &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi"}, Spec: batchv1.JobSpec{
				Parallelism:          new(int32(1)),
				Completions:          new(int32(1)),
				BackoffLimit:         new(int32(6)),
				ManualSelector:       new(false),
				Template:             defaultedNeverTemplate(),
				CompletionMode:       new(batchv1.NonIndexedCompletion),
				Suspend:              new(false),
				PodReplacementPolicy: new(batchv1.TerminatingOrFailed),
			}},
		},
		{
			name: "the template's restartPolicy gets Always, for validation to refuse",
			in:   &batchv1.Job{Spec: batchv1.JobSpec{Template: minimalTemplate()}},
			want: &batchv1.Job{Spec: batchv1.JobSpec{
				Parallelism:          new(int32(1)),
				Completions:          new(int32(1)),
				BackoffLimit:         new(int32(6)),
				ManualSelector:       new(false),
				Template:             defaultedTemplate(),
				CompletionMode:       new(batchv1.NonIndexedCompletion),
				Suspend:              new(false),
				PodReplacementPolicy: new(batchv1.TerminatingOrFailed),
			}},
		},
		{
			name: "parallelism alone leaves completions unset; labels come from the template",
			in: &batchv1.Job{Spec: batchv1.JobSpec{
				Parallelism: new(int32(3)),
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "batch"}},
					Spec:       neverTemplate().Spec,
				},
			}},
			want: &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "batch"}},
				Spec: batchv1.JobSpec{
					Parallelism:    new(int32(3)),
					BackoffLimit:   new(int32(6)),
					ManualSelector: new(false),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "batch"}},
						Spec:       defaultedNeverTemplate().Spec,
					},
					CompletionMode:       new(batchv1.NonIndexedCompletion),
					Suspend:              new(false),
					PodReplacementPolicy: new(batchv1.TerminatingOrFailed),
				},
			},
		},
		{
			name: "per-index retries: unbounded backoff; a failure policy: replaced once failed, conditions True",
			in: &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"own": "label"}},
				Spec: batchv1.JobSpec{
					Completions:          new(int32(4)),
					CompletionMode:       new(batchv1.IndexedCompletion),
					BackoffLimitPerIndex: new(int32(1)),
					PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
						Action:          batchv1.PodFailurePolicyActionIgnore,
						OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}, {Type: "Custom", Status: corev1.ConditionFalse}},
					}}},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "batch"}},
						Spec:       neverTemplate().Spec,
					},
				},
			},
			want: &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"own": "label"}},
				Spec: batchv1.JobSpec{
					Parallelism:          new(int32(1)),
					Completions:          new(int32(4)),
					CompletionMode:       new(batchv1.IndexedCompletion),
					BackoffLimit:         new(int32(math.MaxInt32)),
					BackoffLimitPerIndex: new(int32(1)),
					PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
						Action: batchv1.PodFailurePolicyActionIgnore,
						OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
							{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
							{Type: "Custom", Status: corev1.ConditionFalse},
						},
					}}},
					ManualSelector: new(false),
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "batch"}},
						Spec:       defaultedNeverTemplate().Spec,
					},
					Suspend:              new(false),
					PodReplacementPolicy: new(batchv1.Failed),
				},
			},
		},
	})
}

// The Job's labels share the template's map, as upstream's do, so that
// labels the strategy adds to the template later show on the Job too.
func TestJobLabelsFollowTheTemplate(t *testing.T) {
	job := &batchv1.Job{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "batch"}},
	}}}
	defaults.Job(job)
	job.Spec.Template.Labels["batch.kubernetes.io/job-name"] = "pi"
	if job.Labels["batch.kubernetes.io/job-name"] != "pi" {
		t.Errorf("job labels %v do not follow the template's", job.Labels)
	}
}

func TestCronJob(t *testing.T) {
	runCases(t, defaults.CronJob, []defaultingCase[batchv1.CronJob]{{
		name: "allow concurrency, running, keep 3 and 1; the job template gets only its nested defaults",
		in: &batchv1.CronJob{Spec: batchv1.CronJobSpec{
			Schedule: "*/5 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
					Action:          batchv1.PodFailurePolicyActionFailJob,
					OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget}},
				}}},
				Template: minimalTemplate(),
			}},
		}},
		want: &batchv1.CronJob{Spec: batchv1.CronJobSpec{
			Schedule:          "*/5 * * * *",
			ConcurrencyPolicy: batchv1.AllowConcurrent,
			Suspend:           new(false),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{
				PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
					Action:          batchv1.PodFailurePolicyActionFailJob,
					OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}},
				}}},
				Template: defaultedTemplate(),
			}},
			SuccessfulJobsHistoryLimit: new(int32(3)),
			FailedJobsHistoryLimit:     new(int32(1)),
		}},
	}})
}
