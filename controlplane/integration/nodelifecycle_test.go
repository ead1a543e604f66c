package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestSilentNodeIsEvicted: a node stops renewing its Lease. Past the
// grace period it is Ready=Unknown and tainted unreachable (NoExecute
// and NoSchedule); its pods are marked not ready, then evicted once
// their tolerationSeconds are over, and their ReplicaSet replaces them on
// the other nodes. When the node comes back, the taints go and the
// evicted pods finish terminating.
func TestSilentNodeIsEvicted(t *testing.T) {
	const gracePeriod = 8 * time.Second
	c := startCluster(t, clusterOptions{nodes: 3, nodeMonitorPeriod: time.Second, nodeMonitorGracePeriod: gracePeriod})
	const ns, name, replicas, tolerationSeconds = "eviction", "survivor", 5, 3
	c.createNamespace(ns)

	labels := map[string]string{"app": name}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To[int32](replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "app", Image: "busybox"}},
					Tolerations: []corev1.Toleration{
						{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](tolerationSeconds)},
						{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](tolerationSeconds)},
					},
				},
			},
		},
	}
	if _, err := c.client.AppsV1().ReplicaSets(ns).Create(c.ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create replicaset: %v", err)
	}
	c.waitReplicaSetReady(ns, name, replicas, "")

	// The node with the most pods falls silent.
	pods, err := c.podsOf(c.ctx, ns, labels)
	if err != nil {
		t.Fatal(err)
	}
	perNode := map[string][]corev1.Pod{}
	for _, p := range pods {
		perNode[p.Spec.NodeName] = append(perNode[p.Spec.NodeName], p)
	}
	victim := ""
	for node, on := range perNode {
		if victim == "" || len(on) > len(perNode[victim]) {
			victim = node
		}
	}
	evicted := perNode[victim]
	t.Logf("stopping %s, which runs %d of the %d pods", victim, len(evicted), replicas)
	stopped := time.Now()
	c.stopNode(victim)

	c.eventually("node "+victim+" Ready=Unknown and tainted unreachable", func(ctx context.Context) error {
		node, err := c.client.CoreV1().Nodes().Get(ctx, victim, metav1.GetOptions{})
		if err != nil {
			return err
		}
		// Every condition the kubelet posted is now unknown.
		for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
			cond := nodeCondition(node, t)
			if cond == nil || cond.Status != corev1.ConditionUnknown || cond.Reason != "NodeStatusUnknown" || cond.Message != "Kubelet stopped posting node status." {
				return fmt.Errorf("%s condition %+v", t, cond)
			}
		}
		for _, effect := range []corev1.TaintEffect{corev1.TaintEffectNoExecute, corev1.TaintEffectNoSchedule} {
			if !slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeUnreachable && t.Effect == effect }) {
				return fmt.Errorf("taints %v lack %s:%s", node.Spec.Taints, corev1.TaintNodeUnreachable, effect)
			}
		}
		return nil
	})
	node, err := c.client.CoreV1().Nodes().Get(c.ctx, victim, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The node stayed Ready for the grace period after its last renewal
	// (at most a renewal interval before it stopped); timestamps have
	// seconds only.
	if ready := nodeCondition(node, corev1.NodeReady); ready.LastTransitionTime.Time.Before(stopped.Add(gracePeriod - leaseRenewInterval - time.Second)) {
		t.Errorf("node %s became Unknown at %s, before its grace period of %s since it stopped at %s was over",
			victim, ready.LastTransitionTime.Format(time.RFC3339), gracePeriod, stopped.Format(time.RFC3339))
	}
	var tainted time.Time
	for _, taint := range node.Spec.Taints {
		if taint.Key == corev1.TaintNodeUnreachable && taint.Effect == corev1.TaintEffectNoExecute && taint.TimeAdded != nil {
			tainted = taint.TimeAdded.Time
		}
	}
	if tainted.IsZero() {
		t.Fatalf("the NoExecute taint of %s has no timeAdded: %v", victim, node.Spec.Taints)
	}

	c.eventually(fmt.Sprintf("the %d pods of %s marked not ready and evicted", len(evicted), victim), func(ctx context.Context) error {
		for _, p := range evicted {
			cur, err := c.client.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("pod %s: %w", p.Name, err)
			}
			if cur.DeletionTimestamp == nil || isPodReady(cur) {
				return fmt.Errorf("pod %s deleting %v, ready %v", p.Name, cur.DeletionTimestamp != nil, isPodReady(cur))
			}
		}
		return nil
	})
	for _, p := range evicted {
		cur, err := c.client.CoreV1().Pods(ns).Get(c.ctx, p.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The deletion was asked for at its timestamp less its grace
		// period; timestamps have seconds only, hence the second's slack.
		asked := cur.DeletionTimestamp.Add(-time.Duration(ptr.Deref(cur.DeletionGracePeriodSeconds, 0)) * time.Second)
		if earliest := tainted.Add(tolerationSeconds*time.Second - time.Second); asked.Before(earliest) {
			t.Errorf("pod %s was evicted at %s, before its %ds toleration of the taint added at %s were over",
				p.Name, asked.Format(time.RFC3339), tolerationSeconds, tainted.Format(time.RFC3339))
		}
		if !slices.ContainsFunc(cur.Status.Conditions, func(c corev1.PodCondition) bool {
			return c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "DeletionByTaintManager"
		}) {
			t.Errorf("evicted pod %s lacks the DisruptionTarget condition: %+v", p.Name, cur.Status.Conditions)
		}
		c.waitEvent(ns, "Pod", p.Name, "NodeNotReady", "Node is not ready")
		c.waitEvent(ns, "Pod", p.Name, "TaintManagerEviction", "Marking for deletion Pod "+ns+"/"+p.Name)
	}

	// The ReplicaSet replaces the evicted pods, on the other nodes only;
	// the pods there stay.
	c.waitReplicaSetReady(ns, name, replicas, victim)
	pods, err = c.podsOf(c.ctx, ns, labels)
	if err != nil {
		t.Fatal(err)
	}
	for node, on := range perNode {
		if node == victim {
			continue
		}
		for _, p := range on {
			if !slices.ContainsFunc(pods, func(q corev1.Pod) bool { return q.UID == p.UID && q.DeletionTimestamp == nil }) {
				t.Errorf("pod %s on healthy node %s was disturbed", p.Name, node)
			}
		}
	}

	// The node comes back: untainted, it finishes off the evicted pods.
	c.restartNode(victim)
	c.waitNodesReady()
	c.eventually("the evicted pods gone", func(ctx context.Context) error {
		for _, p := range evicted {
			if _, err := c.client.CoreV1().Pods(ns).Get(ctx, p.Name, metav1.GetOptions{}); !isNotFound(err) {
				return fmt.Errorf("pod %s: %v", p.Name, err)
			}
		}
		return nil
	})
	c.waitReplicaSetReady(ns, name, replicas, "")
}

// waitReplicaSetReady waits until a ReplicaSet has exactly replicas
// ready pods and no others, none of them on avoid.
func (c *cluster) waitReplicaSetReady(ns, name string, replicas int32, avoid string) {
	c.t.Helper()
	c.eventually(fmt.Sprintf("replicaset %s with %d ready pods", name, replicas), func(ctx context.Context) error {
		rs, err := c.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if rs.Status.ObservedGeneration < rs.Generation || rs.Status.Replicas != replicas || rs.Status.ReadyReplicas != replicas || rs.Status.AvailableReplicas != replicas {
			return fmt.Errorf("status %+v", rs.Status)
		}
		pods, err := c.podsOf(ctx, ns, rs.Spec.Selector.MatchLabels)
		if err != nil {
			return err
		}
		active := 0
		for _, p := range pods {
			if p.DeletionTimestamp != nil {
				continue
			}
			if !isPodReady(&p) || p.Status.PodIP == "" {
				return fmt.Errorf("pod %s not ready on %q", p.Name, p.Spec.NodeName)
			}
			if p.Spec.NodeName == avoid {
				return fmt.Errorf("pod %s runs on %s", p.Name, avoid)
			}
			if ref := metav1.GetControllerOf(&p); ref == nil || ref.UID != rs.UID {
				return fmt.Errorf("pod %s controlled by %+v", p.Name, ref)
			}
			active++
		}
		if active != int(replicas) {
			return fmt.Errorf("%d active pods", active)
		}
		return nil
	})
}

// waitEvent waits for an event with the reason and message about the
// object; events are recorded in the background.
func (c *cluster) waitEvent(ns, kind, name, reason, message string) {
	c.t.Helper()
	c.eventually(fmt.Sprintf("event %s about %s %s", reason, kind, name), func(ctx context.Context) error {
		events, err := c.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		var seen []string
		for _, e := range events.Items {
			if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name {
				if e.Reason == reason && e.Message == message {
					return nil
				}
				seen = append(seen, e.Reason+": "+e.Message)
			}
		}
		return fmt.Errorf("its events: %q", seen)
	})
}
