package serviceaccount

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func namespace(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
}

func account(ns, name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestSyncCreatesOnlyMissingDefaultInActiveNamespaces(t *testing.T) {
	tests := []struct {
		name string
		// cached is what the informers hold; server what the API holds.
		cached     []runtime.Object
		server     []runtime.Object
		wantCreate bool
	}{
		{
			name:       "active namespace without default gets one",
			cached:     []runtime.Object{namespace("apps", corev1.NamespaceActive)},
			wantCreate: true,
		},
		{
			name:   "existing default is left alone",
			cached: []runtime.Object{namespace("apps", corev1.NamespaceActive), account("apps", "default")},
		},
		{
			name:   "terminating namespace gets nothing",
			cached: []runtime.Object{namespace("apps", corev1.NamespaceTerminating)},
		},
		{
			name: "namespace gone from the cache gets nothing",
		},
		{
			name:       "default the cache has not seen yet is not an error",
			cached:     []runtime.Object{namespace("apps", corev1.NamespaceActive)},
			server:     []runtime.Object{account("apps", "default")},
			wantCreate: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(tt.server...)
			factory := informers.NewSharedInformerFactory(client, 0)
			c := New(client, factory, nil)
			for _, obj := range tt.cached {
				var err error
				switch o := obj.(type) {
				case *corev1.Namespace:
					err = factory.Core().V1().Namespaces().Informer().GetIndexer().Add(o)
				case *corev1.ServiceAccount:
					err = factory.Core().V1().ServiceAccounts().Informer().GetIndexer().Add(o)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			client.ClearActions()
			if err := c.sync(context.Background(), "apps"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			var created []string
			for _, a := range client.Actions() {
				if a.GetVerb() == "create" && a.GetResource().Resource == "serviceaccounts" {
					sa := a.(clienttesting.CreateAction).GetObject().(*corev1.ServiceAccount)
					created = append(created, a.GetNamespace()+"/"+sa.Name)
				}
			}
			if tt.wantCreate && (len(created) != 1 || created[0] != "apps/default") {
				t.Fatalf("created %v, want [apps/default]", created)
			}
			if !tt.wantCreate && len(created) != 0 {
				t.Fatalf("created %v, want nothing", created)
			}
		})
	}
}

func TestSyncReportsCreateFailures(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "serviceaccounts", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(context.DeadlineExceeded)
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory, nil)
	if err := factory.Core().V1().Namespaces().Informer().GetIndexer().Add(namespace("apps", corev1.NamespaceActive)); err != nil {
		t.Fatal(err)
	}
	if err := c.sync(context.Background(), "apps"); err == nil {
		t.Fatal("sync succeeded although creating the account failed; want an error so the namespace is retried")
	}
}

// TestAgainstAPIServer runs the controller as upstream's controller
// manager does with --use-service-account-credentials: informers as
// system:kube-controller-manager, writes as the controller's own
// ServiceAccount, which RBAC allows only to create accounts.
func TestAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	informerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager"))
	controllerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t,
		"system:serviceaccount:kube-system:service-account-controller",
		"system:serviceaccounts", "system:serviceaccounts:kube-system"))
	factory := informers.NewSharedInformerFactory(informerClient, 0)
	c := New(controllerClient, factory, nil)
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 1) }()
	defer func() { cancel(); <-done; factory.Shutdown() }()

	admin := env.Client
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := waitForDefault(ctx, t, admin, "team-a", "")
	// The system namespaces the API server made at start get one too.
	waitForDefault(ctx, t, admin, metav1.NamespaceSystem, "")

	if err := admin.CoreV1().ServiceAccounts("team-a").Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	second := waitForDefault(ctx, t, admin, "team-a", first.UID)
	if second.UID == first.UID {
		t.Fatalf("default was not recreated: same UID %s", first.UID)
	}
}

// waitForDefault waits for the namespace's default account whose UID is
// not notUID.
func waitForDefault(ctx context.Context, t *testing.T, client kubernetes.Interface, ns string, notUID types.UID) *corev1.ServiceAccount {
	t.Helper()
	var sa *corev1.ServiceAccount
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if notUID != "" && got.UID == notUID {
			return false, nil
		}
		sa = got
		return true, nil
	})
	if err != nil {
		t.Fatalf("serviceaccount %s/default: %v", ns, err)
	}
	return sa
}
