package endpoints_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
	"github.com/kindish/kindish/controlplane/controllers/endpoints"
)

// TestAgainstAPIServer runs the controller against the real API server
// as upstream's endpoint-controller ServiceAccount, so that its bootstrap
// RBAC role is proven enough. There is no kubelet: the test sets pod IPs
// and readiness as one would.
func TestAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := env.Client

	if _, err := admin.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Left from before the controller started: Endpoints of a Service
	// that is gone, of a Service without a selector (written by hand),
	// and an old leader election lock.
	for _, ep := range []*corev1.Endpoints{
		{ObjectMeta: metav1.ObjectMeta{Name: "orphan"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "manual"}, Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "192.0.2.10"}},
			Ports:     []corev1.EndpointPort{{Port: 5432}},
		}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "lock", Annotations: map[string]string{"control-plane.alpha.kubernetes.io/leader": "{}"}}},
	} {
		if _, err := admin.CoreV1().Endpoints("default").Create(ctx, ep, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "manual"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 5432}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	client, err := kubernetes.NewForConfig(env.ConfigFor(t, "system:serviceaccount:kube-system:endpoint-controller",
		"system:serviceaccounts", "system:serviceaccounts:kube-system"))
	if err != nil {
		t.Fatal(err)
	}
	manager, err := kubernetes.NewForConfig(env.ConfigFor(t, "system:kube-controller-manager"))
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(manager, 0)
	c := endpoints.New(client, factory, record.NewFakeRecorder(100), endpoints.Config{})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	defer func() { cancel(); <-done; factory.Shutdown() }()

	get := func(name string) *corev1.Endpoints {
		ep, err := admin.CoreV1().Endpoints("default").Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return ep
	}
	eventually(t, func() string {
		if get("orphan") != nil {
			return "endpoints without a service not deleted"
		}
		return ""
	})
	if ep := get("manual"); ep == nil || len(ep.Subsets) != 1 || ep.Subsets[0].Addresses[0].IP != "192.0.2.10" {
		t.Errorf("endpoints of a service without a selector changed: %+v", ep)
	}
	if get("lock") == nil {
		t.Error("leader election lock deleted")
	}

	if _, err := admin.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runningPod(ctx, t, admin, "a", "10.244.1.2", true)
	runningPod(ctx, t, admin, "b", "10.244.1.3", false)
	eventually(t, func() string {
		if got, want := summarize(get("web")), []string{"http:8080 10.244.1.2 | 10.244.1.3"}; !slices.Equal(got, want) {
			return fmt.Sprintf("endpoints %q, want %q", got, want)
		}
		return ""
	})

	// A pod relabelled out of the selector leaves.
	pod, err := admin.CoreV1().Pods("default").Get(ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Labels = map[string]string{"app": "other"}
	if _, err := admin.CoreV1().Pods("default").Update(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		if got, want := summarize(get("web")), []string{"http:8080 10.244.1.2 | "}; !slices.Equal(got, want) {
			return fmt.Sprintf("endpoints %q, want %q", got, want)
		}
		return ""
	})

	if err := admin.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		if get("web") != nil {
			return "endpoints of the deleted service left"
		}
		return ""
	})
}

func runningPod(ctx context.Context, t *testing.T, client kubernetes.Interface, name, ip string, ready bool) {
	t.Helper()
	pod, err := client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			NodeName:   "worker",
			Containers: []corev1.Container{{Name: "app", Image: "busybox", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = ip
	pod.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// summarize renders Endpoints as "ports ready-IPs | not-ready-IPs" per
// subset, sorted.
func summarize(ep *corev1.Endpoints) []string {
	if ep == nil {
		return nil
	}
	var out []string
	for _, s := range ep.Subsets {
		var ports, ready, notReady []string
		for _, p := range s.Ports {
			ports = append(ports, fmt.Sprintf("%s:%d", p.Name, p.Port))
		}
		for _, a := range s.Addresses {
			ready = append(ready, a.IP)
		}
		for _, a := range s.NotReadyAddresses {
			notReady = append(notReady, a.IP)
		}
		sort.Strings(ports)
		out = append(out, strings.Join(ports, ",")+" "+strings.Join(ready, ",")+" | "+strings.Join(notReady, ","))
	}
	sort.Strings(out)
	return out
}

func eventually(t *testing.T, check func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		complaint := check()
		if complaint == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(complaint)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
