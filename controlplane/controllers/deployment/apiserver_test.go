package deployment

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

func isGone(err error) bool { return apierrors.IsNotFound(err) }

func newDeployment(ns string, replicas int32, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template(image),
		},
	}
}

func (c *cluster) create(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	if _, err := c.admin.AppsV1().Deployments(d.Namespace).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// setImage changes the template's image, as kubectl set image would.
func (c *cluster) setImage(t *testing.T, ns, image string) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"web","image":%q}]}}}}`, image)
	if _, err := c.admin.AppsV1().Deployments(ns).Patch(context.Background(), "web", "application/strategic-merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// newReplicaSetOf is the ReplicaSet named after d's template hash, as
// upstream names it.
func (c *cluster) newReplicaSetOf(t *testing.T, d *appsv1.Deployment) *appsv1.ReplicaSet {
	t.Helper()
	name := "web-" + ComputeHash(&d.Spec.Template, d.Status.CollisionCount)
	rs, ok := c.replicaSets(t, d.Namespace)[name]
	if !ok {
		t.Fatalf("no replica set %s; have %v", name, keys(c.replicaSets(t, d.Namespace)))
	}
	return rs
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// watchInvariant checks check after every change of kind in ns from now
// until stop is called, which returns the violations.
func watchInvariant[T any](t *testing.T, w watch.Interface, initial map[string]T, check func(map[string]T) string) (stop func() []string) {
	t.Helper()
	state := initial
	var mu sync.Mutex
	var violations []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(metav1.Object)
			if !ok {
				continue
			}
			mu.Lock()
			switch ev.Type {
			case watch.Deleted:
				delete(state, obj.GetName())
			case watch.Added, watch.Modified:
				state[obj.GetName()] = any(ev.Object).(T)
			}
			if v := check(state); v != "" {
				violations = append(violations, v)
			}
			mu.Unlock()
		}
	}()
	return func() []string {
		w.Stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return violations
	}
}

// TestDeploymentAgainstAPIServer runs the deployment and replicaset
// controllers, with their own RBAC roles, against the real API server.
func TestDeploymentAgainstAPIServer(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()

	t.Run("rolling update stays within maxSurge and maxUnavailable", func(t *testing.T) {
		ns := c.namespace(t, "rolling")
		d := newDeployment(ns, 4, "nginx:1")
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(1)),
		}}
		c.create(t, d)
		d = c.waitRolledOut(t, ns, "web")
		first := c.newReplicaSetOf(t, d)
		hash := first.Name[len("web-"):]
		if first.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || first.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
			first.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
			t.Errorf("replica set %s labels %v selector %v", first.Name, first.Labels, first.Spec.Selector)
		}
		ref := metav1.GetControllerOf(first)
		if ref == nil || ref.UID != d.UID || ref.Kind != "Deployment" || !ptr.Deref(ref.BlockOwnerDeletion, false) {
			t.Errorf("replica set controller reference %+v", ref)
		}
		wantAnn := map[string]string{RevisionAnnotation: "1", DesiredReplicasAnnotation: "4", MaxReplicasAnnotation: "5"}
		for k, v := range wantAnn {
			if first.Annotations[k] != v {
				t.Errorf("replica set annotation %s = %q, want %q", k, first.Annotations[k], v)
			}
		}
		if d.Annotations[RevisionAnnotation] != "1" {
			t.Errorf("deployment revision %q, want 1", d.Annotations[RevisionAnnotation])
		}

		rsList, err := c.admin.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rsWatch, err := c.admin.AppsV1().ReplicaSets(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: rsList.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		sizes := map[string]*appsv1.ReplicaSet{}
		for i := range rsList.Items {
			sizes[rsList.Items[i].Name] = &rsList.Items[i]
		}
		sawTerminating := false
		stopRS := watchInvariant(t, rsWatch, sizes, func(m map[string]*appsv1.ReplicaSet) string {
			var total int32
			for _, rs := range m {
				total += *rs.Spec.Replicas
				sawTerminating = sawTerminating || ptr.Deref(rs.Status.TerminatingReplicas, 0) > 0
			}
			if total > 5 {
				return fmt.Sprintf("replica sets want %d pods, more than 4 + maxSurge 1", total)
			}
			return ""
		})
		podList, err := c.admin.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		podWatch, err := c.admin.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: podList.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		pods := map[string]*corev1.Pod{}
		for i := range podList.Items {
			pods[podList.Items[i].Name] = &podList.Items[i]
		}
		stopPods := watchInvariant(t, podWatch, pods, func(m map[string]*corev1.Pod) string {
			ready := 0
			for _, p := range m {
				if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
					ready++
				}
			}
			if ready < 3 {
				return fmt.Sprintf("%d pods ready, fewer than 4 - maxUnavailable 1", ready)
			}
			return ""
		})

		c.setImage(t, ns, "nginx:2")
		d = c.waitRolledOut(t, ns, "web")
		second := c.newReplicaSetOf(t, d)
		waitFor(t, "old replica set scaled to 0", func() bool { return *c.replicaSets(t, ns)[first.Name].Spec.Replicas == 0 })
		if v := stopRS(); len(v) > 0 {
			t.Errorf("maxSurge exceeded: %q", v)
		}
		if !sawTerminating {
			t.Error("no replica set ever reported terminating pods")
		}
		if v := stopPods(); len(v) > 0 {
			t.Errorf("maxUnavailable exceeded: %q", v)
		}
		if second.Annotations[RevisionAnnotation] != "2" || d.Annotations[RevisionAnnotation] != "2" {
			t.Errorf("revisions: replica set %q, deployment %q, want 2", second.Annotations[RevisionAnnotation], d.Annotations[RevisionAnnotation])
		}
		if len(c.livePods(t, ns, labels.Set{appsv1.DefaultDeploymentUniqueLabelKey: second.Name[len("web-"):]})) != 4 {
			t.Error("new replica set does not run 4 pods")
		}
		waitFor(t, "complete conditions, old pods gone", func() bool {
			d = c.deployment(t, ns, "web")
			p, a := getCondition(d.Status, appsv1.DeploymentProgressing), getCondition(d.Status, appsv1.DeploymentAvailable)
			return p != nil && p.Status == corev1.ConditionTrue && p.Reason == ReasonNewReplicaSetAvailable &&
				p.Message == fmt.Sprintf("ReplicaSet %q has successfully progressed.", second.Name) &&
				a != nil && a.Status == corev1.ConditionTrue && a.Reason == ReasonMinimumReplicasAvailable &&
				ptr.Deref(d.Status.TerminatingReplicas, -1) == 0
		})
		if s := d.Status; s.Replicas != 4 || s.UpdatedReplicas != 4 || s.ReadyReplicas != 4 || s.AvailableReplicas != 4 || s.UnavailableReplicas != 0 || ptr.Deref(s.TerminatingReplicas, -1) != 0 {
			t.Errorf("status %+v", s)
		}
		if !slices.Contains(c.events.all(), "Normal ScalingReplicaSet Scaled up replica set "+second.Name+" from 0 to 1") {
			t.Errorf("no creation event for %s in %q", second.Name, c.events.all())
		}
		if !slices.ContainsFunc(c.events.all(), func(e string) bool {
			return strings.HasPrefix(e, "Normal ScalingReplicaSet Scaled down replica set "+first.Name+" from ") && strings.HasSuffix(e, " to 0")
		}) {
			t.Errorf("no event scaling %s down to 0 in %q", first.Name, c.events.all())
		}
	})

	t.Run("recreate stops old pods before starting new ones", func(t *testing.T) {
		ns := c.namespace(t, "recreate")
		d := newDeployment(ns, 3, "nginx:1")
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		c.create(t, d)
		d = c.waitRolledOut(t, ns, "web")
		oldHash := c.newReplicaSetOf(t, d).Name[len("web-"):]

		podList, err := c.admin.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := c.admin.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: podList.ResourceVersion})
		if err != nil {
			t.Fatal(err)
		}
		pods := map[string]*corev1.Pod{}
		for i := range podList.Items {
			pods[podList.Items[i].Name] = &podList.Items[i]
		}
		stop := watchInvariant(t, w, pods, func(m map[string]*corev1.Pod) string {
			var old, cur []string
			for name, p := range m {
				if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] == oldHash {
					old = append(old, name)
				} else {
					cur = append(cur, name)
				}
			}
			if len(old) > 0 && len(cur) > 0 {
				return fmt.Sprintf("old pods %v and new pods %v at once", old, cur)
			}
			return ""
		})
		c.setImage(t, ns, "nginx:2")
		d = c.waitRolledOut(t, ns, "web")
		newRS := c.newReplicaSetOf(t, d)
		if newRS.Name == "web-"+oldHash {
			t.Fatal("no new replica set")
		}
		if v := stop(); len(v) > 0 {
			t.Errorf("Recreate overlapped: %q", v)
		}
		if got := *c.replicaSets(t, ns)["web-"+oldHash].Spec.Replicas; got != 0 {
			t.Errorf("old replica set wants %d pods", got)
		}
		if !slices.Contains(c.events.all(), "Normal ScalingReplicaSet Scaled down replica set web-"+oldHash+" from 3 to 0") {
			t.Errorf("no event scaling the old replica set down at once in %q", c.events.all())
		}
	})

	t.Run("pause holds a template change until resumed", func(t *testing.T) {
		ns := c.namespace(t, "paused")
		c.create(t, newDeployment(ns, 2, "nginx:1"))
		c.waitRolledOut(t, ns, "web")
		k := c.env.Kubectl(t)
		if res := k.Run("-n", ns, "rollout", "pause", "deployment/web"); res.ExitCode != 0 {
			t.Fatal(res)
		}
		if res := k.Run("-n", ns, "set", "image", "deployment/web", "web=nginx:2"); res.ExitCode != 0 {
			t.Fatal(res)
		}
		waitFor(t, "paused condition", func() bool {
			d := c.deployment(t, ns, "web")
			p := getCondition(d.Status, appsv1.DeploymentProgressing)
			return d.Status.ObservedGeneration == d.Generation && p != nil && p.Reason == ReasonDeploymentPaused && p.Status == corev1.ConditionUnknown
		})
		if rss := c.replicaSets(t, ns); len(rss) != 1 {
			t.Fatalf("paused deployment rolled out: replica sets %v", keys(rss))
		}
		if res := k.Run("-n", ns, "rollout", "resume", "deployment/web"); res.ExitCode != 0 {
			t.Fatal(res)
		}
		res := k.Run("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, `deployment "web" successfully rolled out`) {
			t.Fatal(res)
		}
		if rss := c.replicaSets(t, ns); len(rss) != 2 {
			t.Errorf("replica sets after resume %v, want 2", keys(rss))
		}
	})

	t.Run("revision history limit keeps the newest old replica sets", func(t *testing.T) {
		ns := c.namespace(t, "history")
		d := newDeployment(ns, 1, "nginx:1")
		d.Spec.RevisionHistoryLimit = ptr.To(int32(1))
		c.create(t, d)
		c.waitRolledOut(t, ns, "web")
		for _, image := range []string{"nginx:2", "nginx:3", "nginx:4"} {
			c.setImage(t, ns, image)
			c.waitRolledOut(t, ns, "web")
		}
		waitFor(t, "history trimmed to 1 old replica set", func() bool { return len(c.replicaSets(t, ns)) == 2 })
		var revisions []string
		for _, rs := range c.replicaSets(t, ns) {
			revisions = append(revisions, rs.Annotations[RevisionAnnotation]+"="+rs.Spec.Template.Spec.Containers[0].Image)
		}
		slices.Sort(revisions)
		if want := []string{"3=nginx:3", "4=nginx:4"}; !slices.Equal(revisions, want) {
			t.Errorf("kept %v, want %v", revisions, want)
		}
	})

	t.Run("kubectl rollout status, history, undo, scale and restart", func(t *testing.T) {
		ns := c.namespace(t, "kubectl")
		d := newDeployment(ns, 3, "nginx:1")
		d.Annotations = map[string]string{"kubernetes.io/change-cause": "v1"}
		c.create(t, d)
		k := c.env.Kubectl(t)
		rolledOut := func() {
			t.Helper()
			res := k.Run("-n", ns, "rollout", "status", "deployment/web", "--timeout=60s")
			if res.ExitCode != 0 || !strings.Contains(res.Stdout, `deployment "web" successfully rolled out`) {
				t.Fatal(res)
			}
		}
		history := func() []string {
			t.Helper()
			res := k.Run("-n", ns, "rollout", "history", "deployment/web")
			if res.ExitCode != 0 {
				t.Fatal(res)
			}
			var rows []string
			for _, line := range strings.Split(res.Stdout, "\n") {
				if f := strings.Fields(line); len(f) == 2 && f[0] != "REVISION" {
					rows = append(rows, f[0]+" "+f[1])
				}
			}
			return rows
		}
		image := func() string { return c.deployment(t, ns, "web").Spec.Template.Spec.Containers[0].Image }
		rolledOut()

		patch := `{"metadata":{"annotations":{"kubernetes.io/change-cause":"v2"}},"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}}}`
		if res := k.Run("-n", ns, "patch", "deployment/web", "-p", patch); res.ExitCode != 0 {
			t.Fatal(res)
		}
		rolledOut()
		if got, want := history(), []string{"1 v1", "2 v2"}; !slices.Equal(got, want) {
			t.Errorf("history %q, want %q", got, want)
		}
		first := c.replicaSets(t, ns)
		if len(first) != 2 {
			t.Fatalf("replica sets %v", keys(first))
		}

		res := k.Run("-n", ns, "rollout", "undo", "deployment/web")
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, "deployment.apps/web rolled back") {
			t.Fatal(res)
		}
		rolledOut()
		if got := image(); got != "nginx:1" {
			t.Errorf("image after undo %q", got)
		}
		after := c.replicaSets(t, ns)
		if !slices.Equal(keys(after), keys(first)) {
			t.Errorf("undo made replica sets %v, want the old one reused from %v", keys(after), keys(first))
		}
		d = c.waitRolledOut(t, ns, "web")
		reused := c.newReplicaSetOf(t, d)
		if reused.Annotations[RevisionAnnotation] != "3" || reused.Annotations[RevisionHistoryAnnotation] != "1" {
			t.Errorf("reused replica set revision %q history %q, want 3 and 1", reused.Annotations[RevisionAnnotation], reused.Annotations[RevisionHistoryAnnotation])
		}
		waitFor(t, "deployment revision 3", func() bool { return c.deployment(t, ns, "web").Annotations[RevisionAnnotation] == "3" })
		if got, want := history(), []string{"2 v2", "3 v1"}; !slices.Equal(got, want) {
			t.Errorf("history after undo %q, want %q", got, want)
		}

		if res := k.Run("-n", ns, "rollout", "undo", "deployment/web", "--to-revision=2"); res.ExitCode != 0 {
			t.Fatal(res)
		}
		rolledOut()
		if got := image(); got != "nginx:2" {
			t.Errorf("image after undo to revision 2: %q", got)
		}

		if res := k.Run("-n", ns, "scale", "deployment/web", "--replicas=5"); res.ExitCode != 0 {
			t.Fatal(res)
		}
		rolledOut()
		d = c.waitRolledOut(t, ns, "web")
		scaled := c.newReplicaSetOf(t, d)
		if *scaled.Spec.Replicas != 5 || scaled.Annotations[DesiredReplicasAnnotation] != "5" {
			t.Errorf("scaled replica set wants %d, desired annotation %q", *scaled.Spec.Replicas, scaled.Annotations[DesiredReplicasAnnotation])
		}
		if !slices.Contains(c.events.all(), "Normal ScalingReplicaSet Scaled up replica set "+scaled.Name+" from 3 to 5") {
			t.Errorf("no scaling event in %q", c.events.all())
		}

		if res := k.Run("-n", ns, "rollout", "restart", "deployment/web"); res.ExitCode != 0 {
			t.Fatal(res)
		}
		rolledOut()
		d = c.waitRolledOut(t, ns, "web")
		restarted := c.newReplicaSetOf(t, d)
		if restarted.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" || restarted.Name == scaled.Name {
			t.Errorf("restart rolled out %s with template annotations %v", restarted.Name, restarted.Spec.Template.Annotations)
		}
		if n := len(c.livePods(t, ns, labels.Set{appsv1.DefaultDeploymentUniqueLabelKey: restarted.Name[len("web-"):]})); n != 5 {
			t.Errorf("restarted replica set runs %d pods, want 5", n)
		}
		res = k.Run("-n", ns, "get", "deployment", "web", "--no-headers")
		if f := strings.Fields(res.Stdout); res.ExitCode != 0 || len(f) < 4 || !slices.Equal(f[:4], []string{"web", "5/5", "5", "5"}) {
			t.Errorf("kubectl get deployment, want 5/5 ready, up to date and available:\n%s", res)
		}
	})
}
