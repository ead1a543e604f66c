package testbox

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// startTCPServer accepts connections on loopback and hands each to handle.
func startTCPServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				handle(conn)
			}()
		}
	}()
	return ln.Addr().String()
}

// echoUntilEOF is a TCP echo server that answers once the request is whole.
func echoUntilEOF(conn net.Conn) {
	request, _ := io.ReadAll(conn)
	fmt.Fprintf(conn, "got %s", request)
}

// refusedAddr is a loopback port nothing listens on.
func refusedAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := conn.LocalAddr().String()
		conn.Close()
		return addr
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestDialHTTP(t *testing.T) {
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.RequestURI())
		if r.URL.Path == "/unready" {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "pod-b")
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, tc := range []struct{ request, wantPath, wantReply string }{
		{"hostname", "/hostname", "pod-b"},
		{"/hostname", "/hostname", "pod-b"}, // no "//hostname"
		{"echo?msg=hi", "/echo?msg=hi", "pod-b"},
		{"", "/", "pod-b"},
		// A backend's error page is still its answer, as in agnhost.
		{"unready", "/unready", "not ready\n"},
	} {
		paths = nil
		reply, err := Dial(context.Background(), ProtocolHTTP, addr, tc.request, time.Second)
		if err != nil {
			t.Fatalf("request %q: %v", tc.request, err)
		}
		if reply != tc.wantReply || len(paths) != 1 || paths[0] != tc.wantPath {
			t.Errorf("request %q: got reply %q at %q, want %q at %q", tc.request, reply, paths, tc.wantReply, tc.wantPath)
		}
	}
}

func TestDialHTTPUsesANewConnectionEachTry(t *testing.T) {
	clients := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clients[r.RemoteAddr] = true
	}))
	defer srv.Close()
	for range 3 {
		if _, err := Dial(context.Background(), ProtocolHTTP, srv.Listener.Addr().String(), "x", time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if len(clients) != 3 {
		t.Errorf("3 tries came from %d connections, want 3 (a Service spreads connections, not requests)", len(clients))
	}
}

func TestDialUDP(t *testing.T) {
	addr := startUDPServer(t, "pod-b")
	reply, err := Dial(context.Background(), ProtocolUDP, addr, "hostname", time.Second)
	if err != nil || reply != "pod-b" {
		t.Errorf("udp hostname: got %q, %v; want pod-b", reply, err)
	}
}

func TestDialTCP(t *testing.T) {
	echo := startTCPServer(t, echoUntilEOF)
	// Answers a line, then holds the connection open, as many servers do.
	lingering := startTCPServer(t, func(conn net.Conn) {
		line, _ := bufio.NewReader(conn).ReadString('\n')
		fmt.Fprintf(conn, "hello %s", line)
		time.Sleep(5 * time.Second)
	})

	reply, err := Dial(context.Background(), ProtocolTCP, echo, "ping", time.Second)
	if err != nil || reply != "got ping" {
		t.Errorf("tcp echo: got %q, %v; want %q", reply, err, "got ping")
	}

	reply, err = Dial(context.Background(), ProtocolTCP, lingering, "you\n", 200*time.Millisecond)
	if err != nil || reply != "hello you\n" {
		t.Errorf("tcp to a server that answers and lingers: got %q, %v; want its answer", reply, err)
	}

	reply, err = Dial(context.Background(), ProtocolTCP, echo, "", time.Second)
	if err != nil || !strings.HasPrefix(reply, "connected from 127.0.0.1:") || !strings.HasSuffix(reply, " to "+echo) {
		t.Errorf("tcp connect only: got %q, %v; want both ends named", reply, err)
	}
}

func TestDialFailures(t *testing.T) {
	silentUDP, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silentUDP.Close()
	silentTCP := startTCPServer(t, func(conn net.Conn) { time.Sleep(5 * time.Second) })

	tests := []struct {
		name, protocol, addr, request string
		wantErr                       string
	}{
		{"http refused", ProtocolHTTP, refusedAddr(t, "tcp"), "hostname", "connection refused"},
		{"tcp refused", ProtocolTCP, refusedAddr(t, "tcp"), "x", "connection refused"},
		{"udp refused, reported by ICMP", ProtocolUDP, refusedAddr(t, "udp"), "hostname", "connection refused"},
		{"udp server that never answers", ProtocolUDP, silentUDP.LocalAddr().String(), "hostname", "i/o timeout"},
		{"tcp server that never answers", ProtocolTCP, silentTCP, "x", "i/o timeout"},
		{"udp with nothing to send", ProtocolUDP, silentUDP.LocalAddr().String(), "", "udp needs a request"},
		{"unknown protocol", "sctp", "127.0.0.1:1", "x", `unsupported protocol "sctp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			reply, err := Dial(context.Background(), tt.protocol, tt.addr, tt.request, 300*time.Millisecond)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %q, %v; want an error containing %q", reply, err, tt.wantErr)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("took %v: the timeout did not bound the try", elapsed)
			}
		})
	}
}
