package server

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// logFixture is a pod whose containers are in the states a log request
// meets, each run with its CRI log file.
type logFixture struct {
	env *testEnv
	dir string
}

func newLogFixture(t *testing.T) *logFixture {
	t.Helper()
	pod := testPod("web", "uid-1",
		corev1.Container{Name: "app"}, corev1.Container{Name: "solo"}, corev1.Container{Name: "crash"},
		corev1.Container{Name: "done"}, corev1.Container{Name: "pending"}, corev1.Container{Name: "pulling"},
		corev1.Container{Name: "unknown"}, corev1.Container{Name: "fallback"},
	)
	pod.Spec.InitContainers = []corev1.Container{{Name: "init"}}
	waiting := func(name, reason string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "app", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		waiting("crash", "CrashLoopBackOff"),
		{Name: "done", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
		waiting("pending", "ContainerCreating"),
		waiting("pulling", "ErrImagePull"),
	}
	pod.Status.InitContainerStatuses = []corev1.ContainerStatus{
		{Name: "init", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}},
	}

	dir := t.TempDir()
	rt := newFakeRuntime()
	logFile := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	rt.addContainer("app-0", pod, "app", 0, runtimeapi.ContainerState_CONTAINER_EXITED,
		logFile("app-0.log", "2024-01-01T00:00:00Z stdout F first run\n"))
	rt.addContainer("app-1", pod, "app", 1, runtimeapi.ContainerState_CONTAINER_RUNNING,
		logFile("app-1.log", "2024-01-01T00:01:00Z stdout F second run\n"+
			"2024-01-01T00:01:01Z stderr F oops\n"+
			"2024-01-01T00:01:02.5Z stdout F bye\n"))
	// A run created but never started has no log of its own.
	rt.addContainer("app-2", pod, "app", 2, runtimeapi.ContainerState_CONTAINER_CREATED, logFile("app-2.log", ""))
	rt.addContainer("solo-0", pod, "solo", 0, runtimeapi.ContainerState_CONTAINER_RUNNING,
		logFile("solo-0.log", "2024-01-01T00:00:00Z stdout F solo\n"))
	rt.addContainer("crash-0", pod, "crash", 0, runtimeapi.ContainerState_CONTAINER_EXITED,
		logFile("crash-0.log", "2024-01-01T00:00:00Z stdout F crash 0\n"))
	rt.addContainer("crash-1", pod, "crash", 1, runtimeapi.ContainerState_CONTAINER_EXITED,
		logFile("crash-1.log", "2024-01-01T00:00:00Z stdout F crash 1\n"))
	rt.addContainer("done-0", pod, "done", 0, runtimeapi.ContainerState_CONTAINER_EXITED,
		logFile("done-0.log", "2024-01-01T00:00:00Z stdout F done 0\n"))
	rt.addContainer("done-1", pod, "done", 1, runtimeapi.ContainerState_CONTAINER_EXITED,
		logFile("done-1.log", "2024-01-01T00:00:00Z stdout F done 1\n"))
	rt.addContainer("fallback-3", pod, "fallback", 3, runtimeapi.ContainerState_CONTAINER_EXITED, "")

	env := newTestEnv(t, newFakePods(pod), rt)
	fallbackDir := filepath.Join(env.logRoot, "default_web_uid-1", "fallback")
	if err := os.MkdirAll(fallbackDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fallbackDir, "3.log"), []byte("2024-01-01T00:00:00Z stdout F from the pod log directory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &logFixture{env: env, dir: dir}
}

func TestContainerLogs(t *testing.T) {
	fx := newLogFixture(t)
	tests := []struct {
		name     string
		path     string
		wantCode int
		wantBody string
	}{
		{name: "the newest started run",
			path: "/containerLogs/default/web/app", wantCode: http.StatusOK, wantBody: "second run\noops\nbye\n"},
		{name: "previous is the run before the running one",
			path: "/containerLogs/default/web/app?previous=true", wantCode: http.StatusOK, wantBody: "first run\n"},
		{name: "tail, timestamps and limitBytes apply",
			path: "/containerLogs/default/web/app?tailLines=2&timestamps=true&limitBytes=40", wantCode: http.StatusOK,
			wantBody: "2024-01-01T00:01:01.000000000Z oops\n2024"},
		{name: "the legacy tail parameter",
			path: "/containerLogs/default/web/app?tail=1", wantCode: http.StatusOK, wantBody: "bye\n"},
		{name: "tail=all is every line",
			path: "/containerLogs/default/web/app?tail=all", wantCode: http.StatusOK, wantBody: "second run\noops\nbye\n"},
		{name: "sinceTime drops older lines",
			path: "/containerLogs/default/web/app?sinceTime=2024-01-01T00:01:01Z", wantCode: http.StatusOK, wantBody: "oops\nbye\n"},
		{name: "one stream only",
			path: "/containerLogs/default/web/app?stream=Stderr", wantCode: http.StatusOK, wantBody: "oops\n"},
		{name: "a restart pending: the newest run is the previous one",
			path: "/containerLogs/default/web/crash?previous=true", wantCode: http.StatusOK, wantBody: "crash 1\n"},
		{name: "a restart pending: the newest run is also the current log",
			path: "/containerLogs/default/web/crash", wantCode: http.StatusOK, wantBody: "crash 1\n"},
		{name: "terminated for good: previous is the run before",
			path: "/containerLogs/default/web/done?previous=true", wantCode: http.StatusOK, wantBody: "done 0\n"},
		{name: "without a log path from the runtime, the pod log directory",
			path: "/containerLogs/default/web/fallback", wantCode: http.StatusOK, wantBody: "from the pod log directory\n"},
		{name: "no previous run",
			path: "/containerLogs/default/web/solo?previous=1", wantCode: http.StatusBadRequest,
			wantBody: `previous terminated container "solo" in pod "web" not found`},
		{name: "waiting to start",
			path: "/containerLogs/default/web/pending", wantCode: http.StatusBadRequest,
			wantBody: `container "pending" in pod "web" is waiting to start: ContainerCreating`},
		{name: "an image that cannot be pulled",
			path: "/containerLogs/default/web/pulling", wantCode: http.StatusBadRequest,
			wantBody: `container "pulling" in pod "web" is waiting to start: image can't be pulled`},
		{name: "terminated with no run left",
			path: "/containerLogs/default/web/init", wantCode: http.StatusBadRequest,
			wantBody: `container "init" in pod "web" is terminated`},
		{name: "no status yet",
			path: "/containerLogs/default/web/unknown", wantCode: http.StatusBadRequest,
			wantBody: `container "unknown" in pod "web" is not available`},
		{name: "unknown pod",
			path: "/containerLogs/default/nope/app", wantCode: http.StatusNotFound, wantBody: `pod "nope" does not exist`},
		{name: "unknown container",
			path: "/containerLogs/default/web/nope", wantCode: http.StatusNotFound, wantBody: `container "nope" not found in pod "web"`},
		{name: "a query that does not decode",
			path: "/containerLogs/default/web/app?tailLines=ten", wantCode: http.StatusBadRequest,
			wantBody: `{"message": "Unable to decode query."}`},
		{name: "negative tailLines",
			path: "/containerLogs/default/web/app?tailLines=-1", wantCode: http.StatusUnprocessableEntity,
			wantBody: `{"message": "Invalid request."}`},
		{name: "both sinceSeconds and sinceTime",
			path: "/containerLogs/default/web/app?sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z", wantCode: http.StatusUnprocessableEntity,
			wantBody: `{"message": "Invalid request."}`},
		{name: "an unknown stream",
			path: "/containerLogs/default/web/app?stream=Both", wantCode: http.StatusUnprocessableEntity,
			wantBody: `{"message": "Invalid request."}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := fx.env.do(t, "GET", tc.path)
			if code != tc.wantCode || body != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", code, body, tc.wantCode, tc.wantBody)
			}
		})
	}
}

func TestContainerLogsFollowEndsWhenTheContainerStops(t *testing.T) {
	fx := newLogFixture(t)
	resp, err := fx.env.client(&fx.env.apiServer).Get("https://" + fx.env.addr + "/containerLogs/default/web/app?follow=true&tailLines=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	body := bufio.NewReader(resp.Body)
	readLine := func() string {
		t.Helper()
		line, err := body.ReadString('\n')
		if err != nil {
			t.Fatalf("read followed log: %q, %v", line, err)
		}
		return line
	}
	if got := readLine(); got != "bye\n" {
		t.Fatalf("first line = %q, want the tail", got)
	}

	f, err := os.OpenFile(filepath.Join(fx.dir, "app-1.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("2024-01-01T00:02:00Z stdout F more\n"); err != nil {
		t.Fatal(err)
	}
	if got := readLine(); got != "more\n" {
		t.Fatalf("appended line = %q", got)
	}

	if _, err := f.WriteString("2024-01-01T00:03:00Z stderr F last words\n"); err != nil {
		t.Fatal(err)
	}
	fx.env.runtime.setState("app-1", runtimeapi.ContainerState_CONTAINER_EXITED)
	done := make(chan string, 1)
	go func() {
		rest, _ := io.ReadAll(body)
		done <- string(rest)
	}()
	select {
	case rest := <-done:
		if rest != "last words\n" {
			t.Errorf("rest of the log = %q, want the last line", rest)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the followed log did not end when the container stopped")
	}
}
