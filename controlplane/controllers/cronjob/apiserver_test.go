package cronjob

import (
	"context"
	"slices"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

// e2e is the controller against a real API server, acting as upstream's
// cronjob-controller account, on a fake clock that runs one minute and
// one second ahead of the server's: CronJobs created now have an
// activation due at once.
type e2e struct {
	t     *testing.T
	ctx   context.Context
	env   *apiservertest.Env
	admin kubernetes.Interface
	clock *testingclock.FakeClock
}

func startE2E(t *testing.T) *e2e {
	t.Helper()
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	informerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager"))
	controllerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t,
		"system:serviceaccount:kube-system:cronjob-controller", "system:serviceaccounts", "system:serviceaccounts:kube-system"))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: controllerClient.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: EventComponent})
	clock := testingclock.NewFakeClock(time.Now().Truncate(time.Minute).Add(time.Minute + time.Second))
	factory := informers.NewSharedInformerFactory(informerClient, 0)
	c := New(controllerClient, factory, recorder, Config{Clock: clock})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	t.Cleanup(func() { cancel(); <-done; factory.Shutdown(); broadcaster.Shutdown() })
	return &e2e{t: t, ctx: ctx, env: env, admin: env.Client, clock: clock}
}

// eventually polls cond, moving the fake clock on by a millisecond each
// time so that the queue's retries after conflicts come due.
func (e *e2e) eventually(cond func() bool, what string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		e.clock.Step(time.Millisecond)
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *e2e) jobsOf(name string) []batchv1.Job {
	e.t.Helper()
	jobs, err := e.admin.BatchV1().Jobs("default").List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []batchv1.Job
	for _, j := range jobs.Items {
		if ref := metav1.GetControllerOf(&j); ref != nil && ref.Name == name {
			out = append(out, j)
		}
	}
	return out
}

// complete finishes a Job as the job controller would.
func (e *e2e) complete(job batchv1.Job) {
	e.t.Helper()
	now := metav1.NewTime(e.clock.Now())
	job.Status.StartTime = &now
	job.Status.CompletionTime = &now
	job.Status.Succeeded = 1
	job.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	if _, err := e.admin.BatchV1().Jobs("default").UpdateStatus(e.ctx, &job, metav1.UpdateOptions{}); err != nil {
		e.t.Fatalf("complete job %s: %v", job.Name, err)
	}
}

func (e *e2e) hasEvent(name, reason string) bool {
	e.t.Helper()
	events, err := e.admin.CoreV1().Events("default").List(e.ctx, metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return slices.ContainsFunc(events.Items, func(ev corev1.Event) bool {
		return ev.InvolvedObject.Kind == "CronJob" && ev.InvolvedObject.Name == name && ev.Reason == reason && ev.Source.Component == EventComponent
	})
}

func (e *e2e) createCronJob(name string, policy batchv1.ConcurrencyPolicy, successfulHistory int32) {
	e.t.Helper()
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.CronJobSpec{
			Schedule:                   "* * * * *",
			ConcurrencyPolicy:          policy,
			SuccessfulJobsHistoryLimit: &successfulHistory,
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "hello", Image: "busybox"}},
			}}}},
		},
	}
	if _, err := e.admin.BatchV1().CronJobs("default").Create(e.ctx, cj, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

// TestCronJobsAgainstAPIServer steps the clock a minute at a time over
// two every-minute CronJobs: a Forbid one waits for its running Job, a
// Replace one replaces it, and the successful history is cut to its
// limit.
func TestCronJobsAgainstAPIServer(t *testing.T) {
	e := startE2E(t)
	e.createCronJob("forbid", batchv1.ForbidConcurrent, 1)
	e.createCronJob("replace", batchv1.ReplaceConcurrent, 1)

	e.eventually(func() bool { return len(e.jobsOf("forbid")) == 1 && len(e.jobsOf("replace")) == 1 }, "the first activation's jobs")
	first := e.jobsOf("replace")[0]
	cj, err := e.admin.BatchV1().CronJobs("default").Get(e.ctx, "forbid", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cj.Status.Active) != 1 || cj.Status.LastScheduleTime == nil {
		t.Errorf("forbid status %+v", cj.Status)
	}

	e.clock.Step(time.Minute)
	e.eventually(func() bool {
		jobs := e.jobsOf("replace")
		return len(jobs) == 1 && jobs[0].Name != first.Name && e.hasEvent("replace", "SuccessfulDelete")
	}, "the replace cronjob's job replaced")
	e.eventually(func() bool { return e.hasEvent("forbid", "JobAlreadyActive") }, "JobAlreadyActive")
	if n := len(e.jobsOf("forbid")); n != 1 {
		t.Fatalf("forbid cronjob has %d jobs while one runs", n)
	}

	// Once the Forbid Job completes, the activation it held back runs
	// (late, as no starting deadline is set), and when that one
	// completes too the history keeps one success.
	e.complete(e.jobsOf("forbid")[0])
	e.eventually(func() bool { return len(e.jobsOf("forbid")) == 2 }, "the held-back forbid activation")
	for _, j := range e.jobsOf("forbid") {
		if finished, _ := finishedCondition(&j); !finished {
			e.complete(j)
		}
	}
	e.eventually(func() bool {
		cj, err := e.admin.BatchV1().CronJobs("default").Get(e.ctx, "forbid", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(e.jobsOf("forbid")) == 1 && e.hasEvent("forbid", "SuccessfulDelete") &&
			len(cj.Status.Active) == 0 && cj.Status.LastSuccessfulTime != nil
	}, "the older success deleted past successfulJobsHistoryLimit 1, none active")
}

// TestKubectlCreateJobFromCronJob: the real kubectl makes a Job from a
// CronJob's template, controlled by the CronJob, and the controller
// leaves it alone.
func TestKubectlCreateJobFromCronJob(t *testing.T) {
	e := startE2E(t)
	e.createCronJob("nightly", batchv1.ForbidConcurrent, 3)
	kubectl := e.env.Kubectl(t)
	if res := kubectl.Run("create", "job", "manual", "--from=cronjob/nightly", "-n", "default"); res.ExitCode != 0 {
		t.Fatalf("%s", res)
	}
	e.eventually(func() bool { return e.hasEvent("nightly", "UnexpectedJob") }, "the controller seeing the manual job")
	job, err := e.admin.BatchV1().Jobs("default").Get(e.ctx, "manual", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(job); ref == nil || ref.Kind != "CronJob" || ref.Name != "nightly" {
		t.Errorf("manual job controller %+v", ref)
	}
	if job.Annotations["cronjob.kubernetes.io/instantiate"] != "manual" {
		t.Errorf("annotations %v", job.Annotations)
	}
}
