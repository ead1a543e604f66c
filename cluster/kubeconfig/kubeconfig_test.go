package kubeconfig

import (
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestBuildNamesEverythingAfterTheCluster(t *testing.T) {
	cfg := testConfig("demo")
	if cfg.CurrentContext != "kindish-demo" {
		t.Errorf("current context = %q, want kindish-demo", cfg.CurrentContext)
	}
	if len(cfg.Clusters) != 1 || len(cfg.AuthInfos) != 1 || len(cfg.Contexts) != 1 {
		t.Errorf("got %d clusters, %d users, %d contexts; want one of each", len(cfg.Clusters), len(cfg.AuthInfos), len(cfg.Contexts))
	}
	assertHasCluster(t, cfg, "demo")
}

func TestBytesIsAKubeconfigClientGoReads(t *testing.T) {
	data, err := Bytes(testConfig("demo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: v1", "kind: Config", "certificate-authority-data:", "client-key-data:", "current-context: kindish-demo"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("encoded kubeconfig lacks %q", want)
		}
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	assertHasCluster(t, cfg, "demo")
	rest, err := clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if rest.Host != "https://127.0.0.1:6443" {
		t.Errorf("client-go host = %q", rest.Host)
	}
}
