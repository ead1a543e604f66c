package integration

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

// TestStatefulSetOrder: a StatefulSet (OrderedReady, the default) creates
// web-0 and, while web-0 runs but is not ready, nothing else; each pod is
// created only once the one before it runs and is ready. Scaled to zero,
// it deletes web-2, then web-1 once web-2 is gone, then web-0.
func TestStatefulSetOrder(t *testing.T) {
	const ns, name, replicas = "stateful", "web", 3
	var holdFirst atomic.Bool
	holdFirst.Store(true)
	c := startCluster(t, clusterOptions{nodes: 2, policy: podPolicy{
		holdReady: func(p *corev1.Pod) bool { return p.Namespace == ns && p.Name == name+"-0" && holdFirst.Load() },
	}})
	c.createNamespace(ns)
	pods := c.recordPods(ns)

	labels := map[string]string{"app": name}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  labels,
			Ports:     []corev1.ServicePort{{Name: "web", Port: 80}},
		},
	}
	if _, err := c.client.CoreV1().Services(ns).Create(c.ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create headless service: %v", err)
	}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To[int32](replicas),
			ServiceName: name,
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx"}}},
			},
		},
	}
	statefulSets := c.client.AppsV1().StatefulSets(ns)
	if _, err := statefulSets.Create(c.ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create statefulset: %v", err)
	}

	c.eventually(name+"-0 running, held not ready", func(ctx context.Context) error {
		p, err := c.client.CoreV1().Pods(ns).Get(ctx, name+"-0", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if p.Status.Phase != corev1.PodRunning {
			return fmt.Errorf("phase %s", p.Status.Phase)
		}
		return nil
	})
	// Nothing must happen here; a short look catches a controller that
	// does not wait.
	c.consistently(2*time.Second, "while "+name+"-0 is not ready", func(ctx context.Context) error {
		if _, err := c.client.CoreV1().Pods(ns).Get(ctx, name+"-1", metav1.GetOptions{}); !isNotFound(err) {
			return fmt.Errorf("%s-1 exists (%v)", name, err)
		}
		return nil
	})
	holdFirst.Store(false)

	c.eventually(fmt.Sprintf("statefulset %s with %d ready pods", name, replicas), func(ctx context.Context) error {
		s, err := statefulSets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		st := s.Status
		if st.ObservedGeneration < s.Generation || st.Replicas != replicas || st.ReadyReplicas != replicas || st.CurrentReplicas != replicas ||
			st.CurrentRevision == "" || st.CurrentRevision != st.UpdateRevision {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
	for i := range replicas {
		podName := fmt.Sprintf("%s-%d", name, i)
		p, err := c.client.CoreV1().Pods(ns).Get(c.ctx, podName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec.Hostname != podName || p.Spec.Subdomain != name {
			t.Errorf("pod %s hostname %q subdomain %q, want %q and %q", podName, p.Spec.Hostname, p.Spec.Subdomain, podName, name)
		}
		if p.Labels[appsv1.StatefulSetPodNameLabel] != podName || p.Labels[appsv1.PodIndexLabel] != strconv.Itoa(i) {
			t.Errorf("pod %s labels %v", podName, p.Labels)
		}
	}
	created := pods.snapshot()
	for i := 1; i < replicas; i++ {
		if err := createdAfterReady(created, fmt.Sprintf("%s-%d", name, i), fmt.Sprintf("%s-%d", name, i-1)); err != nil {
			t.Error(err)
		}
	}

	// Scale to zero through the scale subresource, as `kubectl scale`.
	scaleFrom := pods.len()
	scale, err := statefulSets.GetScale(c.ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 0
	if _, err := statefulSets.UpdateScale(c.ctx, name, scale, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("scale statefulset to 0: %v", err)
	}
	c.eventually("statefulset "+name+" scaled to zero", func(ctx context.Context) error {
		list, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		s, err := statefulSets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(list.Items) != 0 || s.Status.Replicas != 0 || s.Status.ObservedGeneration < s.Generation {
			return fmt.Errorf("%d pods, status %+v", len(list.Items), s.Status)
		}
		return nil
	})
	removed := pods.snapshot()[scaleFrom:]
	for i := replicas - 1; i > 0; i-- {
		if err := deletedBefore(removed, fmt.Sprintf("%s-%d", name, i), fmt.Sprintf("%s-%d", name, i-1)); err != nil {
			t.Error(err)
		}
	}
}

// createdAfterReady checks that pod was created when before was running
// and ready.
func createdAfterReady(changes []change[*corev1.Pod], pod, before string) error {
	var err error = fmt.Errorf("pod %s was never created", pod)
	seen := false
	replay(changes, func(i int, state map[string]*corev1.Pod) {
		ch := changes[i]
		if seen || ch.Type != watch.Added || ch.Object.Name != pod {
			return
		}
		seen = true
		prev, ok := state[before]
		switch {
		case !ok:
			err = fmt.Errorf("pod %s was created while %s did not exist", pod, before)
		case prev.Status.Phase != corev1.PodRunning || !isPodReady(prev) || prev.DeletionTimestamp != nil:
			err = fmt.Errorf("pod %s was created while %s was %s, ready %v", pod, before, prev.Status.Phase, isPodReady(prev))
		default:
			err = nil
		}
	})
	return err
}

// deletedBefore checks that the deletion of next began only after pod
// was gone.
func deletedBefore(changes []change[*corev1.Pod], pod, next string) error {
	gone, nextDeleting := -1, -1
	for i, ch := range changes {
		switch {
		case ch.Object.Name == pod && ch.Type == watch.Deleted && gone < 0:
			gone = i
		case ch.Object.Name == next && (ch.Object.DeletionTimestamp != nil || ch.Type == watch.Deleted) && nextDeleting < 0:
			nextDeleting = i
		}
	}
	switch {
	case gone < 0:
		return fmt.Errorf("pod %s was never deleted", pod)
	case nextDeleting < 0:
		return fmt.Errorf("pod %s was never deleted", next)
	case nextDeleting < gone:
		return fmt.Errorf("the deletion of pod %s began (change %d) before pod %s was gone (change %d)", next, nextDeleting, pod, gone)
	}
	return nil
}
