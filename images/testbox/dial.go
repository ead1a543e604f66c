package testbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Protocols /dial and the dial subcommand speak.
const (
	ProtocolHTTP = "http"
	ProtocolTCP  = "tcp"
	ProtocolUDP  = "udp"
)

// DefaultDialTimeout bounds one try, as agnhost's 5s does.
const DefaultDialTimeout = 5 * time.Second

// maxReply caps what one try reads: a reply is a hostname or an echo, and a
// misdirected dial must not fill the server's memory.
const maxReply = 1 << 20

// Dial reaches address (host:port) once over protocol and returns the reply,
// as agnhost's /dial does:
//
//   - http: GET http://address/request and the response body, whatever its
//     status (a 503 is an answer from the backend too);
//   - udp: send request as one datagram, return the first datagram back;
//   - tcp: connect, send request, half-close, return what comes back until
//     the peer closes. With no request, only connect: the reply then names
//     both ends, which is what source-address tests look at.
//
// timeout bounds the whole try.
func Dial(ctx context.Context, protocol, address, request string, timeout time.Duration) (string, error) {
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch protocol {
	case ProtocolHTTP:
		return dialHTTP(ctx, address, request)
	case ProtocolUDP:
		return dialUDP(ctx, address, request)
	case ProtocolTCP:
		return dialTCP(ctx, address, request)
	default:
		return "", fmt.Errorf("unsupported protocol %q (want %s, %s or %s)", protocol, ProtocolHTTP, ProtocolTCP, ProtocolUDP)
	}
}

func dialHTTP(ctx context.Context, address, request string) (string, error) {
	url := "http://" + address + "/" + strings.TrimPrefix(request, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("build request for %s: %w", url, err)
	}
	client := &http.Client{Transport: &http.Transport{
		// Every try is a new connection, so that tries through a Service
		// can land on different endpoints.
		DisableKeepAlives: true,
		// Proxy left nil: a network test means to reach address itself,
		// whatever HTTP_PROXY the pod inherited.
	}}
	resp, err := client.Do(req)
	if err != nil {
		return "", err // already "Get "url": dial tcp ...: ..."
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return "", fmt.Errorf("read response of %s: %w", url, err)
	}
	return string(body), nil
}

func dialUDP(ctx context.Context, address, request string) (string, error) {
	if request == "" {
		return "", errors.New("udp needs a request to send: a server has nothing to answer otherwise")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", address)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := setDeadline(ctx, conn); err != nil {
		return "", err
	}
	if _, err := conn.Write([]byte(request)); err != nil {
		return "", err
	}
	buf := make([]byte, 64<<10) // the largest datagram
	n, err := conn.Read(buf)
	if err != nil {
		return "", err // "read udp a->b: i/o timeout" or "connection refused"
	}
	return string(buf[:n]), nil
}

func dialTCP(ctx context.Context, address, request string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if request == "" {
		return fmt.Sprintf("connected from %s to %s", conn.LocalAddr(), conn.RemoteAddr()), nil
	}
	if err := setDeadline(ctx, conn); err != nil {
		return "", err
	}
	if _, err := io.WriteString(conn, request); err != nil {
		return "", err
	}
	// Half-close: servers that answer one request per connection (an echo
	// server, HTTP/1.0) then know the request is whole and close after
	// answering, so the read below ends at EOF rather than at the deadline.
	if tcp, ok := conn.(*net.TCPConn); ok {
		if err := tcp.CloseWrite(); err != nil {
			return "", err
		}
	}
	reply, err := io.ReadAll(io.LimitReader(conn, maxReply))
	if err != nil && !(errors.Is(err, os.ErrDeadlineExceeded) && len(reply) > 0) {
		// A peer that answered and kept the connection open has still
		// answered: only silence is a failure.
		return "", err
	}
	return string(reply), nil
}

// setDeadline makes conn's reads and writes give up when ctx does: net.Conn
// I/O does not watch a context.
func setDeadline(ctx context.Context, conn net.Conn) error {
	if deadline, ok := ctx.Deadline(); ok {
		return conn.SetDeadline(deadline)
	}
	return nil
}
