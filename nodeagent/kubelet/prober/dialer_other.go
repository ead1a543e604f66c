//go:build !unix

package prober

import "net"

// probeDialer is a plain dialer where sockets have no linger option to set.
func probeDialer() *net.Dialer { return &net.Dialer{} }
