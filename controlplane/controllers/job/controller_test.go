package job

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clienttesting "k8s.io/client-go/testing"
)

func TestSyncCreatesPodsFromTheTemplateUpToParallelism(t *testing.T) {
	job := newJob("pi", new(int32(5)), 2)
	h := newHarness(t, job)
	h.sync("pi")

	pods := h.podList()
	if len(pods) != 2 {
		t.Fatalf("%d pods, want parallelism 2", len(pods))
	}
	for _, p := range pods {
		if !strings.HasPrefix(p.Name, "pi-") || p.GenerateName != "pi-" {
			t.Errorf("pod %q generateName %q", p.Name, p.GenerateName)
		}
		if !slices.Equal(p.Finalizers, []string{batchv1.JobTrackingFinalizer}) {
			t.Errorf("pod %s finalizers %v", p.Name, p.Finalizers)
		}
		if p.Labels[batchv1.JobNameLabel] != "pi" || p.Labels[batchv1.ControllerUidLabel] != string(job.UID) {
			t.Errorf("pod %s labels %v", p.Name, p.Labels)
		}
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.Kind != "Job" || ref.APIVersion != "batch/v1" || ref.UID != job.UID || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s controller %+v", p.Name, ref)
		}
	}
	got := h.job("pi")
	if got.Status.Active != 2 || *got.Status.Ready != 0 || *got.Status.Terminating != 0 || got.Status.StartTime == nil || !got.Status.StartTime.Time.Equal(t0) {
		t.Errorf("status %+v", got.Status)
	}
	events := h.events()
	if len(events) != 2 || !strings.HasPrefix(events[0], "Normal SuccessfulCreate Created pod: pi-") {
		t.Errorf("events %q", events)
	}

	// Until the cache shows the new pods, nothing more is created.
	h.c.expectations.expectCreations("default/pi", 1)
	if err := h.c.syncJob(h.ctx, "default/pi"); err != nil {
		t.Fatal(err)
	}
	if n := len(h.podList()); n != 2 {
		t.Errorf("%d pods after a sync with unmet expectations", n)
	}
}

// TestSucceededPodIsCountedThroughUncountedTerminatedPods pins down
// finalizer-based tracking: the pod's UID is stored as uncounted before
// its finalizer is removed, and moves to status.succeeded only after.
func TestSucceededPodIsCountedThroughUncountedTerminatedPods(t *testing.T) {
	job := newJob("pi", new(int32(2)), 1)
	done := podOf(job, "pi-a", corev1.PodSucceeded)
	h := newHarness(t, job, done)
	h.sync("pi")

	var writes []string
	for _, a := range h.client.Actions() {
		switch {
		case a.GetVerb() == "update" && a.GetSubresource() == "status":
			st := a.(clienttesting.UpdateAction).GetObject().(*batchv1.Job).Status
			writes = append(writes, "status succeeded="+strconv.Itoa(int(st.Succeeded))+" uncounted="+uids(st.UncountedTerminatedPods.Succeeded))
		case a.GetVerb() == "patch" && a.GetResource().Resource == "pods":
			writes = append(writes, "patch "+a.(clienttesting.PatchAction).GetName())
		}
	}
	want := []string{"status succeeded=0 uncounted=uid-pi-a", "patch pi-a", "status succeeded=1 uncounted="}
	if !slices.Equal(writes, want) {
		t.Errorf("writes %q, want %q", writes, want)
	}
	pod, _ := h.client.CoreV1().Pods("default").Get(h.ctx, "pi-a", metav1.GetOptions{})
	if hasTrackingFinalizer(pod) {
		t.Error("finalizer kept")
	}

	// The pod is counted: later syncs do not count it again.
	h.sync("pi")
	h.sync("pi")
	if got := h.job("pi").Status.Succeeded; got != 1 {
		t.Errorf("succeeded %d after more syncs, want 1", got)
	}
}

// TestUncountedPodWhoseFinalizerIsGoneIsCountedOnce is the restart case:
// the controller stored the UID and removed the finalizer, then stopped
// before moving the pod to the counters.
func TestUncountedPodWhoseFinalizerIsGoneIsCountedOnce(t *testing.T) {
	job := newJob("pi", new(int32(3)), 1)
	job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Failed: []types.UID{"uid-pi-a"}}
	job.Status.Failed = 1
	failed := podOf(job, "pi-a", corev1.PodFailed)
	failed.Finalizers = nil
	h := newHarness(t, job, failed)
	h.sync("pi")

	got := h.job("pi")
	if got.Status.Failed != 2 || len(got.Status.UncountedTerminatedPods.Failed) != 0 {
		t.Errorf("failed %d uncounted %v, want 2 and none", got.Status.Failed, got.Status.UncountedTerminatedPods.Failed)
	}
	if n := len(h.actions("patch", "pods")); n != 0 {
		t.Errorf("%d pod patches for a pod without finalizer", n)
	}
}

func TestIndexedJobGivesEachPodItsIndex(t *testing.T) {
	job := newJob("idx", new(int32(3)), 3)
	job.Spec.CompletionMode = new(batchv1.IndexedCompletion)
	h := newHarness(t, job)
	h.sync("idx")

	pods := h.podList()
	if len(pods) != 3 {
		t.Fatalf("%d pods, want 3", len(pods))
	}
	var indexes []string
	for _, p := range pods {
		ix := p.Annotations[batchv1.JobCompletionIndexAnnotation]
		indexes = append(indexes, ix)
		if p.Labels[batchv1.JobCompletionIndexAnnotation] != ix || p.Spec.Hostname != "idx-"+ix || p.GenerateName != "idx-"+ix+"-" {
			t.Errorf("pod %s: label %q hostname %q generateName %q", p.Name, p.Labels[batchv1.JobCompletionIndexAnnotation], p.Spec.Hostname, p.GenerateName)
		}
		env := p.Spec.Containers[0].Env
		if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].ValueFrom.FieldRef.FieldPath != "metadata.labels['batch.kubernetes.io/job-completion-index']" {
			t.Errorf("pod %s env %+v", p.Name, env)
		}
	}
	slices.Sort(indexes)
	if !slices.Equal(indexes, []string{"0", "1", "2"}) {
		t.Errorf("indexes %v", indexes)
	}

	for _, p := range pods {
		if p.Annotations[batchv1.JobCompletionIndexAnnotation] != "1" {
			h.setPhase(p.Name, corev1.PodSucceeded)
		}
	}
	h.sync("idx")
	if got := h.job("idx").Status; got.CompletedIndexes != "0,2" || got.Succeeded != 2 || got.Active != 1 {
		t.Errorf("completedIndexes %q succeeded %d active %d, want \"0,2\" 2 1", got.CompletedIndexes, got.Succeeded, got.Active)
	}
}

// TestFailedPodIsReplacedAfterBackoff: a failure delays the replacement
// by 10 s from when the pod finished.
func TestFailedPodIsReplacedAfterBackoff(t *testing.T) {
	job := newJob("pi", new(int32(1)), 1)
	failed := podOf(job, "pi-a", corev1.PodFailed)
	failed.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name:  "work",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: metav1.NewTime(t0)}},
	}}
	h := newHarness(t, job, failed)

	h.sync("pi")
	if n := len(h.podList()); n != 1 {
		t.Fatalf("%d pods right after the failure, want the failed one only", n)
	}
	if got := h.job("pi").Status.Failed; got != 1 {
		t.Errorf("failed %d, want 1", got)
	}
	h.clock.Step(9 * time.Second)
	h.sync("pi")
	if n := len(h.podList()); n != 1 {
		t.Fatalf("%d pods 9 s after the failure", n)
	}
	h.clock.Step(time.Second)
	h.sync("pi")
	if n := len(h.podList()); n != 2 {
		t.Fatalf("%d pods 10 s after the failure, want a replacement", n)
	}
}

func TestBackoffDoublesAndIsCapped(t *testing.T) {
	last := t0
	for _, tc := range []struct {
		failures int32
		elapsed  time.Duration
		want     time.Duration
	}{
		{0, 0, 0},
		{1, 0, 10 * time.Second},
		{1, 4 * time.Second, 6 * time.Second},
		{2, 0, 20 * time.Second},
		{3, 0, 40 * time.Second},
		{10, 0, 6 * time.Minute},
		{10, 7 * time.Minute, 0},
	} {
		r := backoffRecord{failuresAfterLastSuccess: tc.failures, lastFailureTime: &last}
		if got := r.remaining(t0.Add(tc.elapsed), DefaultPodFailureBackOff, DefaultMaxPodFailureBackOff); got != tc.want {
			t.Errorf("%d failures, %v elapsed: remaining %v, want %v", tc.failures, tc.elapsed, got, tc.want)
		}
	}
}

// TestBackoffLimitFailsJobOnceItsPodsAreGone: past the limit, the Job
// gets FailureTarget at once, its running pods are deleted and counted
// as failed, and Failed follows when none is left terminating.
func TestBackoffLimitFailsJobOnceItsPodsAreGone(t *testing.T) {
	job := newJob("pi", new(int32(2)), 2)
	job.Spec.BackoffLimit = new(int32(0))
	h := newHarness(t, job, podOf(job, "pi-a", corev1.PodFailed), podOf(job, "pi-b", corev1.PodPending))

	h.sync("pi")
	got := h.job("pi")
	if types := conditionTypes(got); !slices.Equal(types, []batchv1.JobConditionType{batchv1.JobFailureTarget}) {
		t.Fatalf("conditions %v after the first sync, want FailureTarget only", types)
	}
	if n := len(h.actions("delete", "pods")); n != 1 {
		t.Errorf("%d pod deletions, want the running pod's", n)
	}
	if got.Status.Failed != 2 || got.Status.Active != 0 || *got.Status.Terminating != 1 {
		t.Errorf("failed %d active %d terminating %d, want 2 0 1", got.Status.Failed, got.Status.Active, *got.Status.Terminating)
	}

	h.sync("pi")
	got = h.job("pi")
	failedCond := findCondition(got.Status.Conditions, batchv1.JobFailed)
	if failedCond == nil || failedCond.Reason != batchv1.JobReasonBackoffLimitExceeded || failedCond.Message != msgBackoffLimitExceeded {
		t.Fatalf("Failed condition %+v", failedCond)
	}
	if !slices.Contains(h.events(), "Warning BackoffLimitExceeded Job has reached the specified backoff limit") {
		t.Error("no BackoffLimitExceeded event")
	}
	if got.Status.Failed != 2 {
		t.Errorf("failed %d after the verdict, want 2", got.Status.Failed)
	}
}

func TestActiveDeadlineFailsJob(t *testing.T) {
	job := newJob("slow", new(int32(1)), 1)
	job.Spec.ActiveDeadlineSeconds = new(int64(60))
	h := newHarness(t, job)
	h.sync("slow")
	if n := len(h.podList()); n != 1 {
		t.Fatalf("%d pods", n)
	}
	h.clock.Step(61 * time.Second)
	h.sync("slow")
	h.sync("slow")
	got := h.job("slow")
	c := findCondition(got.Status.Conditions, batchv1.JobFailed)
	if c == nil || c.Reason != batchv1.JobReasonDeadlineExceeded || c.Message != msgDeadlineExceeded {
		t.Fatalf("conditions %+v", got.Status.Conditions)
	}
	if n := len(h.podList()); n != 0 {
		t.Errorf("%d pods left after the deadline", n)
	}
}

func TestSuspendedJobDeletesItsPodsUncounted(t *testing.T) {
	job := newJob("pi", new(int32(3)), 2)
	job.Spec.Suspend = new(true)
	job.Status.StartTime = &metav1.Time{Time: t0}
	h := newHarness(t, job, podOf(job, "pi-a", corev1.PodRunning), podOf(job, "pi-b", corev1.PodPending))
	h.sync("pi")

	if n := len(h.podList()); n != 0 {
		t.Errorf("%d pods left in a suspended job", n)
	}
	if n := len(h.actions("patch", "pods")); n != 2 {
		t.Errorf("%d finalizer removals, want 2 before the deletions", n)
	}
	got := h.job("pi")
	c := findCondition(got.Status.Conditions, batchv1.JobSuspended)
	if c == nil || c.Status != corev1.ConditionTrue || c.Reason != "JobSuspended" || got.Status.Active != 0 || got.Status.Failed != 0 {
		t.Errorf("status %+v", got.Status)
	}
	if !slices.Contains(h.events(), "Normal Suspended Job suspended") {
		t.Error("no Suspended event")
	}
}

func TestOrphanPodLosesItsFinalizerUnlessAJobRunsIt(t *testing.T) {
	running := newJob("running", new(int32(1)), 1)
	finished := newJob("finished", new(int32(1)), 1)
	finished.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	gone := newJob("gone", new(int32(1)), 1)
	h := newHarness(t, running, finished,
		podOf(running, "of-running", corev1.PodRunning),
		podOf(finished, "of-finished", corev1.PodSucceeded),
		podOf(gone, "of-gone", corev1.PodFailed))
	for _, tc := range []struct {
		pod         string
		wantPatched bool
	}{
		{"of-running", false},
		{"of-finished", true},
		{"of-gone", true},
	} {
		before := len(h.actions("patch", "pods"))
		if err := h.c.syncOrphanPod(h.ctx, "default/"+tc.pod); err != nil {
			t.Fatal(err)
		}
		if patched := len(h.actions("patch", "pods")) > before; patched != tc.wantPatched {
			t.Errorf("pod %s: finalizer removed %v, want %v", tc.pod, patched, tc.wantPatched)
		}
	}
}

func TestOrderedIntervals(t *testing.T) {
	for _, tc := range []struct {
		in          string
		completions int
		add         []int
		want        string
		total       int
	}{
		{"", 10, []int{3}, "3", 1},
		{"1", 10, []int{2}, "1,2", 2},
		{"1,2", 10, []int{3}, "1-3", 3},
		{"0-2,5", 10, []int{3, 4}, "0-5", 6},
		{"0-20", 10, nil, "0-9", 10},
		{"x,4", 10, nil, "4", 1},
	} {
		got := parseIndexes(tc.in, tc.completions).withOrderedIndexes(tc.add)
		if got.String() != tc.want || got.total() != tc.total {
			t.Errorf("%q + %v = %q (%d), want %q (%d)", tc.in, tc.add, got, got.total(), tc.want, tc.total)
		}
	}
	iv := parseIndexes("1-3,7", 10)
	for ix, want := range map[int]bool{0: false, 1: true, 3: true, 4: false, 7: true, 8: false} {
		if iv.has(ix) != want {
			t.Errorf("has(%d) = %v", ix, !want)
		}
	}
}

func TestPodFailurePolicyMatchesFirstRule(t *testing.T) {
	exit := func(code int32) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
			Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
				Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}},
			}}},
		}
	}
	policy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionIgnore, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{1}}},
	}}
	for _, tc := range []struct {
		code       int32
		wantMsg    string
		wantCounts bool
	}{
		{42, "", false},
		{1, "", true},
		{3, "Container main for pod ns/p failed with exit code 3 matching FailJob rule at index 1", true},
	} {
		msg, counts, _ := matchPodFailurePolicy(policy, exit(tc.code))
		got := ""
		if msg != nil {
			got = *msg
		}
		if got != tc.wantMsg || counts != tc.wantCounts {
			t.Errorf("exit %d: message %q counts %v, want %q %v", tc.code, got, counts, tc.wantMsg, tc.wantCounts)
		}
	}
}

func TestPodsForRemovalComeLeastAdvancedFirst(t *testing.T) {
	at := func(name, node string, phase corev1.PodPhase, ready bool, created time.Duration) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(t0.Add(created))},
			Spec: corev1.PodSpec{NodeName: node}, Status: corev1.PodStatus{Phase: phase}}
		if ready {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		}
		return p
	}
	pods := []*corev1.Pod{
		at("ready-old", "n", corev1.PodRunning, true, 0),
		at("running", "n", corev1.PodRunning, false, 0),
		at("pending", "n", corev1.PodPending, false, 0),
		at("unscheduled", "", corev1.PodPending, false, 0),
		at("ready-new", "n", corev1.PodRunning, true, time.Minute),
	}
	sortForRemoval(pods)
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	if want := []string{"unscheduled", "pending", "running", "ready-new", "ready-old"}; !slices.Equal(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
}

func uids(u []types.UID) string {
	var s []string
	for _, x := range u {
		s = append(s, string(x))
	}
	return strings.Join(s, ",")
}

func TestFailJobRuleFailsTheJobWithItsMessage(t *testing.T) {
	job := newJob("pi", new(int32(2)), 1)
	job.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action:      batchv1.PodFailurePolicyActionFailJob,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
	}}}
	failed := podOf(job, "pi-a", corev1.PodFailed)
	failed.Status.ContainerStatuses = []corev1.ContainerStatus{{
		Name: "work", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 42}},
	}}
	h := newHarness(t, job, failed)
	h.sync("pi")
	h.sync("pi")

	got := h.job("pi")
	want := "Container work for pod default/pi-a failed with exit code 42 matching FailJob rule at index 0"
	for _, typ := range []batchv1.JobConditionType{batchv1.JobFailureTarget, batchv1.JobFailed} {
		c := findCondition(got.Status.Conditions, typ)
		if c == nil || c.Reason != batchv1.JobReasonPodFailurePolicy || c.Message != want {
			t.Errorf("%s condition %+v", typ, c)
		}
	}
	if n := len(h.podList()); n != 1 {
		t.Errorf("%d pods: a failed job must not replace its pod", n)
	}
}

func TestOrphanPodMatchingTheSelectorIsAdopted(t *testing.T) {
	job := newJob("pi", new(int32(1)), 1)
	orphan := podOf(job, "stray", corev1.PodRunning)
	orphan.OwnerReferences = nil
	orphan.Finalizers = nil
	h := newHarness(t, job, orphan)
	h.sync("pi")

	patches := h.actions("patch", "pods")
	if len(patches) != 1 {
		t.Fatalf("%d pod patches, want the adoption", len(patches))
	}
	patch := string(patches[0].(clienttesting.PatchAction).GetPatch())
	for _, want := range []string{`"uid":"` + string(job.UID) + `"`, `"controller":true`, `"finalizers":["batch.kubernetes.io/job-tracking"]`} {
		if !strings.Contains(patch, want) {
			t.Errorf("adoption patch %s lacks %s", patch, want)
		}
	}
	if n := len(h.podList()); n != 1 {
		t.Errorf("%d pods: the adopted pod runs the job", n)
	}
	if got := h.job("pi").Status.Active; got != 1 {
		t.Errorf("active %d, want the adopted pod", got)
	}
}
