package etcd

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseURLs reads a comma-separated list of URLs as etcd's flags take them
// ("https://127.0.0.1:2379,https://[::1]:2379"). Each needs a scheme and a
// host:port, and nothing after them. An empty list is nil.
func ParseURLs(s string) ([]url.URL, error) {
	var out []url.URL
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		u, err := url.Parse(part)
		if err != nil {
			return nil, fmt.Errorf("URL %q: want scheme://host:port: %w", part, err)
		}
		if u.Scheme == "" || u.Host == "" || u.Port() == "" {
			return nil, fmt.Errorf("URL %q: want scheme://host:port", part)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("URL %q: want scheme://host:port and nothing else", part)
		}
		u.Path = ""
		out = append(out, *u)
	}
	return out, nil
}

// FormatURLs is ParseURLs' inverse.
func FormatURLs(urls []url.URL) string {
	ss := make([]string, len(urls))
	for i, u := range urls {
		ss[i] = u.String()
	}
	return strings.Join(ss, ",")
}
