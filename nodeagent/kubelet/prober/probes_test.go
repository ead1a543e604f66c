package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// probeTarget runs one attempt of spec against a container with the given
// ports in a pod whose IP is 127.0.0.1.
func probeTarget(t *testing.T, p *prober, spec *corev1.Probe, c corev1.Container) (outcome, string, error) {
	t.Helper()
	pod := testPod(c)
	st := runningStatus(c.Name, "abc", time.Now())
	s := withDefaults(*spec)
	return p.probeOnce(context.Background(), &s, pod, st, &c, "abc")
}

func serverPort(t *testing.T, rawURL string) int {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func httpProbe(path string, port intstr.IntOrString) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: port}}}
}

func TestHTTPProbeOutcomes(t *testing.T) {
	var gotUA, gotCustom, gotHost, gotAccept string
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		gotUA, gotCustom, gotHost, gotAccept = r.UserAgent(), r.Header.Get("X-Custom"), r.Host, r.Header.Get("Accept")
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "secret details", http.StatusInternalServerError)
	})
	mux.HandleFunc("/local-redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/healthz", http.StatusFound)
	})
	mux.HandleFunc("/local-redirect-to-500", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/fail", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	port := serverPort(t, srv.URL)
	// The same server under another host name: a redirect there leaves the
	// probed host.
	mux.HandleFunc("/foreign-redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://localhost:"+strconv.Itoa(port)+"/healthz", http.StatusFound)
	})

	plain := corev1.Container{Name: "app"}
	named := corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	withHeaders := httpProbe("/healthz", intstr.FromInt32(int32(port)))
	withHeaders.HTTPGet.HTTPHeaders = []corev1.HTTPHeader{{Name: "X-Custom", Value: "yes"}, {Name: "Host", Value: "probe.example"}}

	tests := []struct {
		name       string
		spec       *corev1.Probe
		container  corev1.Container
		want       outcome
		wantOutput string
		wantErr    string
	}{
		{"2xx is success with the body as output", httpProbe("/healthz", intstr.FromInt32(int32(port))), plain, outcomeSuccess, "ok", ""},
		{"5xx is failure without the body", httpProbe("/fail", intstr.FromInt32(int32(port))), plain, outcomeFailure, "HTTP probe failed with statuscode: 500", ""},
		{"port by container port name", httpProbe("/healthz", intstr.FromString("http")), named, outcomeSuccess, "ok", ""},
		{"port number written as a string", httpProbe("/healthz", intstr.FromString(strconv.Itoa(port))), plain, outcomeSuccess, "ok", ""},
		{"undeclared port name is an error", httpProbe("/healthz", intstr.FromString("metrics")), named, outcomeUnknown, "", `strconv.Atoi: parsing "metrics": invalid syntax`},
		{"redirect on the same host is followed", httpProbe("/local-redirect", intstr.FromInt32(int32(port))), plain, outcomeSuccess, "ok", ""},
		{"followed redirect to a 500 fails", httpProbe("/local-redirect-to-500", intstr.FromInt32(int32(port))), plain, outcomeFailure, "HTTP probe failed with statuscode: 500", ""},
		{"redirect to another host is not followed but warns", httpProbe("/foreign-redirect", intstr.FromInt32(int32(port))), plain, outcomeWarning, "Probe terminated redirects, Response body: ", ""},
		{"headers from the spec are sent", withHeaders, plain, outcomeSuccess, "ok", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProber(nil)
			res, output, err := probeTarget(t, p, tt.spec, tt.container)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if res != tt.want {
				t.Errorf("outcome = %q, want %q (output %q)", res, tt.want, output)
			}
			if !strings.HasPrefix(output, tt.wantOutput) {
				t.Errorf("output = %q, want prefix %q", output, tt.wantOutput)
			}
		})
	}

	// The last case above sent the spec's headers.
	if gotUA != "kube-probe/1.36" {
		t.Errorf("User-Agent = %q, want kube-probe/1.36", gotUA)
	}
	if gotCustom != "yes" || gotHost != "probe.example" || gotAccept != "*/*" {
		t.Errorf("headers: X-Custom=%q Host=%q Accept=%q", gotCustom, gotHost, gotAccept)
	}
}

func TestHTTPProbeHTTPSSkipsCertificateCheck(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "secure") }))
	defer srv.Close()
	spec := httpProbe("/", intstr.FromInt32(int32(serverPort(t, srv.URL))))
	spec.HTTPGet.Scheme = corev1.URISchemeHTTPS
	res, output, err := probeTarget(t, newProber(nil), spec, corev1.Container{Name: "app"})
	if err != nil || res != outcomeSuccess || output != "secure" {
		t.Fatalf("got %q %q %v, want success", res, output, err)
	}
}

func TestHTTPProbeConnectionRefusedNamesTheURL(t *testing.T) {
	port := closedPort(t)
	res, output, err := probeTarget(t, newProber(nil), httpProbe("/healthz", intstr.FromInt32(int32(port))), corev1.Container{Name: "app"})
	if err != nil || res != outcomeFailure {
		t.Fatalf("got %q %v, want failure", res, err)
	}
	want := fmt.Sprintf(`Get "http://127.0.0.1:%d/healthz": dial tcp 127.0.0.1:%d: connect: connection refused`, port, port)
	if output != want {
		t.Errorf("output = %q, want %q", output, want)
	}
}

func TestHTTPProbeTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	spec := httpProbe("/slow", intstr.FromInt32(int32(serverPort(t, srv.URL))))
	spec.TimeoutSeconds = 1
	res, output, err := probeTarget(t, newProber(nil), spec, corev1.Container{Name: "app"})
	if err != nil || res != outcomeFailure || !strings.Contains(output, "Client.Timeout exceeded") {
		t.Fatalf("got %q %q %v, want a timeout failure", res, output, err)
	}
}

// closedPort returns a local port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestTCPProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := l.Addr().(*net.TCPAddr).Port
	closed := closedPort(t)
	tcp := func(port intstr.IntOrString, host string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port, Host: host}}}
	}
	tests := []struct {
		name       string
		spec       *corev1.Probe
		container  corev1.Container
		want       outcome
		wantOutput string
	}{
		{"listening port on the pod IP succeeds", tcp(intstr.FromInt32(int32(open)), ""), corev1.Container{Name: "app"}, outcomeSuccess, ""},
		{"named port", tcp(intstr.FromString("db"), ""), corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "db", ContainerPort: int32(open)}}}, outcomeSuccess, ""},
		{"explicit host", tcp(intstr.FromInt32(int32(open)), "localhost"), corev1.Container{Name: "app"}, outcomeSuccess, ""},
		{"refused connection fails with the dial error", tcp(intstr.FromInt32(int32(closed)), ""), corev1.Container{Name: "app"}, outcomeFailure,
			fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", closed)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, output, err := probeTarget(t, newProber(nil), tt.spec, tt.container)
			if err != nil || res != tt.want || output != tt.wantOutput {
				t.Fatalf("got %q %q %v, want %q %q", res, output, err, tt.want, tt.wantOutput)
			}
		})
	}
}

// scriptedExec answers every ExecSync the same way.
type scriptedExec struct {
	resp *runtimeapi.ExecSyncResponse
	err  error
	got  *runtimeapi.ExecSyncRequest
}

func (s *scriptedExec) ExecSync(_ context.Context, in *runtimeapi.ExecSyncRequest, _ ...grpc.CallOption) (*runtimeapi.ExecSyncResponse, error) {
	s.got = in
	return s.resp, s.err
}

func TestExecProbe(t *testing.T) {
	tests := []struct {
		name       string
		resp       *runtimeapi.ExecSyncResponse
		err        error
		want       outcome
		wantOutput string
		wantErr    bool
	}{
		{"exit 0 succeeds", &runtimeapi.ExecSyncResponse{Stdout: []byte("fine")}, nil, outcomeSuccess, "fine", false},
		{"non-zero exit fails with stdout then stderr", &runtimeapi.ExecSyncResponse{ExitCode: 1, Stdout: []byte("out;"), Stderr: []byte("err")}, nil, outcomeFailure, "out;err", false},
		{"runtime deadline is a timeout failure", nil, status.Error(codes.DeadlineExceeded, "timeout 2s exceeded"), outcomeFailure,
			`command timed out: "sh -c test -f /tmp/ready" timed out after 2s`, false},
		{"other runtime errors are errors", nil, status.Error(codes.NotFound, "container not found"), outcomeUnknown, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &scriptedExec{resp: tt.resp, err: tt.err}
			spec := &corev1.Probe{
				ProbeHandler:   corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "test -f $(READY_FILE)"}}},
				TimeoutSeconds: 2,
			}
			c := corev1.Container{Name: "app", Env: []corev1.EnvVar{{Name: "READY_FILE", Value: "/tmp/ready"}}}
			res, output, err := probeTarget(t, newProber(fake), spec, c)
			if (err != nil) != tt.wantErr || res != tt.want || output != tt.wantOutput {
				t.Fatalf("got %q %q %v, want %q %q (error %v)", res, output, err, tt.want, tt.wantOutput, tt.wantErr)
			}
			want := []string{"sh", "-c", "test -f /tmp/ready"}
			if fake.got.ContainerId != "abc" || fake.got.Timeout != 2 || strings.Join(fake.got.Cmd, "|") != strings.Join(want, "|") {
				t.Errorf("request = %v, want container abc, timeout 2, cmd %q", fake.got, want)
			}
		})
	}
}

func TestExecProbeTruncatesOutput(t *testing.T) {
	fake := &scriptedExec{resp: &runtimeapi.ExecSyncResponse{ExitCode: 1, Stdout: []byte(strings.Repeat("x", 2*maxExecOutput))}}
	spec := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"check"}}}}
	_, output, _ := probeTarget(t, newProber(fake), spec, corev1.Container{Name: "app"})
	if len(output) != maxExecOutput {
		t.Errorf("output length = %d, want %d", len(output), maxExecOutput)
	}
}

func TestGRPCProbe(t *testing.T) {
	healthy := health.NewServer()
	healthy.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthy.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
	withHealth := startGRPC(t, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, healthy) })
	withoutHealth := startGRPC(t, func(*grpc.Server) {})

	grpcProbe := func(port int, service *string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: int32(port), Service: service}}}
	}
	db := "db"
	tests := []struct {
		name       string
		spec       *corev1.Probe
		want       outcome
		wantOutput string
	}{
		{"serving", grpcProbe(withHealth, nil), outcomeSuccess, "service healthy"},
		{"not serving", grpcProbe(withHealth, &db), outcomeFailure, `service unhealthy (responded with "NOT_SERVING")`},
		{"no health service", grpcProbe(withoutHealth, nil), outcomeFailure, "this server does not implement the grpc health protocol (grpc.health.v1.Health): "},
		{"nothing listening", grpcProbe(closedPort(t), nil), outcomeFailure, "timeout: failed to connect service"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, output, err := probeTarget(t, newProber(nil), tt.spec, corev1.Container{Name: "app"})
			if err != nil || res != tt.want || !strings.HasPrefix(output, tt.wantOutput) {
				t.Fatalf("got %q %q %v, want %q %q", res, output, err, tt.want, tt.wantOutput)
			}
		})
	}
}

func startGRPC(t *testing.T, register func(*grpc.Server)) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	register(s)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return l.Addr().(*net.TCPAddr).Port
}

func TestProbeWithoutHandlerIsAnError(t *testing.T) {
	res, _, err := probeTarget(t, newProber(nil), &corev1.Probe{}, corev1.Container{Name: "app"})
	if res != outcomeUnknown || err == nil || err.Error() != "missing probe handler for web_default(pod-uid-1):app" {
		t.Fatalf("got %q %v", res, err)
	}
}

func TestProbeRetriesErrorsThreeTimes(t *testing.T) {
	fake := newFakeExec()
	fake.err = errors.New("runtime unavailable")
	p := newProber(fake)
	spec := withDefaults(*execProbe(0, 1, 1))
	c := corev1.Container{Name: "app"}
	_, _, err := p.probe(context.Background(), livenessProbe, &spec, testPod(c), runningStatus("app", "abc", time.Now()), &c, "abc")
	if err == nil || fake.callCount("abc") != maxProbeAttempts {
		t.Fatalf("error %v after %d calls, want an error after %d", err, fake.callCount("abc"), maxProbeAttempts)
	}
}

func TestResolveContainerPort(t *testing.T) {
	c := &corev1.Container{Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 8080}}}
	tests := []struct {
		name    string
		port    intstr.IntOrString
		want    int
		wantErr string
	}{
		{"number", intstr.FromInt32(80), 80, ""},
		{"declared name", intstr.FromString("web"), 8080, ""},
		{"number as string", intstr.FromString("9090"), 9090, ""},
		{"undeclared name", intstr.FromString("admin"), -1, `strconv.Atoi: parsing "admin": invalid syntax`},
		{"zero", intstr.FromInt32(0), 0, "invalid port number: 0"},
		{"too large", intstr.FromInt32(70000), 70000, "invalid port number: 70000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveContainerPort(tt.port, c)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %d %v, want %d", got, err, tt.want)
			}
		})
	}
}

func TestExpandCommand(t *testing.T) {
	env := []corev1.EnvVar{
		{Name: "PORT", Value: "8080"},
		{Name: "FROM_SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "k", LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}},
	}
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"static variable", "curl localhost:$(PORT)", "curl localhost:8080"},
		{"valueFrom variable is empty", "x$(FROM_SECRET)y", "xy"},
		{"unknown variable stays", "$(NOPE)", "$(NOPE)"},
		{"escaped dollar", "$$(PORT)", "$(PORT)"},
		{"shell variable stays", "$HOME", "$HOME"},
		{"unclosed reference stays", "$(PORT", "$(PORT"},
		{"trailing dollar stays", "cost$", "cost$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := expandCommand([]string{tt.in}, env)[0]; got != tt.want {
				t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestProbeUserAgent(t *testing.T) {
	for in, want := range map[string]string{"v1.36.4": "kube-probe/1.36", "1.30.0": "kube-probe/1.30", "dev": "kube-probe"} {
		if got := probeUserAgent(in); got != want {
			t.Errorf("probeUserAgent(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContainerRefNamesTheContainer(t *testing.T) {
	pod := testPod(corev1.Container{Name: "app"})
	pod.ResourceVersion = "42"
	got := containerRef(pod, &pod.Spec.Containers[0], false)
	want := corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: "default", Name: "web", UID: testPodUID, ResourceVersion: "42", FieldPath: "spec.containers{app}"}
	if *got != want {
		t.Errorf("ref = %+v, want %+v", *got, want)
	}
	if got := containerRef(pod, &pod.Spec.Containers[0], true).FieldPath; got != "spec.initContainers{app}" {
		t.Errorf("sidecar field path = %q", got)
	}
}
