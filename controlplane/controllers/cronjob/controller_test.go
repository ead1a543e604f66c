package cronjob

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
)

// t0 is when the test CronJobs are created: 10:00 UTC.
var t0 = time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)

type harness struct {
	t        *testing.T
	ctx      context.Context
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	clock    *testingclock.FakeClock
	recorder *record.FakeRecorder
	c        *Controller
}

func newHarness(t *testing.T, now time.Time, objs ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewClientset(objs...)
	// The fake server gives created Jobs no UID.
	client.PrependReactor("create", "jobs", func(action clienttesting.Action) (bool, runtime.Object, error) {
		job := action.(clienttesting.CreateAction).GetObject().(*batchv1.Job)
		job.UID = types.UID("uid-" + job.Name)
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	clock := testingclock.NewFakeClock(now)
	recorder := record.NewFakeRecorder(100)
	h := &harness{t: t, ctx: context.Background(), client: client, factory: factory, clock: clock, recorder: recorder}
	h.c = New(client, factory, recorder, Config{Clock: clock})
	return h
}

// sync copies the server's objects into the caches and syncs the
// CronJob; it returns when the controller wants to come back.
func (h *harness) sync(name string) *time.Duration {
	h.t.Helper()
	jobs, err := h.client.BatchV1().Jobs("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var objs []any
	for i := range jobs.Items {
		objs = append(objs, &jobs.Items[i])
	}
	if err := h.factory.Batch().V1().Jobs().Informer().GetIndexer().Replace(objs, ""); err != nil {
		h.t.Fatal(err)
	}
	cjs, err := h.client.BatchV1().CronJobs("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	objs = nil
	for i := range cjs.Items {
		objs = append(objs, &cjs.Items[i])
	}
	if err := h.factory.Batch().V1().CronJobs().Informer().GetIndexer().Replace(objs, ""); err != nil {
		h.t.Fatal(err)
	}
	after, err := h.c.sync(h.ctx, "default/"+name)
	if err != nil {
		h.t.Fatalf("sync %s: %v", name, err)
	}
	return after
}

func (h *harness) cronJob(name string) *batchv1.CronJob {
	h.t.Helper()
	cj, err := h.client.BatchV1().CronJobs("default").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return cj
}

func (h *harness) jobNames() []string {
	h.t.Helper()
	jobs, err := h.client.BatchV1().Jobs("default").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, j := range jobs.Items {
		names = append(names, j.Name)
	}
	slices.Sort(names)
	return names
}

func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func newCronJob(name, schedule string) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(t0)},
		Spec: batchv1.CronJobSpec{
			Schedule:                   schedule,
			ConcurrencyPolicy:          batchv1.AllowConcurrent,
			Suspend:                    new(false),
			SuccessfulJobsHistoryLimit: new(int32(3)),
			FailedJobsHistoryLimit:     new(int32(1)),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}, Annotations: map[string]string{"note": "x"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers:    []corev1.Container{{Name: "hello", Image: "busybox"}},
				}}},
			},
		},
	}
}

// childJob is a Job the CronJob created for the activation at scheduled.
func childJob(cj *batchv1.CronJob, scheduled time.Time, finished batchv1.JobConditionType) *batchv1.Job {
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: jobName(cj, scheduled), Namespace: "default", UID: types.UID("uid-" + jobName(cj, scheduled)),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, controllerKind)},
		},
		Status: batchv1.JobStatus{StartTime: &metav1.Time{Time: scheduled}},
	}
	if finished != "" {
		job.Status.Conditions = []batchv1.JobCondition{{Type: finished, Status: corev1.ConditionTrue}}
		if finished == batchv1.JobComplete {
			job.Status.CompletionTime = &metav1.Time{Time: scheduled.Add(time.Minute)}
		}
	}
	return job
}

func activeRef(job *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: job.Namespace, Name: job.Name, UID: job.UID}
}

func TestCreatesTheJobOfEachActivationOnce(t *testing.T) {
	cj := newCronJob("hello", "*/5 * * * *")
	h := newHarness(t, t0.Add(2*time.Minute), cj)

	after := h.sync("hello")
	if len(h.jobNames()) != 0 {
		t.Fatalf("jobs %v before the first activation", h.jobNames())
	}
	if want := 3*time.Minute + nextScheduleDelta; after == nil || *after != want {
		t.Errorf("requeue after %v, want %v", after, want)
	}

	h.clock.SetTime(t0.Add(5 * time.Minute))
	h.sync("hello")
	scheduled := t0.Add(5 * time.Minute)
	name := fmt.Sprintf("hello-%d", scheduled.Unix()/60)
	if got := h.jobNames(); !slices.Equal(got, []string{name}) {
		t.Fatalf("jobs %v, want [%s]", got, name)
	}
	job, _ := h.client.BatchV1().Jobs("default").Get(h.ctx, name, metav1.GetOptions{})
	if ref := metav1.GetControllerOf(job); ref == nil || ref.Kind != "CronJob" || ref.UID != cj.UID {
		t.Errorf("controller %+v", ref)
	}
	if job.Labels["app"] != "hello" || job.Annotations["note"] != "x" ||
		job.Annotations[batchv1.CronJobScheduledTimestampAnnotation] != "2025-01-01T10:05:00Z" {
		t.Errorf("labels %v annotations %v", job.Labels, job.Annotations)
	}
	if job.Spec.Template.Spec.Containers[0].Image != "busybox" {
		t.Errorf("job spec %+v", job.Spec)
	}
	got := h.cronJob("hello")
	if len(got.Status.Active) != 1 || got.Status.Active[0].Name != name || !got.Status.LastScheduleTime.Time.Equal(scheduled) {
		t.Errorf("status %+v", got.Status)
	}
	if events := h.events(); !slices.Equal(events, []string{"Normal SuccessfulCreate Created job " + name}) {
		t.Errorf("events %q", events)
	}

	// The same activation, seen again, makes nothing.
	h.clock.Step(30 * time.Second)
	h.sync("hello")
	if n := len(h.jobNames()); n != 1 {
		t.Errorf("%d jobs after a second sync of the same activation", n)
	}
}

func TestConcurrencyPolicy(t *testing.T) {
	for _, tc := range []struct {
		policy      batchv1.ConcurrencyPolicy
		wantJobs    int
		wantDeleted bool
		wantEvent   string
	}{
		{batchv1.AllowConcurrent, 2, false, "Normal SuccessfulCreate"},
		{batchv1.ForbidConcurrent, 1, false, "Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid"},
		{batchv1.ReplaceConcurrent, 1, true, "Normal SuccessfulDelete"},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			cj := newCronJob("hello", "* * * * *")
			cj.Spec.ConcurrencyPolicy = tc.policy
			running := childJob(cj, t0.Add(time.Minute), "")
			cj.Status.Active = []corev1.ObjectReference{activeRef(running)}
			cj.Status.LastScheduleTime = &metav1.Time{Time: t0.Add(time.Minute)}
			h := newHarness(t, t0.Add(2*time.Minute), cj, running)
			h.sync("hello")

			names := h.jobNames()
			if len(names) != tc.wantJobs {
				t.Errorf("jobs %v, want %d", names, tc.wantJobs)
			}
			if deleted := !slices.Contains(names, running.Name); deleted != tc.wantDeleted {
				t.Errorf("running job deleted %v, want %v", deleted, tc.wantDeleted)
			}
			for _, a := range h.client.Actions() {
				if a.GetVerb() == "delete" {
					opts := a.(clienttesting.DeleteActionImpl).DeleteOptions
					if opts.PropagationPolicy == nil || *opts.PropagationPolicy != metav1.DeletePropagationBackground {
						t.Errorf("delete propagation %v, want Background", opts.PropagationPolicy)
					}
				}
			}
			if events := h.events(); !slices.ContainsFunc(events, func(e string) bool { return strings.HasPrefix(e, tc.wantEvent) }) {
				t.Errorf("events %q, want one starting %q", events, tc.wantEvent)
			}
		})
	}
}

func TestFinishedJobsBeyondTheHistoryLimitsAreDeletedOldestFirst(t *testing.T) {
	cj := newCronJob("hello", "0 0 1 1 *")
	var objs []runtime.Object
	for i := range 5 {
		objs = append(objs, childJob(cj, t0.Add(time.Duration(i)*time.Minute), batchv1.JobComplete))
	}
	for i := range 2 {
		objs = append(objs, childJob(cj, t0.Add(time.Duration(10+i)*time.Minute), batchv1.JobFailed))
	}
	h := newHarness(t, t0.Add(time.Hour), append(objs, cj)...)
	h.sync("hello")

	want := []string{
		jobName(cj, t0.Add(2*time.Minute)), jobName(cj, t0.Add(3*time.Minute)), jobName(cj, t0.Add(4*time.Minute)),
		jobName(cj, t0.Add(11*time.Minute)),
	}
	slices.Sort(want)
	if got := h.jobNames(); !slices.Equal(got, want) {
		t.Errorf("jobs kept %v, want the 3 newest successes and the newest failure %v", got, want)
	}
	deletes := 0
	for _, e := range h.events() {
		if strings.HasPrefix(e, "Normal SuccessfulDelete Deleted job hello-") {
			deletes++
		}
	}
	if deletes != 3 {
		t.Errorf("%d SuccessfulDelete events, want 3", deletes)
	}
	if got := h.cronJob("hello").Status.LastSuccessfulTime; got == nil || !got.Time.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("lastSuccessfulTime %v, want the newest completion", got)
	}
}

func TestCompletedActiveJobLeavesTheActiveList(t *testing.T) {
	cj := newCronJob("hello", "0 0 1 1 *")
	done := childJob(cj, t0, batchv1.JobComplete)
	cj.Status.Active = []corev1.ObjectReference{activeRef(done)}
	h := newHarness(t, t0.Add(time.Hour), cj, done)
	h.sync("hello")

	got := h.cronJob("hello")
	if len(got.Status.Active) != 0 || got.Status.LastSuccessfulTime == nil {
		t.Errorf("status %+v", got.Status)
	}
	want := "Normal SawCompletedJob Saw completed job: " + done.Name + ", condition: Complete"
	if events := h.events(); !slices.Contains(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
}

func TestActivationsThatAreNotRun(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(cj *batchv1.CronJob)
		now    time.Time
		want   bool
	}{
		{"on time", func(*batchv1.CronJob) {}, t0.Add(time.Hour + 2*time.Minute), true},
		{"within the starting deadline", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = new(int64(300)) }, t0.Add(time.Hour + 2*time.Minute), true},
		{"past the starting deadline", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = new(int64(60)) }, t0.Add(time.Hour + 2*time.Minute), false},
		{"suspended", func(cj *batchv1.CronJob) { cj.Spec.Suspend = new(true) }, t0.Add(time.Hour + 2*time.Minute), false},
		{"being deleted", func(cj *batchv1.CronJob) { cj.DeletionTimestamp = &metav1.Time{Time: t0} }, t0.Add(time.Hour + 2*time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := newCronJob("hourly", "0 * * * *")
			tc.change(cj)
			h := newHarness(t, tc.now, cj)
			h.sync("hourly")
			if got := len(h.jobNames()) == 1; got != tc.want {
				t.Errorf("job created %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTimeZoneDecidesWhenAndHowTheActivationIsNamed(t *testing.T) {
	cj := newCronJob("tokyo", "0 6 * * *")
	cj.Spec.TimeZone = new("Asia/Tokyo")
	// 06:00 in Tokyo is 21:00 UTC the day before.
	scheduled := time.Date(2025, 1, 1, 21, 0, 0, 0, time.UTC)
	h := newHarness(t, scheduled.Add(time.Second), cj)
	h.sync("tokyo")
	job, err := h.client.BatchV1().Jobs("default").Get(h.ctx, jobName(cj, scheduled), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("job of the 06:00 Tokyo activation: %v (jobs %v)", err, h.jobNames())
	}
	if got := job.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2025-01-02T06:00:00+09:00" {
		t.Errorf("scheduled timestamp %q", got)
	}
}

func TestMostRecentScheduleTime(t *testing.T) {
	for _, tc := range []struct {
		name        string
		schedule    string
		last        *time.Time
		now         time.Time
		want        *time.Time
		wantManyMis bool
	}{
		{"before the first", "*/5 * * * *", nil, t0.Add(4 * time.Minute), nil, false},
		{"the first", "*/5 * * * *", nil, t0.Add(7 * time.Minute), new(t0.Add(5 * time.Minute)), false},
		{"the latest of several", "*/5 * * * *", nil, t0.Add(23 * time.Minute), new(t0.Add(20 * time.Minute)), false},
		{"none since the last", "*/5 * * * *", new(t0.Add(20 * time.Minute)), t0.Add(23 * time.Minute), nil, false},
		{"after hours down", "* * * * *", nil, t0.Add(3*time.Hour + 30*time.Second), new(t0.Add(3 * time.Hour)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cj := newCronJob("x", tc.schedule)
			if tc.last != nil {
				cj.Status.LastScheduleTime = &metav1.Time{Time: *tc.last}
			}
			sched, err := ParseStandard(tc.schedule)
			if err != nil {
				t.Fatal(err)
			}
			_, got, missed, err := mostRecentScheduleTime(cj, tc.now, sched, true)
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.want == nil) || got != nil && !got.Equal(*tc.want) {
				t.Errorf("most recent %v, want %v", got, tc.want)
			}
			if (missed > tooManyMissed) != tc.wantManyMis {
				t.Errorf("%d missed", missed)
			}
		})
	}
}
