package prober

import (
	"context"
	"net"
	"strconv"
	"time"
)

// probeTCP succeeds when a TCP connection opens within the timeout. A failed
// dial is the container's failure, its error text the event's message.
func probeTCP(ctx context.Context, host string, port int, timeout time.Duration) (outcome, string, error) {
	d := probeDialer()
	d.Timeout = timeout
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return outcomeFailure, err.Error(), nil
	}
	_ = conn.Close()
	return outcomeSuccess, "", nil
}
