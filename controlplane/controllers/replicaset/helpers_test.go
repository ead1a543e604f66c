package replicaset

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

// events records what a controller reports, as "Type Reason Message".
type events struct {
	mu   sync.Mutex
	seen []string
}

func (e *events) Event(_ runtime.Object, eventtype, reason, message string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seen = append(e.seen, eventtype+" "+reason+" "+message)
}

func (e *events) Eventf(obj runtime.Object, eventtype, reason, format string, args ...any) {
	e.Event(obj, eventtype, reason, fmt.Sprintf(format, args...))
}

func (e *events) AnnotatedEventf(obj runtime.Object, _ map[string]string, eventtype, reason, format string, args ...any) {
	e.Eventf(obj, eventtype, reason, format, args...)
}

// with returns the events starting with prefix.
func (e *events) with(prefix string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, s := range e.seen {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// controllerClient acts as the controller's ServiceAccount, so that RBAC's
// system:controller role for it applies, as with
// --use-service-account-credentials.
func controllerClient(t *testing.T, env *apiservertest.Env, account string) kubernetes.Interface {
	return kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:serviceaccount:kube-system:"+account, "system:serviceaccounts", "system:serviceaccounts:kube-system"))
}

// run builds a controller with build on a factory reading as the
// controller manager, and runs both until the test ends.
func run(t *testing.T, env *apiservertest.Env, build func(informers.SharedInformerFactory) interface {
	Run(context.Context, int)
}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager")), 0)
	c := build(factory)
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	t.Cleanup(func() { cancel(); <-done; factory.Shutdown() })
}

func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setPodState does what a kubelet would: phase, and the Ready condition.
func setPodState(t *testing.T, client kubernetes.Interface, pod *corev1.Pod, phase corev1.PodPhase, ready bool) {
	t.Helper()
	ctx := context.Background()
	cur, err := client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	cur.Status.Phase = phase
	cur.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	if _, err := client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update status of pod %s: %v", pod.Name, err)
	}
}

// livePods are the pods of namespace not being deleted, selected by
// label selector, sorted by name.
func livePods(t *testing.T, client kubernetes.Interface, namespace, selector string) []corev1.Pod {
	t.Helper()
	list, err := client.CoreV1().Pods(namespace).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func createNamespace(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}
