package kubeproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/kindish/kindish/nodeagent/kubeproxy/rules"
)

// fakeIptables is an iptables executor that keeps the tables in memory:
// iptables-nft-restore --noflush applies a batch to them (declared chains
// are flushed, "-X" deletes, "-A" appends, "-I" prepends),
// iptables-nft-save prints them; iptables-nft itself only tells its
// version. Nothing reaches the host's network.
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
		return nil, fmt.Errorf("unexpected arguments %q", args)
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
		case strings.HasPrefix(line, "-I "):
			c, rule, _ := strings.Cut(line[3:], " ")
			if !slices.Contains(t.chains, c) {
				return fmt.Errorf("no chain %s", c)
			}
			t.rules[c] = append([]string{rule}, t.rules[c]...)
		default:
			return fmt.Errorf("unexpected line %q", line)
		}
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

// appliedRestores are the batches applied, in order.
func (f *fakeIptables) appliedRestores() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.restores)
}

func (f *fakeIptables) commandsRun() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.commands)
}

// newConn is the first packet of a connection that the fake follows
// through its tables, as the kernel would: nat first (PREROUTING for a
// pod's packet, OUTPUT for the node's), then filter (FORWARD or OUTPUT).
type newConn struct {
	fromPod  bool
	proto    string // "tcp", "udp"
	src, dst netip.Addr
	dport    int
}

func (c newConn) String() string {
	from := "the node"
	if c.fromPod {
		from = "a pod"
	}
	return fmt.Sprintf("%s from %s to %s:%d", c.proto, from, c.dst, c.dport)
}

// verdict is what became of a newConn.
type verdict struct {
	// DNAT says nat sent it into a service's chains, which end in DNAT
	// to an endpoint (the rules package pins that).
	DNAT bool
	// Filter is the filter table's terminal target with its arguments
	// ("REJECT --reject-with tcp-reset"), or "ACCEPT" when the built-in
	// chain's policy let the packet through.
	Filter string
}

// follow classifies c with the rules the fake holds. It understands the
// matches kube-proxy and its jumps use and fails on any other, so that a
// rule it cannot read never passes for one that does not match.
func (f *fakeIptables) follow(c newConn) (verdict, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	natHook, filterHook := "OUTPUT", "OUTPUT"
	if c.fromPod {
		natHook, filterHook = "PREROUTING", "FORWARD"
	}
	var v verdict
	target, err := f.walk("nat", natHook, c, 0)
	if err != nil {
		return v, err
	}
	if v.DNAT = target == "DNAT"; v.DNAT {
		// The endpoint's address is what filter sees: none of the
		// service range's.
		c.dst = netip.Addr{}
	}
	if v.Filter, err = f.walk("filter", filterHook, c, 0); err != nil {
		return v, err
	}
	if v.Filter == "" {
		v.Filter = "ACCEPT"
	}
	return v, nil
}

// walk runs c through a chain: the first terminal target it reaches, or
// "" when it returns or falls off the chain's end. In nat, a jump to a
// service chain ends the walk as "DNAT".
func (f *fakeIptables) walk(table, chain string, c newConn, depth int) (string, error) {
	if depth > 8 {
		return "", fmt.Errorf("%s %s: jumps loop", table, chain)
	}
	t := f.tables[table]
	for _, rule := range t.rules[chain] {
		ok, target, err := matchRule(rule, c)
		if err != nil {
			return "", fmt.Errorf("%s %s %q: %w", table, chain, rule, err)
		}
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(target, " ")
		switch {
		case name == "RETURN":
			return "", nil
		case name == "ACCEPT" || name == "DROP" || name == "REJECT" || name == "DNAT":
			return target, nil
		case table == "nat" && rules.IsServiceChain(name):
			return "DNAT", nil
		case slices.Contains(t.chains, name):
			if v, err := f.walk(table, name, c, depth+1); err != nil || v != "" {
				return v, err
			}
		}
		// MARK, MASQUERADE and the like let the packet go on.
	}
	return "", nil
}

// matchRule says whether a rule (the arguments after "-A chain") matches
// c, and returns its target with the target's arguments.
func matchRule(rule string, c newConn) (bool, string, error) {
	words := splitRule(rule)
	match := true
	for i := 0; i < len(words); i++ {
		neg := words[i] == "!"
		if neg {
			i++
		}
		if i+1 >= len(words) {
			return false, "", fmt.Errorf("dangling %q", words[i])
		}
		opt, arg := words[i], words[i+1]
		i++
		var ok bool
		switch opt {
		case "-j":
			return match, strings.Join(words[i:], " "), nil
		case "-m":
			// Loading a match module matches everything; the module's
			// options follow.
			if arg == "comment" && i+2 < len(words) && words[i+1] == "--comment" {
				// A quoted comment is several words.
				i += 2
				for i+1 < len(words) && !strings.HasPrefix(words[i+1], "-") && words[i+1] != "!" {
					i++
				}
			}
			continue
		case "-p":
			ok = arg == c.proto
		case "-d", "-s":
			addr := c.dst
			if opt == "-s" {
				addr = c.src
			}
			p, err := netip.ParsePrefix(arg)
			if err != nil {
				a, aerr := netip.ParseAddr(arg)
				if aerr != nil {
					return false, "", fmt.Errorf("%s %q: %w", opt, arg, err)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			ok = addr.IsValid() && p.Contains(addr)
		case "--dport":
			ok = arg == strconv.Itoa(c.dport)
		case "--ctstate":
			ok = slices.Contains(strings.Split(arg, ","), "NEW")
		case "--dst-type":
			// The connections followed are never to the node's own
			// addresses.
			ok = arg != "LOCAL"
		case "--mark":
			// Nothing marked them.
			ok = false
		default:
			return false, "", fmt.Errorf("option %q not modelled", opt)
		}
		if ok == neg {
			match = false
		}
	}
	return false, "", errors.New("no target")
}

// splitRule splits a rule into words, a double-quoted string being one.
func splitRule(rule string) []string {
	var words []string
	for rule = strings.TrimSpace(rule); rule != ""; rule = strings.TrimSpace(rule) {
		if rule[0] == '"' {
			w, rest, _ := strings.Cut(rule[1:], `"`)
			words = append(words, w)
			rule = rest
			continue
		}
		w, rest, _ := strings.Cut(rule, " ")
		words = append(words, w)
		rule = rest
	}
	return words
}
