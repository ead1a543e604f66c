package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name     string
		argv     []string
		want     string
		wantArgs []string
		wantErr  string
	}{
		{name: "started through the /sbin/init link", argv: []string{"/sbin/init"}, want: "init"},
		{name: "link name with arguments", argv: []string{"init", "-log-dir", "/tmp"}, want: "init", wantArgs: []string{"-log-dir", "/tmp"}},
		{name: "first argument names the component", argv: []string{"/usr/local/bin/kindish-node", "init", "--help"}, want: "init", wantArgs: []string{"--help"}},
		{name: "no component named", argv: []string{"kindish-node"}, wantErr: "no component named"},
		{name: "unknown link name lists the known ones", argv: []string{"/usr/bin/frobnicate"}, wantErr: `unknown component "frobnicate" (known: etcd, init, kindish-cri, kindnetd, kube-apiserver, kube-controller-manager, kube-proxy, kube-scheduler, kubelet)`},
		{name: "unknown first argument", argv: []string{"kindish-node", "etcdd"}, wantErr: `unknown component "etcdd"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, args, err := resolve(tt.argv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || name != tt.want || !slices.Equal(args, tt.wantArgs) {
				t.Errorf("got %q %q %v, want %q %q", name, args, err, tt.want, tt.wantArgs)
			}
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	components["fake-ok"] = func(context.Context, []string) error { return nil }
	components["fake-fails"] = func(context.Context, []string) error { return errors.New("boom") }
	t.Cleanup(func() {
		delete(components, "fake-ok")
		delete(components, "fake-fails")
	})
	tests := []struct {
		name       string
		argv       []string
		wantCode   int
		wantStderr string
	}{
		{name: "component succeeds", argv: []string{"fake-ok"}, wantCode: 0},
		{name: "component fails", argv: []string{"kindish-node", "fake-fails"}, wantCode: 1, wantStderr: "kindish-node fake-fails: boom"},
		{name: "unknown component", argv: []string{"kube-frobnicator"}, wantCode: 2, wantStderr: "known: etcd, fake-fails, fake-ok, init"},
		{name: "help", argv: []string{"kindish-node", "--help"}, wantCode: 0, wantStderr: "components: etcd, fake-fails, fake-ok, init"},
		// The flag package reports these itself, on os.Stderr.
		{name: "component help", argv: []string{"kindish-node", "init", "-h"}, wantCode: 0},
		{name: "unknown flag", argv: []string{"/sbin/init", "-frobnicate"}, wantCode: 2},
		{name: "stray argument", argv: []string{"/sbin/init", "extra"}, wantCode: 2},
		{name: "a bad flag value is named", argv: []string{"kube-apiserver", "--delete-collection-workers=0"}, wantCode: 1, wantStderr: "--delete-collection-workers: 0: must be at least 1"},
		{name: "init refuses to run when not PID 1", argv: []string{"/sbin/init"}, wantCode: 1, wantStderr: "init runs as PID 1 of a node container"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(context.Background(), tt.argv, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr.String(), tt.wantCode, tt.wantStderr)
			}
		})
	}
}

func TestParseFlagsReturnsHelp(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	if err := parseFlags(fs, []string{"-help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("got %v, want flag.ErrHelp", err)
	}
}
