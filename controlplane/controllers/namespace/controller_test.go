package namespace

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

// controllerUser is the identity kube-controller-manager gives the
// controller with --use-service-account-credentials: the test proves its
// bootstrap RBAC role is enough.
const controllerUser = "system:serviceaccount:kube-system:namespace-controller"

func startController(t *testing.T, env *apiservertest.Env) {
	t.Helper()
	cfg := env.ConfigFor(t, controllerUser, "system:serviceaccounts", "system:serviceaccounts:kube-system")
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	metadataClient, err := metadata.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, metadataClient, nil)
	// Nothing here races the deletion: no need for upstream's pause.
	c.deletionDelay = 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	factory.Start(ctx.Done())
	go func() {
		defer close(done)
		c.Run(ctx, 2)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
	})
}

func create[T any](t *testing.T, what string, f func(context.Context, T, metav1.CreateOptions) (T, error), obj T) T {
	t.Helper()
	out, err := f(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s: %v", what, err)
	}
	return out
}

func eventually(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 40*time.Second, true, cond)
	if err != nil {
		t.Fatalf("waiting until %s: %v", what, err)
	}
}

func namespaceGone(client kubernetes.Interface, name string) func(ctx context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		_, err := client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	}
}

// hasCondition reports whether the namespace shows the condition with that
// status, reason and message.
func hasCondition(ns *corev1.Namespace, want corev1.NamespaceCondition) bool {
	c := findCondition(ns.Status.Conditions, want.Type)
	return c != nil && c.Status == want.Status && c.Reason == want.Reason && c.Message == want.Message
}

func waitForConditions(t *testing.T, client kubernetes.Interface, name string, want ...corev1.NamespaceCondition) *corev1.Namespace {
	t.Helper()
	var ns *corev1.Namespace
	eventually(t, "namespace "+name+" shows its conditions", func(ctx context.Context) (bool, error) {
		var err error
		if ns, err = client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); err != nil {
			return false, err
		}
		for _, c := range want {
			if !hasCondition(ns, c) {
				return false, nil
			}
		}
		return true, nil
	})
	return ns
}

func podSpec(node string, grace int64) corev1.PodSpec {
	return corev1.PodSpec{
		NodeName:                      node,
		TerminationGracePeriodSeconds: &grace,
		Containers:                    []corev1.Container{{Name: "app", Image: "busybox"}},
	}
}

func TestNamespaceDeletionAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	client := env.Client
	startController(t, env)
	kubectl := env.Kubectl(t)

	t.Run("kubectl delete namespace removes its config maps, secrets and unscheduled pods, then the namespace", func(t *testing.T) {
		t.Parallel()
		const ns = "apps"
		create(t, "namespace", client.CoreV1().Namespaces().Create, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		create(t, "configmap", client.CoreV1().ConfigMaps(ns).Create, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}})
		create(t, "secret", client.CoreV1().Secrets(ns).Create, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "password"}})
		create(t, "pod", client.CoreV1().Pods(ns).Create, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pending"}, Spec: podSpec("", 30)})

		if r := kubectl.Run("delete", "namespace", ns, "--timeout=40s"); r.ExitCode != 0 {
			t.Fatalf("kubectl delete namespace: %s", r)
		}
		if gone, err := namespaceGone(client, ns)(context.Background()); !gone {
			t.Fatalf("namespace after kubectl delete returned: gone = %v, err = %v", gone, err)
		}
		ctx := context.Background()
		if cms, err := client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); err != nil || len(cms.Items) != 0 {
			t.Errorf("config maps left: %v, err %v", cms, err)
		}
		if secrets, err := client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); err != nil || len(secrets.Items) != 0 {
			t.Errorf("secrets left: %v, err %v", secrets, err)
		}
		if pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err != nil || len(pods.Items) != 0 {
			t.Errorf("pods left: %v, err %v", pods, err)
		}
	})

	t.Run("a pod on a node holds the namespace, and the rest of its content, until its kubelet finishes", func(t *testing.T) {
		t.Parallel()
		const ns = "node-pods"
		ctx := context.Background()
		create(t, "namespace", client.CoreV1().Namespaces().Create, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		create(t, "configmap", client.CoreV1().ConfigMaps(ns).Create, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}})
		pod := create(t, "pod", client.CoreV1().Pods(ns).Create, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "running"}, Spec: podSpec("worker-1", 4)})

		if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got := waitForConditions(t, client, ns,
			corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain",
				Message: "Some resources are remaining: pods. has 1 resource instances"},
			corev1.NamespaceCondition{Type: corev1.NamespaceDeletionDiscoveryFailure, Status: corev1.ConditionFalse, Reason: "ResourcesDiscovered",
				Message: "All resources successfully discovered"},
			corev1.NamespaceCondition{Type: corev1.NamespaceFinalizersRemaining, Status: corev1.ConditionFalse, Reason: "ContentHasNoFinalizers",
				Message: "All content-preserving finalizers finished"},
		)
		if got.Status.Phase != corev1.NamespaceTerminating || len(got.Spec.Finalizers) != 1 || got.Spec.Finalizers[0] != corev1.FinalizerKubernetes {
			t.Errorf("namespace while its pod terminates: phase %q, finalizers %v; want Terminating with %q", got.Status.Phase, got.Spec.Finalizers, corev1.FinalizerKubernetes)
		}
		p, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("pod on a node must wait for its kubelet: %v", err)
		}
		if p.DeletionTimestamp == nil {
			t.Errorf("pod on a node was not deleted gracefully: no deletionTimestamp")
		}
		cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
		if err != nil || cm.DeletionTimestamp != nil {
			t.Errorf("config map while a pod remains: %v, err %v; want untouched until the pods are gone", cm, err)
		}

		// The kubelet, its containers stopped, finishes the deletion.
		uid := types.UID(p.UID)
		zero := int64(0)
		if err := client.CoreV1().Pods(ns).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil {
			t.Fatalf("delete the pod as its kubelet: %v", err)
		}
		eventually(t, "the namespace is gone", namespaceGone(client, ns))
		if cms, err := client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); err != nil || len(cms.Items) != 0 {
			t.Errorf("config maps left: %v, err %v", cms, err)
		}
	})

	t.Run("content held by a finalizer is reported and holds the namespace", func(t *testing.T) {
		t.Parallel()
		const ns = "held"
		const keep = "example.com/keep"
		ctx := context.Background()
		create(t, "namespace", client.CoreV1().Namespaces().Create, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		create(t, "configmap", client.CoreV1().ConfigMaps(ns).Create, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kept", Finalizers: []string{keep}}})
		create(t, "secret", client.CoreV1().Secrets(ns).Create, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "password"}})

		if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitForConditions(t, client, ns,
			corev1.NamespaceCondition{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain",
				Message: "Some resources are remaining: configmaps. has 1 resource instances"},
			corev1.NamespaceCondition{Type: corev1.NamespaceFinalizersRemaining, Status: corev1.ConditionTrue, Reason: "SomeFinalizersRemain",
				Message: "Some content in the namespace has finalizers remaining: example.com/keep in 1 resource instances"},
			corev1.NamespaceCondition{Type: corev1.NamespaceDeletionContentFailure, Status: corev1.ConditionFalse, Reason: "ContentDeleted",
				Message: "All content successfully deleted, may be waiting on finalization"},
		)
		if _, err := client.CoreV1().Secrets(ns).Get(ctx, "password", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("secret in the terminating namespace: err = %v, want NotFound", err)
		}

		if _, err := client.CoreV1().ConfigMaps(ns).Patch(ctx, "kept", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
			t.Fatalf("release the config map: %v", err)
		}
		eventually(t, "the namespace is gone", namespaceGone(client, ns))
	})
}
