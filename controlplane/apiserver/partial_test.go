package apiserver_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func TestMetadataClientGetsListsAndWatchesMetadataOnly(t *testing.T) {
	env := apiservertest.Start(t)
	md, err := metadata.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	cms := md.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace("default")

	list, err := cms.List(ctx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cms.Watch(ctx(t), metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cm := configMap("m")
	cm.Labels = map[string]string{"a": "b"}
	if _, err := env.Client.CoreV1().ConfigMaps("default").Create(ctx(t), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		p, ok := ev.Object.(*metav1.PartialObjectMetadata)
		if ev.Type != watch.Added || !ok || p.Name != "m" || p.Labels["a"] != "b" {
			t.Fatalf("watch event %s %#v, want ADDED with m's metadata", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}

	got, err := cms.Get(ctx(t), "m", metav1.GetOptions{})
	if err != nil || got.Labels["a"] != "b" || got.UID == "" {
		t.Fatalf("get = %+v, %v; want m's metadata as PartialObjectMetadata", got, err)
	}
	list, err = cms.List(ctx(t), metav1.ListOptions{LabelSelector: "a=b"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "m" || list.ResourceVersion == "" {
		t.Fatalf("list = %+v, %v; want one item and the list's resourceVersion", list, err)
	}
}
