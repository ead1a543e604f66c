package replicaset

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/utils/ptr"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func webTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
	}
}

// TestReplicaSetAgainstAPIServer runs the replicaset-controller with its
// own RBAC role against the real API server: it scales a ReplicaSet up
// and down, deleting the least useful pods, and adopts and releases pods
// by their labels.
func TestReplicaSetAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	admin := env.Client
	rec := &events{}
	run(t, env, func(f informers.SharedInformerFactory) interface{ Run(context.Context, int) } {
		return New(controllerClient(t, env, "replicaset-controller"), f, rec, Config{})
	})
	ctx := context.Background()

	t.Run("scales up and down, deleting the least useful pods", func(t *testing.T) {
		const ns = "scale"
		createNamespace(t, admin, ns)
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: appsv1.ReplicaSetSpec{
				Replicas: ptr.To(int32(4)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: webTemplate(),
			},
		}
		rs, err := admin.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var pods []corev1.Pod
		waitFor(t, "4 pods", func() (bool, error) {
			pods = livePods(t, admin, ns, "app=web")
			return len(pods) == 4, nil
		})
		for _, p := range pods {
			ref := metav1.GetControllerOf(&p)
			if !strings.HasPrefix(p.Name, "web-") || ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
				t.Errorf("pod %s: name or controller reference %+v", p.Name, ref)
			}
		}
		waitFor(t, "4 creation events", func() (bool, error) {
			return len(rec.with("Normal SuccessfulCreate Created pod: web-")) == 4, nil
		})

		// One pod scheduled and ready, one unscheduled and ready, one
		// pending, one running but not ready: scaling to two keeps the
		// first two.
		if err := admin.CoreV1().Pods(ns).Bind(ctx, &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pods[0].Name},
			Target:     corev1.ObjectReference{Kind: "Node", Name: "node-a"},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		setPodState(t, admin, &pods[0], corev1.PodRunning, true)
		setPodState(t, admin, &pods[1], corev1.PodRunning, true)
		setPodState(t, admin, &pods[3], corev1.PodRunning, false)
		waitFor(t, "status of 4 replicas, 2 ready", func() (bool, error) {
			cur, err := admin.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			s := cur.Status
			return s.Replicas == 4 && s.FullyLabeledReplicas == 4 && s.ReadyReplicas == 2 && s.AvailableReplicas == 2 &&
				s.ObservedGeneration == cur.Generation && ptr.Deref(s.TerminatingReplicas, -1) == 0, nil
		})

		k := env.Kubectl(t)
		if res := k.Run("-n", ns, "scale", "replicaset/web", "--replicas=2"); res.ExitCode != 0 {
			t.Fatal(res)
		}
		waitFor(t, "2 pods", func() (bool, error) { return len(livePods(t, admin, ns, "app=web")) == 2, nil })
		var kept []string
		for _, p := range livePods(t, admin, ns, "app=web") {
			kept = append(kept, p.Name)
		}
		if want := []string{pods[0].Name, pods[1].Name}; !slices.Equal(kept, want) {
			t.Errorf("kept %v, want the ready ones %v", kept, want)
		}
		// The event is recorded after the delete call returns, so it may
		// trail the pod's disappearance.
		for _, p := range []string{pods[2].Name, pods[3].Name} {
			waitFor(t, "the deletion event of "+p, func() (bool, error) {
				return len(rec.with("Normal SuccessfulDelete Deleted pod: "+p)) == 1, nil
			})
		}
		waitFor(t, "status of 2 replicas, generation observed", func() (bool, error) {
			cur, err := admin.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
			return err == nil && cur.Status.Replicas == 2 && cur.Status.ReadyReplicas == 2 && cur.Status.ObservedGeneration == cur.Generation, err
		})
		res := k.Run("-n", ns, "get", "rs", "web", "--no-headers")
		if f := strings.Fields(res.Stdout); res.ExitCode != 0 || len(f) < 4 || !slices.Equal(f[:4], []string{"web", "2", "2", "2"}) {
			t.Errorf("kubectl get rs, want 2 desired, current and ready:\n%s", res)
		}
	})

	t.Run("adopts orphans and releases pods that stop matching", func(t *testing.T) {
		const ns = "adopt"
		createNamespace(t, admin, ns)
		orphan := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: ns, Labels: map[string]string{"app": "web"}},
			Spec:       webTemplate().Spec,
		}
		if _, err := admin.CoreV1().Pods(ns).Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		rs, err := admin.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: appsv1.ReplicaSetSpec{
				Replicas: ptr.To(int32(2)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: webTemplate(),
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "orphan adopted", func() (bool, error) {
			p, err := admin.CoreV1().Pods(ns).Get(ctx, "orphan", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			ref := metav1.GetControllerOf(p)
			return ref != nil && ref.UID == rs.UID && ptr.Deref(ref.BlockOwnerDeletion, false), nil
		})
		waitFor(t, "2 pods", func() (bool, error) { return len(livePods(t, admin, ns, "app=web")) == 2, nil })
		waitFor(t, "a creation event", func() (bool, error) {
			return len(rec.with("Normal SuccessfulCreate Created pod: web-")) >= 1, nil
		})
		// Only one was missing: the orphan counts.
		createdHere := 0
		for _, p := range livePods(t, admin, ns, "app=web") {
			if p.Name != "orphan" {
				createdHere++
			}
		}
		if createdHere != 1 {
			t.Errorf("created %d pods besides the adopted one, want 1", createdHere)
		}

		p, err := admin.CoreV1().Pods(ns).Get(ctx, "orphan", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Labels = map[string]string{"app": "debugging"}
		if _, err := admin.CoreV1().Pods(ns).Update(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "pod released", func() (bool, error) {
			p, err := admin.CoreV1().Pods(ns).Get(ctx, "orphan", metav1.GetOptions{})
			return err == nil && len(p.OwnerReferences) == 0, err
		})
		waitFor(t, "replacement created", func() (bool, error) { return len(livePods(t, admin, ns, "app=web")) == 2, nil })
	})
	t.Run("counts a pod available only after minReadySeconds", func(t *testing.T) {
		const ns = "minready"
		createNamespace(t, admin, ns)
		if _, err := admin.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
			Spec: appsv1.ReplicaSetSpec{
				Replicas:        ptr.To(int32(1)),
				MinReadySeconds: 2,
				Selector:        &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template:        webTemplate(),
			},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var pods []corev1.Pod
		waitFor(t, "1 pod", func() (bool, error) { pods = livePods(t, admin, ns, "app=web"); return len(pods) == 1, nil })
		setPodState(t, admin, &pods[0], corev1.PodRunning, true)
		pod, err := admin.CoreV1().Pods(ns).Get(ctx, pods[0].Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The API keeps whole seconds: the pod has been ready since then.
		readyAt := readyCondition(pod).LastTransitionTime.Time
		waitFor(t, "ready, not yet available", func() (bool, error) {
			cur, err := admin.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
			return err == nil && cur.Status.ReadyReplicas == 1 && cur.Status.AvailableReplicas == 0, err
		})
		// Nothing about the pod changes any more: only the controller's
		// own timer can make it available.
		waitFor(t, "available", func() (bool, error) {
			cur, err := admin.AppsV1().ReplicaSets(ns).Get(ctx, "web", metav1.GetOptions{})
			return err == nil && cur.Status.AvailableReplicas == 1, err
		})
		if waited := time.Since(readyAt); waited < 2*time.Second {
			t.Errorf("available after %v, before minReadySeconds", waited)
		}
	})

	t.Run("reports failed creations in events and the ReplicaFailure condition", func(t *testing.T) {
		const ns = "quota"
		createNamespace(t, admin, ns)
		if _, err := admin.CoreV1().ResourceQuotas(ns).Create(ctx, &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: "no-pods", Namespace: ns},
			Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("0")}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Name: "blocked", Namespace: ns},
			Spec: appsv1.ReplicaSetSpec{
				Replicas: ptr.To(int32(2)),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "blocked"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "blocked"}}, Spec: webTemplate().Spec},
			},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		failure := func() *appsv1.ReplicaSetCondition {
			cur, err := admin.AppsV1().ReplicaSets(ns).Get(ctx, "blocked", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return replicaFailure(cur.Status)
		}
		waitFor(t, "ReplicaFailure condition", func() (bool, error) {
			c := failure()
			return c != nil && c.Status == corev1.ConditionTrue && c.Reason == ReasonFailedCreate && strings.Contains(c.Message, "forbidden"), nil
		})
		waitFor(t, "a FailedCreate event", func() (bool, error) {
			return len(rec.with("Warning FailedCreate Error creating: pods ")) > 0, nil
		})
		if err := admin.CoreV1().ResourceQuotas(ns).Delete(ctx, "no-pods", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "pods created once allowed", func() (bool, error) { return len(livePods(t, admin, ns, "app=blocked")) == 2, nil })
		waitFor(t, "condition cleared", func() (bool, error) { return failure() == nil, nil })
	})
}

// TestReplicationControllerAgainstAPIServer runs the same controller over
// ReplicationControllers, as the replication-controller account.
func TestReplicationControllerAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	admin := env.Client
	rec := &events{}
	run(t, env, func(f informers.SharedInformerFactory) interface{ Run(context.Context, int) } {
		return NewForReplicationControllers(controllerClient(t, env, "replication-controller"), f, rec, Config{})
	})
	ctx := context.Background()
	template := webTemplate()
	rc, err := admin.CoreV1().ReplicationControllers("default").Create(ctx, &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec:       corev1.ReplicationControllerSpec{Replicas: ptr.To(int32(3)), Template: &template},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 pods", func() (bool, error) { return len(livePods(t, admin, "default", "app=web")) == 3, nil })
	for _, p := range livePods(t, admin, "default", "app=web") {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.Kind != "ReplicationController" || ref.APIVersion != "v1" || ref.UID != rc.UID {
			t.Errorf("pod %s controller %+v", p.Name, ref)
		}
		setPodState(t, admin, &p, corev1.PodRunning, true)
	}
	waitFor(t, "status of 3 ready replicas", func() (bool, error) {
		cur, err := admin.CoreV1().ReplicationControllers("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && cur.Status.Replicas == 3 && cur.Status.ReadyReplicas == 3 && cur.Status.AvailableReplicas == 3 && cur.Status.ObservedGeneration == cur.Generation, err
	})
	if res := env.Kubectl(t).Run("scale", "rc/web", "--replicas=1"); res.ExitCode != 0 {
		t.Fatal(res)
	}
	waitFor(t, "1 pod", func() (bool, error) { return len(livePods(t, admin, "default", "app=web")) == 1, nil })
	waitFor(t, "status of 1 replica", func() (bool, error) {
		cur, err := admin.CoreV1().ReplicationControllers("default").Get(ctx, "web", metav1.GetOptions{})
		return err == nil && cur.Status.Replicas == 1, err
	})
	waitFor(t, "2 deletion events", func() (bool, error) {
		return len(rec.with("Normal SuccessfulDelete Deleted pod: web-")) == 2, nil
	})
}
