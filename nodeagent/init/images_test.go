package nodeinit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeCtr writes a ctr stand-in that logs its arguments to ctr.log in dir
// and then runs body.
func fakeCtr(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "ctr")
	script := "#!/bin/sh\necho \"$@\" >> " + filepath.Join(dir, "ctr.log") + "\n" + body + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func ctrCalls(t *testing.T, dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "ctr.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestPendingArchives(t *testing.T) {
	archives := []archive{
		{path: "/kind/images/pause.tar", fingerprint: "size=10 mtime=1"},
		{path: "/kind/images/etcd.tar", fingerprint: "size=20 mtime=2"},
		{path: "/kind/images/kube-apiserver.tar", fingerprint: "size=30 mtime=3"},
	}
	state := importState{
		"pause.tar":          "size=10 mtime=1", // unchanged: skipped
		"etcd.tar":           "size=21 mtime=2", // changed: imported again
		"kube-scheduler.tar": "size=1 mtime=1",  // gone: ignored
	}
	var got []string
	for _, a := range state.pending(archives) {
		got = append(got, filepath.Base(a.path))
	}
	if strings.Join(got, " ") != "etcd.tar kube-apiserver.tar" {
		t.Errorf("pending %q", got)
	}
}

func TestImportStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if s, err := loadImportState(path); err != nil || len(s) != 0 {
		t.Fatalf("missing state file: %v, %v; want an empty state", s, err)
	}
	want := importState{"pause.tar": "size=10 mtime=1"}
	if err := want.save(path); err != nil {
		t.Fatal(err)
	}
	if got, err := loadImportState(path); err != nil || got["pause.tar"] != want["pause.tar"] || len(got) != 1 {
		t.Errorf("loaded %v, %v; want %v", got, err, want)
	}
	writeFile(t, path, "{torn")
	if s, err := loadImportState(path); err == nil || s == nil || len(s) != 0 {
		t.Errorf("corrupt state file: %v, %v; want an empty state and an error", s, err)
	}
}

func TestImportSkipsArchivesAlreadyImported(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	writeFile(t, filepath.Join(images, "pause.tar"), "pause")
	writeFile(t, filepath.Join(images, "etcd.tar"), "etcd")
	writeFile(t, filepath.Join(images, "README"), "not an archive")
	r := startTestReaper(t)
	log, _ := testLogger(t)
	in := &Init{log: log, cfg: Config{Images: ImageImport{
		Dir: images, After: "containerd", Ctr: fakeCtr(t, dir, "exit 0"),
		Address: "/run/containerd/containerd.sock", Namespace: "k8s.io", StateFile: filepath.Join(dir, "state.json"),
	}}}

	if err := in.importImages(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	calls := ctrCalls(t, dir)
	want := []string{
		"--address /run/containerd/containerd.sock --namespace k8s.io images import --no-unpack=false --all-platforms " + filepath.Join(images, "etcd.tar"),
		"--address /run/containerd/containerd.sock --namespace k8s.io images import --no-unpack=false --all-platforms " + filepath.Join(images, "pause.tar"),
	}
	if strings.Join(calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("first boot ran ctr\n%s\nwant\n%s", strings.Join(calls, "\n"), strings.Join(want, "\n"))
	}

	// A restarted node imports nothing...
	if err := in.importImages(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if n := len(ctrCalls(t, dir)); n != 2 {
		t.Fatalf("second boot ran ctr %d more times", n-2)
	}
	// ...unless an archive changed.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(images, "pause.tar"), later, later); err != nil {
		t.Fatal(err)
	}
	if err := in.importImages(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	calls = ctrCalls(t, dir)
	if len(calls) != 3 || !strings.HasSuffix(calls[2], "pause.tar") {
		t.Errorf("after pause.tar changed, ctr ran %q", calls[2:])
	}
}

func TestFailedImportIsNotRecorded(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "images", "pause.tar"), "pause")
	r := startTestReaper(t)
	log, _ := testLogger(t)
	state := filepath.Join(dir, "state.json")
	in := &Init{log: log, cfg: Config{Images: ImageImport{
		Dir: filepath.Join(dir, "images"), Ctr: fakeCtr(t, dir, "echo 'ctr: content digest not found' >&2; exit 1"),
		Address: "/sock", Namespace: "k8s.io", StateFile: state,
	}}}
	err := in.importImages(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "ctr: content digest not found") {
		t.Errorf("got %v, want ctr's output in the error", err)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Error("a failed import was recorded as done")
	}
}
