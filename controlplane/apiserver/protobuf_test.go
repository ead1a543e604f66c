package apiserver_test

import (
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
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
