package integration

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestJobCompletes: a Job of 3 completions, 2 at a time, runs 2 pods;
// while they run it starts no third. Once the nodes let them finish
// (Succeeded, exit 0), it runs the last one, and then is Complete with 3
// succeeded, never having had more than 2 pods running.
func TestJobCompletes(t *testing.T) {
	var hold atomic.Bool
	hold.Store(true)
	c := startCluster(t, clusterOptions{nodes: 2, policy: podPolicy{holdCompletion: func(*corev1.Pod) bool { return hold.Load() }}})
	const ns, name, completions, parallelism = "batch", "pi", 3, 2
	c.createNamespace(ns)
	pods := c.recordPods(ns)

	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: batchv1.JobSpec{
			Completions: ptr.To[int32](completions),
			Parallelism: ptr.To[int32](parallelism),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "pi", Image: "perl", Command: []string{"perl", "-Mbignum=bpi", "-wle", "print bpi(100)"}}},
			}},
		},
	}
	job, err := c.client.BatchV1().Jobs(ns).Create(c.ctx, job, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create job: %v", err)
	}
	selector := map[string]string{batchv1.ControllerUidLabel: string(job.UID)}

	c.eventually(fmt.Sprintf("job %s running %d pods", name, parallelism), func(ctx context.Context) error {
		j, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if j.Status.Active != parallelism || ptr.Deref(j.Status.Ready, 0) != parallelism || j.Status.StartTime == nil {
			return fmt.Errorf("status %+v", j.Status)
		}
		return nil
	})
	running, err := c.podsOf(c.ctx, ns, selector)
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != parallelism {
		t.Fatalf("%d pods while %d run, want %d", len(running), parallelism, parallelism)
	}
	for _, p := range running {
		if ref := metav1.GetControllerOf(&p); ref == nil || ref.Kind != "Job" || ref.UID != job.UID {
			t.Errorf("pod %s controlled by %+v", p.Name, ref)
		}
		if p.Labels[batchv1.JobNameLabel] != name {
			t.Errorf("pod %s labels %v lack %s=%s", p.Name, p.Labels, batchv1.JobNameLabel, name)
		}
	}

	hold.Store(false)
	c.eventually("job "+name+" complete", func(ctx context.Context) error {
		j, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		// SuccessCriteriaMet comes first, then Complete once no pod
		// terminates any more, as upstream since 1.31.
		for _, t := range []batchv1.JobConditionType{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete} {
			if cond := jobCondition(j, t); cond == nil || cond.Status != corev1.ConditionTrue || cond.Reason != batchv1.JobReasonCompletionsReached {
				return fmt.Errorf("status %+v", j.Status)
			}
		}
		if j.Status.Succeeded != completions || j.Status.Active != 0 || j.Status.Failed != 0 || j.Status.CompletionTime == nil ||
			ptr.Deref(j.Status.Terminating, -1) != 0 || ptr.Deref(j.Status.Ready, -1) != 0 {
			return fmt.Errorf("complete with status %+v", j.Status)
		}
		return nil
	})
	done, err := c.podsOf(c.ctx, ns, selector)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != completions {
		t.Errorf("%d pods, want %d", len(done), completions)
	}
	for _, p := range done {
		if p.Status.Phase != corev1.PodSucceeded {
			t.Errorf("pod %s is %s, want Succeeded", p.Name, p.Status.Phase)
		}
		// The job controller tracks pods with a finalizer it removes once
		// it has counted them.
		if len(p.Finalizers) != 0 {
			t.Errorf("pod %s keeps finalizers %v", p.Name, p.Finalizers)
		}
	}

	most := 0
	replay(pods.snapshot(), func(_ int, state map[string]*corev1.Pod) {
		active := 0
		for _, p := range state {
			if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				active++
			}
		}
		most = max(most, active)
	})
	if most != parallelism {
		t.Errorf("at most %d pods were active at once, want parallelism %d", most, parallelism)
	}
}

func jobCondition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == t {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}
