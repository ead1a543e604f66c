package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// streamOptions are the streams an exec or attach session wants.
type streamOptions struct {
	stdin, stdout, stderr, tty bool
}

// newStreamOptions reads the session's streams from the query, as
// upstream's remotecommand.NewOptions. The API server passes kubectl's
// query on unchanged, so "true" counts as well as upstream's "1".
func newStreamOptions(r *http.Request) (streamOptions, error) {
	q := r.URL.Query()
	on := func(key string) bool {
		v := q.Get(key)
		return v == "1" || strings.EqualFold(v, "true")
	}
	o := streamOptions{stdin: on("stdin"), stdout: on("stdout"), stderr: on("stderr"), tty: on("tty")}
	if o.tty && o.stderr {
		// A terminal has one output stream.
		o.stderr = false
	}
	if !o.stdin && !o.stdout && !o.stderr {
		return o, errors.New("you must specify at least 1 of stdin, stdout, stderr")
	}
	return o, nil
}

// exec serves /exec/<namespace>/<pod>[/<uid>]/<container>?command=...
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	opts, err := newStreamOptions(r)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	pod, ok := s.streamPod(w, r)
	if !ok {
		return
	}
	name := r.PathValue("container")
	c, err := s.runningContainer(r.Context(), pod, name)
	if err != nil {
		writeStreamingError(w, err)
		return
	}
	if c == nil {
		writeStreamingError(w, fmt.Errorf("container not found (%q)", name))
		return
	}
	resp, err := s.cfg.Runtime.Exec(r.Context(), &runtimeapi.ExecRequest{
		ContainerId: c.Id,
		Cmd:         r.URL.Query()["command"],
		Tty:         opts.tty,
		Stdin:       opts.stdin,
		Stdout:      opts.stdout,
		Stderr:      opts.stderr,
	})
	if err != nil {
		writeStreamingError(w, err)
		return
	}
	s.forward(w, r, resp.Url)
}

// attach serves /attach/<namespace>/<pod>[/<uid>]/<container>.
func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	opts, err := newStreamOptions(r)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	pod, ok := s.streamPod(w, r)
	if !ok {
		return
	}
	name := r.PathValue("container")
	fullName := pod.Name + "_" + pod.Namespace
	c, err := s.runningContainer(r.Context(), pod, name)
	if err != nil {
		writeStreamingError(w, err)
		return
	}
	spec := containerSpec(pod, name)
	if c == nil || spec == nil {
		writeStreamingError(w, fmt.Errorf("container %s not found in pod %s", name, fullName))
		return
	}
	resp, err := s.cfg.Runtime.Attach(r.Context(), &runtimeapi.AttachRequest{
		ContainerId: c.Id,
		Stdin:       opts.stdin,
		Stdout:      opts.stdout,
		Stderr:      opts.stderr,
		// Whether the process has a terminal was settled when it
		// started: the spec says, not the request.
		Tty: spec.TTY,
	})
	if err != nil {
		writeStreamingError(w, err)
		return
	}
	s.forward(w, r, resp.Url)
}

// portForward serves /portForward/<namespace>/<pod>[/<uid>].
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	ports, err := forwardedPorts(r)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	pod, ok := s.streamPod(w, r)
	if !ok {
		return
	}
	sandbox, err := s.readySandbox(r.Context(), pod)
	if err != nil {
		writeStreamingError(w, err)
		return
	}
	if sandbox == "" {
		writeStreamingError(w, fmt.Errorf("pod not found (%q)", pod.Name+"_"+pod.Namespace))
		return
	}
	resp, err := s.cfg.Runtime.PortForward(r.Context(), &runtimeapi.PortForwardRequest{PodSandboxId: sandbox, Port: ports})
	if err != nil {
		writeStreamingError(w, err)
		return
	}
	s.forward(w, r, resp.Url)
}

// forwardedPorts reads the ports of a WebSocket port-forward, as upstream's
// portforward.NewV4Options; SPDY clients name each port in its own stream.
func forwardedPorts(r *http.Request) ([]int32, error) {
	if !isWebSocketRequest(r) {
		return nil, nil
	}
	values := r.URL.Query()["port"]
	if len(values) == 0 {
		return nil, errors.New(`query parameter "port" is required`)
	}
	var ports []int32
	for _, v := range values {
		if v == "" {
			return nil, errors.New(`query parameter "port" cannot be empty`)
		}
		for _, p := range strings.Split(v, ",") {
			port, err := strconv.ParseUint(p, 10, 16)
			if err != nil {
				return nil, fmt.Errorf("unable to parse %q as a port: %w", v, err)
			}
			if port < 1 {
				return nil, fmt.Errorf("port %q must be > 0", v)
			}
			ports = append(ports, int32(port))
		}
	}
	return ports, nil
}

// streamPod finds the pod a streaming request names, answering 404 when
// the node has none or the UID in the path is another instance's.
func (s *Server) streamPod(w http.ResponseWriter, r *http.Request) (*corev1.Pod, bool) {
	pod, ok := s.cfg.Pods.GetPodByName(r.PathValue("namespace"), r.PathValue("pod"))
	if !ok {
		writeText(w, http.StatusNotFound, "pod does not exist")
		return nil, false
	}
	if uid := r.PathValue("uid"); uid != "" && types.UID(uid) != pod.UID {
		writeText(w, http.StatusNotFound, "pod not found")
		return nil, false
	}
	return pod, true
}

// runningContainer is the pod's running container of that name, nil when
// there is none: only a running process can be entered.
func (s *Server) runningContainer(ctx context.Context, pod *corev1.Pod, name string) (*runtimeapi.Container, error) {
	resp, err := s.cfg.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{
			State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING},
			LabelSelector: map[string]string{
				podUIDLabel:        string(pod.UID),
				containerNameLabel: name,
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of pod %q: %w", pod.Name, err)
	}
	var newest *runtimeapi.Container
	for _, c := range resp.Containers {
		if newest == nil || c.CreatedAt > newest.CreatedAt {
			newest = c
		}
	}
	return newest, nil
}

// readySandbox is the ID of the pod's newest ready sandbox, "" when it has
// none.
func (s *Server) readySandbox(ctx context.Context, pod *corev1.Pod) (string, error) {
	resp, err := s.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{
			State:         &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY},
			LabelSelector: map[string]string{podUIDLabel: string(pod.UID)},
		},
	})
	if err != nil {
		return "", fmt.Errorf("list sandboxes of pod %q: %w", pod.Name, err)
	}
	items := resp.Items
	if len(items) == 0 {
		return "", nil
	}
	sort.Slice(items, func(i, j int) bool { return items[i].CreatedAt > items[j].CreatedAt })
	return items[0].Id, nil
}

// writeStreamingError answers as upstream's streaming.WriteError: the
// runtime's gRPC code picks the status.
func writeStreamingError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch status.Code(err) {
	case codes.NotFound:
		code = http.StatusNotFound
	case codes.ResourceExhausted:
		// The runtime holds too many pending sessions; they expire
		// within a minute.
		w.Header().Set("Retry-After", "60")
		code = http.StatusTooManyRequests
	}
	writeText(w, code, err.Error())
}

// newStreamTransport reaches the runtime's streaming server, on the node's
// loopback: never through a proxy, one connection per session.
func newStreamTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		DisableKeepAlives:   true,
	}
}

// forward proxies an upgraded session (SPDY or WebSocket) to the URL the
// runtime gave for it, as upstream's UpgradeAwareHandler does when the
// kubelet does not redirect. The client's query goes along unless the URL
// has its own.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, rawURL string) {
	target, err := url.Parse(rawURL)
	if err != nil {
		writeStreamingError(w, fmt.Errorf("parse the runtime's streaming URL %q: %w", rawURL, err))
		return
	}
	if !isUpgradeRequest(r) {
		http.Error(w, "Upgrade request required", http.StatusInternalServerError)
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			u := *target
			if u.RawQuery == "" {
				u.RawQuery = pr.In.URL.RawQuery
			}
			pr.Out.URL = &u
			pr.Out.Host = u.Host
		},
		Transport: s.streams,
		ModifyResponse: func(resp *http.Response) error {
			// A refusal (4xx, 5xx) goes back to the client as it is;
			// anything else that is not a switch is the runtime's fault.
			if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode < 400 {
				return fmt.Errorf("invalid upgrade response: status code %d", resp.StatusCode)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.Warn("forward streaming session to the runtime", "path", r.URL.Path, "err", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
		},
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	rp.ServeHTTP(w, r)
}

// isUpgradeRequest reports a request that asks to switch protocols.
func isUpgradeRequest(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, token := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(token), "upgrade") {
				return true
			}
		}
	}
	return false
}

func isWebSocketRequest(r *http.Request) bool {
	return isUpgradeRequest(r) && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
