package printers

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

func (c Convertors) jobs() *registry.TableConvertor {
	return convertor([]metav1.TableColumnDefinition{
		column("Status", typeString, "Status of the job."),
		column("Completions", typeString, batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
		column("Duration", typeString, "Time required to complete the job."),
		ageColumn,
		containersColumn,
		imagesColumn,
		wideColumn("Selector", typeString, batchv1.JobSpec{}.SwaggerDoc()["selector"]),
	}, infallible(func(job *batchv1.Job) []any {
		names, images := containerCells(job.Spec.Template.Spec.Containers)
		return []any{
			jobStatus(job),
			jobCompletions(job),
			c.jobDuration(job),
			c.age(job.CreationTimestamp),
			names, images,
			metav1.FormatLabelSelector(job.Spec.Selector),
		}
	}))
}

// jobStatus is the STATUS cell; a finished job's condition outranks its
// deletion, which outranks suspension and a pending failure.
func jobStatus(job *batchv1.Job) string {
	switch {
	case jobCondition(job, batchv1.JobComplete):
		return "Complete"
	case jobCondition(job, batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(job, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(job, batchv1.JobFailureTarget):
		return "FailureTarget"
	default:
		return "Running"
	}
}

// jobCondition reports whether the job's first condition of type t is true.
func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, cond := range job.Status.Conditions {
		if cond.Type == t {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// jobCompletions is "succeeded/completions"; a job without completions
// runs until one pod succeeds ("0/1", or "0/1 of 3" with parallelism).
func jobCompletions(job *batchv1.Job) string {
	if job.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	}
	if p := job.Spec.Parallelism; p != nil && *p > 1 {
		return fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, *p)
	}
	return fmt.Sprintf("%d/1", job.Status.Succeeded)
}

// jobDuration is how long the job ran, or has been running; empty before
// it starts.
func (c Convertors) jobDuration(job *batchv1.Job) string {
	switch {
	case job.Status.StartTime == nil:
		return ""
	case job.Status.CompletionTime == nil:
		return duration.HumanDuration(c.now().Sub(job.Status.StartTime.Time))
	default:
		return duration.HumanDuration(job.Status.CompletionTime.Sub(job.Status.StartTime.Time))
	}
}

func (c Convertors) cronJobs() *registry.TableConvertor {
	spec, status := batchv1beta1.CronJobSpec{}.SwaggerDoc(), batchv1beta1.CronJobStatus{}.SwaggerDoc()
	return convertor([]metav1.TableColumnDefinition{
		column("Schedule", typeString, spec["schedule"]),
		column("Timezone", typeString, spec["timeZone"]),
		column("Suspend", typeBoolean, spec["suspend"]),
		column("Active", typeInteger, status["active"]),
		column("Last Schedule", typeString, status["lastScheduleTime"]),
		ageColumn,
		containersColumn,
		imagesColumn,
		wideColumn("Selector", typeString, batchv1.JobSpec{}.SwaggerDoc()["selector"]),
	}, infallible(func(cj *batchv1.CronJob) []any {
		lastSchedule := "<none>"
		if t := cj.Status.LastScheduleTime; t != nil {
			lastSchedule = c.age(*t)
		}
		timeZone := "<none>"
		if cj.Spec.TimeZone != nil {
			timeZone = *cj.Spec.TimeZone
		}
		template := cj.Spec.JobTemplate.Spec
		names, images := containerCells(template.Template.Spec.Containers)
		return []any{
			cj.Spec.Schedule,
			timeZone,
			boolPointer(cj.Spec.Suspend),
			int64(len(cj.Status.Active)),
			lastSchedule,
			c.age(cj.CreationTimestamp),
			names, images,
			metav1.FormatLabelSelector(template.Selector),
		}
	}))
}
