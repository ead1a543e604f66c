package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// maxHTTPBody bounds how much of a probe's response body is read, as
// upstream: a redirect warning quotes it.
const maxHTTPBody = 10 << 10

// maxRedirects is net/http's own limit, kept when redirects are checked.
const maxRedirects = 10

// newProbeTransport is upstream's probe transport: certificates are not
// checked (a pod serving HTTPS has no certificate the kubelet could verify),
// no proxy from the node's environment, no connection reuse (a probe must
// see whether the pod accepts connections now), no compression.
func newProbeTransport() *http.Transport {
	return &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true},
		Proxy:               nil,
		DisableKeepAlives:   true,
		DisableCompression:  true,
		DialContext:         probeDialer().DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
	}
}

// probeHTTP GETs the probe's URL: a status in [200, 400) is success. A
// redirect to another host is not followed but counts as a success with a
// warning, as upstream.
func (p *prober) probeHTTP(ctx context.Context, action *corev1.HTTPGetAction, c *corev1.Container, podIP string, timeout time.Duration) (outcome, string, error) {
	req, err := p.newHTTPRequest(ctx, action, c, podIP)
	if err != nil {
		return outcomeUnknown, "", err
	}
	client := &http.Client{
		Timeout:       timeout,
		Transport:     p.transport,
		CheckRedirect: sameHostRedirects,
	}
	res, err := client.Do(req)
	if err != nil {
		// Refused connections and timeouts are the container's failure; the
		// error ("Get \"http://...\": dial tcp ...: connect: connection
		// refused") is the event's message.
		return outcomeFailure, err.Error(), nil
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxHTTPBody))
	if err != nil {
		return outcomeFailure, "", err
	}
	body := string(b)
	if res.StatusCode >= http.StatusOK && res.StatusCode < http.StatusBadRequest {
		if res.StatusCode >= http.StatusMultipleChoices {
			return outcomeWarning, "Probe terminated redirects, Response body: " + body, nil
		}
		return outcomeSuccess, body, nil
	}
	// Upstream keeps the body out of this message: it may hold secrets and
	// events are widely readable.
	return outcomeFailure, fmt.Sprintf("HTTP probe failed with statuscode: %d", res.StatusCode), nil
}

func (p *prober) newHTTPRequest(ctx context.Context, action *corev1.HTTPGetAction, c *corev1.Container, podIP string) (*http.Request, error) {
	scheme := strings.ToLower(string(action.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	host := action.Host
	if host == "" {
		host = podIP
	}
	port, err := resolveContainerPort(action.Port, c)
	if err != nil {
		return nil, err
	}
	u := probeURL(scheme, host, port, action.Path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	headers := make(http.Header)
	for _, h := range action.HTTPHeaders {
		headers.Add(h.Name, h.Value)
	}
	if _, ok := headers["User-Agent"]; !ok {
		headers.Set("User-Agent", p.userAgent)
	}
	if _, ok := headers["Accept"]; !ok {
		headers.Set("Accept", "*/*")
	} else if headers.Get("Accept") == "" {
		// An Accept header set to "" asks for none at all.
		headers.Del("Accept")
	}
	req.Header = headers
	req.Host = headers.Get("Host")
	return req, nil
}

// probeURL joins the probe's parts as upstream does: a path that does not
// parse is passed along as it is rather than failing the probe.
func probeURL(scheme, host string, port int, path string) *url.URL {
	u, err := url.Parse(path)
	if err != nil {
		u = &url.URL{Path: path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	return u
}

// sameHostRedirects follows redirects within the probed host only: a probe
// must not be turned into a request to anywhere the pod names. The last
// response then stands, and counts as a success with a warning.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}
