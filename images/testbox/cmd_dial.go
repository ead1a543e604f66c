package testbox

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strings"
)

func runDial(ctx context.Context, p Process, args []string) error {
	fs := newFlagSet(p, "dial ADDR [flags]", `Reach ADDR (host:port) once and print the reply, as /dial does for one try.
tcp without --request only connects, and prints both ends of the connection.`)
	protocol := fs.String("protocol", ProtocolTCP, "tcp, udp or http")
	request := fs.String("request", "", "what to send: the path for http, data for tcp and udp (udp needs one, e.g. hostname)")
	timeout := fs.Duration("timeout", DefaultDialTimeout, "give up after this long")
	positional, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	address := positional[0]
	*protocol = strings.ToLower(*protocol)
	if err := checkDialArgs(fs, address, *protocol, *request); err != nil {
		return err
	}
	if *timeout <= 0 {
		return usageErrorf(fs, "--timeout: want a positive duration, got %v", *timeout)
	}

	reply, err := Dial(ctx, *protocol, address, *request, *timeout)
	if err != nil {
		return fmt.Errorf("%s %s: %w", *protocol, address, err)
	}
	fmt.Fprint(p.Stdout, reply)
	if !strings.HasSuffix(reply, "\n") {
		fmt.Fprintln(p.Stdout)
	}
	return nil
}

// checkDialArgs checks what dial and wait-for take alike: a host:port, a
// protocol Dial speaks, and something to send over udp.
func checkDialArgs(fs *flag.FlagSet, address, protocol, request string) error {
	if _, _, err := net.SplitHostPort(address); err != nil {
		return usageErrorf(fs, "ADDR: want host:port, got %q", address)
	}
	switch {
	case protocol != ProtocolTCP && protocol != ProtocolUDP && protocol != ProtocolHTTP:
		return usageErrorf(fs, "--protocol: want tcp, udp or http, got %q", protocol)
	case protocol == ProtocolUDP && request == "":
		return usageErrorf(fs, "--request: udp needs something to send, such as hostname")
	}
	return nil
}
