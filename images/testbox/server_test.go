package testbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink the server's goroutines and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer starts a testbox server on loopback and makes sure the test
// does not leave it running.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "pod-a"
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

// waitResult runs s.Wait(ctx) in the background.
func waitResult(s *Server, ctx context.Context) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Wait(ctx) }()
	return done
}

func receive(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
		return nil
	}
}

func TestServerServesHTTPAndUDPUntilCancelled(t *testing.T) {
	logs := &syncBuffer{}
	s := startServer(t, Config{UDPAddr: "127.0.0.1:0", Log: logs})
	ctx, cancel := context.WithCancel(context.Background())
	done := waitResult(s, ctx)

	if code, body := get(t, "http://"+s.HTTPAddr()+"/hostname"); code != 200 || body != "pod-a" {
		t.Errorf("GET /hostname: %d %q, want 200 pod-a", code, body)
	}
	if reply, err := Dial(ctx, ProtocolUDP, s.UDPAddr(), "echo over udp", time.Second); err != nil || reply != "over udp" {
		t.Errorf("udp echo: %q, %v", reply, err)
	}

	cancel() // what SIGTERM does through main's context
	if err := receive(t, done); err != nil {
		t.Fatalf("Wait after SIGTERM: %v, want nil (exit 0)", err)
	}
	if _, err := net.Dial("tcp", s.HTTPAddr()); err == nil {
		t.Error("HTTP port still accepting after stop")
	}
	if conn, err := net.ListenPacket("udp", s.UDPAddr()); err != nil {
		t.Errorf("UDP port still bound after stop: %v", err)
	} else {
		conn.Close()
	}
	for _, want := range []string{`serving HTTP on 127.0.0.1:`, "GET /hostname 200 127.0.0.1:", `udp "echo over udp" from 127.0.0.1:`, "stopping: context canceled"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

func TestServerExitEndpointEndsWaitWithTheCode(t *testing.T) {
	s := startServer(t, Config{})
	done := waitResult(s, context.Background())

	code, body := get(t, "http://"+s.HTTPAddr()+"/exit?code=3")
	if code != 200 || body != "exiting with status 3" {
		t.Errorf("GET /exit?code=3: %d %q; the client should get its answer before the exit", code, body)
	}
	var exit *ExitError
	if err := receive(t, done); !errors.As(err, &exit) || exit.Code != 3 {
		t.Fatalf("Wait: %v, want exit status 3", err)
	}
}

func TestServerStopLetsRequestsInFlightFinish(t *testing.T) {
	s := startServer(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	done := waitResult(s, ctx)
	// A backend that takes its time: the /dial through s is in flight when
	// the stop comes.
	accepted := make(chan struct{})
	slow := startTCPServer(t, func(conn net.Conn) {
		close(accepted)
		io.ReadAll(conn)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(conn, "late but here")
	})
	host, port, _ := net.SplitHostPort(slow)

	answer := make(chan string, 1)
	go func() { // not get: t.Fatal belongs to the test's goroutine
		resp, err := http.Get("http://" + s.HTTPAddr() + "/dial?protocol=tcp&request=x&host=" + host + "&port=" + port)
		if err != nil {
			answer <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		answer <- string(body) + fmt.Sprint(err)
	}()
	<-accepted
	cancel()
	if got := <-answer; !strings.Contains(got, `"responses":["late but here"]`) {
		t.Errorf("the /dial in flight at stop answered %q, want its response", got)
	}
	if err := receive(t, done); err != nil {
		t.Errorf("Wait: %v", err)
	}
}

func TestStartReportsABusyPort(t *testing.T) {
	busyTCP, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyTCP.Close()
	busyUDP, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busyUDP.Close()

	_, err = Start(Config{HTTPAddr: busyTCP.Addr().String(), Hostname: "pod-a"})
	if err == nil || !strings.Contains(err.Error(), "listen HTTP on "+busyTCP.Addr().String()) {
		t.Errorf("HTTP port taken: %v, want an error naming it", err)
	}

	free := refusedAddr(t, "tcp")
	_, err = Start(Config{HTTPAddr: free, UDPAddr: busyUDP.LocalAddr().String(), Hostname: "pod-a"})
	if err == nil || !strings.Contains(err.Error(), "listen UDP on "+busyUDP.LocalAddr().String()) {
		t.Errorf("UDP port taken: %v, want an error naming it", err)
	}
	// The HTTP listener opened before the UDP one failed must be closed.
	ln, err := net.Listen("tcp", free)
	if err != nil {
		t.Errorf("HTTP port left bound after a failed Start: %v", err)
	} else {
		ln.Close()
	}
}

func TestServerHealthzDelay(t *testing.T) {
	s := startServer(t, Config{HealthzDelay: 300 * time.Millisecond})
	url := "http://" + s.HTTPAddr() + "/healthz"
	if code, body := get(t, url); code != 503 || !strings.HasPrefix(body, "starting") {
		t.Errorf("right after start: %d %q, want 503 starting", code, body)
	}
	time.Sleep(300 * time.Millisecond)
	if code, body := get(t, url); code != 200 || body != "ok" {
		t.Errorf("after the delay: %d %q, want 200 ok", code, body)
	}
}
