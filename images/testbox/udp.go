package testbox

import (
	"errors"
	"fmt"
	"log"
	"net"
	"strings"
)

// serveUDP answers datagrams on conn until conn is closed.
func serveUDP(conn net.PacketConn, hostname string, logger *log.Logger) error {
	buf := make([]byte, 64<<10) // the largest datagram
	for {
		n, client, err := conn.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read UDP on %s: %w", conn.LocalAddr(), err)
		}
		command := string(buf[:n])
		reply, ok := udpReply(command, client, hostname)
		if !ok {
			// agnhost stays silent too: the client's read times out.
			logger.Printf("udp %q from %s: unknown command", command, client)
			continue
		}
		logger.Printf("udp %q from %s", command, client)
		if _, err := conn.WriteTo([]byte(reply), client); err != nil {
			// One client's trouble; the server goes on.
			logger.Printf("udp reply to %s: %v", client, err)
		}
	}
}

// udpReply answers one datagram as agnhost netexec's UDP server does:
// "hostname", "echo X" and "clientip", case-insensitive and with surrounding
// whitespace (a newline from nc or echo) ignored. Unlike agnhost, an echo
// keeps the case of X.
func udpReply(datagram string, client net.Addr, hostname string) (reply string, ok bool) {
	command, arg, _ := strings.Cut(strings.TrimSpace(datagram), " ")
	switch strings.ToLower(command) {
	case "hostname":
		return hostname, arg == ""
	case "clientip":
		return client.String(), arg == ""
	case "echo":
		return arg, arg != ""
	}
	return "", false
}
