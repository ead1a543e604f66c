// Package request turns an API request's method, path and query into what
// it asks for: the verb, the resource, the namespace, the name. Routing,
// authorization, admission and metrics all read it.
package request

import (
	"fmt"
	"net/http"
	"strings"
)

// Info is what a request asks for, as upstream's RequestInfo.
type Info struct {
	// IsResourceRequest is false for /healthz, /version, discovery and
	// other non-resource paths.
	IsResourceRequest bool
	Path              string
	// Verb is get, list, watch, create, update, patch, delete or
	// deletecollection for resources; the lower-case HTTP method otherwise.
	Verb        string
	APIPrefix   string // "api" or "apis"
	APIGroup    string
	APIVersion  string
	Namespace   string
	Resource    string
	Subresource string
	Name        string
	// Parts are the path segments after the namespace, as upstream keeps
	// them: resource, name, subresource.
	Parts []string
}

// namespaceSubresources are namespace paths that are not a namespaced
// resource but a subresource of the namespace itself.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// Parse reads the request the way kube-apiserver's RequestInfoFactory does:
//
//	/api/{version}/{resource}/{name}/{subresource}
//	/api/{version}/namespaces/{namespace}/{resource}/{name}/{subresource}
//	/apis/{group}/{version}/...
//
// and the deprecated /api/{version}/watch/... form.
func Parse(r *http.Request) (*Info, error) {
	info := &Info{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
	segments := splitPath(r.URL.Path)
	if len(segments) < 2 || (segments[0] != "api" && segments[0] != "apis") {
		return info, nil
	}
	info.APIPrefix = segments[0]
	rest := segments[1:]
	if info.APIPrefix == "apis" {
		if len(rest) < 2 {
			return info, nil // /apis or /apis/{group}: discovery
		}
		info.APIGroup, rest = rest[0], rest[1:]
	}
	info.APIVersion, rest = rest[0], rest[1:]
	if len(rest) == 0 {
		return info, nil // /api/v1: discovery
	}
	info.IsResourceRequest = true

	explicitWatch := false
	if rest[0] == "watch" {
		explicitWatch = true
		rest = rest[1:]
	}
	// As upstream: /namespaces/{ns}/{resource}/... is a namespaced
	// resource, while /namespaces/{ns} and /namespaces/{ns}/status are the
	// namespace object itself (whose Namespace is its own name).
	if len(rest) > 1 && rest[0] == "namespaces" {
		info.Namespace = rest[1]
		if len(rest) > 2 && !namespaceSubresources[rest[2]] {
			rest = rest[2:]
		}
	}
	info.Parts = rest
	switch len(rest) {
	case 0:
		return nil, fmt.Errorf("no resource in path %q", r.URL.Path)
	case 1:
		info.Resource = rest[0]
	case 2:
		info.Resource, info.Name = rest[0], rest[1]
	default:
		info.Resource, info.Name, info.Subresource = rest[0], rest[1], rest[2]
	}
	info.Verb = verb(r, info, explicitWatch)
	return info, nil
}

// verb maps the HTTP method to the Kubernetes verb, as upstream does.
func verb(r *http.Request, info *Info, explicitWatch bool) string {
	switch r.Method {
	case http.MethodPost:
		return "create"
	case http.MethodPut:
		return "update"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		if info.Name == "" {
			return "deletecollection"
		}
		return "delete"
	case http.MethodGet, http.MethodHead:
		if explicitWatch || isTrue(r.URL.Query().Get("watch")) {
			return "watch"
		}
		if info.Name == "" {
			return "list"
		}
		return "get"
	}
	return strings.ToLower(r.Method)
}

// isTrue parses a boolean query parameter as upstream (true, 1, or empty
// with the key present counts only for "true" and "1").
func isTrue(v string) bool { return v == "true" || v == "1" }

func splitPath(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}
