package testbox

import (
	"io"
	"log"
	"net"
	"testing"
	"time"
)

func TestUDPReply(t *testing.T) {
	client := &net.UDPAddr{IP: net.IPv4(10, 244, 1, 7), Port: 40000}
	tests := []struct {
		name      string
		datagram  string
		wantReply string
		wantOK    bool
	}{
		{name: "hostname", datagram: "hostname", wantReply: "pod-a", wantOK: true},
		{name: "hostname with the newline nc sends", datagram: "hostname\n", wantReply: "pod-a", wantOK: true},
		{name: "commands are case-insensitive", datagram: "HostName", wantReply: "pod-a", wantOK: true},
		{name: "clientip is ip:port", datagram: "clientip", wantReply: "10.244.1.7:40000", wantOK: true},
		{name: "echo keeps the message's case", datagram: "echo Hello World", wantReply: "Hello World", wantOK: true},
		{name: "echo with nothing to echo", datagram: "echo", wantOK: false},
		{name: "unknown command gets no reply, as in agnhost", datagram: "shell ls", wantOK: false},
		{name: "empty datagram", datagram: "", wantOK: false},
		{name: "hostname takes no argument", datagram: "hostname x", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, ok := udpReply(tt.datagram, client, "pod-a")
			if ok != tt.wantOK || (ok && reply != tt.wantReply) {
				t.Errorf("udpReply(%q) = %q, %v; want %q, %v", tt.datagram, reply, ok, tt.wantReply, tt.wantOK)
			}
		})
	}
}

// startUDPServer runs serveUDP on a loopback port until the test ends.
func startUDPServer(t *testing.T, hostname string) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serveUDP(conn, hostname, log.New(io.Discard, "", 0)) }()
	t.Cleanup(func() {
		conn.Close()
		if err := <-done; err != nil {
			t.Errorf("serveUDP after close: %v, want nil", err)
		}
	})
	return conn.LocalAddr().String()
}

func TestServeUDPAnswersOverTheWire(t *testing.T) {
	addr := startUDPServer(t, "pod-a")
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))

	// The unknown command comes first: the server must go on after it.
	for _, c := range []struct{ send, want string }{
		{"no-such-command", ""},
		{"hostname", "pod-a"},
		{"echo ping", "ping"},
		{"clientip", conn.LocalAddr().String()},
	} {
		if _, err := conn.Write([]byte(c.send)); err != nil {
			t.Fatal(err)
		}
		if c.want == "" {
			continue
		}
		buf := make([]byte, 1024)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("reply to %q: %v", c.send, err)
		}
		if got := string(buf[:n]); got != c.want {
			t.Errorf("reply to %q: got %q, want %q", c.send, got, c.want)
		}
	}
}
