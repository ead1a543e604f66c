package etcd

import (
	"strings"
	"testing"
)

func TestParseURLs(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "one", in: "https://127.0.0.1:2379", want: "https://127.0.0.1:2379"},
		{name: "several, spaces tolerated", in: "https://127.0.0.1:2379, https://[::1]:2379", want: "https://127.0.0.1:2379,https://[::1]:2379"},
		{name: "empty is none", in: "", want: ""},
		{name: "a trailing slash is dropped", in: "http://127.0.0.1:2381/", want: "http://127.0.0.1:2381"},
		{name: "no scheme", in: "127.0.0.1:2379", wantErr: "want scheme://host:port"},
		{name: "no port", in: "https://127.0.0.1", wantErr: "want scheme://host:port"},
		{name: "a path", in: "https://127.0.0.1:2379/v3", wantErr: "nothing else"},
		{name: "not a URL", in: "https://127.0.0.1:port", wantErr: "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURLs(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || FormatURLs(got) != tt.want {
				t.Errorf("got %q, %v; want %q", FormatURLs(got), err, tt.want)
			}
		})
	}
}
