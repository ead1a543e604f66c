package apiserver_test

import (
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
)

func TestProtobufIsAnsweredToClientsThatPreferIt(t *testing.T) {
	env := apiservertest.Start(t)
	if _, err := env.Client.CoreV1().ConfigMaps("default").Create(ctx(t), configMap("pb"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	client, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	get := func(accept string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/api/v1/namespaces/default/configmaps/pb", nil)
		req.Header.Set("Accept", accept)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp, []byte(readAll(resp))
	}
	resp, body := get("application/vnd.kubernetes.protobuf, application/json")
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.kubernetes.protobuf" {
		t.Fatalf("content type %q for a protobuf-first client", ct)
	}
	cm := &corev1.ConfigMap{}
	if _, _, err := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme).Decode(body, nil, cm); err != nil || cm.Data["k"] != "v" {
		t.Fatalf("decode protobuf answer: %v %+v", err, cm)
	}
	if resp, _ := get("application/json, application/vnd.kubernetes.protobuf"); resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("a JSON-first client got %q", resp.Header.Get("Content-Type"))
	}
}

// client-go's protobuf clients (every upstream component) watch in
// protobuf too: length-delimited WatchEvents with enveloped objects.
func TestProtobufWatchDeliversEvents(t *testing.T) {
	env := apiservertest.Start(t)
	cfg := rest.CopyConfig(env.Config)
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := client.CoreV1().ConfigMaps("default").Watch(ctx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// client-go takes JSON as well: check that protobuf is what is sent.
	httpClient, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx(t), http.MethodGet, env.URL+"/api/v1/namespaces/default/configmaps?watch=true", nil)
	req.Header.Set("Accept", "application/vnd.kubernetes.protobuf, application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.kubernetes.protobuf" {
		t.Fatalf("watch content type %q for a protobuf-first client", ct)
	}
	created, err := client.CoreV1().ConfigMaps("default").Create(ctx(t), configMap("pbwatch"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().ConfigMaps("default").Delete(ctx(t), "pbwatch", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []watch.EventType{watch.Added, watch.Deleted} {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch ended before %s", want)
			}
			cm, isCM := ev.Object.(*corev1.ConfigMap)
			if ev.Type != want || !isCM || cm.Name != "pbwatch" || cm.Data["k"] != "v" || cm.UID != created.UID {
				t.Fatalf("event %s %#v, want %s of configmap pbwatch", ev.Type, ev.Object, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event", want)
		}
	}
}
