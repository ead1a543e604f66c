package job

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

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

// runAgainstAPIServer starts the controller against a real API server,
// acting as upstream's job-controller account, and returns the admin's
// client.
func runAgainstAPIServer(t *testing.T, cfg Config) (context.Context, kubernetes.Interface) {
	t.Helper()
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	informerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager"))
	controllerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t,
		"system:serviceaccount:kube-system:job-controller", "system:serviceaccounts", "system:serviceaccounts:kube-system"))
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: controllerClient.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: EventComponent})
	factory := informers.NewSharedInformerFactory(informerClient, 0)
	c := New(controllerClient, factory, recorder, cfg)
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	t.Cleanup(func() { cancel(); <-done; factory.Shutdown(); broadcaster.Shutdown() })
	return ctx, env.Client
}

func createJob(ctx context.Context, t *testing.T, client kubernetes.Interface, job *batchv1.Job) *batchv1.Job {
	t.Helper()
	created, err := client.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

func jobOf(name string, completions, parallelism, backoffLimit int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: batchv1.JobSpec{
			Completions: &completions, Parallelism: &parallelism, BackoffLimit: &backoffLimit,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "work", Image: "busybox"}},
			}},
		},
	}
}

// podsOf lists the Job's pods on the server.
func podsOf(ctx context.Context, t *testing.T, client kubernetes.Interface, job *batchv1.Job) []corev1.Pod {
	t.Helper()
	pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + job.Name})
	if err != nil {
		t.Fatal(err)
	}
	return pods.Items
}

// finish ends a pod as its kubelet would.
func finish(ctx context.Context, t *testing.T, client kubernetes.Interface, pod corev1.Pod, phase corev1.PodPhase) {
	t.Helper()
	pod.Status.Phase = phase
	if _, err := client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, &pod, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("finish pod %s: %v", pod.Name, err)
	}
}

func getJob(ctx context.Context, t *testing.T, client kubernetes.Interface, name string) *batchv1.Job {
	t.Helper()
	job, err := client.BatchV1().Jobs("default").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return job
}

func conditionTypes(job *batchv1.Job) []batchv1.JobConditionType {
	var types []batchv1.JobConditionType
	for _, c := range job.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			types = append(types, c.Type)
		}
	}
	return types
}

func hasEvent(ctx context.Context, t *testing.T, client kubernetes.Interface, name, reason, message string) bool {
	t.Helper()
	events, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(events.Items, func(e corev1.Event) bool {
		return e.InvolvedObject.Kind == "Job" && e.InvolvedObject.Name == name && e.Reason == reason &&
			(message == "" || e.Message == message) && e.Source.Component == EventComponent
	})
}

// eventually polls cond for up to 30 s of real time.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestJobCompletesWithExactlyCompletionsSuccesses runs a Job with
// completions 3 and parallelism 2 to completion, finishing each pod as a
// kubelet would: never more than two pods run, exactly three are
// created and counted, the finalizers are all gone, and the Job ends
// with SuccessCriteriaMet then Complete.
func TestJobCompletesWithExactlyCompletionsSuccesses(t *testing.T) {
	ctx, admin := runAgainstAPIServer(t, Config{})
	job := createJob(ctx, t, admin, jobOf("pi", 3, 2, 6))

	finished := map[string]bool{}
	eventually(t, func() bool {
		var running []corev1.Pod
		for _, p := range podsOf(ctx, t, admin, job) {
			if p.Status.Phase == corev1.PodPending && p.DeletionTimestamp == nil {
				running = append(running, p)
			}
		}
		if len(running) > 2 {
			t.Fatalf("%d pods running at once, parallelism is 2", len(running))
		}
		for _, p := range running {
			finish(ctx, t, admin, p, corev1.PodSucceeded)
			finished[p.Name] = true
		}
		return slices.Contains(conditionTypes(getJob(ctx, t, admin, "pi")), batchv1.JobComplete)
	}, "job Complete")

	got := getJob(ctx, t, admin, "pi")
	if got.Status.Succeeded != 3 || got.Status.Failed != 0 || got.Status.Active != 0 {
		t.Errorf("status succeeded %d failed %d active %d, want 3 0 0", got.Status.Succeeded, got.Status.Failed, got.Status.Active)
	}
	if want := []batchv1.JobConditionType{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete}; !slices.Equal(conditionTypes(got), want) {
		t.Errorf("conditions %v, want %v", conditionTypes(got), want)
	}
	if c := findCondition(got.Status.Conditions, batchv1.JobComplete); c.Reason != batchv1.JobReasonCompletionsReached || c.Message != msgCompletionsReached {
		t.Errorf("Complete condition %s %q", c.Reason, c.Message)
	}
	if got.Status.CompletionTime == nil || got.Status.StartTime == nil {
		t.Errorf("startTime %v completionTime %v", got.Status.StartTime, got.Status.CompletionTime)
	}
	if u := got.Status.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		t.Errorf("uncounted pods left: %+v", u)
	}
	pods := podsOf(ctx, t, admin, job)
	if len(pods) != 3 || len(finished) != 3 {
		t.Errorf("%d pods exist and %d were run, want 3", len(pods), len(finished))
	}
	for _, p := range pods {
		if hasTrackingFinalizer(&p) {
			t.Errorf("pod %s keeps the tracking finalizer", p.Name)
		}
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != job.UID || ref.BlockOwnerDeletion == nil || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s controller reference %+v", p.Name, ref)
		}
		if p.Labels[batchv1.ControllerUidLabel] != string(job.UID) {
			t.Errorf("pod %s labels %v", p.Name, p.Labels)
		}
	}
	eventually(t, func() bool {
		return hasEvent(ctx, t, admin, "pi", "Completed", "Job completed") && hasEvent(ctx, t, admin, "pi", reasonSuccessfulCreate, "")
	}, "Completed and SuccessfulCreate events")
}

// TestJobFailsPastBackoffLimit fails every pod of a Job with backoffLimit
// 1: a second pod replaces the first after the back-off, and its failure
// fails the Job with BackoffLimitExceeded.
func TestJobFailsPastBackoffLimit(t *testing.T) {
	ctx, admin := runAgainstAPIServer(t, Config{PodFailureBackOff: 100 * time.Millisecond})
	job := createJob(ctx, t, admin, jobOf("flaky", 1, 1, 1))

	failed := map[string]bool{}
	eventually(t, func() bool {
		for _, p := range podsOf(ctx, t, admin, job) {
			if p.Status.Phase == corev1.PodPending && p.DeletionTimestamp == nil {
				finish(ctx, t, admin, p, corev1.PodFailed)
				failed[p.Name] = true
			}
		}
		return slices.Contains(conditionTypes(getJob(ctx, t, admin, "flaky")), batchv1.JobFailed)
	}, "job Failed")

	got := getJob(ctx, t, admin, "flaky")
	if len(failed) != 2 || got.Status.Failed != 2 || got.Status.Succeeded != 0 {
		t.Errorf("%d pods failed, status failed %d succeeded %d; want 2 2 0", len(failed), got.Status.Failed, got.Status.Succeeded)
	}
	if want := []batchv1.JobConditionType{batchv1.JobFailureTarget, batchv1.JobFailed}; !slices.Equal(conditionTypes(got), want) {
		t.Errorf("conditions %v, want %v", conditionTypes(got), want)
	}
	if c := findCondition(got.Status.Conditions, batchv1.JobFailed); c.Reason != batchv1.JobReasonBackoffLimitExceeded || c.Message != msgBackoffLimitExceeded {
		t.Errorf("Failed condition %s %q", c.Reason, c.Message)
	}
	if got.Status.CompletionTime != nil {
		t.Errorf("a failed job has completionTime %v", got.Status.CompletionTime)
	}
	eventually(t, func() bool {
		return hasEvent(ctx, t, admin, "flaky", batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimitExceeded)
	}, "BackoffLimitExceeded event")
}
