package openapi

import (
	"net/http"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kindish/kindish/controlplane/apiserver/registry"
)

// Lazy serves the documents of a resource table, built on the first
// request, as upstream's API server marshals its own lazily: building
// them takes about a third of a CPU-second, which a starting control
// plane would otherwise spend before it answers, and only some clients
// ever ask (kubectl's apply, explain and validation). Requests that come
// while the documents are being built wait for them.
type Lazy struct {
	resources []registry.Resource
	once      sync.Once
	docs      *Documents
	err       error
}

// NewLazy returns a handler for the documents of resources.
func NewLazy(resources []registry.Resource) *Lazy {
	return &Lazy{resources: resources}
}

// Documents builds the documents once and returns them.
func (l *Lazy) Documents() (*Documents, error) {
	l.once.Do(func() { l.docs, l.err = Build(l.resources) })
	return l.docs, l.err
}

// ServeHTTP answers as Documents.ServeHTTP does, once the documents are
// built; a table that cannot be described is an internal error.
func (l *Lazy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	docs, err := l.Documents()
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "build the OpenAPI documents: "+err.Error())
		return
	}
	docs.ServeHTTP(w, r)
}
