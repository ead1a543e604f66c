package kubeconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

func TestMergeCreatesAMissingFileAndItsDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new", ".kube", "config")
	if err := Merge(path, testConfig("demo")); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, path)
	assertHasCluster(t, cfg, "demo")
	if cfg.CurrentContext != "kindish-demo" {
		t.Errorf("current context = %q", cfg.CurrentContext)
	}
	assertMode(t, path)
	if _, err := os.Stat(lockName(path)); !os.IsNotExist(err) {
		t.Errorf("lock file left behind: %v", err)
	}
}

func TestMergeKeepsOtherEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, otherClusters, 0o644)
	if err := Merge(path, testConfig("demo")); err != nil {
		t.Fatal(err)
	}

	got := load(t, path)
	assertHasCluster(t, got, "demo")
	if got.CurrentContext != "kindish-demo" {
		t.Errorf("current context = %q, want kindish-demo", got.CurrentContext)
	}
	delete(got.Clusters, "kindish-demo")
	delete(got.AuthInfos, "kindish-demo")
	delete(got.Contexts, "kindish-demo")
	got.CurrentContext = "prod"
	if want := loadString(t, otherClusters); !reflect.DeepEqual(got, want) {
		t.Errorf("other entries changed:\n got %+v\nwant %+v", got, want)
	}
	assertMode(t, path)
}

func TestMergeReplacesARecreatedCluster(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, path, otherClusters, 0o600)
	if err := Merge(path, testConfig("demo")); err != nil {
		t.Fatal(err)
	}
	recreated := Build("demo", "https://127.0.0.1:7000", []byte("ca2"), []byte("cert2"), []byte("key2"))
	if err := Merge(path, recreated); err != nil {
		t.Fatal(err)
	}
	cfg := load(t, path)
	if got := cfg.Clusters["kindish-demo"]; got.Server != "https://127.0.0.1:7000" || string(got.CertificateAuthorityData) != "ca2" {
		t.Errorf("cluster entry not replaced: %+v", got)
	}
	if got := cfg.AuthInfos["kindish-demo"]; string(got.ClientKeyData) != "key2" {
		t.Error("user entry not replaced")
	}
	if len(cfg.Clusters) != 3 || len(cfg.AuthInfos) != 3 || len(cfg.Contexts) != 3 {
		t.Errorf("got %d clusters, %d users, %d contexts; want 3 of each", len(cfg.Clusters), len(cfg.AuthInfos), len(cfg.Contexts))
	}
}

func TestConcurrentMergesAllSurvive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	const clusters = 20
	var wg sync.WaitGroup
	errs := make([]error, clusters)
	for i := range clusters {
		wg.Go(func() { errs[i] = Merge(path, testConfig(fmt.Sprint("c", i))) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("merge c%d: %v", i, err)
		}
	}
	cfg := load(t, path)
	for i := range clusters {
		assertHasCluster(t, cfg, fmt.Sprint("c", i))
	}
	assertMode(t, path)
}

func TestMergeThroughASymlinkKeepsTheLink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "dotfiles", "kubeconfig")
	writeFile(t, target, otherClusters, 0o644)
	link := filepath.Join(dir, "config")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := Merge(link, testConfig("demo")); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is no longer a symlink: %v", link, err)
	}
	assertHasCluster(t, load(t, target), "demo")
	assertMode(t, target)
}

func TestMergeRefusesAnUnreadableKubeconfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	const garbage = "clusters: [this is not: a kubeconfig"
	writeFile(t, path, garbage, 0o600)
	err := Merge(path, testConfig("demo"))
	if err == nil {
		t.Fatal("got no error")
	}
	if data, _ := os.ReadFile(path); string(data) != garbage {
		t.Error("the unreadable file was overwritten")
	}
}

func TestMergeRemovesAStaleLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	writeFile(t, lockName(path), "", 0o600)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(lockName(path), old, old); err != nil {
		t.Fatal(err)
	}
	if err := Merge(path, testConfig("demo")); err != nil {
		t.Fatal(err)
	}
	assertHasCluster(t, load(t, path), "demo")
}

func TestLockTimesOutWhileHeld(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	unlock, err := acquire(path, time.Second, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acquire(path, 50*time.Millisecond, time.Minute); err == nil {
		t.Error("second acquire of a held lock: got no error")
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock, err = acquire(path, 50*time.Millisecond, time.Minute)
	if err != nil {
		t.Fatalf("acquire after unlock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}
