package testbox

import (
	"log"
	"net/http"
)

// logRequests logs one terse line per request: method, path and query,
// status, client. Enough to see in `kubectl logs` which probe or which
// client reached this pod.
func logRequests(logger *log.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK // the handler wrote nothing at all
		}
		logger.Printf("%s %s %d %s", r.Method, r.URL.RequestURI(), sw.status, r.RemoteAddr)
	})
}

// statusWriter remembers the status a handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's Flush: /exit
// needs it.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
