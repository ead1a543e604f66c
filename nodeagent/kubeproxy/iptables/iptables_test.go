package iptables

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// fakeExecutor answers programs from a table and records what ran.
type fakeExecutor struct {
	paths map[string]string // program name -> path
	// answer returns a program's output for its command line.
	answer func(cmdline string, stdin []byte) ([]byte, error)
	ran    []string
	stdins [][]byte
}

func (f *fakeExecutor) LookPath(file string) (string, error) {
	if p, ok := f.paths[file]; ok {
		return p, nil
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}

func (f *fakeExecutor) Run(_ context.Context, stdin []byte, path string, args ...string) ([]byte, error) {
	cmdline := strings.Join(append([]string{path}, args...), " ")
	f.ran = append(f.ran, cmdline)
	f.stdins = append(f.stdins, stdin)
	if f.answer == nil {
		return nil, nil
	}
	return f.answer(cmdline, stdin)
}

func nftPaths() map[string]string {
	return map[string]string{
		"iptables-nft":         "/usr/sbin/iptables-nft",
		"iptables-nft-save":    "/usr/sbin/iptables-nft-save",
		"iptables-nft-restore": "/usr/sbin/iptables-nft-restore",
	}
}

func newClient(t *testing.T, f *fakeExecutor) *Client {
	t.Helper()
	answer := f.answer
	f.answer = func(cmdline string, stdin []byte) ([]byte, error) {
		if strings.HasSuffix(cmdline, " --version") {
			return []byte("iptables v1.8.9 (nf_tables)\n"), nil
		}
		if answer == nil {
			return nil, nil
		}
		return answer(cmdline, stdin)
	}
	c, err := New(context.Background(), f)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.ran, f.stdins = nil, nil
	return c
}

func TestNewPrefersTheNFTPrograms(t *testing.T) {
	f := &fakeExecutor{paths: nftPaths()}
	c := newClient(t, f)
	if c.iptables != "/usr/sbin/iptables-nft" || c.save != "/usr/sbin/iptables-nft-save" || c.restore != "/usr/sbin/iptables-nft-restore" {
		t.Errorf("programs = %s, %s, %s; want the -nft ones", c.iptables, c.save, c.restore)
	}
	if !c.IsNFT() || !c.HasRandomFully() {
		t.Errorf("iptables v1.8.9 (nf_tables): IsNFT %v, HasRandomFully %v; want both", c.IsNFT(), c.HasRandomFully())
	}
}

func TestNewFallsBackToThePlainNames(t *testing.T) {
	f := &fakeExecutor{paths: map[string]string{
		"iptables": "/sbin/iptables", "iptables-save": "/sbin/iptables-save", "iptables-restore": "/sbin/iptables-restore",
	}}
	c := newClient(t, f)
	if c.restore != "/sbin/iptables-restore" {
		t.Errorf("restore = %s, want the plain name's path", c.restore)
	}
}

func TestNewFindsTheProgramsInSbinOffPath(t *testing.T) {
	f := &fakeExecutor{paths: map[string]string{
		"/usr/sbin/iptables-nft": "/usr/sbin/iptables-nft", "/usr/sbin/iptables-nft-save": "/usr/sbin/iptables-nft-save",
		"/usr/sbin/iptables-nft-restore": "/usr/sbin/iptables-nft-restore",
	}}
	if c := newClient(t, f); c.restore != "/usr/sbin/iptables-nft-restore" {
		t.Errorf("restore = %s, want /usr/sbin/iptables-nft-restore", c.restore)
	}
}

func TestNewFailsWithoutIptables(t *testing.T) {
	_, err := New(context.Background(), &fakeExecutor{})
	if err == nil || !strings.Contains(err.Error(), "find iptables") {
		t.Fatalf("New() error = %v, want a missing iptables", err)
	}
}

func TestHasRandomFullyFollowsTheVersion(t *testing.T) {
	cases := []struct {
		version string
		want    bool
	}{
		{"iptables v1.8.9 (nf_tables)", true},
		{"iptables v1.6.2", true},
		{"iptables v1.6.1", false},
		{"iptables v1.4.21", false},
		{"iptables v2.0.0 (nf_tables)", true},
		{"garbage", false},
	}
	for _, c := range cases {
		if got := (&Client{version: c.version}).HasRandomFully(); got != c.want {
			t.Errorf("HasRandomFully(%q) = %v, want %v", c.version, got, c.want)
		}
	}
}

func TestRestoreUsesNoflushAndCounters(t *testing.T) {
	f := &fakeExecutor{paths: nftPaths()}
	c := newClient(t, f)
	batch := []byte("*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n")
	if err := c.Restore(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/usr/sbin/iptables-nft-restore --noflush --counters"}; !slices.Equal(f.ran, want) {
		t.Errorf("ran %q, want %q", f.ran, want)
	}
	if string(f.stdins[0]) != string(batch) {
		t.Errorf("restore input = %q, want the batch", f.stdins[0])
	}
}

func TestRestoreErrorShowsTheRefusedLine(t *testing.T) {
	f := &fakeExecutor{paths: nftPaths(), answer: func(cmdline string, _ []byte) ([]byte, error) {
		return nil, &ExitError{Code: 2, Stderr: "iptables-nft-restore: line 3 failed: No chain/target/match by that name.\n"}
	}}
	c := newClient(t, f)
	err := c.Restore(context.Background(), []byte("*nat\n:A - [0:0]\n-A A -j NOPE\nCOMMIT\n"))
	if err == nil {
		t.Fatal("Restore succeeded")
	}
	for _, want := range []string{"line 3 failed", "> 3: -A A -j NOPE", "  2: :A - [0:0]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	var exitErr *ExitError
	if !errors.As(err, &exitErr) {
		t.Errorf("error %v does not wrap the ExitError", err)
	}
}

func TestEnsureChainToleratesAnExistingChain(t *testing.T) {
	f := &fakeExecutor{paths: nftPaths(), answer: func(cmdline string, _ []byte) ([]byte, error) {
		if strings.Contains(cmdline, "-N KUBE-FIREWALL") {
			return nil, &ExitError{Code: 1, Stderr: "iptables: Chain already exists.\n"}
		}
		return nil, &ExitError{Code: 4, Stderr: "iptables: Permission denied.\n"}
	}}
	c := newClient(t, f)
	if err := c.EnsureChain(context.Background(), "filter", "KUBE-FIREWALL"); err != nil {
		t.Errorf("EnsureChain of an existing chain: %v", err)
	}
	if err := c.EnsureChain(context.Background(), "nat", "KUBE-SERVICES"); err == nil || !strings.Contains(err.Error(), "create chain KUBE-SERVICES in table nat") {
		t.Errorf("EnsureChain error = %v, want it to name the chain", err)
	}
}

func TestInsertRulePrepends(t *testing.T) {
	f := &fakeExecutor{paths: nftPaths()}
	c := newClient(t, f)
	if err := c.InsertRule(context.Background(), "nat", "PREROUTING", "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"); err != nil {
		t.Fatal(err)
	}
	want := "/usr/sbin/iptables-nft -t nat -I PREROUTING -m comment --comment kubernetes service portals -j KUBE-SERVICES"
	if len(f.ran) != 1 || f.ran[0] != want {
		t.Errorf("ran %q, want %q", f.ran, want)
	}
}

const savedNode = `# Generated by iptables-nft-save v1.8.9 (nf_tables) on Sat Nov 22 12:00:00 2025
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
COMMIT
# Completed on Sat Nov 22 12:00:00 2025
*nat
:PREROUTING ACCEPT [10:600]
:OUTPUT ACCEPT [0:0]
:DOCKER_OUTPUT - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT
COMMIT
`

func TestParseSaveFindsChainsAndJumps(t *testing.T) {
	tables := ParseSave([]byte(savedNode))
	if got, want := tables.Chains("nat"), []string{"PREROUTING", "OUTPUT", "DOCKER_OUTPUT", "KUBE-SVC-XPGD46QRK7WJZT7O"}; !slices.Equal(got, want) {
		t.Errorf("nat chains = %q, want %q", got, want)
	}
	checks := []struct {
		table, chain, target string
		want                 bool
	}{
		{"nat", "PREROUTING", "KUBE-SERVICES", true},
		{"nat", "OUTPUT", "KUBE-SERVICES", false},
		{"nat", "OUTPUT", "DOCKER_OUTPUT", true},
		{"filter", "OUTPUT", "KUBE-SERVICES", true},
		{"filter", "INPUT", "KUBE-SERVICES", false},
		{"filter", "INPUT", "KUBE-EXTERNAL-SERVICES", true},
		{"mangle", "INPUT", "KUBE-SERVICES", false},
	}
	for _, c := range checks {
		if got := tables.HasJump(c.table, c.chain, c.target); got != c.want {
			t.Errorf("HasJump(%s, %s, %s) = %v, want %v", c.table, c.chain, c.target, got, c.want)
		}
	}
	if !tables.HasChain("filter", "KUBE-SERVICES") || tables.HasChain("filter", "KUBE-FORWARD") {
		t.Error("HasChain disagrees with the saved filter table")
	}
}

func TestSaveRunsIptablesSave(t *testing.T) {
	f := &fakeExecutor{paths: nftPaths(), answer: func(cmdline string, _ []byte) ([]byte, error) {
		return []byte(savedNode), nil
	}}
	c := newClient(t, f)
	tables, err := c.Save(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.ran) != 1 || f.ran[0] != "/usr/sbin/iptables-nft-save" {
		t.Errorf("ran %q, want iptables-nft-save", f.ran)
	}
	if !tables.HasChain("nat", "DOCKER_OUTPUT") {
		t.Error("Save lost the nat table")
	}
}
