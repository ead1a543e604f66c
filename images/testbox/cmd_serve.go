package testbox

import (
	"context"
	"net"
	"strconv"
)

func runServe(ctx context.Context, p Process, args []string) error {
	fs := newFlagSet(p, "serve [flags]", `Serve agnhost netexec's HTTP endpoints and UDP commands, until SIGTERM
(status 0) or /exit?code=N (status N). Also runs as "testbox netexec".`)
	httpPort := fs.Int("http-port", 8080, "HTTP port")
	udpPort := fs.Int("udp-port", 8081, "UDP port; -1 runs no UDP server")
	delay := fs.Duration("healthz-delay", 0, "answer /healthz with 503 for this long after start (readiness tests)")
	failAfter := fs.Duration("healthz-fail-after", 0, "answer /healthz with 503 from this long after start on, as agnhost liveness does; 0: never")
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	switch {
	case *httpPort < 0 || *httpPort > 65535:
		return usageErrorf(fs, "--http-port: want 0-65535, got %d", *httpPort)
	case *udpPort < -1 || *udpPort > 65535:
		return usageErrorf(fs, "--udp-port: want 0-65535 or -1, got %d", *udpPort)
	case *delay < 0:
		return usageErrorf(fs, "--healthz-delay: want a duration of 0 or more, got %v", *delay)
	case *failAfter < 0:
		return usageErrorf(fs, "--healthz-fail-after: want a duration of 0 or more, got %v", *failAfter)
	}

	cfg := Config{
		// Every address: the pod IP for Services and peers, loopback for
		// exec'd clients.
		HTTPAddr:         net.JoinHostPort("", strconv.Itoa(*httpPort)),
		HealthzDelay:     *delay,
		HealthzFailAfter: *failAfter,
		Log:              p.Stdout,
	}
	if *udpPort >= 0 {
		cfg.UDPAddr = net.JoinHostPort("", strconv.Itoa(*udpPort))
	}
	return Serve(ctx, cfg)
}
