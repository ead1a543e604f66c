package ttlafterfinished

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func finishedJob(name string, ttl *int32, condition batchv1.JobConditionType, at time.Time) *batchv1.Job {
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       batchv1.JobSpec{TTLSecondsAfterFinished: ttl},
	}
	if condition != "" {
		job.Status.Conditions = []batchv1.JobCondition{{Type: condition, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)}}
	}
	return job
}

// newFake is the controller on a fake clientset whose Job cache holds
// cached, while the server holds server.
func newFake(t *testing.T, now time.Time, cached []*batchv1.Job, server ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(server...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, Config{Clock: testingclock.NewFakeClock(now)})
	for _, j := range cached {
		if err := factory.Batch().V1().Jobs().Informer().GetIndexer().Add(j); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(c.queue.ShutDown)
	return c, client
}

func deletions(client *fake.Clientset) []clienttesting.DeleteActionImpl {
	var out []clienttesting.DeleteActionImpl
	for _, a := range client.Actions() {
		if d, ok := a.(clienttesting.DeleteActionImpl); ok {
			out = append(out, d)
		}
	}
	return out
}

func TestJobIsDeletedOnlyOnceItsTTLRanOut(t *testing.T) {
	for _, tc := range []struct {
		name       string
		job        *batchv1.Job
		now        time.Time
		wantDelete bool
	}{
		{"completed, TTL over", finishedJob("a", new(int32(60)), batchv1.JobComplete, t0), t0.Add(61 * time.Second), true},
		{"failed, TTL over", finishedJob("a", new(int32(60)), batchv1.JobFailed, t0), t0.Add(60 * time.Second), true},
		{"TTL zero", finishedJob("a", new(int32(0)), batchv1.JobComplete, t0), t0, true},
		{"TTL not over", finishedJob("a", new(int32(60)), batchv1.JobComplete, t0), t0.Add(59 * time.Second), false},
		{"not finished", finishedJob("a", new(int32(0)), "", t0), t0.Add(time.Hour), false},
		{"no TTL", finishedJob("a", nil, batchv1.JobComplete, t0), t0.Add(time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, client := newFake(t, tc.now, []*batchv1.Job{tc.job}, tc.job)
			if err := c.processJob(context.Background(), "default/a"); err != nil {
				t.Fatal(err)
			}
			dels := deletions(client)
			if (len(dels) == 1) != tc.wantDelete {
				t.Fatalf("%d deletions, want deleted %v", len(dels), tc.wantDelete)
			}
			if tc.wantDelete {
				opts := dels[0].DeleteOptions
				if opts.PropagationPolicy == nil || *opts.PropagationPolicy != metav1.DeletePropagationBackground ||
					opts.Preconditions == nil || *opts.Preconditions.UID != tc.job.UID {
					t.Errorf("delete options %+v", opts)
				}
			}
		})
	}
}

// TestStaleCacheDoesNotDelete: the cache says the TTL ran out, but the
// server's Job has a longer one by now.
func TestStaleCacheDoesNotDelete(t *testing.T) {
	cached := finishedJob("a", new(int32(0)), batchv1.JobComplete, t0)
	current := finishedJob("a", new(int32(3600)), batchv1.JobComplete, t0)
	c, client := newFake(t, t0.Add(time.Minute), []*batchv1.Job{cached}, current)
	if err := c.processJob(context.Background(), "default/a"); err != nil {
		t.Fatal(err)
	}
	if n := len(deletions(client)); n != 0 {
		t.Errorf("%d deletions of a job whose TTL was extended", n)
	}
}

func TestFinishedJobWithoutTransitionTimeIsAnError(t *testing.T) {
	job := finishedJob("a", new(int32(0)), batchv1.JobComplete, time.Time{})
	c, _ := newFake(t, t0, []*batchv1.Job{job}, job)
	err := c.processJob(context.Background(), "default/a")
	if err == nil || err.Error() != "unable to find the time when the Job default/a finished" {
		t.Errorf("error %v", err)
	}
}

// TestAgainstAPIServer runs the controller as upstream's account
// against the real API server: of two finished Jobs, the one whose TTL
// ran out is deleted.
func TestAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	admin := env.Client
	for name, ttl := range map[string]int32{"expired": 5, "kept": 3600} {
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: batchv1.JobSpec{TTLSecondsAfterFinished: &ttl, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			}}},
		}
		job, err := admin.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		now := metav1.Now()
		job.Status.StartTime, job.Status.CompletionTime = &now, &now
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now},
		}
		if _, err := admin.BatchV1().Jobs("default").UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	informerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager"))
	controllerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t,
		"system:serviceaccount:kube-system:ttl-after-finished-controller", "system:serviceaccounts", "system:serviceaccounts:kube-system"))
	factory := informers.NewSharedInformerFactory(informerClient, 0)
	// Ten seconds on: the 5 s TTL is over.
	c := New(controllerClient, factory, Config{Clock: testingclock.NewFakeClock(time.Now().Add(10 * time.Second))})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	defer func() { cancel(); <-done; factory.Shutdown() }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		jobs, err := admin.BatchV1().Jobs("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs.Items) == 1 {
			if jobs.Items[0].Name != "kept" {
				t.Fatalf("job %s left, want kept", jobs.Items[0].Name)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d jobs left, want the expired one deleted", len(jobs.Items))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestJobIsRequeuedForWhenItsTTLRunsOut: nothing polls; the Job comes
// back to the queue at its expiry.
func TestJobIsRequeuedForWhenItsTTLRunsOut(t *testing.T) {
	job := finishedJob("a", new(int32(60)), batchv1.JobComplete, t0)
	client := fake.NewClientset(job)
	factory := informers.NewSharedInformerFactory(client, 0)
	clock := testingclock.NewFakeClock(t0.Add(50 * time.Second))
	c := New(client, factory, Config{Clock: clock})
	defer c.queue.ShutDown()
	if err := factory.Batch().V1().Jobs().Informer().GetIndexer().Add(job); err != nil {
		t.Fatal(err)
	}
	if err := c.processJob(context.Background(), "default/a"); err != nil {
		t.Fatal(err)
	}
	clock.Step(9 * time.Second)
	time.Sleep(50 * time.Millisecond)
	if n := c.queue.Len(); n != 0 {
		t.Fatalf("queued %d before the expiry", n)
	}
	clock.Step(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for c.queue.Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("not queued at the expiry")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
