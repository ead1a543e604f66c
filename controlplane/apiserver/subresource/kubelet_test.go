package subresource_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/kindish/kindish/controlplane/apiserver/apiservertest"
	"github.com/kindish/kindish/controlplane/apiserver/request"
	"github.com/kindish/kindish/controlplane/apiserver/rest"
	"github.com/kindish/kindish/controlplane/apiserver/storage"
	"github.com/kindish/kindish/controlplane/apiserver/strategy"
	"github.com/kindish/kindish/controlplane/apiserver/subresource"
)

func node(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func statusCode(result restclient.Result) int {
	var code int
	result.StatusCode(&code)
	return code
}

func TestKubeletSubresourcesWithoutAKubelet(t *testing.T) {
	env := apiservertest.Start(t)
	pods := env.Client.CoreV1().Pods("default")
	must[*corev1.Pod](t)(pods.Create(ctx(t), pod("pending"), metav1.CreateOptions{}))
	must[*corev1.Node](t)(env.Client.CoreV1().Nodes().Create(ctx(t), node("node-1"), metav1.CreateOptions{}))
	must[*corev1.Pod](t)(pods.Create(ctx(t), pod("bound"), metav1.CreateOptions{}))
	if err := pods.Bind(ctx(t), binding("bound", "node-1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rc := env.Client.CoreV1().RESTClient()

	tests := []struct {
		name, pod, subresource, method string
		params                         map[string]string
		code                           int
		message                        string
	}{
		{"exec on a pod without a node", "pending", "exec", "POST", map[string]string{"command": "ls", "stdout": "true"}, http.StatusBadRequest, "pod pending does not have a host assigned"},
		{"attach on a pod without a node", "pending", "attach", "POST", nil, http.StatusBadRequest, "pod pending does not have a host assigned"},
		{"port-forward to a pod without a node", "pending", "portforward", "POST", nil, http.StatusBadRequest, "pod pending does not have a host assigned"},
		{"exec in a container the pod lacks", "bound", "exec", "POST", map[string]string{"container": "db", "command": "ls"}, http.StatusBadRequest, "container db is not valid for pod bound"},
		{"exec on a node without a kubelet connection", "bound", "exec", "POST", map[string]string{"command": "ls"}, http.StatusServiceUnavailable, `no connection to the kubelet of node "node-1"`},
		{"logs on a node without a kubelet connection", "bound", "log", "GET", nil, http.StatusServiceUnavailable, `no connection to the kubelet of node "node-1"`},
		{"logs with a negative tail", "bound", "log", "GET", map[string]string{"tailLines": "-1"}, http.StatusUnprocessableEntity, "tailLines: Invalid value: -1: must be greater than or equal to 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := rc.Verb(tt.method).Namespace("default").Resource("pods").Name(tt.pod).SubResource(tt.subresource)
			for k, v := range tt.params {
				req = req.Param(k, v)
			}
			result := req.Do(ctx(t))
			if code := statusCode(result); code != tt.code || result.Error() == nil || !strings.Contains(result.Error().Error(), tt.message) {
				t.Fatalf("want %d %q, got %d %v", tt.code, tt.message, code, result.Error())
			}
		})
	}

	// A pod without a node has no log yet: an empty one, as upstream.
	logs, err := pods.GetLogs("pending", &corev1.PodLogOptions{}).DoRaw(ctx(t))
	if err != nil || len(logs) != 0 {
		t.Fatalf("logs of a pending pod: %q %v", logs, err)
	}

	result := rc.Get().Resource("nodes").Name("node-1").SubResource("proxy").Suffix("healthz").Do(ctx(t))
	if code := statusCode(result); code != http.StatusServiceUnavailable {
		t.Fatalf("node proxy without a kubelet: %d %v", code, result.Error())
	}
}

// fakeKubelet answers logs, a health check, and upgrades exec requests
// to an echo stream.
func fakeKubelet(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/default/web/web", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the client's credentials reached the kubelet")
		}
		fmt.Fprintf(w, "log line (tailLines=%s)\n", r.URL.Query().Get("tailLines"))
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	mux.HandleFunc("/exec/default/web/web", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("command") != "sh" || r.Header.Get("Upgrade") != "SPDY/3.1" {
			http.Error(w, "bad exec: "+r.URL.String(), http.StatusBadRequest)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		fmt.Fprint(buf, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
		buf.Flush()
		line, _ := buf.ReadString('\n')
		fmt.Fprint(buf, "echo: "+line)
		buf.Flush()
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

type fakeDialer struct{ kubelet *url.URL }

func (d fakeDialer) DialKubelet(_ context.Context, node *corev1.Node) (*url.URL, http.RoundTripper, error) {
	if node.Name != "node-1" {
		return nil, nil, fmt.Errorf("node %s has no address", node.Name)
	}
	return d.kubelet, http.DefaultTransport, nil
}

// direct serves the subresources with a fake kubelet and a pod network
// that leads to podBackend, over the storage of env.
func direct(t *testing.T, env *apiservertest.Env, podBackend string) *httptest.Server {
	kubelet := fakeKubelet(t)
	resources := map[schema.GroupVersionResource]*rest.Handler{}
	for _, r := range strategy.Resources() {
		r := r
		resources[r.GroupVersionResource()] = &rest.Handler{Resource: &r, Store: storage.New(env.Etcd, nil, storage.WithNewFunc(r.New))}
	}
	h := subresource.New(subresource.Config{
		Resources: resources,
		Kubelet:   fakeDialer{must[*url.URL](t)(url.Parse(kubelet.URL))},
		PodTransport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, podBackend)
		}},
	})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := request.Parse(r)
		if err != nil || !h.Serves(info) {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r, info)
	}))
	t.Cleanup(s.Close)
	return s
}

func boundPod(t *testing.T, client kubernetes.Interface, name, nodeName string) {
	t.Helper()
	must[*corev1.Pod](t)(client.CoreV1().Pods("default").Create(ctx(t), pod(name), metav1.CreateOptions{}))
	if err := client.CoreV1().Pods("default").Bind(ctx(t), binding(name, nodeName), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestKubeletDialerCarriesLogsProxyAndExec(t *testing.T) {
	env := apiservertest.Start(t)
	must[*corev1.Node](t)(env.Client.CoreV1().Nodes().Create(ctx(t), node("node-1"), metav1.CreateOptions{}))
	must[*corev1.Node](t)(env.Client.CoreV1().Nodes().Create(ctx(t), node("node-2"), metav1.CreateOptions{}))
	boundPod(t, env.Client, "web", "node-1")
	boundPod(t, env.Client, "lost", "node-2")
	srv := direct(t, env, "")

	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer the-clients-own")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/api/v1/namespaces/default/pods/web/log?tailLines=10"); code != http.StatusOK || body != "log line (tailLines=10)\n" {
		t.Fatalf("logs: %d %q", code, body)
	}
	if code, body := get("/api/v1/nodes/node-1/proxy/healthz"); code != http.StatusOK || body != "ok" {
		t.Fatalf("node proxy: %d %q", code, body)
	}
	if code, body := get("/api/v1/namespaces/default/pods/lost/log"); code != http.StatusServiceUnavailable || !strings.Contains(body, "node node-2 has no address") {
		t.Fatalf("logs on an unreachable node: %d %q", code, body)
	}

	// exec is an upgraded connection, carried both ways.
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(conn, "POST /api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("exec upgrade: %v %v", resp, err)
	}
	fmt.Fprint(conn, "hello\n")
	if line, err := r.ReadString('\n'); err != nil || line != "echo: hello\n" {
		t.Fatalf("through the exec stream: %q %v", line, err)
	}
}

func TestServiceProxyReachesAPodOfTheService(t *testing.T) {
	env := apiservertest.Start(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "pod says hi at %s", r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	core := env.Client.CoreV1()
	must[*corev1.Service](t)(core.Services("default").Create(ctx(t), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: webLabels, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{}))
	srv := direct(t, env, strings.TrimPrefix(backend.URL, "http://"))
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	must[*corev1.Endpoints](t)(core.Endpoints("default").Create(ctx(t), &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, metav1.CreateOptions{}))
	if code, body := get("/api/v1/namespaces/default/services/web:80/proxy/"); code != http.StatusServiceUnavailable || !strings.Contains(body, `no endpoints available for service \"web:80\"`) {
		t.Fatalf("service without endpoints: %d %s", code, body)
	}

	p := must[*corev1.Pod](t)(core.Pods("default").Create(ctx(t), pod("web-1"), metav1.CreateOptions{}))
	p.Status.PodIP, p.Status.PodIPs = "10.244.1.5", []corev1.PodIP{{IP: "10.244.1.5"}}
	must[*corev1.Pod](t)(core.Pods("default").UpdateStatus(ctx(t), p, metav1.UpdateOptions{}))
	ep := must[*corev1.Endpoints](t)(core.Endpoints("default").Get(ctx(t), "web", metav1.GetOptions{}))
	ep.Subsets = []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.244.1.5", TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1"}}},
		Ports:     []corev1.EndpointPort{{Name: "http", Port: 8080}},
	}}
	must[*corev1.Endpoints](t)(core.Endpoints("default").Update(ctx(t), ep, metav1.UpdateOptions{}))
	if code, body := get("/api/v1/namespaces/default/services/web:80/proxy/hello/"); code != http.StatusOK || body != "pod says hi at /hello/" {
		t.Fatalf("service proxy: %d %q", code, body)
	}
	if code, body := get("/api/v1/namespaces/default/services/web:81/proxy/"); code != http.StatusServiceUnavailable || !strings.Contains(body, `no service port 81 found for service \"web\"`) {
		t.Fatalf("unknown service port: %d %s", code, body)
	}

	// An address that is not its pod's is never proxied to.
	ep = must[*corev1.Endpoints](t)(core.Endpoints("default").Get(ctx(t), "web", metav1.GetOptions{}))
	ep.Subsets[0].Addresses[0].IP = "10.244.9.9"
	must[*corev1.Endpoints](t)(core.Endpoints("default").Update(ctx(t), ep, metav1.UpdateOptions{}))
	if code, _ := get("/api/v1/namespaces/default/services/web/proxy/"); code != http.StatusServiceUnavailable {
		t.Fatalf("proxy to an address that is not a pod's: %d", code)
	}

	// Through the server itself: a service without endpoints is not found.
	err := core.RESTClient().Get().Namespace("default").Resource("services").Name("nope").SubResource("proxy").Do(ctx(t)).Error()
	if !apierrors.IsNotFound(err) {
		t.Fatalf("proxy to a missing service: want NotFound, got %v", err)
	}
}
