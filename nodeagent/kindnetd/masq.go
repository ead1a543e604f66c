package kindnetd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os/exec"
	"strings"
	"time"
)

// masqChain is kind's ip-masq-agent chain in the nat table.
const masqChain = "KIND-MASQ-AGENT"

// The rules' comments are kind's, so that `iptables-save` reads the same
// on a kindish node as on a kind node.
const (
	postroutingJumpComment = "kind-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom " + masqChain + " chain"
	nonMasqComment         = "kind-masq-agent: local traffic is not subject to MASQUERADE"
	masqComment            = "kind-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)"
)

// iptables reads and writes rule sets in iptables-save's format.
type iptables interface {
	// Save returns one table's rules, as iptables-save -t <table> prints them.
	Save(ctx context.Context, table string) ([]byte, error)
	// Restore applies a batch without flushing what it does not name
	// (iptables-restore --noflush): one transaction.
	Restore(ctx context.Context, batch []byte) error
}

// masqAgent keeps traffic from pods to anything outside the pod and
// Service ranges masqueraded behind the node's address, since only the
// nodes' addresses are routable outside the cluster.
type masqAgent struct {
	log      *slog.Logger
	iptables iptables
	// noMasq are the destinations reached with the pod's own address.
	noMasq []netip.Prefix
}

// sync applies the rules. The chain is declared in the batch, which
// empties it (even with --noflush) and refills it in the same
// transaction, so traffic never sees it half-built; the POSTROUTING jump
// is added only when the table lacks it, since appending is not
// idempotent.
func (a *masqAgent) sync(ctx context.Context) error {
	saved, err := a.iptables.Save(ctx, "nat")
	if err != nil {
		return fmt.Errorf("read nat table: %w", err)
	}
	batch := masqRestoreBatch(a.noMasq, postroutingJumps(saved))
	if err := a.iptables.Restore(ctx, batch); err != nil {
		return fmt.Errorf("apply %s rules: %w", masqChain, err)
	}
	return nil
}

// run syncs now and then every period, until ctx ends.
func (a *masqAgent) run(ctx context.Context, period time.Duration) {
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		if err := a.sync(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("kind-masq-agent: error syncing rules, retrying", "err", err, "retryIn", period)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// postroutingJumps are the rules of the nat table's POSTROUTING chain
// that jump to the masquerade chain, as iptables-save prints them.
func postroutingJumps(saved []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(saved))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "-A POSTROUTING ") && strings.HasSuffix(line, " -j "+masqChain) {
			out = append(out, line)
		}
	}
	return out
}

// masqRestoreBatch is the iptables-restore input for the masquerade rules,
// given the POSTROUTING jumps the table has: none adds one, more than one
// (left by someone appending twice) deletes the extra ones.
func masqRestoreBatch(noMasq []netip.Prefix, jumps []string) []byte {
	var b bytes.Buffer
	b.WriteString("*nat\n")
	b.WriteString(":" + masqChain + " - [0:0]\n")
	if len(jumps) == 0 {
		fmt.Fprintf(&b, "-A POSTROUTING -m comment --comment %q -m addrtype ! --dst-type LOCAL -j %s\n", postroutingJumpComment, masqChain)
	}
	for _, extra := range jumps[min(1, len(jumps)):] {
		b.WriteString("-D" + strings.TrimPrefix(extra, "-A") + "\n")
	}
	for _, cidr := range noMasq {
		fmt.Fprintf(&b, "-A %s -d %s -m comment --comment %q -j RETURN\n", masqChain, cidr, nonMasqComment)
	}
	fmt.Fprintf(&b, "-A %s -m comment --comment %q -j MASQUERADE\n", masqChain, masqComment)
	b.WriteString("COMMIT\n")
	return b.Bytes()
}

// execIPTables runs the nft variant's iptables-nft-save and
// iptables-nft-restore: the node's own rules (Docker's DNS among them) are
// nft rules, which the legacy variant would not see.
type execIPTables struct {
	// lookPath finds a command on PATH; exec.LookPath outside tests.
	lookPath func(string) (string, error)
}

func (e execIPTables) Save(ctx context.Context, table string) ([]byte, error) {
	path, err := e.lookPath("iptables-nft-save")
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "-t", table)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// A table nothing has created yet has no rules.
		if strings.Contains(stderr.String(), "does not exist") {
			return nil, nil
		}
		return nil, commandError(cmd, err, stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

func (e execIPTables) Restore(ctx context.Context, batch []byte) error {
	path, err := e.lookPath("iptables-nft-restore")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, path, "--noflush")
	cmd.Stdin = bytes.NewReader(batch)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return commandError(cmd, err, out)
	}
	return nil
}

// commandError keeps the command line and its output, which say what
// iptables disliked.
func commandError(cmd *exec.Cmd, err error, output []byte) error {
	msg := strings.TrimSpace(string(output))
	if msg == "" {
		return fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, msg)
}
