package kubeproxy

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// fakeIptables is an iptables executor that keeps the tables in memory:
// iptables-nft-restore --noflush applies a batch to them (declared chains
// are flushed, "-X" deletes, "-A" appends), iptables-nft-save prints them,
// iptables-nft -N/-I edit them. Nothing reaches the host's network.
type fakeIptables struct {
	mu     sync.Mutex
	tables map[string]*fakeTable
	// restores are the batches applied, in order.
	restores []string
	// commands are the iptables-nft command lines run, in order.
	commands []string
	// failRestore makes the next restores fail while positive.
	failRestore int
}

type fakeTable struct {
	chains []string
	rules  map[string][]string // chain -> rule arguments after "-A chain"
}

func newFakeIptables() *fakeIptables {
	f := &fakeIptables{tables: map[string]*fakeTable{}}
	for table, builtins := range map[string][]string{
		"filter": {"INPUT", "FORWARD", "OUTPUT"},
		"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
	} {
		t := f.table(table)
		for _, c := range builtins {
			t.addChain(c)
		}
	}
	// Docker's embedded DNS rules, which kube-proxy must leave alone.
	f.table("nat").addChain("DOCKER_OUTPUT")
	f.table("nat").rules["OUTPUT"] = []string{"-d 127.0.0.11/32 -j DOCKER_OUTPUT"}
	return f
}

func (f *fakeIptables) table(name string) *fakeTable {
	t := f.tables[name]
	if t == nil {
		t = &fakeTable{rules: map[string][]string{}}
		f.tables[name] = t
	}
	return t
}

func (t *fakeTable) addChain(c string) {
	if !slices.Contains(t.chains, c) {
		t.chains = append(t.chains, c)
	}
}

func (f *fakeIptables) LookPath(file string) (string, error) {
	switch file {
	case "iptables-nft", "iptables-nft-save", "iptables-nft-restore":
		return "/usr/sbin/" + file, nil
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}

func (f *fakeIptables) Run(_ context.Context, stdin []byte, path string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch path {
	case "/usr/sbin/iptables-nft-save":
		return []byte(f.save()), nil
	case "/usr/sbin/iptables-nft-restore":
		if f.failRestore > 0 {
			f.failRestore--
			return nil, fmt.Errorf("exit status 1: iptables-nft-restore: line 1 failed")
		}
		f.restores = append(f.restores, string(stdin))
		return nil, f.restore(string(stdin))
	case "/usr/sbin/iptables-nft":
		f.commands = append(f.commands, strings.Join(args, " "))
		if len(args) == 1 && args[0] == "--version" {
			return []byte("iptables v1.8.9 (nf_tables)\n"), nil
		}
		return nil, f.edit(args)
	}
	return nil, fmt.Errorf("unexpected program %s", path)
}

func (f *fakeIptables) save() string {
	var b strings.Builder
	for _, name := range []string{"filter", "nat"} {
		t := f.tables[name]
		fmt.Fprintf(&b, "*%s\n", name)
		for _, c := range t.chains {
			fmt.Fprintf(&b, ":%s - [0:0]\n", c)
		}
		for _, c := range t.chains {
			for _, r := range t.rules[c] {
				fmt.Fprintf(&b, "-A %s %s\n", c, r)
			}
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}

func (f *fakeIptables) restore(batch string) error {
	var t *fakeTable
	sc := bufio.NewScanner(strings.NewReader(batch))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "*"):
			t = f.table(line[1:])
		case line == "COMMIT":
			t = nil
		case t == nil:
			return fmt.Errorf("line outside a table: %q", line)
		case strings.HasPrefix(line, ":"):
			c, _, _ := strings.Cut(line[1:], " ")
			t.addChain(c)
			t.rules[c] = nil // --noflush still flushes declared chains
		case strings.HasPrefix(line, "-X "):
			c := line[3:]
			t.chains = slices.DeleteFunc(t.chains, func(s string) bool { return s == c })
			delete(t.rules, c)
		case strings.HasPrefix(line, "-A "):
			c, rule, _ := strings.Cut(line[3:], " ")
			if !slices.Contains(t.chains, c) {
				return fmt.Errorf("no chain %s", c)
			}
			t.rules[c] = append(t.rules[c], rule)
		default:
			return fmt.Errorf("unexpected line %q", line)
		}
	}
	return nil
}

func (f *fakeIptables) edit(args []string) error {
	if len(args) < 4 || args[0] != "-t" {
		return fmt.Errorf("unexpected arguments %q", args)
	}
	t := f.table(args[1])
	switch args[2] {
	case "-N":
		t.addChain(args[3])
	case "-I":
		t.rules[args[3]] = append([]string{strings.Join(args[4:], " ")}, t.rules[args[3]]...)
	default:
		return fmt.Errorf("unexpected arguments %q", args)
	}
	return nil
}

// lastRestore is the last batch applied, or "".
func (f *fakeIptables) lastRestore() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.restores) == 0 {
		return ""
	}
	return f.restores[len(f.restores)-1]
}

func (f *fakeIptables) rulesOf(table, chain string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tables[table].rules[chain])
}

func (f *fakeIptables) commandsRun() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.commands)
}
