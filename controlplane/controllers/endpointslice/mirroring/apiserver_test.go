package mirroring_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
	"github.com/kindish/kindish/controlplane/controllers/endpointslice/mirroring"
)

// TestAgainstAPIServer mirrors hand-written Endpoints through the real
// API server as upstream's endpointslicemirroring-controller account, so
// that its bootstrap RBAC role is proven enough.
func TestAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := env.Client

	client, err := kubernetes.NewForConfig(env.ConfigFor(t, "system:serviceaccount:kube-system:endpointslicemirroring-controller",
		"system:serviceaccounts", "system:serviceaccounts:kube-system"))
	if err != nil {
		t.Fatal(err)
	}
	manager, err := kubernetes.NewForConfig(env.ConfigFor(t, "system:kube-controller-manager"))
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactory(manager, 0)
	c := mirroring.New(client, factory, record.NewFakeRecorder(100), mirroring.Config{})
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 2) }()
	defer func() { cancel(); <-done; factory.Shutdown() }()

	mirrors := func(name string) []string {
		list, err := admin.DiscoveryV1().EndpointSlices("default").List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=" + name + "," + discoveryv1.LabelManagedBy + "=" + mirroring.ManagedBy,
		})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range list.Items {
			var eps []string
			for _, ep := range s.Endpoints {
				eps = append(eps, fmt.Sprintf("%s(%v)", ep.Addresses[0], *ep.Conditions.Ready))
			}
			sort.Strings(eps)
			out = append(out, s.Name+": "+strings.Join(eps, " "))
		}
		return out
	}

	if _, err := admin.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ep, err := admin.CoreV1().Endpoints("default").Create(ctx, &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Subsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "10.10.0.1"}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "10.10.0.2"}},
			Ports:             []corev1.EndpointPort{{Name: "pg", Port: 5432}},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var name string
	eventually(t, func() string {
		got := mirrors("db")
		if len(got) != 1 || !strings.HasSuffix(got[0], ": 10.10.0.1(true) 10.10.0.2(false)") {
			return fmt.Sprintf("mirrors %q, want one of 10.10.0.1 ready and 10.10.0.2 not", got)
		}
		name, _, _ = strings.Cut(got[0], ":")
		return ""
	})

	// A Service with a selector has the EndpointSlice controller's
	// slices: its Endpoints are not mirrored.
	if _, err := admin.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().Endpoints("default").Create(ctx, &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Subsets:    []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.10.1.1"}}, Ports: []corev1.EndpointPort{{Port: 80}}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Changes are mirrored into the same slice.
	ep.Subsets[0].Addresses = append(ep.Subsets[0].Addresses, corev1.EndpointAddress{IP: "10.10.0.3"})
	if ep, err = admin.CoreV1().Endpoints("default").Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		if got, want := mirrors("db"), []string{name + ": 10.10.0.1(true) 10.10.0.2(false) 10.10.0.3(true)"}; !slices.Equal(got, want) {
			return fmt.Sprintf("mirrors %q, want %q", got, want)
		}
		return ""
	})
	// By now the controller has long seen the selector Service's Endpoints.
	if got := mirrors("web"); len(got) != 0 {
		t.Errorf("endpoints of a service with a selector mirrored: %q", got)
	}

	// Opting out removes the mirror.
	ep.Labels = map[string]string{discoveryv1.LabelSkipMirror: "true"}
	if _, err = admin.CoreV1().Endpoints("default").Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string {
		if got := mirrors("db"); len(got) != 0 {
			return fmt.Sprintf("mirrors %q left after skip-mirror", got)
		}
		return ""
	})
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
