package testbox

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// newTestAPI returns an api for pod-a whose exit requests land in exits.
func newTestAPI() (a *api, exits *[]int) {
	exits = new([]int)
	a = &api{
		hostname:    "pod-a",
		health:      newHealth(time.Now, 0, 0),
		requestExit: func(code int) { *exits = append(*exits, code) },
	}
	return a, exits
}

// serve sends one request through a's routes and returns the response.
func serve(a *api, method, target string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	a.routes().ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestSimpleEndpoints(t *testing.T) {
	tests := []struct {
		name, target string
		wantStatus   int
		wantBody     string
	}{
		{name: "root is the hostname", target: "/", wantStatus: 200, wantBody: "pod-a"},
		{name: "hostname", target: "/hostname", wantStatus: 200, wantBody: "pod-a"},
		{name: "agnhost's older hostName", target: "/hostName", wantStatus: 200, wantBody: "pod-a"},
		{name: "unknown path is a 404, not the hostname", target: "/nope", wantStatus: 404},
		{name: "echo", target: "/echo?msg=hello%20world", wantStatus: 200, wantBody: "hello world"},
		{name: "echo with a status", target: "/echo?msg=gone&code=410", wantStatus: 410, wantBody: "gone"},
		{name: "echo with a bad status", target: "/echo?msg=x&code=abc", wantStatus: 400, wantBody: `parameter code: want an HTTP status, got "abc"`},
		{name: "echo of nothing", target: "/echo", wantStatus: 200, wantBody: ""},
	}
	a, _ := newTestAPI()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(a, "GET", tt.target)
			body := strings.TrimSpace(rec.Body.String()) // http.Error adds a newline
			if rec.Code != tt.wantStatus || (tt.wantStatus != 404 && body != tt.wantBody) {
				t.Errorf("GET %s: got %d %q, want %d %q", tt.target, rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestHeadersEchoesWhatTheServerGot(t *testing.T) {
	a, _ := newTestAPI()
	req := httptest.NewRequest("GET", "http://web.default.svc/headers", nil)
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	req.Header.Add("Accept", "text/plain")
	rec := httptest.NewRecorder()
	a.routes().ServeHTTP(rec, req)
	want := "Accept: text/plain\nHost: web.default.svc\nX-Forwarded-For: 10.0.0.1\n"
	if rec.Body.String() != want {
		t.Errorf("got %q, want %q", rec.Body, want)
	}
}

func TestHealthzToggles(t *testing.T) {
	a, _ := newTestAPI()
	check := func(step string, wantStatus int, wantBody string) {
		t.Helper()
		rec := serve(a, "GET", "/healthz")
		if rec.Code != wantStatus || !strings.Contains(rec.Body.String(), wantBody) {
			t.Errorf("%s: /healthz = %d %q, want %d with %q", step, rec.Code, rec.Body, wantStatus, wantBody)
		}
	}
	check("at start", 200, "ok")
	if rec := serve(a, "GET", "/healthz/fail"); rec.Code != 200 {
		t.Fatalf("GET /healthz/fail: %d %q", rec.Code, rec.Body)
	}
	check("after GET /healthz/fail", 503, "/healthz/fail")
	check("and it stays failing", 503, "/healthz/fail")
	serve(a, "POST", "/healthz/ok")
	check("after POST /healthz/ok", 200, "ok")
	serve(a, "POST", "/healthz/fail")
	check("after POST /healthz/fail", 503, "failing")
}

func TestHealthzDelay(t *testing.T) {
	a, _ := newTestAPI()
	clock := &fakeClock{t: time.Now()}
	a.health = newHealth(clock.now, 5*time.Second, 0)
	if rec := serve(a, "GET", "/healthz"); rec.Code != 503 || !strings.Contains(rec.Body.String(), "starting") {
		t.Errorf("during --healthz-delay: %d %q, want 503 starting", rec.Code, rec.Body)
	}
	clock.advance(5 * time.Second)
	if rec := serve(a, "GET", "/healthz"); rec.Code != 200 {
		t.Errorf("after --healthz-delay: %d %q, want 200", rec.Code, rec.Body)
	}
}

func TestExitAnswersThenRequestsTheExit(t *testing.T) {
	tests := []struct {
		target    string
		wantCode  int
		wantExits []int
	}{
		{target: "/exit", wantCode: 200, wantExits: []int{0}},
		{target: "/exit?code=3", wantCode: 200, wantExits: []int{3}},
		{target: "/exit?code=255", wantCode: 200, wantExits: []int{255}},
		{target: "/exit?code=256", wantCode: 400},
		{target: "/exit?code=-1", wantCode: 400},
		{target: "/exit?code=three", wantCode: 400},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			a, exits := newTestAPI()
			rec := httptest.NewRecorder()
			// The response must be out before the exit is asked for.
			a.requestExit = func(code int) {
				if !rec.Flushed || !strings.Contains(rec.Body.String(), fmt.Sprintf("exiting with status %d", code)) {
					t.Errorf("exit %d requested before the response was flushed (body %q)", code, rec.Body)
				}
				*exits = append(*exits, code)
			}
			a.routes().ServeHTTP(rec, httptest.NewRequest("GET", tt.target, nil))
			if rec.Code != tt.wantCode || fmt.Sprint(*exits) != fmt.Sprint(tt.wantExits) {
				t.Errorf("got %d and exits %v, want %d and %v (body %q)", rec.Code, *exits, tt.wantCode, tt.wantExits, rec.Body)
			}
		})
	}
}

func TestClientIPOverTheWire(t *testing.T) {
	a, _ := newTestAPI()
	srv := httptest.NewServer(a.routes())
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /clientip HTTP/1.0\r\n\r\n")
	resp, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if want := "\r\n\r\n" + conn.LocalAddr().String(); !strings.HasSuffix(string(resp), want) {
		t.Errorf("got %q, want the body to be the client's ip:port %s", resp, conn.LocalAddr())
	}
}

// dialThrough calls /dial on a with the given query and decodes the answer.
func dialThrough(t *testing.T, a *api, query url.Values) dialResult {
	t.Helper()
	rec := serve(a, "GET", "/dial?"+query.Encode())
	if rec.Code != 200 {
		t.Fatalf("/dial?%s: %d %q", query.Encode(), rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var got dialResult
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("/dial answer %q: %v", rec.Body, err)
	}
	return got
}

func TestDialEndpointReachesARealSecondServer(t *testing.T) {
	a, _ := newTestAPI()
	// The second pod: another testbox api, over HTTP, and a UDP server.
	b, _ := newTestAPI()
	b.hostname = "pod-b"
	httpB := httptest.NewServer(b.routes())
	defer httpB.Close()
	udpB := startUDPServer(t, "pod-b")
	tcpB := startTCPServer(t, echoUntilEOF)

	split := func(addr string) (host, port string) {
		host, port, _ = net.SplitHostPort(addr)
		return host, port
	}
	tests := []struct {
		name    string
		addr    string
		params  url.Values
		wantRsp []string
	}{
		{name: "http, protocol defaulted", addr: httpB.Listener.Addr().String(),
			params: url.Values{"request": {"hostname"}}, wantRsp: []string{"pod-b"}},
		{name: "http, three tries", addr: httpB.Listener.Addr().String(),
			params: url.Values{"protocol": {"http"}, "request": {"echo?msg=hi"}, "tries": {"3"}}, wantRsp: []string{"hi", "hi", "hi"}},
		{name: "udp", addr: udpB,
			params: url.Values{"protocol": {"udp"}, "request": {"hostname"}, "tries": {"2"}}, wantRsp: []string{"pod-b", "pod-b"}},
		{name: "tcp", addr: tcpB,
			params: url.Values{"protocol": {"TCP"}, "request": {"ping"}}, wantRsp: []string{"got ping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, port := split(tt.addr)
			tt.params.Set("host", host)
			tt.params.Set("port", port)
			got := dialThrough(t, a, tt.params)
			if fmt.Sprint(got.Responses) != fmt.Sprint(tt.wantRsp) || len(got.Errors) != 0 {
				t.Errorf("got %+v, want responses %q and no errors", got, tt.wantRsp)
			}
		})
	}
}

func TestDialEndpointReportsEachFailedTry(t *testing.T) {
	a, _ := newTestAPI()
	host, port, _ := net.SplitHostPort(refusedAddr(t, "tcp"))
	rec := serve(a, "GET", "/dial?"+url.Values{"host": {host}, "port": {port}, "request": {"hostname"}, "tries": {"2"}, "timeout": {"1s"}}.Encode())
	// Both lists present, never null: e2e helpers index them.
	if !strings.Contains(rec.Body.String(), `"responses":[]`) {
		t.Errorf("body %q: want an empty responses list", rec.Body)
	}
	var got dialResult
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 200 || len(got.Errors) != 2 || !strings.Contains(got.Errors[0], "connection refused") {
		t.Errorf("got %d %+v, want 200 and two connection-refused errors", rec.Code, got)
	}
}

func TestDialEndpointRejectsBadParameters(t *testing.T) {
	tests := []struct {
		name, query, wantErr string
	}{
		{"no request", "host=127.0.0.1&port=80", "parameter request: missing"},
		{"no port", "host=127.0.0.1&request=hostname", "parameter port: missing"},
		{"unknown protocol", "host=127.0.0.1&port=80&request=x&protocol=sctp", `parameter protocol: want http, tcp or udp, got "sctp"`},
		{"tries not a number", "host=127.0.0.1&port=80&request=x&tries=many", `parameter tries: want a positive integer, got "many"`},
		{"tries zero", "host=127.0.0.1&port=80&request=x&tries=0", `parameter tries`},
		{"bad timeout", "host=127.0.0.1&port=80&request=x&timeout=5", `parameter timeout`},
	}
	a, _ := newTestAPI()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(a, "GET", "/dial?"+tt.query)
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), tt.wantErr) {
				t.Errorf("got %d %q, want 400 with %q", rec.Code, rec.Body, tt.wantErr)
			}
		})
	}
}

func TestRequestsAreLogged(t *testing.T) {
	var logs strings.Builder
	a, _ := newTestAPI()
	h := logRequests(log.New(&logs, "", 0), a.routes())
	for _, target := range []string{"/echo?msg=hi", "/nope", "/healthz/fail", "/healthz"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", target, nil)
		req.RemoteAddr = "10.244.0.9:1234"
		h.ServeHTTP(rec, req)
	}
	want := "GET /echo?msg=hi 200 10.244.0.9:1234\n" +
		"GET /nope 404 10.244.0.9:1234\n" +
		"GET /healthz/fail 200 10.244.0.9:1234\n" +
		"GET /healthz 503 10.244.0.9:1234\n"
	if logs.String() != want {
		t.Errorf("log:\n%s\nwant:\n%s", logs.String(), want)
	}
}
