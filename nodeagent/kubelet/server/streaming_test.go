package server

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// streamingBackend stands in for the runtime's streaming server: it
// switches to SPDY and answers each chunk it reads with "echo:" and the
// chunk, so the test sees bytes go both ways.
type streamingBackend struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
}

func newStreamingBackend(t *testing.T) *streamingBackend {
	b := &streamingBackend{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.requests = append(b.requests, r.Clone(r.Context()))
		b.mu.Unlock()
		if strings.Contains(r.URL.Path, "/refused/") {
			http.Error(w, "unknown token", http.StatusNotFound)
			return
		}
		if !isUpgradeRequest(r) || r.Header.Get("Upgrade") != "SPDY/3.1" {
			http.Error(w, "not an upgrade", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n")
		_ = rw.Flush()
		buf := make([]byte, 512)
		for {
			n, err := rw.Read(buf)
			if n > 0 {
				_, _ = rw.WriteString("echo:" + string(buf[:n]))
				_ = rw.Flush()
			}
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *streamingBackend) last(t *testing.T) *http.Request {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.requests) == 0 {
		t.Fatal("the streaming server got no request")
	}
	return b.requests[len(b.requests)-1]
}

// streamingFixture is a pod with a running container and a ready sandbox,
// and one whose container has stopped.
func newStreamingFixture(t *testing.T) (*testEnv, *streamingBackend) {
	t.Helper()
	web := testPod("web", "uid-1", corev1.Container{Name: "app", TTY: true}, corev1.Container{Name: "side"})
	idle := testPod("idle", "uid-2", corev1.Container{Name: "app"})
	rt := newFakeRuntime()
	rt.addContainer("app-0", web, "app", 0, runtimeapi.ContainerState_CONTAINER_EXITED, "")
	rt.addContainer("app-1", web, "app", 1, runtimeapi.ContainerState_CONTAINER_RUNNING, "")
	rt.addContainer("side-0", web, "side", 0, runtimeapi.ContainerState_CONTAINER_EXITED, "")
	rt.sandbox = []*runtimeapi.PodSandbox{
		{Id: "sb-old", CreatedAt: 1, State: runtimeapi.PodSandboxState_SANDBOX_READY, Labels: map[string]string{podUIDLabel: "uid-1"}},
		{Id: "sb-new", CreatedAt: 2, State: runtimeapi.PodSandboxState_SANDBOX_READY, Labels: map[string]string{podUIDLabel: "uid-1"}},
		{Id: "sb-idle", CreatedAt: 3, State: runtimeapi.PodSandboxState_SANDBOX_NOTREADY, Labels: map[string]string{podUIDLabel: "uid-2"}},
	}
	backend := newStreamingBackend(t)
	rt.streamURL = backend.URL
	return newTestEnv(t, newFakePods(web, idle), rt), backend
}

func TestStreamingSessionsAreForwardedToTheRuntime(t *testing.T) {
	env, backend := newStreamingFixture(t)
	rt := env.runtime
	tests := []struct {
		name        string
		method      string
		path, query string
		wantPath    string
		// sent is what the runtime was asked for the session.
		sent func() proto.Message
		want proto.Message
	}{
		{name: "exec runs the command in the running container",
			method: "POST", path: "/exec/default/web/app",
			query:    "command=sh&command=-c&command=echo+hi&stdin=true&stdout=true&stderr=true&tty=true",
			wantPath: "/exec/tok-exec",
			sent:     func() proto.Message { return rt.exec },
			// A terminal has no separate stderr.
			want: &runtimeapi.ExecRequest{ContainerId: "app-1", Cmd: []string{"sh", "-c", "echo hi"}, Stdin: true, Stdout: true, Tty: true}},
		{name: "exec with the pod UID in the path",
			method: "GET", path: "/exec/default/web/uid-1/app", query: "command=ls&stdout=1&stderr=1",
			wantPath: "/exec/tok-exec",
			sent:     func() proto.Message { return rt.exec },
			want:     &runtimeapi.ExecRequest{ContainerId: "app-1", Cmd: []string{"ls"}, Stdout: true, Stderr: true}},
		{name: "attach takes the terminal setting from the spec",
			method: "POST", path: "/attach/default/web/app", query: "stdin=true&stdout=true",
			wantPath: "/attach/tok-attach",
			sent:     func() proto.Message { return rt.attach },
			want:     &runtimeapi.AttachRequest{ContainerId: "app-1", Stdin: true, Stdout: true, Tty: true}},
		{name: "port-forward goes to the newest ready sandbox",
			method: "POST", path: "/portForward/default/web", query: "",
			wantPath: "/portforward/tok-forward",
			sent:     func() proto.Message { return rt.forward },
			want:     &runtimeapi.PortForwardRequest{PodSandboxId: "sb-new"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			target := tc.path
			if tc.query != "" {
				target += "?" + tc.query
			}
			resp, br, conn := env.upgrade(t, tc.method, target, spdyUpgrade())
			if resp.StatusCode != http.StatusSwitchingProtocols {
				body, _ := io.ReadAll(br)
				t.Fatalf("status = %d (%q), want 101", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Upgrade"); got != "SPDY/3.1" {
				t.Errorf("Upgrade = %q", got)
			}
			if got := resp.Header.Get("X-Stream-Protocol-Version"); got != "v4.channel.k8s.io" {
				t.Errorf("X-Stream-Protocol-Version = %q, want the runtime's", got)
			}
			for _, msg := range []string{"hello", "again"} {
				if _, err := io.WriteString(conn, msg); err != nil {
					t.Fatal(err)
				}
				want := "echo:" + msg
				got := make([]byte, len(want))
				if _, err := io.ReadFull(br, got); err != nil {
					t.Fatalf("read the runtime's answer: %v", err)
				}
				if string(got) != want {
					t.Errorf("answer = %q, want %q", got, want)
				}
			}

			r := backend.last(t)
			if r.URL.Path != tc.wantPath {
				t.Errorf("runtime got path %q, want %q", r.URL.Path, tc.wantPath)
			}
			if r.URL.RawQuery != tc.query {
				t.Errorf("runtime got query %q, want the client's %q", r.URL.RawQuery, tc.query)
			}
			if got := r.Header.Get("X-Stream-Protocol-Version"); got != "v4.channel.k8s.io" {
				t.Errorf("runtime got X-Stream-Protocol-Version %q, want the client's", got)
			}
			rt.mu.Lock()
			got := tc.sent()
			rt.mu.Unlock()
			if !proto.Equal(got, tc.want) {
				t.Errorf("runtime was asked %v, want %v", got, tc.want)
			}
		})
	}
}

func TestStreamingErrors(t *testing.T) {
	env, _ := newStreamingFixture(t)
	tests := []struct {
		name     string
		path     string
		header   http.Header
		setup    func(*fakeRuntime)
		wantCode int
		wantBody string
	}{
		{name: "no stream asked for",
			path: "/exec/default/web/app?command=ls", header: spdyUpgrade(),
			wantCode: http.StatusBadRequest, wantBody: "you must specify at least 1 of stdin, stdout, stderr"},
		{name: "unknown pod",
			path: "/exec/default/nope/app?command=ls&stdout=1", header: spdyUpgrade(),
			wantCode: http.StatusNotFound, wantBody: "pod does not exist"},
		{name: "another instance of the pod",
			path: "/exec/default/web/uid-0/app?command=ls&stdout=1", header: spdyUpgrade(),
			wantCode: http.StatusNotFound, wantBody: "pod not found"},
		{name: "exec in a container that is not running",
			path: "/exec/default/web/side?command=ls&stdout=1", header: spdyUpgrade(),
			wantCode: http.StatusInternalServerError, wantBody: `container not found ("side")`},
		{name: "attach to a container that is not running",
			path: "/attach/default/web/side?stdout=1", header: spdyUpgrade(),
			wantCode: http.StatusInternalServerError, wantBody: "container side not found in pod web_default"},
		{name: "port-forward to a pod without a ready sandbox",
			path: "/portForward/default/idle", header: spdyUpgrade(),
			wantCode: http.StatusInternalServerError, wantBody: `pod not found ("idle_default")`},
		{name: "a WebSocket port-forward must name its ports",
			path: "/portForward/default/web", header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}},
			wantCode: http.StatusBadRequest, wantBody: `query parameter "port" is required`},
		{name: "a request that does not upgrade",
			path:     "/exec/default/web/app?command=ls&stdout=1",
			wantCode: http.StatusInternalServerError, wantBody: "Upgrade request required\n"},
		{name: "the runtime's gRPC code picks the status",
			path: "/exec/default/web/app?command=ls&stdout=1", header: spdyUpgrade(),
			setup:    func(rt *fakeRuntime) { rt.execErr = status.Error(codes.NotFound, "no such container") },
			wantCode: http.StatusNotFound, wantBody: "rpc error: code = NotFound desc = no such container"},
		{name: "the streaming server's refusal reaches the client",
			path: "/exec/default/web/app?command=ls&stdout=1", header: spdyUpgrade(),
			setup:    func(rt *fakeRuntime) { rt.streamURL += "/refused" },
			wantCode: http.StatusNotFound, wantBody: "unknown token\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rt := env.runtime
			rt.mu.Lock()
			execErr, streamURL := rt.execErr, rt.streamURL
			if tc.setup != nil {
				tc.setup(rt)
			}
			rt.mu.Unlock()
			t.Cleanup(func() {
				rt.mu.Lock()
				defer rt.mu.Unlock()
				rt.execErr, rt.streamURL = execErr, streamURL
			})

			header := tc.header
			if header == nil {
				header = http.Header{}
			}
			resp, br, _ := env.upgrade(t, "POST", tc.path, header)
			body, err := io.ReadAll(io.LimitReader(bufio.NewReader(br), int64(len(tc.wantBody))))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantCode || string(body) != tc.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.wantCode, tc.wantBody)
			}
		})
	}
}

func TestForwardedPorts(t *testing.T) {
	tests := []struct {
		name      string
		websocket bool
		query     string
		want      []int32
		wantErr   string
	}{
		{name: "SPDY names ports in its streams", query: "port=80", want: nil},
		{name: "WebSocket ports, repeated and comma-separated", websocket: true, query: "port=80&port=8080,9090", want: []int32{80, 8080, 9090}},
		{name: "an empty port", websocket: true, query: "port=", wantErr: `query parameter "port" cannot be empty`},
		{name: "a port out of range", websocket: true, query: "port=70000", wantErr: `unable to parse "70000" as a port`},
		{name: "port zero", websocket: true, query: "port=0", wantErr: `port "0" must be > 0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/portForward/default/web?"+tc.query, nil)
			if tc.websocket {
				r.Header.Set("Connection", "keep-alive, Upgrade")
				r.Header.Set("Upgrade", "websocket")
			}
			got, err := forwardedPorts(r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, %v, want %v", got, err, tc.want)
			}
		})
	}
}
