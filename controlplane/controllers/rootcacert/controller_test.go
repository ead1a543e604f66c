package rootcacert

import (
	"context"
	"maps"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func configMap(data map[string]string, annotations map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: ConfigMapName, Annotations: annotations, ResourceVersion: "7"},
		Data:       data,
	}
}

func TestSyncPublishesAndRestoresTheCA(t *testing.T) {
	described := map[string]string{DescriptionAnnotation: Description}
	tests := []struct {
		name     string
		existing *corev1.ConfigMap
		// wantVerb is the one write expected, or "" for none.
		wantVerb        string
		wantAnnotations map[string]string
	}{
		{name: "missing configmap is created", wantVerb: "create", wantAnnotations: described},
		{name: "published configmap is left alone", existing: configMap(map[string]string{DataKey: testCA}, described)},
		{
			name:            "changed CA is put back",
			existing:        configMap(map[string]string{DataKey: "tampered"}, described),
			wantVerb:        "update",
			wantAnnotations: described,
		},
		{
			name:            "extra key is removed",
			existing:        configMap(map[string]string{DataKey: testCA, "extra": "x"}, described),
			wantVerb:        "update",
			wantAnnotations: described,
		},
		{
			name:            "missing description is put back and other annotations kept",
			existing:        configMap(map[string]string{DataKey: testCA}, map[string]string{"team": "a"}),
			wantVerb:        "update",
			wantAnnotations: map[string]string{"team": "a", DescriptionAnnotation: Description},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			factory := informers.NewSharedInformerFactory(client, 0)
			c := New(client, factory, []byte(testCA), nil)
			if tt.existing != nil {
				if err := factory.Core().V1().ConfigMaps().Informer().GetIndexer().Add(tt.existing); err != nil {
					t.Fatal(err)
				}
				if _, err := client.CoreV1().ConfigMaps("apps").Create(context.Background(), tt.existing, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
				client.ClearActions()
			}
			if err := c.sync(context.Background(), "apps"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			var writes []clienttesting.Action
			for _, a := range client.Actions() {
				if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
					writes = append(writes, a)
				}
			}
			if tt.wantVerb == "" {
				if len(writes) != 0 {
					t.Fatalf("writes %v, want none", writes)
				}
				return
			}
			if len(writes) != 1 || writes[0].GetVerb() != tt.wantVerb {
				t.Fatalf("writes %v, want one %s", writes, tt.wantVerb)
			}
			got, err := client.CoreV1().ConfigMaps("apps").Get(context.Background(), ConfigMapName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{DataKey: testCA}; !maps.Equal(got.Data, want) {
				t.Errorf("data %v, want %v", got.Data, want)
			}
			if !maps.Equal(got.Annotations, tt.wantAnnotations) {
				t.Errorf("annotations %v, want %v", got.Annotations, tt.wantAnnotations)
			}
		})
	}
}

func TestSyncIgnoresTerminatingNamespace(t *testing.T) {
	client := fake.NewClientset()
	client.PrependReactor("create", "configmaps", func(clienttesting.Action) (bool, runtime.Object, error) {
		err := apierrors.NewForbidden(corev1.Resource("configmaps"), ConfigMapName, nil)
		err.ErrStatus.Details.Causes = []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}
		return true, nil, err
	})
	c := New(client, informers.NewSharedInformerFactory(client, 0), []byte(testCA), nil)
	if err := c.sync(context.Background(), "apps"); err != nil {
		t.Fatalf("sync: %v; a terminating namespace must not be retried", err)
	}
}

// TestAgainstAPIServer runs the controller with the rights upstream gives
// root-ca-cert-publisher: create and update configmaps, nothing else.
func TestAgainstAPIServer(t *testing.T) {
	env := apiservertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ca := string(env.PKI.CACert())

	informerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t, "system:kube-controller-manager"))
	controllerClient := kubernetes.NewForConfigOrDie(env.ConfigFor(t,
		"system:serviceaccount:kube-system:root-ca-cert-publisher",
		"system:serviceaccounts", "system:serviceaccounts:kube-system"))
	factory := informers.NewSharedInformerFactory(informerClient, 0)
	c := New(controllerClient, factory, []byte(ca), nil)
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, 1) }()
	defer func() { cancel(); <-done; factory.Shutdown() }()

	admin := env.Client
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	published := waitForCA(ctx, t, admin, "team-a", ca)
	if published.Annotations[DescriptionAnnotation] != Description {
		t.Errorf("description annotation %q", published.Annotations[DescriptionAnnotation])
	}
	waitForCA(ctx, t, admin, metav1.NamespaceDefault, ca)

	published.Data[DataKey] = "tampered"
	if _, err := admin.CoreV1().ConfigMaps("team-a").Update(ctx, published, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForCA(ctx, t, admin, "team-a", ca)

	if err := admin.CoreV1().ConfigMaps("team-a").Delete(ctx, ConfigMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForCA(ctx, t, admin, "team-a", ca)
}

func waitForCA(ctx context.Context, t *testing.T, client kubernetes.Interface, ns, ca string) *corev1.ConfigMap {
	t.Helper()
	var cm *corev1.ConfigMap
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := client.CoreV1().ConfigMaps(ns).Get(ctx, ConfigMapName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		cm = got
		return got.Data[DataKey] == ca, nil
	})
	if err != nil {
		t.Fatalf("configmap %s/%s with the CA: %v (last seen %v)", ns, ConfigMapName, err, cm)
	}
	return cm
}
