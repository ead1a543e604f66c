package subresource

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

// KubeletDialer says how the API server reaches a node's kubelet, as
// upstream's NodeConnectionInfoGetter: the kubelet serves pods/log, exec,
// attach, portforward and nodes/proxy, which the API server proxies.
type KubeletDialer interface {
	// DialKubelet returns the base URL of node's kubelet API
	// (https://<address>:<port>) and the transport that reaches it with
	// the API server's kubelet client certificate. An error that is not
	// an API status is answered as 503.
	DialKubelet(ctx context.Context, node *corev1.Node) (*url.URL, http.RoundTripper, error)
}

var nodesResource = corev1.SchemeGroupVersion.WithResource("nodes")

// addKubeletSubresources serves the pod subresources the kubelet answers.
func (h *Handler) addKubeletSubresources() {
	h.add(podsResource, "log", verbs{"get": h.podLog})
	exec := h.podStream("exec")
	h.add(podsResource, "exec", verbs{"get": exec, "create": exec})
	attach := h.podStream("attach")
	h.add(podsResource, "attach", verbs{"get": attach, "create": attach})
	h.add(podsResource, "portforward", verbs{"get": h.portForward, "create": h.portForward})
}

// addNodesAndServices serves nodes/proxy and services/proxy.
func (h *Handler) addNodesAndServices() {
	proxyVerbs := func(serve func(http.ResponseWriter, *http.Request, *request.Info)) verbs {
		return verbs{"get": serve, "create": serve, "update": serve, "patch": serve, "delete": serve}
	}
	if h.resource(nodesResource) != nil {
		h.add(nodesResource, "proxy", proxyVerbs(h.nodeProxy))
	}
	if h.resource(endpointsResource) != nil && h.resource(podsResource) != nil {
		h.add(servicesResource, "proxy", proxyVerbs(h.serviceProxy))
	}
}

// podLog streams a container's log from its node's kubelet
// (kubectl logs). A pod without a node has no log yet: the answer is
// empty, as upstream's.
func (h *Handler) podLog(w http.ResponseWriter, r *http.Request, info *request.Info) {
	pod, err := h.getPod(r.Context(), info)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	q := r.URL.Query()
	container, err := containerOf(pod, q.Get("container"))
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	params, err := logParams(q, pod.Name)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	if pod.Spec.NodeName == "" {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		return
	}
	h.toKubelet(w, r, pod.Spec.NodeName, fmt.Sprintf("/containerLogs/%s/%s/%s", pod.Namespace, pod.Name, container), params.Encode())
}

// podStream proxies exec or attach, an upgraded connection (SPDY or
// WebSocket) between kubectl and the kubelet.
func (h *Handler) podStream(kind string) func(http.ResponseWriter, *http.Request, *request.Info) {
	return func(w http.ResponseWriter, r *http.Request, info *request.Info) {
		pod, err := h.getPod(r.Context(), info)
		if err != nil {
			rest.WriteError(w, err)
			return
		}
		q := r.URL.Query()
		container, err := containerOf(pod, q.Get("container"))
		if err != nil {
			rest.WriteError(w, err)
			return
		}
		if pod.Spec.NodeName == "" {
			rest.WriteError(w, noHost(pod.Name))
			return
		}
		q.Del("container")
		h.toKubelet(w, r, pod.Spec.NodeName, fmt.Sprintf("/%s/%s/%s/%s", kind, pod.Namespace, pod.Name, container), q.Encode())
	}
}

func (h *Handler) portForward(w http.ResponseWriter, r *http.Request, info *request.Info) {
	pod, err := h.getPod(r.Context(), info)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	if pod.Spec.NodeName == "" {
		rest.WriteError(w, noHost(pod.Name))
		return
	}
	h.toKubelet(w, r, pod.Spec.NodeName, fmt.Sprintf("/portForward/%s/%s", pod.Namespace, pod.Name), r.URL.RawQuery)
}

// nodeProxy proxies /api/v1/nodes/<node>/proxy/<path> to the kubelet's
// <path> (kubectl get --raw .../proxy/metrics, stats/summary).
func (h *Handler) nodeProxy(w http.ResponseWriter, r *http.Request, info *request.Info) {
	_, name, port, ok := utilnet.SplitSchemeNamePort(info.Name)
	if !ok {
		rest.WriteError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid node request %q", info.Name)))
		return
	}
	loc, rt, err := h.dialKubelet(r.Context(), name)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	if port != "" {
		loc.Host = net.JoinHostPort(loc.Hostname(), port)
	}
	loc.Path = proxyPath(r, "nodes", info.Name)
	loc.RawQuery = r.URL.RawQuery
	proxy(w, r, loc, rt, serviceUnreachable)
}

func noHost(pod string) error {
	return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod))
}

func (h *Handler) getPod(ctx context.Context, info *request.Info) (*corev1.Pod, error) {
	obj, err := h.resource(podsResource).Get(ctx, info.Namespace, info.Name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Pod), nil
}

// toKubelet proxies the request to path on node's kubelet.
func (h *Handler) toKubelet(w http.ResponseWriter, r *http.Request, node, path, query string) {
	loc, rt, err := h.dialKubelet(r.Context(), node)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	loc.Path, loc.RawQuery = path, query
	proxy(w, r, loc, rt, func(err error) error {
		return apierrors.NewInternalError(fmt.Errorf("error dialing backend: %w", err))
	})
}

// dialKubelet finds how to reach node's kubelet.
func (h *Handler) dialKubelet(ctx context.Context, node string) (*url.URL, http.RoundTripper, error) {
	obj, err := h.resource(nodesResource).Get(ctx, "", node)
	if err != nil {
		return nil, nil, err
	}
	if h.cfg.Kubelet == nil {
		return nil, nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no connection to the kubelet of node %q: the API server has no kubelet client", node))
	}
	loc, rt, err := h.cfg.Kubelet.DialKubelet(ctx, obj.(*corev1.Node))
	if err != nil {
		if _, ok := err.(apierrors.APIStatus); ok {
			return nil, nil, err
		}
		return nil, nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no connection to the kubelet of node %q: %v", node, err))
	}
	u := *loc
	return &u, rt, nil
}

// containerOf is the container a log, exec or attach request names: the
// pod's only container when it names none, as upstream.
func containerOf(pod *corev1.Pod, name string) (string, error) {
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
		}
		msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, containerNames(pod.Spec.Containers))
		if len(pod.Spec.InitContainers) > 0 {
			msg += fmt.Sprintf(" or one of the init containers: [%s]", containerNames(pod.Spec.InitContainers))
		}
		if len(pod.Spec.EphemeralContainers) > 0 {
			var names []string
			for _, c := range pod.Spec.EphemeralContainers {
				names = append(names, c.Name)
			}
			msg += fmt.Sprintf(" or one of the ephemeral containers: [%s]", strings.Join(names, " "))
		}
		return "", apierrors.NewBadRequest(msg)
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}

func containerNames(cs []corev1.Container) string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return strings.Join(names, " ")
}

// logParams checks PodLogOptions as upstream's ValidatePodLogOptions and
// returns those the kubelet takes.
func logParams(q url.Values, pod string) (url.Values, error) {
	var errs field.ErrorList
	positive := func(key string, min int64, msg string) {
		if s := q.Get(key); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			switch {
			case err != nil:
				errs = append(errs, field.Invalid(field.NewPath(key), s, "must be an integer"))
			case n < min:
				errs = append(errs, field.Invalid(field.NewPath(key), n, msg))
			}
		}
	}
	positive("tailLines", 0, "must be greater than or equal to 0")
	positive("limitBytes", 1, "must be greater than 0")
	positive("sinceSeconds", 1, "must be greater than 0")
	if s := q.Get("sinceTime"); s != "" {
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("sinceTime"), s, "must be an RFC3339 time"))
		}
		if q.Get("sinceSeconds") != "" {
			errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
		}
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("PodLogOptions").GroupKind(), pod, errs)
	}
	params := url.Values{}
	for _, key := range []string{"follow", "previous", "timestamps", "sinceSeconds", "sinceTime", "tailLines", "limitBytes", "stream"} {
		if v := q.Get(key); v != "" {
			params.Set(key, v)
		}
	}
	return params, nil
}
