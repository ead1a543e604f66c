package kubeconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRemoveKeepsOthersAndResetsCurrentContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, otherClusters, 0o600)
	for _, c := range []string{"demo", "keep"} {
		if err := Merge(path, testConfig(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := Merge(path, testConfig("demo")); err != nil { // current again
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}

	if err := Remove(path, "demo"); err != nil {
		t.Fatal(err)
	}
	got := load(t, path)
	if got.CurrentContext != "" {
		t.Errorf("current context = %q, want unset", got.CurrentContext)
	}
	for _, entries := range []int{len(got.Clusters), len(got.AuthInfos), len(got.Contexts)} {
		if entries != 3 {
			t.Errorf("got %d clusters, %d users, %d contexts; want 3 of each", len(got.Clusters), len(got.AuthInfos), len(got.Contexts))
			break
		}
	}
	assertHasCluster(t, got, "keep")
	assertMode(t, path)

	delete(got.Clusters, "kindish-keep")
	delete(got.AuthInfos, "kindish-keep")
	delete(got.Contexts, "kindish-keep")
	want := loadString(t, otherClusters)
	want.CurrentContext = ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("other entries changed:\n got %+v\nwant %+v", got, want)
	}
}

func TestRemoveLeavesAnotherCurrentContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, otherClusters, 0o600)
	if err := Merge(path, testConfig("demo")); err != nil {
		t.Fatal(err)
	}
	if err := Merge(path, testConfig("keep")); err != nil {
		t.Fatal(err)
	}
	if err := Remove(path, "demo"); err != nil {
		t.Fatal(err)
	}
	if got := load(t, path).CurrentContext; got != "kindish-keep" {
		t.Errorf("current context = %q, want kindish-keep", got)
	}
}

func TestRemoveOfAnAbsentClusterLeavesTheFileAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, otherClusters, 0o644)
	if err := Remove(path, "demo"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != otherClusters {
		t.Error("file rewritten though it held nothing to remove")
	}
}

func TestRemoveFromAMissingFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "absent")
	if err := Remove(filepath.Join(dir, "config"), "demo"); err != nil {
		t.Fatalf("got %v, want no error", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("Remove created %s", dir)
	}
}
