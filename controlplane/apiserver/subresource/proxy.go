package subresource

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
)

var (
	servicesResource  = corev1.SchemeGroupVersion.WithResource("services")
	endpointsResource = corev1.SchemeGroupVersion.WithResource("endpoints")
)

// serviceProxy proxies /api/v1/namespaces/<ns>/services/[scheme:]<name>[:port]/proxy/<path>
// to one of the service's pods, as upstream: the pod is picked from the
// service's Endpoints, and only addresses that are really that pod's are
// used.
func (h *Handler) serviceProxy(w http.ResponseWriter, r *http.Request, info *request.Info) {
	loc, err := h.serviceLocation(r.Context(), info.Namespace, info.Name)
	if err != nil {
		rest.WriteError(w, err)
		return
	}
	loc.Path = proxyPath(r, "services", info.Name)
	loc.RawQuery = r.URL.RawQuery
	rt := h.cfg.PodTransport
	if rt == nil {
		rt = http.DefaultTransport
	}
	proxy(w, r, loc, rt, serviceUnreachable)
}

func (h *Handler) serviceLocation(ctx context.Context, namespace, id string) (*url.URL, error) {
	scheme, name, port, ok := utilnet.SplitSchemeNamePort(id)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid service request %q", id))
	}
	// A port number names the service port whose name the endpoints carry.
	if n, err := strconv.ParseInt(port, 10, 32); err == nil {
		obj, err := h.resource(servicesResource).Get(ctx, namespace, name)
		if err != nil {
			return nil, err
		}
		found := false
		for _, p := range obj.(*corev1.Service).Spec.Ports {
			if int64(p.Port) == n {
				port, found = p.Name, true
				break
			}
		}
		if !found {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", n, name))
		}
	}
	obj, err := h.resource(endpointsResource).Get(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	subsets := obj.(*corev1.Endpoints).Subsets
	if scheme == "" {
		scheme = "http"
	}
	// Start from a random subset and address, spreading requests.
	start := 0
	if len(subsets) > 0 {
		start = rand.IntN(len(subsets))
	}
	for i := range subsets {
		ss := &subsets[(start+i)%len(subsets)]
		if len(ss.Addresses) == 0 {
			continue
		}
		for _, p := range ss.Ports {
			if p.Name != port {
				continue
			}
			first := rand.IntN(len(ss.Addresses))
			for j := range ss.Addresses {
				addr := &ss.Addresses[(first+j)%len(ss.Addresses)]
				if h.isPodAddress(ctx, namespace, addr) {
					return &url.URL{Scheme: scheme, Host: net.JoinHostPort(addr.IP, strconv.Itoa(int(p.Port)))}, nil
				}
			}
		}
	}
	return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", id))
}

// isPodAddress reports an endpoint address that is one of its target
// pod's IPs: the API server proxies only to pods, whatever an Endpoints
// object says.
func (h *Handler) isPodAddress(ctx context.Context, namespace string, addr *corev1.EndpointAddress) bool {
	ref := addr.TargetRef
	if ref == nil || ref.Kind != "Pod" || ref.Namespace != namespace {
		return false
	}
	obj, err := h.resource(podsResource).Get(ctx, namespace, ref.Name)
	if err != nil {
		return false
	}
	for _, ip := range obj.(*corev1.Pod).Status.PodIPs {
		if ip.IP == addr.IP {
			return true
		}
	}
	return false
}

// proxyPath is the part of the request's path after
// <resource>/<name>/proxy, with its trailing slash.
func proxyPath(r *http.Request, resource, name string) string {
	marker := "/" + resource + "/" + name + "/proxy"
	p := r.URL.Path
	if i := strings.Index(p, marker); i >= 0 {
		p = p[i+len(marker):]
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

func serviceUnreachable(err error) error {
	return apierrors.NewServiceUnavailable(fmt.Sprintf("error trying to reach service: %v", err))
}

// proxy forwards the request to target, upgrades (exec, attach,
// port-forward) and streams (log -f) included. The client's credentials
// stay here: the backend sees the API server, not the client.
func proxy(w http.ResponseWriter, r *http.Request, target *url.URL, rt http.RoundTripper, onError func(error) error) {
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			u := *target
			pr.Out.URL = &u
			pr.Out.Host = u.Host
			pr.Out.Header.Del("Authorization")
			for k := range pr.Out.Header {
				if strings.HasPrefix(k, "Impersonate-") {
					pr.Out.Header.Del(k)
				}
			}
			pr.SetXForwarded()
		},
		Transport: rt,
		// Flush at once: logs are followed and streams are interactive.
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			rest.WriteError(w, onError(err))
		},
	}
	rp.ServeHTTP(w, r)
}
