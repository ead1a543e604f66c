package deployment

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
	"github.com/kindish/kindish/controlplane/controllers/replicaset"
)

// cluster is an API server with the deployment and replicaset
// controllers, each acting as its own ServiceAccount, and a stand-in
// kubelet that runs every pod at once and stops it after a short while.
type cluster struct {
	env    *apiservertest.Env
	admin  kubernetes.Interface
	events *events
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	env := apiservertest.Start(t)
	c := &cluster{env: env, admin: env.Client, events: &events{}}
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager")), 0)
	as := func(account string) kubernetes.Interface {
		return kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:serviceaccount:kube-system:"+account, "system:serviceaccounts", "system:serviceaccounts:kube-system"))
	}
	dc := New(as("deployment-controller"), factory, c.events, Config{})
	rsc := replicaset.New(as("replicaset-controller"), factory, c.events, replicaset.Config{})
	kubelet := informers.NewSharedInformerFactory(env.Client, 0)
	_, _ = kubelet.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.kubelet(t, obj) },
		UpdateFunc: func(_, obj any) { c.kubelet(t, obj) },
	})
	factory.Start(ctx.Done())
	kubelet.Start(ctx.Done())
	done := make(chan struct{}, 2)
	go func() { dc.Run(ctx, 2); done <- struct{}{} }()
	go func() { rsc.Run(ctx, 2); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		factory.Shutdown()
		kubelet.Shutdown()
	})
	return c
}

// kubelet does what a kubelet would for each pod: bind it (as the
// scheduler would) so that its deletion is graceful, as on a node; make
// it Running and Ready; and finish its deletion a little after it began,
// as stopping containers takes a while.
func (c *cluster) kubelet(t *testing.T, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	ctx := context.Background()
	pods := c.admin.CoreV1().Pods(pod.Namespace)
	switch {
	case pod.DeletionTimestamp != nil:
		go func() {
			time.Sleep(200 * time.Millisecond)
			if err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64(0)), Preconditions: &metav1.Preconditions{UID: &pod.UID}}); err != nil && !isGone(err) && !apierrors.IsConflict(err) {
				t.Errorf("finish deleting pod %s: %v", pod.Name, err)
			}
		}()
	case pod.Spec.NodeName == "":
		err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, UID: pod.UID}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-a"}}, metav1.CreateOptions{})
		if err != nil && !isGone(err) && !apierrors.IsConflict(err) {
			t.Errorf("bind pod %s: %v", pod.Name, err)
		}
	case pod.Status.Phase != corev1.PodRunning:
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if cur.DeletionTimestamp != nil {
				return nil
			}
			cur.Status.Phase = corev1.PodRunning
			cur.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
			_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil && !isGone(err) {
			t.Errorf("make pod %s ready: %v", pod.Name, err)
		}
	}
}

func (c *cluster) namespace(t *testing.T, name string) string {
	t.Helper()
	if _, err := c.admin.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}

func (c *cluster) deployment(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := c.admin.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// replicaSets are the namespace's ReplicaSets by name.
func (c *cluster) replicaSets(t *testing.T, ns string) map[string]*appsv1.ReplicaSet {
	t.Helper()
	list, err := c.admin.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*appsv1.ReplicaSet{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func (c *cluster) livePods(t *testing.T, ns string, selector labels.Set) []corev1.Pod {
	t.Helper()
	list, err := c.admin.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector.String()})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// waitRolledOut waits until the deployment's status says, as kubectl
// rollout status reads it, that its rollout is done.
func (c *cluster) waitRolledOut(t *testing.T, ns, name string) *appsv1.Deployment {
	t.Helper()
	var d *appsv1.Deployment
	waitFor(t, "deployment "+name+" rolled out", func() bool {
		d = c.deployment(t, ns, name)
		s := d.Status
		want := *d.Spec.Replicas
		return d.Generation <= s.ObservedGeneration && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want
	})
	return d
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
