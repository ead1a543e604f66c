package nodeinit

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// dockerDNS is the address of Docker's embedded DNS server inside every
// container on a user-defined network. It is reachable only from the
// container's own network namespace: pods, in theirs, cannot reach it.
const dockerDNS = "127.0.0.11"

// DNSFix makes the node's DNS reachable from pods, as kind's entrypoint
// does: the node's resolv.conf names the network's gateway instead of
// Docker's loopback address, and Docker's DNAT rules, which catch DNS
// traffic to that loopback address, are rewritten to catch traffic to the
// gateway from the node (OUTPUT) and from its pods (PREROUTING). Queries
// still end at Docker's server, inside the node.
type DNSFix struct {
	// ResolvConf is rewritten in place (Docker bind-mounts it). Empty
	// skips the fix.
	ResolvConf string
	// RouteTable is /proc/net/route, where the default gateway is read.
	RouteTable string
	// IPTablesSave and IPTablesRestore are the nft variants Docker itself
	// used for its rules.
	IPTablesSave    string
	IPTablesRestore string
}

// fixDNS applies the DNS fix; it is idempotent, so a restarted node (whose
// resolv.conf Docker rewrites anyway) comes out the same.
func (in *Init) fixDNS() error {
	fix := in.cfg.DNS
	gateway, err := defaultGateway(fix.RouteTable)
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	resolv, err := os.ReadFile(fix.ResolvConf)
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	if !bytes.Contains(resolv, []byte(dockerDNS)) {
		return nil // not Docker's embedded DNS, or already fixed
	}
	saved, err := exec.Command(fix.IPTablesSave, "-t", "nat").Output()
	if err != nil {
		return fmt.Errorf("dns: %s: %w", fix.IPTablesSave, withStderr(err))
	}
	if !bytes.Contains(saved, []byte("-j DOCKER_OUTPUT")) {
		// Docker wrote its rules with the legacy iptables, or none: the
		// node keeps its DNS as it is, and pods go without.
		in.log.printf("Docker's DNS rules are not in the nft tables; pods will not reach the node's DNS")
		return nil
	}
	rules := redirectDockerDNS(string(saved), gateway.String())
	// Without --noflush: the nat table, the only one in the input, is
	// replaced by its rewritten self; the other tables stay.
	restore := exec.Command(fix.IPTablesRestore)
	restore.Stdin = strings.NewReader(rules)
	if out, err := restore.CombinedOutput(); err != nil {
		return fmt.Errorf("dns: %s: %w: %s", fix.IPTablesRestore, err, out)
	}
	fixed := bytes.ReplaceAll(resolv, []byte(dockerDNS), []byte(gateway.String()))
	// In place: the file is a bind mount, which a rename would not replace.
	if err := os.WriteFile(fix.ResolvConf, fixed, 0o644); err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	in.log.printf("DNS served at %s for the node and its pods", gateway)
	return nil
}

// withStderr adds a failed command's standard error to its error. Boot runs
// before the reaper, so plain os/exec is safe here.
func withStderr(err error) error {
	var exit *exec.ExitError
	if errors.As(err, &exit) && len(exit.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(exit.Stderr))
	}
	return err
}

var (
	// -A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT
	outputJump = regexp.MustCompile(`^-A OUTPUT (.*)-j DOCKER_OUTPUT$`)
	// Docker's SNAT of the replies: -j SNAT --to-source :53
	snatToPort = regexp.MustCompile(`--to-source :53\b`)
)

// redirectDockerDNS rewrites the nat table Docker wrote (iptables-save
// output) so that its DNS rules match the gateway instead of 127.0.0.11,
// also for traffic arriving from pods. The DNAT targets keep pointing at
// Docker's server on 127.0.0.11.
func redirectDockerDNS(saved, gateway string) string {
	var out strings.Builder
	sc := bufio.NewScanner(strings.NewReader(saved))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-A ") {
			// Match the gateway, but DNAT still to Docker's server.
			line = strings.ReplaceAll(line, "-d "+dockerDNS+"/32", "-d "+gateway+"/32")
			line = strings.ReplaceAll(line, "-d "+dockerDNS+" ", "-d "+gateway+" ")
			line = snatToPort.ReplaceAllString(line, "--to-source "+gateway+":53")
		}
		out.WriteString(line)
		out.WriteByte('\n')
		if m := outputJump.FindStringSubmatch(line); m != nil {
			// The same jump for pods' traffic, which enters by PREROUTING,
			// unless an earlier rewrite added it.
			jump := "-A PREROUTING " + m[1] + "-j DOCKER_OUTPUT"
			if !strings.Contains(saved, jump+"\n") {
				out.WriteString(jump + "\n")
			}
		}
	}
	return out.String()
}

// defaultGateway reads the IPv4 default route's gateway from
// /proc/net/route, whose addresses are little-endian hex.
func defaultGateway(routeTable string) (netip.Addr, error) {
	data, err := os.ReadFile(routeTable)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 3 || f[1] != "00000000" {
			continue
		}
		raw, err := hex.DecodeString(f[2])
		if err != nil || len(raw) != 4 {
			continue
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], binary.LittleEndian.Uint32(raw))
		if addr := netip.AddrFrom4(b); !addr.IsUnspecified() {
			return addr, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no default route in %s", routeTable)
}
