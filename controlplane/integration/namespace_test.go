package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestNamespaceDeletionEmptiesIt: deleting a namespace with pods (one
// bare, others of a Deployment and its ReplicaSet) and ConfigMaps marks
// it Terminating; the namespace controller deletes everything in it (the
// kubelets finishing the pods off) and then the namespace itself, so that
// nothing of it is left in etcd. A namespace next to it is untouched.
func TestNamespaceDeletionEmptiesIt(t *testing.T) {
	c := startCluster(t, clusterOptions{nodes: 2})
	const doomed, bystander = "doomed", "bystander"
	c.createNamespace(doomed)
	c.createNamespace(bystander)

	for _, ns := range []string{doomed, bystander} {
		for i := range 2 {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("settings-%d", i), Namespace: ns}, Data: map[string]string{"key": "value"}}
			if _, err := c.client.CoreV1().ConfigMaps(ns).Create(c.ctx, cm, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bare", Namespace: ns}, Spec: quickPodSpec("busybox")}
		if _, err := c.client.CoreV1().Pods(ns).Create(c.ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	labels := map[string]string{"app": "web"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: doomed},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       quickPodSpec("nginx"),
			},
		},
	}
	if _, err := c.client.AppsV1().Deployments(doomed).Create(c.ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.eventually("the pods of "+doomed+" running", func(ctx context.Context) error {
		pods, err := c.client.CoreV1().Pods(doomed).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, p := range pods.Items {
			if isPodReady(&p) {
				ready++
			}
		}
		if ready != 4 {
			return fmt.Errorf("%d of %d pods ready, want 4", ready, len(pods.Items))
		}
		return nil
	})
	if keys := c.etcdKeysOf(doomed); len(keys) == 0 {
		t.Fatalf("etcd holds nothing of namespace %s", doomed)
	}

	if err := c.client.CoreV1().Namespaces().Delete(c.ctx, doomed, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete namespace: %v", err)
	}
	ns, err := c.client.CoreV1().Namespaces().Get(c.ctx, doomed, metav1.GetOptions{})
	switch {
	case isNotFound(err):
		t.Fatalf("namespace %s disappeared at once, before its content", doomed)
	case err != nil:
		t.Fatal(err)
	case ns.Status.Phase != corev1.NamespaceTerminating || ns.DeletionTimestamp == nil:
		t.Errorf("namespace %s is %s (deletionTimestamp %v) after its deletion, want Terminating", doomed, ns.Status.Phase, ns.DeletionTimestamp)
	}
	// A terminating namespace takes nothing new.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: doomed}}
	if _, err := c.client.CoreV1().ConfigMaps(doomed).Create(c.ctx, cm, metav1.CreateOptions{}); err == nil {
		t.Errorf("created a ConfigMap in terminating namespace %s", doomed)
	} else if !strings.Contains(err.Error(), "being terminated") {
		t.Errorf("create in a terminating namespace: %v, want ... is being terminated", err)
	}

	c.eventually("namespace "+doomed+" gone", func(ctx context.Context) error {
		ns, err := c.client.CoreV1().Namespaces().Get(ctx, doomed, metav1.GetOptions{})
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("phase %s, conditions %+v, finalizers %v", ns.Status.Phase, ns.Status.Conditions, ns.Spec.Finalizers)
	})
	if keys := c.etcdKeysOf(doomed); len(keys) > 0 {
		t.Errorf("etcd still holds objects of namespace %s: %v", doomed, keys)
	}
	for what, list := range map[string]func(context.Context) (int, error){
		"pods": func(ctx context.Context) (int, error) {
			l, err := c.client.CoreV1().Pods(doomed).List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		},
		"configmaps": func(ctx context.Context) (int, error) {
			l, err := c.client.CoreV1().ConfigMaps(doomed).List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		},
		"deployments": func(ctx context.Context) (int, error) {
			l, err := c.client.AppsV1().Deployments(doomed).List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		},
		"replicasets": func(ctx context.Context) (int, error) {
			l, err := c.client.AppsV1().ReplicaSets(doomed).List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		},
	} {
		if n, err := list(c.ctx); err != nil || n != 0 {
			t.Errorf("%s in deleted namespace %s: %d (%v)", what, doomed, n, err)
		}
	}

	// The namespace next door keeps everything.
	if _, err := c.client.CoreV1().Pods(bystander).Get(c.ctx, "bare", metav1.GetOptions{}); err != nil {
		t.Errorf("pod of namespace %s: %v", bystander, err)
	}
	cms, err := c.client.CoreV1().ConfigMaps(bystander).List(c.ctx, metav1.ListOptions{})
	if err != nil || len(cms.Items) != 3 { // ours and kube-root-ca.crt
		t.Errorf("configmaps of namespace %s: %d (%v), want 3", bystander, len(cms.Items), err)
	}

	// The name is free again.
	c.createNamespace(doomed)
}

// etcdKeysOf lists the keys of etcd that hold objects of the namespace:
// /registry/[<group>/]<resource>/<namespace>/<name>.
func (c *cluster) etcdKeysOf(namespace string) []string {
	c.t.Helper()
	resp, err := c.env.Etcd.Get(c.ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		c.t.Fatal(err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		parts := strings.Split(strings.TrimPrefix(string(kv.Key), "/registry/"), "/")
		// The namespace itself is /registry/namespaces/<name>.
		if len(parts) >= 3 && parts[len(parts)-2] == namespace {
			keys = append(keys, string(kv.Key))
		}
	}
	return keys
}

// quickPodSpec runs image with a short termination grace period: the
// namespace controller, as upstream's, comes back to pods still
// terminating after half their grace period.
func quickPodSpec(image string) corev1.PodSpec {
	return corev1.PodSpec{
		TerminationGracePeriodSeconds: ptr.To[int64](2),
		Containers:                    []corev1.Container{{Name: "app", Image: image}},
	}
}
