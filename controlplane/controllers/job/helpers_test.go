package job

import (
	"context"
	"fmt"
	"sync/atomic"
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

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// harness is the controller on a fake clientset and a fake clock. The
// informers do not run: refresh copies the server's objects into their
// caches and calls the handlers as the informers would, so each sync
// sees exactly what the test wrote.
type harness struct {
	t        *testing.T
	ctx      context.Context
	client   *fake.Clientset
	factory  informers.SharedInformerFactory
	clock    *testingclock.FakeClock
	recorder *record.FakeRecorder
	c        *Controller
	pods     map[types.UID]*corev1.Pod
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewClientset(objs...)
	// The fake server neither names pods from generateName nor gives
	// them UIDs.
	var n atomic.Int32
	client.PrependReactor("create", "pods", func(action clienttesting.Action) (bool, runtime.Object, error) {
		pod := action.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		i := n.Add(1)
		if pod.Name == "" {
			pod.Name = fmt.Sprintf("%s%05d", pod.GenerateName, i)
		}
		pod.UID = types.UID(fmt.Sprintf("pod-uid-%d", i))
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	clock := testingclock.NewFakeClock(t0)
	recorder := record.NewFakeRecorder(100)
	h := &harness{t: t, ctx: context.Background(), client: client, factory: factory, clock: clock, recorder: recorder, pods: map[types.UID]*corev1.Pod{}}
	h.c = New(client, factory, recorder, Config{Clock: clock})
	h.refresh()
	return h
}

// refresh makes the caches hold what the server holds.
func (h *harness) refresh() {
	h.t.Helper()
	jobs, err := h.client.BatchV1().Jobs("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var jobObjs []any
	for i := range jobs.Items {
		jobObjs = append(jobObjs, &jobs.Items[i])
	}
	if err := h.factory.Batch().V1().Jobs().Informer().GetIndexer().Replace(jobObjs, ""); err != nil {
		h.t.Fatal(err)
	}
	pods, err := h.client.CoreV1().Pods("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var podObjs []any
	seen := map[types.UID]bool{}
	for i := range pods.Items {
		p := &pods.Items[i]
		podObjs = append(podObjs, p)
		seen[p.UID] = true
	}
	if err := h.factory.Core().V1().Pods().Informer().GetIndexer().Replace(podObjs, ""); err != nil {
		h.t.Fatal(err)
	}
	for _, p := range podObjs {
		pod := p.(*corev1.Pod)
		if old, ok := h.pods[pod.UID]; !ok {
			h.c.addPod(pod)
		} else if old.ResourceVersion != pod.ResourceVersion {
			h.c.updatePod(old, pod)
		}
		h.pods[pod.UID] = pod
	}
	for uid, pod := range h.pods {
		if !seen[uid] {
			h.c.deletePodEvent(pod, true)
			delete(h.pods, uid)
		}
	}
}

// sync refreshes the caches and syncs the Job.
func (h *harness) sync(name string) {
	h.t.Helper()
	h.refresh()
	if err := h.c.syncJob(h.ctx, "default/"+name); err != nil {
		h.t.Fatalf("sync job %s: %v", name, err)
	}
}

func (h *harness) job(name string) *batchv1.Job {
	h.t.Helper()
	job, err := h.client.BatchV1().Jobs("default").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return job
}

func (h *harness) podList() []corev1.Pod {
	h.t.Helper()
	pods, err := h.client.CoreV1().Pods("default").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return pods.Items
}

// setPhase changes a pod's phase on the server.
func (h *harness) setPhase(name string, phase corev1.PodPhase) {
	h.t.Helper()
	pod, err := h.client.CoreV1().Pods("default").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	pod.Status.Phase = phase
	pod.ResourceVersion = fmt.Sprint(h.clock.Now().UnixNano())
	if _, err := h.client.CoreV1().Pods("default").UpdateStatus(h.ctx, pod, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// events drains the recorded events.
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

// actions are the client's writes of a verb and resource, in order.
func (h *harness) actions(verb, resource string) []clienttesting.Action {
	var out []clienttesting.Action
	for _, a := range h.client.Actions() {
		if a.GetVerb() == verb && a.GetResource().Resource == resource {
			out = append(out, a)
		}
	}
	return out
}

// statusUpdates are the Job statuses the controller wrote, in order.
func (h *harness) statusUpdates() []batchv1.JobStatus {
	var out []batchv1.JobStatus
	for _, a := range h.actions("update", "jobs") {
		if a.GetSubresource() == "status" {
			out = append(out, a.(clienttesting.UpdateAction).GetObject().(*batchv1.Job).Status)
		}
	}
	return out
}

// newJob is a Job as the API server stores it: defaulted, with its
// generated selector and labels.
func newJob(name string, completions *int32, parallelism int32) *batchv1.Job {
	uid := types.UID("job-uid-" + name)
	labels := map[string]string{batchv1.ControllerUidLabel: string(uid), batchv1.JobNameLabel: name}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: uid, CreationTimestamp: metav1.NewTime(t0)},
		Spec: batchv1.JobSpec{
			Completions:    completions,
			Parallelism:    &parallelism,
			BackoffLimit:   new(int32(6)),
			CompletionMode: new(batchv1.NonIndexedCompletion),
			Suspend:        new(false),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: string(uid)}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "work", Image: "busybox"}},
				},
			},
		},
	}
}

// podOf is a pod of job with the tracking finalizer, in phase.
func podOf(job *batchv1.Job, name string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default", UID: types.UID("uid-" + name),
			Labels:            copyMap(job.Spec.Template.Labels),
			Finalizers:        []string{batchv1.JobTrackingFinalizer},
			OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(job, controllerKind)},
			CreationTimestamp: metav1.NewTime(t0),
			ResourceVersion:   "1",
		},
		Spec:   job.Spec.Template.Spec,
		Status: corev1.PodStatus{Phase: phase},
	}
}
