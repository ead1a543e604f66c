package defaults

import (
	"math"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Job fills a job's defaults: one pod at a time and one completion when
// neither is given, six retries (unbounded when retries are counted per
// index), non-indexed, not suspended, pods replaced once gone (once failed
// under a pod failure policy), no manual selector, labels from the pod
// template, and the pod template's defaults. The selector itself is the
// strategy's to generate.
//
// The template's restartPolicy gets the pod spec default, Always, which a
// Job does not accept: a job must name OnFailure or Never, and validation
// says so.
func Job(job *batchv1.Job) {
	spec := &job.Spec
	if spec.Completions == nil && spec.Parallelism == nil {
		spec.Completions = new(int32(1))
	}
	if spec.Parallelism == nil {
		spec.Parallelism = new(int32(1))
	}
	if spec.BackoffLimit == nil {
		if spec.BackoffLimitPerIndex != nil {
			spec.BackoffLimit = new(int32(math.MaxInt32))
		} else {
			spec.BackoffLimit = new(int32(6))
		}
	}
	// The same map, not a copy, as upstream: labels the strategy adds to
	// the template (the controller-uid and job-name ones) show on the Job
	// too.
	if labels := spec.Template.Labels; labels != nil && len(job.Labels) == 0 {
		job.Labels = labels
	}
	if spec.CompletionMode == nil {
		spec.CompletionMode = new(batchv1.NonIndexedCompletion)
	}
	if spec.Suspend == nil {
		spec.Suspend = new(false)
	}
	if spec.PodReplacementPolicy == nil {
		if spec.PodFailurePolicy != nil {
			spec.PodReplacementPolicy = new(batchv1.Failed)
		} else {
			spec.PodReplacementPolicy = new(batchv1.TerminatingOrFailed)
		}
	}
	if spec.ManualSelector == nil {
		spec.ManualSelector = new(false)
	}
	jobTemplateParts(spec)
}

// CronJob fills a cron job's defaults: concurrent runs allowed, not
// suspended, three successful and one failed job kept. Its job template
// gets the defaults of its pod template and pod failure policy but not
// the Job's own: those come when the controller creates the Job.
func CronJob(cj *batchv1.CronJob) {
	spec := &cj.Spec
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if spec.Suspend == nil {
		spec.Suspend = new(false)
	}
	if spec.SuccessfulJobsHistoryLimit == nil {
		spec.SuccessfulJobsHistoryLimit = new(int32(3))
	}
	if spec.FailedJobsHistoryLimit == nil {
		spec.FailedJobsHistoryLimit = new(int32(1))
	}
	jobTemplateParts(&spec.JobTemplate.Spec)
}

// jobTemplateParts fills the defaults of the types nested in a job spec,
// which apply in a Job and in a CronJob's job template alike.
func jobTemplateParts(spec *batchv1.JobSpec) {
	if p := spec.PodFailurePolicy; p != nil {
		for i := range p.Rules {
			conds := p.Rules[i].OnPodConditions
			for j := range conds {
				if conds[j].Status == "" {
					conds[j].Status = corev1.ConditionTrue
				}
			}
		}
	}
	PodTemplateSpec(&spec.Template)
}
