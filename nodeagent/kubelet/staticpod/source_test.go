package staticpod

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// runSource runs a Source on dir with the given intervals and returns the
// channel of its updates.
func runSource(t *testing.T, dir string, check, resync time.Duration) <-chan []*corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := NewSource(dir, "n", nil)
	s.CheckInterval, s.ResyncInterval = check, resync
	updates := make(chan []*corev1.Pod, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx, func(pods []*corev1.Pod) { updates <- pods })
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return updates
}

func nextUpdate(t *testing.T, updates <-chan []*corev1.Pod, what string) []*corev1.Pod {
	t.Helper()
	select {
	case pods := <-updates:
		return pods
	case <-time.After(10 * time.Second):
		t.Fatalf("no update after %s", what)
		return nil
	}
}

func noUpdate(t *testing.T, updates <-chan []*corev1.Pod, within time.Duration, why string) {
	t.Helper()
	select {
	case pods := <-updates:
		t.Errorf("unexpected update %v: %s", podNames(pods), why)
	case <-time.After(within):
	}
}

func TestSourceSendsEveryChangeOfTheDirectory(t *testing.T) {
	dir := t.TempDir()
	updates := runSource(t, dir, 10*time.Millisecond, time.Hour)

	if pods := nextUpdate(t, updates, "start"); len(pods) != 0 {
		t.Fatalf("first update: got %v, want no pods", podNames(pods))
	}
	noUpdate(t, updates, 100*time.Millisecond, "nothing changed")

	writeFile(t, dir, "web.yaml", webManifest)
	added := nextUpdate(t, updates, "adding web.yaml")
	if got := podNames(added); !slices.Equal(got, []string{"default/web-n"}) {
		t.Fatalf("after adding a file: got %v", got)
	}
	noUpdate(t, updates, 100*time.Millisecond, "nothing changed since the add")

	writeFile(t, dir, "api.yaml", strings.Replace(webManifest, "name: web\n  labels", "name: api\n  labels", 1))
	both := nextUpdate(t, updates, "adding api.yaml")
	if got := podNames(both); !slices.Equal(got, []string{"default/api-n", "default/web-n"}) {
		t.Fatalf("after adding a second file: got %v", got)
	}
	if both[1].UID != added[0].UID || both[1].Annotations[ConfigFirstSeenAnnotationKey] != added[0].Annotations[ConfigFirstSeenAnnotationKey] {
		t.Errorf("an unchanged pod keeps its UID and config.seen across reads")
	}

	writeFile(t, dir, "web.yaml", strings.Replace(webManifest, "nginx:1.25", "nginx:1.26", 1))
	modified := nextUpdate(t, updates, "modifying web.yaml")
	if len(modified) != 2 || modified[1].Spec.Containers[0].Image != "nginx:1.26" {
		t.Fatalf("after modifying a file: got %v", podNames(modified))
	}
	if modified[1].UID == added[0].UID {
		t.Errorf("a modified manifest gives a new UID")
	}

	if err := os.Remove(filepath.Join(dir, "api.yaml")); err != nil {
		t.Fatal(err)
	}
	if got := podNames(nextUpdate(t, updates, "removing api.yaml")); !slices.Equal(got, []string{"default/web-n"}) {
		t.Fatalf("after removing a file: got %v", got)
	}

	writeFile(t, dir, "notes.txt", "not a manifest")
	noUpdate(t, updates, 100*time.Millisecond, "a file that is not a manifest changed")
}

func TestSourceResyncSeesChangesTheListingMisses(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "web.yaml", webManifest)
	stat, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	updates := runSource(t, dir, 10*time.Millisecond, 200*time.Millisecond)
	first := nextUpdate(t, updates, "start")

	// Same size, same modification time: only a full read sees it.
	writeFile(t, dir, "web.yaml", strings.Replace(webManifest, "nginx:1.25", "nginx:1.99", 1))
	if err := os.Chtimes(path, stat.ModTime(), stat.ModTime()); err != nil {
		t.Fatal(err)
	}
	pods := nextUpdate(t, updates, "a resync")
	if len(pods) != 1 || pods[0].Spec.Containers[0].Image != "nginx:1.99" || pods[0].UID == first[0].UID {
		t.Errorf("resync should bring the new image and UID, got %v", podNames(pods))
	}
}

func TestSourceCallbackOwnsItsPods(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "web.yaml", webManifest)
	updates := runSource(t, dir, 10*time.Millisecond, 50*time.Millisecond)
	first := nextUpdate(t, updates, "start")
	first[0].Spec.Containers[0].Image = "changed-by-the-callback"
	noUpdate(t, updates, 300*time.Millisecond, "resyncs of an unchanged directory send nothing, whatever the callback did with its pods")
}
