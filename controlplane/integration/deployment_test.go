package integration

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Upstream's deployment annotations (k8s.io/kubectl/pkg/util/deployment).
const (
	revisionAnnotation        = "deployment.kubernetes.io/revision"
	revisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	desiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	maxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
)

// TestDeploymentRolloutUpdateRollback: a Deployment rolls out its first
// ReplicaSet; a new image rolls out a second one within maxSurge and
// maxUnavailable; `kubectl rollout undo` (client-side in today's kubectl:
// it copies the old ReplicaSet's template into the Deployment) brings the
// first template back, which reuses the first ReplicaSet, whose revision
// moves to the top (1 becomes 3, with 1 in its revision history) as
// upstream's controller keeps the books. Undoing to revisions 2 and then
// 3 moves each ReplicaSet up again (4, then 5 with history "1,3").
func TestDeploymentRolloutUpdateRollback(t *testing.T) {
	c := startCluster(t, clusterOptions{nodes: 3})
	const ns, name = "rollout", "web"
	c.createNamespace(ns)
	rsHistory := c.recordReplicaSets(ns)
	podHistory := c.recordPods(ns)

	const replicas, maxSurge, maxUnavailable = 4, 1, 1
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge:       ptr.To(intstr.FromInt32(maxSurge)),
					MaxUnavailable: ptr.To(intstr.FromInt32(maxUnavailable)),
				},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "nginx", Image: "nginx:1.27",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}},
				}}},
			},
		},
	}
	deployments := c.client.AppsV1().Deployments(ns)
	if _, err := deployments.Create(c.ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create deployment: %v", err)
	}

	// The first rollout.
	first := c.waitRolledOut(ns, name, "nginx:1.27", "1")
	if got := first.Annotations[desiredReplicasAnnotation]; got != fmt.Sprint(replicas) {
		t.Errorf("first ReplicaSet %s annotation %s = %q, want %d", first.Name, desiredReplicasAnnotation, got, replicas)
	}
	if got := first.Annotations[maxReplicasAnnotation]; got != fmt.Sprint(replicas+maxSurge) {
		t.Errorf("first ReplicaSet %s annotation %s = %q, want %d", first.Name, maxReplicasAnnotation, got, replicas+maxSurge)
	}
	if ref := metav1.GetControllerOf(first); ref == nil || ref.Kind != "Deployment" || ref.Name != name {
		t.Errorf("first ReplicaSet %s is controlled by %+v, want Deployment %s", first.Name, ref, name)
	}
	wantName := name + "-" + first.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
	if first.Name != wantName || first.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] == "" {
		t.Errorf("first ReplicaSet is %s with selector %v, want %s selecting its pod-template-hash", first.Name, first.Spec.Selector.MatchLabels, wantName)
	}

	c.waitEvent(ns, "Deployment", name, "ScalingReplicaSet", fmt.Sprintf("Scaled up replica set %s from 0 to %d", first.Name, replicas))

	// The update: a new ReplicaSet, rolled out within the bounds.
	updateFrom := podHistory.len()
	rsUpdateFrom := rsHistory.len()
	c.updateDeployment(ns, name, func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28" })
	second := c.waitRolledOut(ns, name, "nginx:1.28", "2")
	if second.UID == first.UID {
		t.Fatalf("the update reused ReplicaSet %s", first.Name)
	}
	c.checkReplicaSet(ns, first.Name, 0, "1", "")
	c.checkRollingBounds(rsHistory.snapshot(), rsUpdateFrom, podHistory.snapshot(), updateFrom, labels, replicas, maxSurge, maxUnavailable)

	// The rollback, as users do it: back to the previous revision, whose
	// ReplicaSet becomes revision 3.
	undoFrom := podHistory.len()
	rsUndoFrom := rsHistory.len()
	c.rollBack(ns, name, "", first)
	back := c.waitRolledOut(ns, name, "nginx:1.27", "3")
	if back.UID != first.UID {
		t.Errorf("the rollback made ReplicaSet %s, want the first one (%s) back", back.Name, first.Name)
	}
	c.checkReplicaSet(ns, first.Name, replicas, "3", "1")
	c.checkReplicaSet(ns, second.Name, 0, "2", "")
	c.checkRollingBounds(rsHistory.snapshot(), rsUndoFrom, podHistory.snapshot(), undoFrom, labels, replicas, maxSurge, maxUnavailable)
	c.checkRolloutHistory(ns, name, map[string]string{"2": "nginx:1.28", "3": "nginx:1.27"})

	// Back and forth by revision number: each ReplicaSet made new again
	// takes the next revision and remembers all it had.
	c.rollBack(ns, name, "2", second)
	c.waitRolledOut(ns, name, "nginx:1.28", "4")
	c.checkReplicaSet(ns, second.Name, replicas, "4", "2")
	c.rollBack(ns, name, "3", first)
	c.waitRolledOut(ns, name, "nginx:1.27", "5")
	c.checkReplicaSet(ns, first.Name, replicas, "5", "1,3")
	c.checkReplicaSet(ns, second.Name, 0, "4", "2")
	c.checkRolloutHistory(ns, name, map[string]string{"4": "nginx:1.28", "5": "nginx:1.27"})
	rss, err := c.client.AppsV1().ReplicaSets(ns).List(c.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rss.Items) != 2 {
		t.Errorf("%d ReplicaSets after the rollbacks, want the same 2", len(rss.Items))
	}
}

// rollBack is `kubectl rollout undo [--to-revision]`, waited for with
// `kubectl rollout status`; without kubectl, the same patch with
// client-go. to is the ReplicaSet of the revision rolled back to.
func (c *cluster) rollBack(ns, name, toRevision string, to *appsv1.ReplicaSet) {
	c.t.Helper()
	kubectl := c.kubectl()
	if kubectl == nil {
		c.undo(ns, name, to)
		return
	}
	args := []string{"rollout", "undo", "deployment/" + name, "-n", ns}
	if toRevision != "" {
		args = append(args, "--to-revision="+toRevision)
	}
	if res := kubectl.MustRun(args...); !strings.Contains(res.Stdout, "rolled back") {
		c.t.Errorf("kubectl %s printed %q, want ... rolled back", strings.Join(args, " "), res.Stdout)
	}
	kubectl.MustRun("rollout", "status", "deployment/"+name, "-n", ns, "--timeout=90s")
}

// checkRolloutHistory checks what `kubectl rollout history` lists: the
// revisions, and each one's image.
func (c *cluster) checkRolloutHistory(ns, name string, images map[string]string) {
	c.t.Helper()
	kubectl := c.kubectl()
	if kubectl == nil {
		return
	}
	history := kubectl.MustRun("rollout", "history", "deployment/"+name, "-n", ns).Stdout
	want := slices.Sorted(maps.Keys(images))
	if revisions := historyRevisions(history); !slices.Equal(revisions, want) {
		c.t.Errorf("kubectl rollout history lists revisions %v, want %v:\n%s", revisions, want, history)
	}
	for revision, image := range images {
		if out := kubectl.MustRun("rollout", "history", "deployment/"+name, "-n", ns, "--revision="+revision).Stdout; !strings.Contains(out, image) {
			c.t.Errorf("kubectl rollout history --revision=%s does not show image %s:\n%s", revision, image, out)
		}
	}
}

// waitRolledOut waits until the Deployment's rollout of image is
// complete, as `kubectl rollout status` decides it, with the revision,
// and returns its (new) ReplicaSet after checking that it owns all the
// Deployment's pods.
func (c *cluster) waitRolledOut(ns, name, image, revision string) *appsv1.ReplicaSet {
	c.t.Helper()
	var newRS *appsv1.ReplicaSet
	c.eventually(fmt.Sprintf("deployment %s rolled out %s as revision %s", name, image, revision), func(ctx context.Context) error {
		d, err := c.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		want := *d.Spec.Replicas
		st := d.Status
		if st.ObservedGeneration < d.Generation || st.UpdatedReplicas != want || st.Replicas != want || st.AvailableReplicas != want || st.ReadyReplicas != want {
			return fmt.Errorf("generation %d, status %+v", d.Generation, st)
		}
		progressing := deploymentCondition(d, appsv1.DeploymentProgressing)
		if progressing == nil || progressing.Reason != "NewReplicaSetAvailable" {
			return fmt.Errorf("Progressing condition %+v", progressing)
		}
		if available := deploymentCondition(d, appsv1.DeploymentAvailable); available == nil || available.Status != corev1.ConditionTrue {
			return fmt.Errorf("Available condition %+v", available)
		}
		if got := d.Spec.Template.Spec.Containers[0].Image; got != image {
			return fmt.Errorf("template image %s", got)
		}
		if got := d.Annotations[revisionAnnotation]; got != revision {
			return fmt.Errorf("deployment revision %q", got)
		}
		rss, err := c.client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		newRS = nil
		for i, rs := range rss.Items {
			if rs.Spec.Template.Spec.Containers[0].Image == image {
				newRS = &rss.Items[i]
			} else if *rs.Spec.Replicas != 0 || rs.Status.Replicas != 0 {
				return fmt.Errorf("old ReplicaSet %s still has %d/%d replicas", rs.Name, *rs.Spec.Replicas, rs.Status.Replicas)
			}
		}
		if newRS == nil {
			return errors.New("no ReplicaSet for the image")
		}
		if got := newRS.Annotations[revisionAnnotation]; got != revision {
			return fmt.Errorf("ReplicaSet %s revision %q", newRS.Name, got)
		}
		if *newRS.Spec.Replicas != want || newRS.Status.ReadyReplicas != want {
			return fmt.Errorf("ReplicaSet %s wants %d, has %d ready", newRS.Name, *newRS.Spec.Replicas, newRS.Status.ReadyReplicas)
		}
		// The old pods are gone, not only scaled out of the counts.
		pods, err := c.podsOf(ctx, ns, d.Spec.Selector.MatchLabels)
		if err != nil {
			return err
		}
		hash := newRS.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		for _, p := range pods {
			if p.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash || p.DeletionTimestamp != nil || !isPodReady(&p) {
				return fmt.Errorf("pod %s (hash %s, deleting %v, ready %v) is not one of %s's ready pods", p.Name,
					p.Labels[appsv1.DefaultDeploymentUniqueLabelKey], p.DeletionTimestamp != nil, isPodReady(&p), newRS.Name)
			}
		}
		if len(pods) != int(want) {
			return fmt.Errorf("%d pods", len(pods))
		}
		return nil
	})
	return newRS
}

// checkRollingBounds checks a rolling update from the changes recorded
// since the marks rsFrom and podsFrom: the ReplicaSets never wanted more
// than replicas+maxSurge pods together and did want that many at some
// point (the surge was used), and fewer than replicas-maxUnavailable pods
// were never ready.
func (c *cluster) checkRollingBounds(rsChanges []change[*appsv1.ReplicaSet], rsFrom int, podChanges []change[*corev1.Pod], podsFrom int,
	labels map[string]string, replicas, maxSurge, maxUnavailable int) {
	c.t.Helper()
	most := 0
	replay(rsChanges, func(i int, state map[string]*appsv1.ReplicaSet) {
		if i < rsFrom {
			return
		}
		total := 0
		wanted := map[string]int32{}
		for name, rs := range state {
			total += int(*rs.Spec.Replicas)
			wanted[name] = *rs.Spec.Replicas
		}
		if total > replicas+maxSurge {
			c.t.Errorf("the ReplicaSets wanted %d pods together (%v), more than %d+%d", total, wanted, replicas, maxSurge)
		}
		most = max(most, total)
	})
	if most != replicas+maxSurge {
		c.t.Errorf("the ReplicaSets wanted at most %d pods together, want the surge used (%d)", most, replicas+maxSurge)
	}

	fewest := replicas
	replay(podChanges, func(i int, state map[string]*corev1.Pod) {
		if i < podsFrom {
			return
		}
		ready := 0
		for _, p := range state {
			if p.DeletionTimestamp == nil && isPodReady(p) && matches(p.Labels, labels) {
				ready++
			}
		}
		fewest = min(fewest, ready)
	})
	if fewest < replicas-maxUnavailable {
		c.t.Errorf("only %d pods were ready at one point of the rollout, fewer than %d-%d", fewest, replicas, maxUnavailable)
	}
}

// checkReplicaSet checks a ReplicaSet's size and revision bookkeeping.
func (c *cluster) checkReplicaSet(ns, name string, replicas int32, revision, revisionHistory string) {
	c.t.Helper()
	rs, err := c.client.AppsV1().ReplicaSets(ns).Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	if *rs.Spec.Replicas != replicas {
		c.t.Errorf("ReplicaSet %s wants %d replicas, want %d", name, *rs.Spec.Replicas, replicas)
	}
	if got := rs.Annotations[revisionAnnotation]; got != revision {
		c.t.Errorf("ReplicaSet %s revision %q, want %q", name, got, revision)
	}
	if got := rs.Annotations[revisionHistoryAnnotation]; got != revisionHistory {
		c.t.Errorf("ReplicaSet %s revision history %q, want %q", name, got, revisionHistory)
	}
}

// updateDeployment changes a Deployment, retrying on conflicts.
func (c *cluster) updateDeployment(ns, name string, change func(*appsv1.Deployment)) {
	c.t.Helper()
	c.eventually("update of deployment "+name, func(ctx context.Context) error {
		d, err := c.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(d)
		_, err = c.client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
		return err
	})
}

// undo is `kubectl rollout undo` without kubectl: the previous
// revision's template and annotations, in one JSON patch.
func (c *cluster) undo(ns, name string, to *appsv1.ReplicaSet) {
	c.t.Helper()
	template := to.Spec.Template.DeepCopy()
	delete(template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	d, err := c.client.AppsV1().Deployments(ns).Get(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	annotations := maps.Clone(d.Annotations)
	skip := []string{corev1.LastAppliedConfigAnnotation, revisionAnnotation, revisionHistoryAnnotation, desiredReplicasAnnotation, maxReplicasAnnotation, appsv1.DeprecatedRollbackTo}
	for k, v := range to.Annotations {
		if !slices.Contains(skip, k) {
			annotations[k] = v
		}
	}
	patch, err := json.Marshal([]map[string]any{
		{"op": "replace", "path": "/spec/template", "value": template},
		{"op": "replace", "path": "/metadata/annotations", "value": annotations},
	})
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.client.AppsV1().Deployments(ns).Patch(c.ctx, name, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
		c.t.Fatalf("roll back deployment %s: %v", name, err)
	}
}

// historyRevisions are the revisions `kubectl rollout history` lists.
func historyRevisions(out string) []string {
	var revisions []string
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 0 && fields[0] != "REVISION" && strings.Trim(fields[0], "0123456789") == "" {
			revisions = append(revisions, fields[0])
		}
	}
	return revisions
}

func deploymentCondition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
