package resourcequota

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

// newSynced is the controller on a fake clientset holding objs, with
// its informers started and synced; nothing else runs.
func newSynced(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, Config{Clock: testingclock.NewFakeClock(t0)})
	ctx, cancel := context.WithCancel(context.Background())
	c.monitors.start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	t.Cleanup(func() { cancel(); factory.Shutdown(); c.queue.ShutDown(); c.missingUsageQueue.ShutDown() })
	return c, client
}

func quota(name string, hard corev1.ResourceList, scopes ...corev1.ResourceQuotaScope) *corev1.ResourceQuota {
	return &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec:       corev1.ResourceQuotaSpec{Hard: hard, Scopes: scopes},
	}
}

func list(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func podWith(name string, phase corev1.PodPhase, cpuRequest, cpuLimit string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
		Status:     corev1.PodStatus{Phase: phase},
	}
	if cpuRequest != "" {
		p.Spec.Containers[0].Resources.Requests = list("cpu", cpuRequest)
	}
	if cpuLimit != "" {
		p.Spec.Containers[0].Resources.Limits = list("cpu", cpuLimit)
	}
	return p
}

// statusWritten is the last quota status the controller wrote.
func statusWritten(t *testing.T, client *fake.Clientset) *corev1.ResourceQuotaStatus {
	t.Helper()
	var last *corev1.ResourceQuotaStatus
	for _, a := range client.Actions() {
		if u, ok := a.(clienttesting.UpdateActionImpl); ok && u.GetSubresource() == "status" {
			last = &u.GetObject().(*corev1.ResourceQuota).Status
		}
	}
	return last
}

func TestUsageIsMeasuredFromTheNamespacesObjects(t *testing.T) {
	init := podWith("with-init", corev1.PodRunning, "100m", "")
	init.Spec.InitContainers = []corev1.Container{{Name: "i", Resources: corev1.ResourceRequirements{Requests: list("cpu", "1")}}}
	deleting := podWith("past-grace", corev1.PodRunning, "2", "")
	deleting.DeletionTimestamp = &metav1.Time{Time: t0.Add(-time.Minute)}
	deleting.DeletionGracePeriodSeconds = new(int64(30))
	other := podWith("elsewhere", corev1.PodRunning, "5", "")
	other.Namespace = "other"
	nodePort := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "np", Namespace: "ns"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}, {Port: 443}}}}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: new("fast"),
			Resources: corev1.VolumeResourceRequirements{Requests: list("storage", "1Gi")}}}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns"}}

	for _, tc := range []struct {
		name string
		q    *corev1.ResourceQuota
		want corev1.ResourceList
	}{
		{"compute", quota("q", list("pods", "10", "count/pods", "10", "requests.cpu", "10", "limits.cpu", "10")),
			list("pods", "2", "count/pods", "4", "requests.cpu", "1", "limits.cpu", "500m")},
		{"best effort scope", quota("q", list("pods", "10"), corev1.ResourceQuotaScopeBestEffort), list("pods", "0")},
		{"not best effort scope", quota("q", list("pods", "10"), corev1.ResourceQuotaScopeNotBestEffort), list("pods", "2")},
		{"services", quota("q", list("services", "5", "services.nodeports", "5", "services.loadbalancers", "5")),
			list("services", "1", "services.nodeports", "2", "services.loadbalancers", "0")},
		{"claims", quota("q", list("persistentvolumeclaims", "5", "requests.storage", "10Gi", "fast.storageclass.storage.k8s.io/requests.storage", "5Gi")),
			list("persistentvolumeclaims", "1", "requests.storage", "1Gi", "fast.storageclass.storage.k8s.io/requests.storage", "1Gi")},
		{"object counts", quota("q", list("configmaps", "5", "count/configmaps", "5", "count/secrets", "5")),
			list("configmaps", "1", "count/configmaps", "1", "count/secrets", "0")},
		{"scoped quota on services counts nothing", quota("q", list("services", "5"), corev1.ResourceQuotaScopeBestEffort), list("services", "0")},
		{"unmeasured names keep no usage", quota("q", list("count/widgets.example.com", "5")), list()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, client := newSynced(t, tc.q,
				podWith("a", corev1.PodRunning, "", "500m"), init, deleting, other,
				podWith("done", corev1.PodSucceeded, "3", ""), nodePort, claim, cm)
			if err := c.syncQuota(context.Background(), tc.q); err != nil {
				t.Fatal(err)
			}
			st := statusWritten(t, client)
			if st == nil {
				t.Fatal("no status written")
			}
			if !equalLists(st.Used, tc.want) {
				t.Errorf("used %v, want %v", st.Used, tc.want)
			}
			if !equalLists(st.Hard, tc.q.Spec.Hard) {
				t.Errorf("hard %v, want spec.hard %v", st.Hard, tc.q.Spec.Hard)
			}
		})
	}
}

func TestUnchangedStatusIsNotWritten(t *testing.T) {
	q := quota("q", list("pods", "10"))
	q.Status = corev1.ResourceQuotaStatus{Hard: list("pods", "10"), Used: list("pods", "1")}
	c, client := newSynced(t, q, podWith("a", corev1.PodRunning, "", ""))
	if err := c.syncQuota(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if st := statusWritten(t, client); st != nil {
		t.Errorf("status written %+v", st)
	}
}

// TestUsageNoLongerLimitedIsDropped: status.used follows spec.hard.
func TestUsageNoLongerLimitedIsDropped(t *testing.T) {
	q := quota("q", list("pods", "10"))
	q.Status = corev1.ResourceQuotaStatus{Hard: list("pods", "10", "services", "1"), Used: list("pods", "0", "services", "1")}
	c, client := newSynced(t, q)
	if err := c.syncQuota(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	st := statusWritten(t, client)
	if st == nil || !equalLists(st.Used, list("pods", "0")) || !equalLists(st.Hard, list("pods", "10")) {
		t.Errorf("status %+v", st)
	}
}

func TestReplenishQueuesTheQuotasMeasuringTheResource(t *testing.T) {
	pods := quota("pods", list("pods", "10"))
	services := quota("services", list("services", "10"))
	elsewhere := quota("elsewhere", list("pods", "10"))
	elsewhere.Namespace = "other"
	c, _ := newSynced(t, pods, services, elsewhere)
	c.replenish(schema.GroupResource{Resource: "pods"}, "ns")
	if n := c.queue.Len(); n != 1 {
		t.Fatalf("%d quotas queued, want 1", n)
	}
	if key, _ := c.queue.Get(); key != "ns/pods" {
		t.Errorf("queued %s, want ns/pods", key)
	}
}

func TestQuotaLackingUsageGoesToThePriorityQueue(t *testing.T) {
	measured := quota("measured", list("pods", "10"))
	measured.Status = corev1.ResourceQuotaStatus{Hard: list("pods", "10"), Used: list("pods", "1")}
	lacking := quota("lacking", list("pods", "10"))
	lacking.Status = corev1.ResourceQuotaStatus{Hard: list("pods", "10")}
	fresh := quota("fresh", list("pods", "10"))
	c, _ := newSynced(t)
	for _, q := range []*corev1.ResourceQuota{measured, lacking, fresh} {
		c.addQuota(q)
	}
	if c.queue.Len() != 1 || c.missingUsageQueue.Len() != 2 {
		t.Errorf("queue %d, priority queue %d; want 1 and 2", c.queue.Len(), c.missingUsageQueue.Len())
	}
}

func TestPodUpdatesThatChangeUsageReplenish(t *testing.T) {
	m := &monitors{now: func() time.Time { return t0 }}
	running := podWith("p", corev1.PodRunning, "1", "")
	succeeded := podWith("p", corev1.PodSucceeded, "1", "")
	withDeadline := podWith("p", corev1.PodRunning, "1", "")
	withDeadline.Spec.ActiveDeadlineSeconds = new(int64(60))
	relabelled := running.DeepCopy()
	relabelled.Labels = map[string]string{"a": "b"}
	for _, tc := range []struct {
		name     string
		old, cur *corev1.Pod
		want     bool
	}{
		{"finished", running, succeeded, true},
		{"became terminating", running, withDeadline, true},
		{"relabelled", running, relabelled, false},
	} {
		if got := m.usageChanged(podEvaluator, tc.old, tc.cur); got != tc.want {
			t.Errorf("%s: replenish %v, want %v", tc.name, got, tc.want)
		}
	}
}
