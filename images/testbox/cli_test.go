package testbox

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kindish/kindish/cluster/version"
)

// offlineResolver is the pure Go resolver with no way to reach a DNS
// server: names resolve from /etc/hosts or fail, and no query leaves the
// machine.
func offlineResolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("no DNS server in unit tests")
		},
	}
}

// runCLI runs testbox with args and returns its status and output.
func runCLI(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errOut strings.Builder
	code = Run(ctx, Process{Stdout: &out, Stderr: &errOut, Resolver: offlineResolver()}, args)
	return code, out.String(), errOut.String()
}

func TestRunStatusAndMessages(t *testing.T) {
	dir := t.TempDir()
	fileA := filepath.Join(dir, "a")
	fileB := filepath.Join(dir, "b")
	os.WriteFile(fileA, []byte("alpha\n"), 0o644)
	os.WriteFile(fileB, []byte("beta\n"), 0o644)
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // exact, when set
		wantStderr string // contained, when set
	}{
		// Dispatch.
		{name: "no subcommand", args: nil, wantCode: 2, wantStderr: "usage: testbox SUBCOMMAND"},
		{name: "help", args: []string{"--help"}, wantCode: 0},
		{name: "unknown subcommand", args: []string{"shell"}, wantCode: 2, wantStderr: `unknown subcommand "shell"`},
		{name: "-v", args: []string{"-v"}, wantCode: 0, wantStdout: "testbox (kindish) " + version.Version + "\n"},
		{name: "--version", args: []string{"--version"}, wantCode: 0, wantStdout: "testbox (kindish) " + version.Version + "\n"},
		{name: "a subcommand's -h", args: []string{"serve", "-h"}, wantCode: 0, wantStderr: "-healthz-delay duration"},

		// Usage errors name what is wrong.
		{name: "unknown flag", args: []string{"serve", "--bogus"}, wantCode: 2, wantStderr: "flag provided but not defined: -bogus"},
		{name: "agnhost flag we lack", args: []string{"netexec", "--sctp-port", "9"}, wantCode: 2, wantStderr: "-sctp-port"},
		{name: "bad flag value", args: []string{"serve", "--http-port", "web"}, wantCode: 2, wantStderr: `invalid value "web" for flag -http-port`},
		{name: "port out of range", args: []string{"netexec", "--http-port=70000"}, wantCode: 2, wantStderr: "--http-port: want 0-65535, got 70000"},
		{name: "udp port below -1", args: []string{"serve", "--udp-port=-2"}, wantCode: 2, wantStderr: "--udp-port"},
		{name: "negative healthz delay", args: []string{"serve", "--healthz-delay=-1s"}, wantCode: 2, wantStderr: "--healthz-delay"},
		{name: "serve takes no argument", args: []string{"serve", "8080"}, wantCode: 2, wantStderr: `unexpected argument "8080"`},
		{name: "missing argument", args: []string{"exit"}, wantCode: 2, wantStderr: "testbox exit: missing argument"},

		// exit.
		{name: "exit with a status", args: []string{"exit", "7"}, wantCode: 7, wantStdout: ""},
		{name: "exit 0", args: []string{"exit", "0"}, wantCode: 0},
		{name: "exit status out of range", args: []string{"exit", "256"}, wantCode: 2, wantStderr: `CODE: want 0-255, got "256"`},

		// sleep.
		{name: "sleep a duration", args: []string{"sleep", "10ms"}, wantCode: 0},
		{name: "sleep seconds, as sleep(1)", args: []string{"sleep", "0.01"}, wantCode: 0},
		{name: "sleep a negative duration", args: []string{"sleep", "--", "-1s"}, wantCode: 2, wantStderr: `want 0 or more, got "-1s"`},
		{name: "sleep nonsense", args: []string{"sleep", "forever"}, wantCode: 2, wantStderr: `got "forever"`},

		// cat.
		{name: "cat files in order", args: []string{"cat", fileB, fileA}, wantCode: 0, wantStdout: "beta\nalpha\n"},
		{name: "cat goes on past a missing file", args: []string{"cat", fileA, missing, fileB}, wantCode: 1,
			wantStdout: "alpha\nbeta\n", wantStderr: "testbox cat: open " + missing + ": no such file or directory"},
		{name: "cat a directory", args: []string{"cat", dir}, wantCode: 1, wantStderr: "is a directory"},
		{name: "cat nothing", args: []string{"cat"}, wantCode: 2, wantStderr: "missing argument"},

		// dns-lookup; the offline resolver answers from /etc/hosts only.
		{name: "dns-lookup A from /etc/hosts", args: []string{"dns-lookup", "localhost", "--type", "a"}, wantCode: 0, wantStdout: "127.0.0.1\n"},
		{name: "dns-lookup failure says what failed", args: []string{"dns-lookup", "no-such-service.invalid."}, wantCode: 1,
			wantStderr: "testbox dns-lookup: look up HOST no-such-service.invalid.: "},
		{name: "dns-lookup unknown type", args: []string{"dns-lookup", "--type=AXFR", "kubernetes.default"}, wantCode: 2, wantStderr: `--type: want one of A, AAAA, CNAME, HOST, MX, NS, PTR, SRV, TXT, got "AXFR"`},
		{name: "dns-lookup two names", args: []string{"dns-lookup", "a", "b"}, wantCode: 2, wantStderr: `unexpected argument "b"`},

		// dial's argument checks; its traffic is in TestDialSubcommand.
		{name: "dial without port", args: []string{"dial", "10.96.0.1"}, wantCode: 2, wantStderr: `ADDR: want host:port, got "10.96.0.1"`},
		{name: "dial unknown protocol", args: []string{"dial", "127.0.0.1:1", "--protocol", "sctp"}, wantCode: 2, wantStderr: `--protocol: want tcp, udp or http, got "sctp"`},
		{name: "dial udp without request", args: []string{"dial", "--protocol=udp", "127.0.0.1:1"}, wantCode: 2, wantStderr: "--request: udp needs something to send"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(context.Background(), tt.args...)
			if code != tt.wantCode {
				t.Errorf("status %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if tt.wantStdout != "" && stdout != tt.wantStdout {
				t.Errorf("stdout %q, want %q", stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.wantStderr)
			}
			if tt.wantCode == 2 && !strings.Contains(stderr, "usage: testbox") {
				t.Errorf("usage error without the usage: %q", stderr)
			}
		})
	}
}

func TestHelpListsEverySubcommand(t *testing.T) {
	_, stdout, _ := runCLI(context.Background(), "help")
	for name := range subcommands() {
		if !strings.Contains(stdout, "\n  "+name+" ") {
			t.Errorf("help does not list %s:\n%s", name, stdout)
		}
	}
}

func TestSigtermEndsLongRunningSubcommandsWithStatus0(t *testing.T) {
	for _, args := range [][]string{
		{"sleep", "infinity"},
		{"sleep", "1h"},
		// Every address, as in a pod; port 0 so that nothing clashes.
		{"serve", "--http-port=0", "--udp-port=0"},
		{"netexec", "--http-port=0", "--udp-port=-1"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan int, 1)
			go func() {
				code, _, _ := runCLI(ctx, args...)
				done <- code
			}()
			time.Sleep(50 * time.Millisecond) // let it get going
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("status %d after SIGTERM, want 0", code)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("still running after SIGTERM")
			}
		})
	}
}

func TestHostnameAndEnv(t *testing.T) {
	want, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ := runCLI(context.Background(), "hostname"); code != 0 || stdout != want+"\n" {
		t.Errorf("hostname: %d %q, want %q", code, stdout, want)
	}

	t.Setenv("TESTBOX_ZZ", "last")
	t.Setenv("TESTBOX_AA", "first=with=equals")
	code, stdout, _ := runCLI(context.Background(), "env")
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if code != 0 || !slices.IsSorted(lines) {
		t.Fatalf("env: status %d, sorted %v:\n%s", code, slices.IsSorted(lines), stdout)
	}
	aa, zz := slices.Index(lines, "TESTBOX_AA=first=with=equals"), slices.Index(lines, "TESTBOX_ZZ=last")
	if aa < 0 || zz < 0 || aa > zz {
		t.Errorf("env: TESTBOX_AA at %d, TESTBOX_ZZ at %d, want both, in order", aa, zz)
	}
}

func TestDialSubcommand(t *testing.T) {
	s := startServer(t, Config{UDPAddr: "127.0.0.1:0", Hostname: "pod-b"})
	echo := startTCPServer(t, echoUntilEOF)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "http, flags after ADDR", args: []string{"dial", s.HTTPAddr(), "--protocol", "http", "--request", "hostname"}, wantStdout: "pod-b\n"},
		{name: "udp", args: []string{"dial", "--protocol=udp", "--request=echo hi", s.UDPAddr()}, wantStdout: "hi\n"},
		{name: "tcp with a request", args: []string{"dial", echo, "--request", "ping"}, wantStdout: "got ping\n"},
		{name: "tcp connect only", args: []string{"dial", echo}, wantStdout: "connected from 127.0.0.1:"},
		{name: "refused", args: []string{"dial", refusedAddr(t, "tcp"), "--timeout=1s"}, wantCode: 1, wantStderr: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(context.Background(), tt.args...)
			if code != tt.wantCode || !strings.HasPrefix(stdout, tt.wantStdout) || !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("got %d %q %q, want %d, stdout starting %q, stderr with %q", code, stdout, stderr, tt.wantCode, tt.wantStdout, tt.wantStderr)
			}
		})
	}
	// The failure names the protocol and the address it tried.
	addr := refusedAddr(t, "tcp")
	if _, _, stderr := runCLI(context.Background(), "dial", addr); !strings.HasPrefix(stderr, "testbox dial: tcp "+addr+": ") {
		t.Errorf("stderr %q, want it to name tcp %s", stderr, addr)
	}
}

func TestParseArgs(t *testing.T) {
	tests := []struct {
		name           string
		args           []string
		wantPositional []string
		wantProtocol   string
		wantErr        error
	}{
		{name: "flags first", args: []string{"--protocol", "udp", "a:1"}, wantPositional: []string{"a:1"}, wantProtocol: "udp"},
		{name: "flags after the argument", args: []string{"a:1", "--protocol", "udp"}, wantPositional: []string{"a:1"}, wantProtocol: "udp"},
		{name: "flags between arguments", args: []string{"a", "-protocol=http", "b"}, wantPositional: []string{"a", "b"}, wantProtocol: "http"},
		{name: "after --, nothing is a flag", args: []string{"--", "-a", "--protocol=udp"}, wantPositional: []string{"-a", "--protocol=udp"}, wantProtocol: "tcp"},
		{name: "-h", args: []string{"a", "-h"}, wantErr: flag.ErrHelp},
		{name: "bad flag", args: []string{"a", "--nope"}, wantErr: errUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet(Process{Stdout: io.Discard, Stderr: io.Discard}, "test ARGS", "")
			protocol := fs.String("protocol", "tcp", "")
			positional, err := parseArgs(fs, tt.args, 0, -1)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if err == nil && (!slices.Equal(positional, tt.wantPositional) || *protocol != tt.wantProtocol) {
				t.Errorf("got %q protocol %q, want %q protocol %q", positional, *protocol, tt.wantPositional, tt.wantProtocol)
			}
		})
	}
}
