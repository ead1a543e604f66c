package testbox

import (
	"context"
	"fmt"
	"strings"
	"time"
)

func runWaitFor(ctx context.Context, p Process, args []string) error {
	fs := newFlagSet(p, "wait-for ADDR [flags]", `Reach ADDR (host:port) over and over until a try succeeds, then print
  reached ADDR at=TIME after=DURATION tries=N
TIME is the wall clock at that success, DURATION the time since the first
try: measured here, in the pod, so that a Service's programming latency does
not include the delay of the exec that started the wait. The first line,
"waiting for ADDR", tells a caller that the tries have begun.`)
	protocol := fs.String("protocol", ProtocolTCP, "tcp, udp or http, as for dial")
	request := fs.String("request", "", "what to send, as for dial")
	interval := fs.Duration("interval", 10*time.Millisecond, "pause between tries")
	tryTimeout := fs.Duration("try-timeout", time.Second, "give up on one try after this long")
	timeout := fs.Duration("timeout", time.Minute, "give up waiting after this long")
	positional, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	address := positional[0]
	*protocol = strings.ToLower(*protocol)
	if err := checkDialArgs(fs, address, *protocol, *request); err != nil {
		return err
	}
	for name, d := range map[string]time.Duration{"interval": *interval, "try-timeout": *tryTimeout, "timeout": *timeout} {
		if d <= 0 {
			return usageErrorf(fs, "--%s: want a positive duration, got %v", name, d)
		}
	}

	fmt.Fprintf(p.Stdout, "waiting for %s\n", address)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	var last error
	for tries := 1; ; tries++ {
		_, err := Dial(ctx, *protocol, address, *request, *tryTimeout)
		if err == nil {
			at := time.Now()
			fmt.Fprintf(p.Stdout, "reached %s at=%s after=%s tries=%d\n",
				address, at.UTC().Format(time.RFC3339Nano), at.Sub(start), tries)
			return nil
		}
		// A try cut short by the end of the wait says only that: the one
		// before it says why ADDR did not answer.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: not reached in %s (%d tries), last: %w",
				*protocol, address, time.Since(start).Round(time.Millisecond), tries, last)
		case <-time.After(*interval):
		}
	}
}
