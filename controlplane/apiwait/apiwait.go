// Package apiwait holds a control-plane component back until the API
// server answers ready.
//
// The scheduler and the controller manager start beside the API server, as
// static pods of one kubelet, and usually before it answers. Their first
// try for the leader Lease then fails, and client-go's elector tries again
// only after its retry period and up to 120% jitter (2 to 4.4 s): a
// cluster's first pods waited that long for nobody. Asking /readyz
// often until it answers makes the first try the one that succeeds.
package apiwait

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// Interval is how often Ready asks: a request that fails to connect costs
// next to nothing, and every interval is time lost when the API server
// comes up just after a try.
const Interval = 100 * time.Millisecond

// Ready returns once the API server that cfg names answers GET /readyz
// with 200, or with ctx's error and the last answer once ctx ends. It
// asks with cfg's credentials but not through a client's rate limiter,
// which would only space the questions out.
func Ready(ctx context.Context, cfg *rest.Config) error {
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("wait for the API server to be ready: %w", err)
	}
	url := strings.TrimSuffix(cfg.Host, "/") + "/readyz"
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	var last error
	for {
		err := readyz(ctx, client, url)
		if err == nil {
			return nil
		}
		if ctx.Err() == nil {
			last = err // not the cancellation of the request itself
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the API server to be ready: %w (last answer: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

func readyz(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
