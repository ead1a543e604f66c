package garbagecollector

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

// collectorUser is the identity kube-controller-manager gives the
// collector with --use-service-account-credentials: the test proves its
// bootstrap RBAC role is enough.
const collectorUser = "system:serviceaccount:kube-system:generic-garbage-collector"

// startCollector runs the collector against env as its own service
// account until the test ends.
func startCollector(t *testing.T, env *apiservertest.Env) {
	t.Helper()
	cfg := env.ConfigFor(t, collectorUser, "system:serviceaccounts", "system:serviceaccounts:kube-system")
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	metadataClient, err := metadata.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	gc := New(client, factory, metadataClient, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		gc.Run(ctx, 2)
	}()
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
	})
}

func createNamespace(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	_, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %q: %v", name, err)
	}
}

// ownedBy is the reference a controller puts on what it creates.
func ownedBy(apiVersion, kind, name string, uid types.UID) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: &yes, BlockOwnerDeletion: &yes}
}

func configMapRef(cm *corev1.ConfigMap) metav1.OwnerReference {
	return ownedBy("v1", "ConfigMap", cm.Name, cm.UID)
}

func createConfigMap(t *testing.T, client kubernetes.Interface, namespace, name string, owners ...metav1.OwnerReference) *corev1.ConfigMap {
	t.Helper()
	cm, err := client.CoreV1().ConfigMaps(namespace).Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, OwnerReferences: owners},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create configmap %s/%s: %v", namespace, name, err)
	}
	return cm
}

// chain is what a Deployment leaves behind: the Deployment, its
// ReplicaSet and the ReplicaSet's pods, created directly (no workload
// controller runs in these tests).
type chain struct {
	deployment *appsv1.Deployment
	replicaSet *appsv1.ReplicaSet
	pods       []*corev1.Pod
}

func createChain(t *testing.T, client kubernetes.Interface, namespace string, podFinalizers ...string) chain {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": "web"}
	template := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
	}
	d, err := client.AppsV1().Deployments(namespace).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create deployment: %v", err)
	}
	rs, err := client.AppsV1().ReplicaSets(namespace).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f9", Labels: labels,
			OwnerReferences: []metav1.OwnerReference{ownedBy("apps/v1", "Deployment", d.Name, d.UID)}},
		Spec: appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create replicaset: %v", err)
	}
	c := chain{deployment: d, replicaSet: rs}
	for i := range 2 {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-5d8f9-%d", i), Labels: labels,
				OwnerReferences: []metav1.OwnerReference{ownedBy("apps/v1", "ReplicaSet", rs.Name, rs.UID)}},
			Spec: template.Spec,
		}
		if i == 0 {
			pod.Finalizers = podFinalizers
		}
		p, err := client.CoreV1().Pods(namespace).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create pod: %v", err)
		}
		c.pods = append(c.pods, p)
	}
	return c
}

// eventually polls cond until it holds, failing the test after a while.
func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, cond)
	if err != nil {
		t.Fatalf("waiting until %s: %v", what, err)
	}
}

func isGone(err error) (bool, error) {
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	return false, err
}

func podsGone(client kubernetes.Interface, namespace string) func(ctx context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		return err == nil && len(pods.Items) == 0, err
	}
}

func TestCollectorAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	client := env.Client
	startCollector(t, env)
	kubectl := env.Kubectl(t)

	t.Run("kubectl delete --cascade=background removes the ReplicaSet and its pods after the Deployment", func(t *testing.T) {
		ns := "cascade-background"
		createNamespace(t, client, ns)
		c := createChain(t, client, ns)
		if r := kubectl.Run("delete", "deployment", c.deployment.Name, "-n", ns, "--cascade=background"); r.ExitCode != 0 {
			t.Fatalf("kubectl delete: %s", r)
		}
		if _, err := client.AppsV1().Deployments(ns).Get(context.Background(), c.deployment.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("deployment after a background delete: err = %v, want NotFound at once", err)
		}
		eventually(t, "the replicaset is collected", func(ctx context.Context) (bool, error) {
			_, err := client.AppsV1().ReplicaSets(ns).Get(ctx, c.replicaSet.Name, metav1.GetOptions{})
			return isGone(err)
		})
		eventually(t, "the pods are collected", podsGone(client, ns))
	})

	t.Run("kubectl delete --cascade=foreground keeps the Deployment until its blocking dependents are gone", func(t *testing.T) {
		ns := "cascade-foreground"
		createNamespace(t, client, ns)
		const hold = "example.com/hold"
		c := createChain(t, client, ns, hold)
		if r := kubectl.Run("delete", "deployment", c.deployment.Name, "-n", ns, "--cascade=foreground", "--wait=false"); r.ExitCode != 0 {
			t.Fatalf("kubectl delete: %s", r)
		}
		held := c.pods[0].Name
		eventually(t, "the free pod is collected and the held one is being deleted", func(ctx context.Context) (bool, error) {
			pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			return len(pods.Items) == 1 && pods.Items[0].Name == held && pods.Items[0].DeletionTimestamp != nil, nil
		})
		// The held pod blocks the ReplicaSet, which blocks the Deployment.
		time.Sleep(500 * time.Millisecond)
		d, err := client.AppsV1().Deployments(ns).Get(context.Background(), c.deployment.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("deployment while a pod blocks it: %v", err)
		}
		if d.DeletionTimestamp == nil || !slices.Contains(d.Finalizers, metav1.FinalizerDeleteDependents) {
			t.Fatalf("deployment: deletionTimestamp %v, finalizers %v; want deleting with %q", d.DeletionTimestamp, d.Finalizers, metav1.FinalizerDeleteDependents)
		}
		rs, err := client.AppsV1().ReplicaSets(ns).Get(context.Background(), c.replicaSet.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("replicaset while a pod blocks it: %v", err)
		}
		if rs.DeletionTimestamp == nil || !slices.Contains(rs.Finalizers, metav1.FinalizerDeleteDependents) {
			t.Fatalf("replicaset: deletionTimestamp %v, finalizers %v; want deleted in the foreground, as it has dependents", rs.DeletionTimestamp, rs.Finalizers)
		}

		if _, err := client.CoreV1().Pods(ns).Patch(context.Background(), held, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("release the held pod: %v", err)
		}
		eventually(t, "the deployment is gone", func(ctx context.Context) (bool, error) {
			_, err := client.AppsV1().Deployments(ns).Get(ctx, c.deployment.Name, metav1.GetOptions{})
			return isGone(err)
		})
		if _, err := client.AppsV1().ReplicaSets(ns).Get(context.Background(), c.replicaSet.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("replicaset once the deployment is gone: err = %v, want NotFound", err)
		}
		if ok, err := podsGone(client, ns)(context.Background()); !ok || err != nil {
			t.Errorf("pods once the deployment is gone: gone = %v, err = %v", ok, err)
		}
	})

	t.Run("kubectl delete --cascade=orphan leaves the ReplicaSet without its owner reference", func(t *testing.T) {
		ns := "cascade-orphan"
		createNamespace(t, client, ns)
		c := createChain(t, client, ns)
		if r := kubectl.Run("delete", "deployment", c.deployment.Name, "-n", ns, "--cascade=orphan"); r.ExitCode != 0 {
			t.Fatalf("kubectl delete: %s", r)
		}
		eventually(t, "the deployment is gone", func(ctx context.Context) (bool, error) {
			_, err := client.AppsV1().Deployments(ns).Get(ctx, c.deployment.Name, metav1.GetOptions{})
			return isGone(err)
		})
		rs, err := client.AppsV1().ReplicaSets(ns).Get(context.Background(), c.replicaSet.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("orphaned replicaset: %v", err)
		}
		if len(rs.OwnerReferences) != 0 {
			t.Errorf("orphaned replicaset owner references = %v, want none", rs.OwnerReferences)
		}
		for _, p := range c.pods {
			pod, err := client.CoreV1().Pods(ns).Get(context.Background(), p.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("pod of the orphaned replicaset: %v", err)
			}
			if len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].UID != rs.UID {
				t.Errorf("pod %s owner references = %v, want the replicaset's only", p.Name, pod.OwnerReferences)
			}
		}
	})

	t.Run("a dependent with two owners survives one of them and loses its reference", func(t *testing.T) {
		ns := "two-owners"
		createNamespace(t, client, ns)
		first := createConfigMap(t, client, ns, "first")
		second := createConfigMap(t, client, ns, "second")
		// Only one owner may be the controller.
		alsoOwnedBy := configMapRef(second)
		alsoOwnedBy.Controller = nil
		dep := createConfigMap(t, client, ns, "dependent", configMapRef(first), alsoOwnedBy)
		if err := client.CoreV1().ConfigMaps(ns).Delete(context.Background(), first.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the dependent keeps only its live owner", func(ctx context.Context) (bool, error) {
			cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, dep.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return len(cm.OwnerReferences) == 1 && cm.OwnerReferences[0].UID == second.UID, nil
		})
	})

	t.Run("objects whose owner never existed are collected, those with a live owner stay", func(t *testing.T) {
		ns := "absent-owners"
		createNamespace(t, client, ns)
		owner := createConfigMap(t, client, ns, "owner")
		kept := createConfigMap(t, client, ns, "kept", configMapRef(owner))
		ghost := createConfigMap(t, client, ns, "ghost-child", ownedBy("v1", "ConfigMap", "ghost", uuid.NewUUID()))
		stale := createConfigMap(t, client, ns, "stale-uid-child", ownedBy("v1", "ConfigMap", owner.Name, uuid.NewUUID()))
		for _, name := range []string{ghost.Name, stale.Name} {
			eventually(t, name+" is collected", func(ctx context.Context) (bool, error) {
				_, err := client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
				return isGone(err)
			})
		}
		if _, err := client.CoreV1().ConfigMaps(ns).Get(context.Background(), kept.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("dependent of a live owner: %v", err)
		}
	})

	t.Run("an owner reference to another namespace is dangling and reported", func(t *testing.T) {
		createNamespace(t, client, "owner-side")
		createNamespace(t, client, "dependent-side")
		owner := createConfigMap(t, client, "owner-side", "owner")
		dep := createConfigMap(t, client, "dependent-side", "dependent", configMapRef(owner))
		eventually(t, "the dependent is collected", func(ctx context.Context) (bool, error) {
			_, err := client.CoreV1().ConfigMaps("dependent-side").Get(ctx, dep.Name, metav1.GetOptions{})
			return isGone(err)
		})
		want := fmt.Sprintf("ownerRef [v1/ConfigMap, namespace: dependent-side, name: owner, uid: %s] does not exist in namespace %q", owner.UID, "dependent-side")
		eventually(t, "the OwnerRefInvalidNamespace event is recorded", func(ctx context.Context) (bool, error) {
			events, err := client.CoreV1().Events("dependent-side").List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			for _, e := range events.Items {
				if e.Reason == "OwnerRefInvalidNamespace" && e.Type == corev1.EventTypeWarning && e.Message == want &&
					e.InvolvedObject.UID == dep.UID && e.Source.Component == Name {
					return true, nil
				}
			}
			return false, nil
		})
		if _, err := client.CoreV1().ConfigMaps("owner-side").Get(context.Background(), owner.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("owner in its own namespace: %v", err)
		}
	})
}

// handlerWaitingInformer stands for a shared informer that is shutting
// down: removing a handler waits for its handlers' calls in flight, and
// the one in flight reads the collector's monitors.
type handlerWaitingInformer struct {
	cache.SharedIndexInformer
	handlerInFlight func()
}

func (i handlerWaitingInformer) RemoveEventHandler(cache.ResourceEventHandlerRegistration) error {
	i.handlerInFlight()
	return nil
}

// A collector stopping removes its handlers from the shared informers,
// which may be stopping too and wait for every handler call in flight;
// such a call reads the collector's monitors. Holding the monitors' lock
// while removing the handlers deadlocked the controller manager's
// shutdown.
func TestStopMonitorsDoesNotHoldItsLockWhileRemovingHandlers(t *testing.T) {
	c := &Controller{monitors: map[schema.GroupVersionResource]*monitor{}}
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	var reg cache.ResourceEventHandlerRegistration = struct {
		cache.ResourceEventHandlerRegistration
	}{}
	c.monitors[gvr] = &monitor{
		informer:     handlerWaitingInformer{handlerInFlight: func() { c.monitorList() }},
		registration: reg,
	}
	stopped := make(chan struct{})
	go func() { c.stopMonitors(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stopMonitors waited on a handler that waits on the monitors' lock")
	}
	if len(c.monitorList()) != 0 {
		t.Errorf("monitors left after stopMonitors: %d", len(c.monitorList()))
	}
}
