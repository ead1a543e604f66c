package kuberuntime

import (
	"context"
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
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// runHook runs a postStart or preStop handler against the container and
// returns, on failure, upstream's message about it.
func (m *Manager) runHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, containerID string, h *corev1.LifecycleHandler, podIP string) (string, error) {
	switch {
	case h.Exec != nil:
		output, err := m.execInContainer(ctx, containerID, h.Exec.Command)
		if err != nil {
			return fmt.Sprintf("Exec lifecycle hook (%v) for Container %q in Pod %q failed - error: %v, message: %q",
				h.Exec.Command, c.Name, FormatPod(pod), err, string(output)), err
		}
		return "", nil
	case h.HTTPGet != nil:
		if err := m.runHTTPHook(ctx, c, h.HTTPGet, podIP); err != nil {
			return fmt.Sprintf("HTTP lifecycle hook (%s) for Container %q in Pod %q failed - error: %v",
				h.HTTPGet.Path, c.Name, FormatPod(pod), err), err
		}
		return "", nil
	case h.Sleep != nil:
		if err := m.sleep(ctx, time.Duration(h.Sleep.Seconds)*time.Second); err != nil {
			return fmt.Sprintf("Sleep lifecycle hook (%d) for Container %q in Pod %q failed - error: %v",
				h.Sleep.Seconds, c.Name, FormatPod(pod), err), err
		}
		return "", nil
	}
	err := fmt.Errorf("invalid handler: %v", h)
	return fmt.Sprintf("Cannot run handler: %v", err), err
}

// execInContainer runs cmd in the container and returns its combined
// output; a non-zero exit is an error carrying stderr, as upstream's.
func (m *Manager) execInContainer(ctx context.Context, containerID string, cmd []string) ([]byte, error) {
	resp, err := m.runtime.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: containerID, Cmd: cmd})
	if err != nil {
		return nil, err
	}
	output := append(append([]byte(nil), resp.GetStdout()...), resp.GetStderr()...)
	if resp.GetExitCode() != 0 {
		return output, fmt.Errorf("command '%s' exited with %d: %s", strings.Join(cmd, " "), resp.GetExitCode(), resp.GetStderr())
	}
	return output, nil
}

// resolvePort turns a hook's port, a number or a container port's name,
// into a number.
func resolvePort(port intstr.IntOrString, c *corev1.Container) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil {
		return n, nil
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	return -1, fmt.Errorf("couldn't find port: %v in %v", port.StrVal, c.Name)
}

// runHTTPHook GETs the hook's URL, by default on the pod's IP. As upstream,
// only a failed request is an error: any response counts as success.
func (m *Manager) runHTTPHook(ctx context.Context, c *corev1.Container, h *corev1.HTTPGetAction, podIP string) error {
	host := h.Host
	if host == "" {
		host = podIP
	}
	if host == "" {
		return errors.New("failed to find networking container: the pod has no IP")
	}
	port, err := resolvePort(h.Port, c)
	if err != nil {
		return err
	}
	scheme := strings.ToLower(string(h.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := h.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	full := u.String() + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, full, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "kube-lifecycle/1.36")
	for _, hdr := range h.HTTPHeaders {
		if strings.EqualFold(hdr.Name, "Host") {
			req.Host = hdr.Value
			continue
		}
		req.Header.Add(hdr.Name, hdr.Value)
	}
	resp, err := m.httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return nil
}

func (m *Manager) sleep(ctx context.Context, d time.Duration) error {
	t := m.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}
