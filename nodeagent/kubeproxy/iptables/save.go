package iptables

import (
	"bufio"
	"bytes"
	"strings"
)

// Tables is iptables-save's output, by table name.
type Tables map[string]*Table

// Table is one table of iptables-save's output.
type Table struct {
	// Chains are the table's chains, built-in and user-defined, in
	// iptables-save's order.
	Chains []string
	// Rules are the "-A" lines, as printed.
	Rules []string
}

// ParseSave reads iptables-save's output. Comments, counters and lines it
// does not know are skipped.
func ParseSave(data []byte) Tables {
	tables := Tables{}
	var current *Table
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "*"):
			current = &Table{}
			tables[line[1:]] = current
		case current == nil:
		case strings.HasPrefix(line, ":"):
			if name, _, _ := strings.Cut(line[1:], " "); name != "" {
				current.Chains = append(current.Chains, name)
			}
		case strings.HasPrefix(line, "-A "):
			current.Rules = append(current.Rules, line)
		}
	}
	return tables
}

// Chains lists a table's chains; none for a table that was not saved.
func (t Tables) Chains(table string) []string {
	if tb := t[table]; tb != nil {
		return tb.Chains
	}
	return nil
}

// HasChain says whether a table has a chain.
func (t Tables) HasChain(table, chain string) bool {
	for _, c := range t.Chains(table) {
		if c == chain {
			return true
		}
	}
	return false
}

// HasJump says whether a chain has a rule jumping to target, whatever its
// matches: iptables-save may print them in another order than they were
// given in.
func (t Tables) HasJump(table, chain, target string) bool {
	tb := t[table]
	if tb == nil {
		return false
	}
	for _, r := range tb.Rules {
		if strings.HasPrefix(r, "-A "+chain+" ") && (strings.HasSuffix(r, " -j "+target) || strings.Contains(r, " -j "+target+" ")) {
			return true
		}
	}
	return false
}
