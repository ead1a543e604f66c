package testbox

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// api is the HTTP side of serve. It holds no listener, so tests drive it
// with httptest; Server wires requestExit to its own shutdown.
type api struct {
	hostname string
	health   *health
	// requestExit asks for the process to exit with code once the
	// response has gone out. It must not block.
	requestExit func(code int)
}

// routes maps agnhost netexec's paths, and a few of ours, to their handlers.
// Unknown paths are 404s: a test that mistypes a path should fail loudly.
func (a *api) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", a.serveHostname)
	mux.HandleFunc("/hostname", a.serveHostname)
	mux.HandleFunc("/hostName", a.serveHostname) // agnhost's older spelling
	mux.HandleFunc("/clientip", serveClientIP)
	mux.HandleFunc("/echo", serveEcho)
	mux.HandleFunc("/headers", serveHeaders)
	mux.HandleFunc("/healthz", a.serveHealthz)
	mux.HandleFunc("/healthz/ok", a.setHealth(true))
	mux.HandleFunc("/healthz/fail", a.setHealth(false))
	mux.HandleFunc("/exit", a.serveExit)
	mux.HandleFunc("/dial", serveDial)
	return mux
}

func (a *api) serveHostname(w http.ResponseWriter, _ *http.Request) {
	fmt.Fprint(w, a.hostname)
}

// serveClientIP answers ip:port, as agnhost does: tests compare the ip with
// the client pod's (source NAT or not) and the port tells connections apart.
func serveClientIP(w http.ResponseWriter, r *http.Request) {
	fmt.Fprint(w, r.RemoteAddr)
}

func serveEcho(w http.ResponseWriter, r *http.Request) {
	if code := r.FormValue("code"); code != "" {
		status, err := strconv.Atoi(code)
		if err != nil || status < 100 || status > 999 {
			http.Error(w, fmt.Sprintf("parameter code: want an HTTP status, got %q", code), http.StatusBadRequest)
			return
		}
		w.WriteHeader(status)
	}
	fmt.Fprint(w, r.FormValue("msg"))
}

// serveHeaders answers the request's headers as the server got them (Host
// included), sorted, so that tests can grep for what a proxy added.
func serveHeaders(w http.ResponseWriter, r *http.Request) {
	lines := []string{"Host: " + r.Host}
	for name, values := range r.Header {
		for _, v := range values {
			lines = append(lines, name+": "+v)
		}
	}
	slices.Sort(lines)
	fmt.Fprint(w, strings.Join(lines, "\n")+"\n")
}

func (a *api) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	healthy, reason := a.health.check()
	if !healthy {
		http.Error(w, reason, http.StatusServiceUnavailable)
		return
	}
	fmt.Fprint(w, reason)
}

// setHealth serves /healthz/ok and /healthz/fail. GET works as well as
// POST so that a probe-like client (wget in a pod, an httpGet hook) can
// flip it.
func (a *api) setHealth(healthy bool) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		a.health.set(healthy)
		if healthy {
			fmt.Fprint(w, "healthz: ok from now on")
		} else {
			fmt.Fprint(w, "healthz: failing from now on")
		}
	}
}

// serveExit answers first and asks for the exit after: unlike agnhost's
// default, the client learns its request was taken rather than seeing
// the connection drop.
func (a *api) serveExit(w http.ResponseWriter, r *http.Request) {
	code := 0
	if s := r.FormValue("code"); s != "" {
		var err error
		code, err = strconv.Atoi(s)
		if err != nil || code < 0 || code > 255 {
			http.Error(w, fmt.Sprintf("parameter code: want an exit status 0-255, got %q", s), http.StatusBadRequest)
			return
		}
	}
	w.Header().Set("Connection", "close")
	fmt.Fprintf(w, "exiting with status %d", code)
	// An error means the client is gone; exit all the same.
	_ = http.NewResponseController(w).Flush()
	a.requestExit(code)
}

// dialResult is /dial's answer, in agnhost's shape, which e2e helpers parse.
// Both lists are always present, empty rather than null.
type dialResult struct {
	Responses []string `json:"responses"`
	Errors    []string `json:"errors"`
}

// serveDial reaches another server from this pod, tries times, and reports
// every reply and every failure. Like agnhost it answers 200 whenever the
// parameters are valid: success is in the lists.
func serveDial(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	host, port, request := q.Get("host"), q.Get("port"), q.Get("request")
	protocol := strings.ToLower(q.Get("protocol"))
	if protocol == "" {
		protocol = ProtocolHTTP
	}
	var problems []string
	switch protocol {
	case ProtocolHTTP, ProtocolTCP, ProtocolUDP:
	default:
		problems = append(problems, fmt.Sprintf("parameter protocol: want http, tcp or udp, got %q", protocol))
	}
	if port == "" {
		problems = append(problems, "parameter port: missing")
	}
	if request == "" {
		problems = append(problems, "parameter request: missing (the path for http, the data to send for tcp and udp)")
	}
	tries, err := intParam(q.Get("tries"), 1)
	if err != nil || tries < 1 {
		problems = append(problems, fmt.Sprintf("parameter tries: want a positive integer, got %q", q.Get("tries")))
	}
	timeout := DefaultDialTimeout
	if s := q.Get("timeout"); s != "" {
		if timeout, err = time.ParseDuration(s); err != nil || timeout <= 0 {
			problems = append(problems, fmt.Sprintf("parameter timeout: want a positive duration such as 2s, got %q", s))
		}
	}
	if len(problems) > 0 {
		http.Error(w, strings.Join(problems, "\n"), http.StatusBadRequest)
		return
	}

	address := net.JoinHostPort(host, port)
	result := dialResult{Responses: []string{}, Errors: []string{}}
	for i := 0; i < tries && r.Context().Err() == nil; i++ {
		reply, err := Dial(r.Context(), protocol, address, request, timeout)
		if err != nil {
			result.Errors = append(result.Errors, err.Error())
			continue
		}
		result.Responses = append(result.Responses, reply)
	}
	w.Header().Set("Content-Type", "application/json")
	// Encoding strings fails only when the client has gone: nobody to tell.
	_ = json.NewEncoder(w).Encode(result)
}

func intParam(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	return strconv.Atoi(s)
}
