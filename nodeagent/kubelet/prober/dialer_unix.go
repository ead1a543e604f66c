//go:build unix

package prober

import (
	"net"
	"syscall"
)

// probeDialer closes its connections with a 1s linger, as upstream's: a node
// probing many pods every few seconds would otherwise pile up sockets in
// TIME_WAIT.
func probeDialer() *net.Dialer {
	return &net.Dialer{
		Control: func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				_ = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 1})
			})
		},
	}
}
