package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// TestCronJobFiresEveryMinute: the cronjob-controller runs on a fake
// clock that the test moves a minute at a time, everything else on the
// real one. An every-minute CronJob fires at its first minute, with the
// Job named after that minute; the Job's pod runs to completion and the
// CronJob records it. The next minute fires the next Job, and the first
// one, past successfulJobsHistoryLimit, is deleted with its pod.
func TestCronJobFiresEveryMinute(t *testing.T) {
	clock := testingclock.NewFakeClock(time.Now())
	c := startCluster(t, clusterOptions{nodes: 1, cronJobClock: clock})
	// Retries after conflicts are delayed on the fake clock too.
	c.onPoll = func() { clock.Step(time.Millisecond) }
	const ns, name = "cron", "tick"
	c.createNamespace(ns)

	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.CronJobSpec{
			Schedule:                   "*/1 * * * *",
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			SuccessfulJobsHistoryLimit: ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyOnFailure,
				Containers:    []corev1.Container{{Name: "date", Image: "busybox", Command: []string{"date"}}},
			}}}},
		},
	}
	cj, err := c.client.BatchV1().CronJobs(ns).Create(c.ctx, cj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create cronjob: %v", err)
	}

	// The first activation is the first minute after the CronJob's
	// creation; the controller sees it due once its clock is past it.
	first := cj.CreationTimestamp.Truncate(time.Minute).Add(time.Minute)
	clock.SetTime(first.Add(time.Second))
	firstJob := c.waitCronJobRan(ns, cj, first)

	clock.SetTime(first.Add(time.Minute + time.Second))
	secondJob := c.waitCronJobRan(ns, cj, first.Add(time.Minute))
	c.waitEvent(ns, "CronJob", name, "SuccessfulCreate", "Created job "+firstJob.Name)
	c.waitEvent(ns, "CronJob", name, "SuccessfulCreate", "Created job "+secondJob.Name)
	c.waitEvent(ns, "CronJob", name, "SuccessfulDelete", "Deleted job "+firstJob.Name)
	c.eventually("the first job deleted past the history limit, with its pod", func(ctx context.Context) error {
		jobs, err := c.jobsOf(ctx, ns, cj)
		if err != nil {
			return err
		}
		if len(jobs) != 1 || jobs[0].UID != secondJob.UID {
			return fmt.Errorf("jobs %v", jobNames(jobs))
		}
		pods, err := c.podsOf(ctx, ns, map[string]string{batchv1.ControllerUidLabel: string(firstJob.UID)})
		if err != nil {
			return err
		}
		if len(pods) != 0 {
			return fmt.Errorf("%d pods of job %s left", len(pods), firstJob.Name)
		}
		return nil
	})
}

// waitCronJobRan waits until the CronJob's activation at scheduled has
// created its Job, the Job completed, and the CronJob recorded both; it
// returns the Job.
func (c *cluster) waitCronJobRan(ns string, cj *batchv1.CronJob, scheduled time.Time) *batchv1.Job {
	c.t.Helper()
	// Upstream names the Job after the scheduled time in minutes.
	jobName := fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
	var job *batchv1.Job
	c.eventually(fmt.Sprintf("job %s of the %s activation complete", jobName, scheduled.Format(time.TimeOnly)), func(ctx context.Context) error {
		var err error
		if job, err = c.client.BatchV1().Jobs(ns).Get(ctx, jobName, metav1.GetOptions{}); err != nil {
			return err
		}
		if complete := jobCondition(job, batchv1.JobComplete); complete == nil || complete.Status != corev1.ConditionTrue {
			return fmt.Errorf("job status %+v", job.Status)
		}
		return nil
	})
	if ref := metav1.GetControllerOf(job); ref == nil || ref.Kind != "CronJob" || ref.UID != cj.UID {
		c.t.Errorf("job %s controlled by %+v, want CronJob %s", jobName, ref, cj.Name)
	}
	if got, want := job.Annotations[batchv1.CronJobScheduledTimestampAnnotation], scheduled.UTC().Format(time.RFC3339); got != want {
		c.t.Errorf("job %s annotation %s = %q, want %q", jobName, batchv1.CronJobScheduledTimestampAnnotation, got, want)
	}
	c.eventually("cronjob "+cj.Name+" status after "+jobName, func(ctx context.Context) error {
		cur, err := c.client.BatchV1().CronJobs(ns).Get(ctx, cj.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st := cur.Status
		if st.LastScheduleTime == nil || !st.LastScheduleTime.Time.Equal(scheduled) || len(st.Active) != 0 ||
			st.LastSuccessfulTime == nil || !st.LastSuccessfulTime.Equal(job.Status.CompletionTime) {
			return fmt.Errorf("status %+v, want lastScheduleTime %s, lastSuccessfulTime %s, none active", st, scheduled, job.Status.CompletionTime)
		}
		return nil
	})
	// No activation ran twice, nor one not due.
	jobs, err := c.jobsOf(c.ctx, ns, cj)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Name > jobName {
			c.t.Errorf("job %s runs an activation after %s", j.Name, scheduled)
		}
	}
	return job
}

// jobsOf lists the Jobs a CronJob controls.
func (c *cluster) jobsOf(ctx context.Context, ns string, cj *batchv1.CronJob) ([]batchv1.Job, error) {
	list, err := c.client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list.Items, func(j batchv1.Job) bool {
		ref := metav1.GetControllerOf(&j)
		return ref == nil || ref.UID != cj.UID
	}), nil
}

func jobNames(jobs []batchv1.Job) []string {
	var names []string
	for _, j := range jobs {
		names = append(names, j.Name)
	}
	return names
}
