package admission_test

import (
	"context"
	"fmt"
	"k8s.io/apimachinery/pkg/util/wait"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/kindish/kindish/controlplane/apiserver/admission"
	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
	"github.com/kindish/kindish/controlplane/apiserver/strategy"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// namespace creates a namespace for one test.
func namespace(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := client.CoreV1().Namespaces().Create(testContext(t), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func quota(name string, hard corev1.ResourceList, scopes ...corev1.ResourceQuotaScope) *corev1.ResourceQuota {
	return &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.ResourceQuotaSpec{Hard: hard, Scopes: scopes},
	}
}

func list(pairs ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(pairs); i += 2 {
		l[corev1.ResourceName(pairs[i])] = resource.MustParse(pairs[i+1])
	}
	return l
}

// pod is a pod of one container "c" with the given requests and limits.
func pod(name string, requests, limits corev1.ResourceList) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:      "c",
			Image:     "busybox:1",
			Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits},
		}}},
	}
}

func createQuota(t *testing.T, client kubernetes.Interface, ns string, q *corev1.ResourceQuota) {
	t.Helper()
	if _, err := client.CoreV1().ResourceQuotas(ns).Create(testContext(t), q, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func mustCreatePod(t *testing.T, client kubernetes.Interface, ns string, p *corev1.Pod) {
	t.Helper()
	if _, err := client.CoreV1().Pods(ns).Create(testContext(t), p, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", p.Name, err)
	}
}

// wantForbidden checks a 403 with exactly the message.
func wantForbidden(t *testing.T, err error, message string) {
	t.Helper()
	if !apierrors.IsForbidden(err) || err.Error() != message {
		t.Fatalf("want Forbidden %q, got %v", message, err)
	}
}

// wantUsed checks the quota's status: hard follows spec, used is as given.
func wantUsed(t *testing.T, client kubernetes.Interface, ns, name string, used corev1.ResourceList) {
	t.Helper()
	q, err := client.CoreV1().ResourceQuotas(ns).Get(testContext(t), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !equalLists(q.Status.Hard, q.Spec.Hard) {
		t.Errorf("status.hard %v, want spec.hard %v", q.Status.Hard, q.Spec.Hard)
	}
	if !equalLists(q.Status.Used, used) {
		t.Errorf("status.used %v, want %v", q.Status.Used, used)
	}
}

func equalLists(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for name, q := range a {
		if other, ok := b[name]; !ok || q.Cmp(other) != 0 {
			return false
		}
	}
	return true
}

func TestQuotaRefusesOnePodTooMany(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createQuota(t, env.Client, "team", quota("q", list("pods", "2")))
	mustCreatePod(t, env.Client, "team", pod("p1", nil, nil))
	mustCreatePod(t, env.Client, "team", pod("p2", nil, nil))

	_, err := env.Client.CoreV1().Pods("team").Create(testContext(t), pod("p3", nil, nil), metav1.CreateOptions{})
	wantForbidden(t, err, `pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`)
	if _, err := env.Client.CoreV1().Pods("team").Get(testContext(t), "p3", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("refused pod was stored: %v", err)
	}
	wantUsed(t, env.Client, "team", "q", list("pods", "2"))

	// Another namespace is not limited.
	mustCreatePod(t, env.Client, "default", pod("p3", nil, nil))
}

func TestQuotaCountsWhatExistedBeforeIt(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	mustCreatePod(t, env.Client, "team", pod("old-1", nil, nil))
	mustCreatePod(t, env.Client, "team", pod("old-2", nil, nil))
	createQuota(t, env.Client, "team", quota("q", list("pods", "3", "count/pods", "10")))

	mustCreatePod(t, env.Client, "team", pod("new", nil, nil))
	_, err := env.Client.CoreV1().Pods("team").Create(testContext(t), pod("over", nil, nil), metav1.CreateOptions{})
	wantForbidden(t, err, `pods "over" is forbidden: exceeded quota: q, requested: pods=1, used: pods=3, limited: pods=3`)
	wantUsed(t, env.Client, "team", "q", list("pods", "3", "count/pods", "3"))
}

func TestQuotaComputeResources(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createQuota(t, env.Client, "team", quota("compute", list("requests.cpu", "1", "requests.memory", "1Gi", "cpu", "1")))
	pods := env.Client.CoreV1().Pods("team")

	_, err := pods.Create(testContext(t), pod("bare", nil, nil), metav1.CreateOptions{})
	wantForbidden(t, err, `pods "bare" is forbidden: failed quota: compute: must specify cpu for: c; requests.cpu for: c; requests.memory for: c`)

	mustCreatePod(t, env.Client, "team", pod("a", list("cpu", "600m", "memory", "512Mi"), nil))
	_, err = pods.Create(testContext(t), pod("b", list("cpu", "600m", "memory", "256Mi"), nil), metav1.CreateOptions{})
	wantForbidden(t, err, `pods "b" is forbidden: exceeded quota: compute, requested: cpu=600m,requests.cpu=600m, used: cpu=600m,requests.cpu=600m, limited: cpu=1,requests.cpu=1`)
	mustCreatePod(t, env.Client, "team", pod("c", list("cpu", "400m", "memory", "512Mi"), nil))
	wantUsed(t, env.Client, "team", "compute", list("requests.cpu", "1", "requests.memory", "1Gi", "cpu", "1"))
}

func TestQuotaOnLimitsNeedsEveryContainerToSetThem(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createQuota(t, env.Client, "team", quota("q", list("limits.cpu", "2", "limits.memory", "2Gi")))
	p := pod("x", list("cpu", "100m"), nil)
	p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1", Resources: corev1.ResourceRequirements{Limits: list("cpu", "1", "memory", "1Gi")}}}
	_, err := env.Client.CoreV1().Pods("team").Create(testContext(t), p, metav1.CreateOptions{})
	wantForbidden(t, err, `pods "x" is forbidden: failed quota: q: must specify limits.cpu for: c; limits.memory for: c`)
}

func TestQuotaScopes(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createQuota(t, env.Client, "team", quota("best-effort", list("pods", "1"), corev1.ResourceQuotaScopeBestEffort))
	createQuota(t, env.Client, "team", quota("terminating", list("pods", "1"), corev1.ResourceQuotaScopeTerminating))

	mustCreatePod(t, env.Client, "team", pod("be-1", nil, nil))
	_, err := env.Client.CoreV1().Pods("team").Create(testContext(t), pod("be-2", nil, nil), metav1.CreateOptions{})
	wantForbidden(t, err, `pods "be-2" is forbidden: exceeded quota: best-effort, requested: pods=1, used: pods=1, limited: pods=1`)
	// Burstable pods are outside the BestEffort scope.
	mustCreatePod(t, env.Client, "team", pod("burstable-1", list("cpu", "100m"), nil))
	mustCreatePod(t, env.Client, "team", pod("burstable-2", list("cpu", "100m"), nil))

	deadline := int64(60)
	job := pod("job-1", list("cpu", "100m"), nil)
	job.Spec.ActiveDeadlineSeconds = &deadline
	mustCreatePod(t, env.Client, "team", job)
	job = job.DeepCopy()
	job.Name = "job-2"
	_, err = env.Client.CoreV1().Pods("team").Create(testContext(t), job, metav1.CreateOptions{})
	wantForbidden(t, err, `pods "job-2" is forbidden: exceeded quota: terminating, requested: pods=1, used: pods=1, limited: pods=1`)

	wantUsed(t, env.Client, "team", "best-effort", list("pods", "1"))
	wantUsed(t, env.Client, "team", "terminating", list("pods", "1"))
}

func TestQuotaPriorityClassScope(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	// Pods may only name classes that exist (Priority admission).
	class := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000}
	if _, err := env.Client.SchedulingV1().PriorityClasses().Create(testContext(t), class, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	q := quota("high", list("pods", "1"))
	q.Spec.ScopeSelector = &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{{
		ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"high"},
	}}}
	createQuota(t, env.Client, "team", q)
	high := func(name string) *corev1.Pod {
		p := pod(name, nil, nil)
		p.Spec.PriorityClassName = "high"
		return p
	}
	mustCreatePod(t, env.Client, "team", high("h1"))
	_, err := env.Client.CoreV1().Pods("team").Create(testContext(t), high("h2"), metav1.CreateOptions{})
	wantForbidden(t, err, `pods "h2" is forbidden: exceeded quota: high, requested: pods=1, used: pods=1, limited: pods=1`)
	mustCreatePod(t, env.Client, "team", pod("plain-1", nil, nil))
	mustCreatePod(t, env.Client, "team", pod("plain-2", nil, nil))
}

func TestQuotaServiceNodePorts(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createQuota(t, env.Client, "team", quota("q", list("services.nodeports", "2", "services", "5")))
	services := env.Client.CoreV1().Services("team")
	svc := func(name string, typ corev1.ServiceType, ports ...int32) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": name}}}
		for _, p := range ports {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: fmt.Sprintf("p%d", p), Port: p})
		}
		return s
	}
	if _, err := services.Create(testContext(t), svc("two", corev1.ServiceTypeNodePort, 80, 443), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := services.Create(testContext(t), svc("one-more", corev1.ServiceTypeNodePort, 80), metav1.CreateOptions{})
	wantForbidden(t, err, `services "one-more" is forbidden: exceeded quota: q, requested: services.nodeports=1, used: services.nodeports=2, limited: services.nodeports=2`)

	// A ClusterIP service takes no node port; turning it into a NodePort
	// one would.
	created, err := services.Create(testContext(t), svc("internal", corev1.ServiceTypeClusterIP, 80), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Spec.Type = corev1.ServiceTypeNodePort
	_, err = services.Update(testContext(t), created, metav1.UpdateOptions{})
	wantForbidden(t, err, `services "internal" is forbidden: exceeded quota: q, requested: services.nodeports=1, used: services.nodeports=2, limited: services.nodeports=2`)
	wantUsed(t, env.Client, "team", "q", list("services.nodeports", "2", "services", "2"))
}

func TestQuotaObjectCounts(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createQuota(t, env.Client, "team", quota("q", list("configmaps", "1", "count/secrets", "1", "resourcequotas", "1")))

	cms := env.Client.CoreV1().ConfigMaps("team")
	if _, err := cms.Create(testContext(t), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := cms.Create(testContext(t), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{})
	wantForbidden(t, err, `configmaps "b" is forbidden: exceeded quota: q, requested: configmaps=1, used: configmaps=1, limited: configmaps=1`)

	secrets := env.Client.CoreV1().Secrets("team")
	if _, err := secrets.Create(testContext(t), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = secrets.Create(testContext(t), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "b"}}, metav1.CreateOptions{})
	wantForbidden(t, err, `secrets "b" is forbidden: exceeded quota: q, requested: count/secrets=1, used: count/secrets=1, limited: count/secrets=1`)

	_, err = env.Client.CoreV1().ResourceQuotas("team").Create(testContext(t), quota("second", list("pods", "1")), metav1.CreateOptions{})
	wantForbidden(t, err, `resourcequotas "second" is forbidden: exceeded quota: q, requested: resourcequotas=1, used: resourcequotas=1, limited: resourcequotas=1`)

	// Updates of counted objects are free.
	cm, err := cms.Get(testContext(t), "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = map[string]string{"k": "v"}
	if _, err := cms.Update(testContext(t), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	wantUsed(t, env.Client, "team", "q", list("configmaps", "1", "count/secrets", "1", "resourcequotas", "1"))
}

func TestQuotaCountsOtherGroups(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createQuota(t, env.Client, "team", quota("q", list("count/leases.coordination.k8s.io", "1")))
	leases := env.Client.CoordinationV1().Leases("team")
	if _, err := leases.Create(testContext(t), lease("a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := leases.Create(testContext(t), lease("b"), metav1.CreateOptions{})
	wantForbidden(t, err, `leases.coordination.k8s.io "b" is forbidden: exceeded quota: q, requested: count/leases.coordination.k8s.io=1, used: count/leases.coordination.k8s.io=1, limited: count/leases.coordination.k8s.io=1`)
}

func TestQuotaChargesOnlyWhatIsStored(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createQuota(t, env.Client, "team", quota("q", list("pods", "2")))
	pods := env.Client.CoreV1().Pods("team")
	mustCreatePod(t, env.Client, "team", pod("p1", nil, nil))

	// A dry run is checked but not charged.
	if _, err := pods.Create(testContext(t), pod("dry", nil, nil), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	// Neither is a pod validation refuses, nor a name already taken.
	invalid := pod("invalid", nil, nil)
	invalid.Spec.Containers[0].Image = ""
	if _, err := pods.Create(testContext(t), invalid, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("want Invalid, got %v", err)
	}
	if _, err := pods.Create(testContext(t), pod("p1", nil, nil), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("want AlreadyExists, got %v", err)
	}
	wantUsed(t, env.Client, "team", "q", list("pods", "1"))
	mustCreatePod(t, env.Client, "team", pod("p2", nil, nil))
}

func TestQuotaConcurrentCreatesCannotOvershoot(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createQuota(t, env.Client, "team", quota("q", list("pods", "5")))

	var (
		wg                  sync.WaitGroup
		mu                  sync.Mutex
		admitted, forbidden int
		other               []error
	)
	for i := range 10 {
		wg.Go(func() {
			_, err := env.Client.CoreV1().Pods("team").Create(testContext(t), pod("p-"+string(rune('a'+i)), nil, nil), metav1.CreateOptions{})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				admitted++
			case apierrors.IsForbidden(err):
				forbidden++
			default:
				other = append(other, err)
			}
		})
	}
	wg.Wait()
	if admitted != 5 || forbidden != 5 || len(other) > 0 {
		t.Fatalf("admitted %d, forbidden %d, other errors %v; want 5 and 5", admitted, forbidden, other)
	}
	stored, err := env.Client.CoreV1().Pods("team").List(testContext(t), metav1.ListOptions{})
	if err != nil || len(stored.Items) != 5 {
		t.Fatalf("stored pods: %v, %d", err, len(stored.Items))
	}
	wantUsed(t, env.Client, "team", "q", list("pods", "5"))
}

func lease(name string) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func TestRecalculateGivesBackWhatDeletedObjectsUsed(t *testing.T) {
	env := apiservertest.Start(t)
	namespace(t, env.Client, "team")
	createQuota(t, env.Client, "team", quota("q", list("pods", "2", "requests.cpu", "1")))
	mustCreatePod(t, env.Client, "team", pod("p1", list("cpu", "500m"), nil))
	mustCreatePod(t, env.Client, "team", pod("p2", list("cpu", "500m"), nil))
	pods := env.Client.CoreV1().Pods("team")
	if err := pods.Delete(testContext(t), "p1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// As upstream, admission does not give back what deleted objects
	// used: that is the quota controller's job.
	_, err := pods.Create(testContext(t), pod("p3", list("cpu", "500m"), nil), metav1.CreateOptions{})
	wantForbidden(t, err, `pods "p3" is forbidden: exceeded quota: q, requested: pods=1,requests.cpu=500m, used: pods=2,requests.cpu=1, limited: pods=2,requests.cpu=1`)

	resources := strategy.Resources()
	stores := map[schema.GroupVersionResource]storage.Interface{}
	for i := range resources {
		stores[resources[i].GroupVersionResource()] = storage.New(env.Etcd, nil, storage.WithNewFunc(resources[i].New))
	}
	plugin := admission.ResourceQuota{
		Store:   stores[corev1.SchemeGroupVersion.WithResource("resourcequotas")],
		Objects: admission.StoreObjects{Resources: resources, Stores: stores},
	}
	if err := plugin.Recalculate(testContext(t), "team"); err != nil {
		t.Fatal(err)
	}
	wantUsed(t, env.Client, "team", "q", list("pods", "1", "requests.cpu", "500m"))
	// Recalculate wrote to storage directly, as another API server would:
	// admission sees it once the storage watch delivers it.
	err = wait.PollUntilContextTimeout(testContext(t), 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := pods.Create(ctx, pod("p3", list("cpu", "500m"), nil), metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("p3 still refused after the recalculation: %v", err)
	}
}
