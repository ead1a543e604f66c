package testbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strings"
	"time"
)

// lookupFunc resolves name for one record type and returns one line per
// answer, in the form dig +short uses.
type lookupFunc func(ctx context.Context, r *net.Resolver, name string) ([]string, error)

// recordTypes are the record types dns-lookup knows.
var recordTypes = map[string]lookupFunc{
	"A":     lookupIP("ip4"),
	"AAAA":  lookupIP("ip6"),
	"HOST":  lookupHost,
	"CNAME": lookupCNAME,
	"SRV":   lookupSRV,
	"MX":    lookupMX,
	"TXT":   lookupTXT,
	"NS":    lookupNS,
	"PTR":   lookupPTR,
}

func runDNSLookup(ctx context.Context, p Process, args []string) error {
	fs := newFlagSet(p, "dns-lookup NAME [--type TYPE] [--count N]", `Resolve NAME through /etc/resolv.conf, search list included, as a pod's
programs do, and print the answers one a line. PTR takes an IP as NAME.
With --count N, resolve it N times, one after the other, and print the
latency instead, measured here:
  lookups=N failed=F min=D p50=D p90=D p99=D max=D`)
	typ := fs.String("type", "HOST", "record type: "+strings.Join(knownRecordTypes(), ", ")+"; HOST is A and AAAA, as getent hosts")
	count := fs.Int("count", 1, "how many times to resolve NAME; above 1, print latency figures rather than answers")
	positional, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	name := positional[0]
	*typ = strings.ToUpper(*typ)
	lookup, ok := recordTypes[*typ]
	if !ok {
		return usageErrorf(fs, "--type: want one of %s, got %q", strings.Join(knownRecordTypes(), ", "), *typ)
	}
	if *count < 1 {
		return usageErrorf(fs, "--count: want 1 or more, got %d", *count)
	}
	if *count > 1 {
		return measureLookups(ctx, p, lookup, *typ, name, *count)
	}

	answers, err := lookup(ctx, p.resolver(), name)
	if err != nil {
		return fmt.Errorf("look up %s %s: %w", *typ, name, err)
	}
	if len(answers) == 0 {
		return fmt.Errorf("look up %s %s: no records", *typ, name)
	}
	for _, a := range answers {
		fmt.Fprintln(p.Stdout, a)
	}
	return nil
}

// measureLookups resolves name count times in a row and prints the
// latency figures. Every lookup must succeed: a failure is a finding, so
// the figures are printed and the first failure returned.
func measureLookups(ctx context.Context, p Process, lookup lookupFunc, typ, name string, count int) error {
	r := p.resolver()
	latencies := make([]time.Duration, 0, count)
	var failed int
	var firstErr error
	for range count {
		start := time.Now()
		answers, err := lookup(ctx, r, name)
		latencies = append(latencies, time.Since(start))
		if err == nil && len(answers) == 0 {
			err = errors.New("no records")
		}
		if err != nil {
			failed++
			firstErr = cmp.Or(firstErr, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Fprintf(p.Stdout, "lookups=%d failed=%d %s\n", len(latencies), failed, latencySummary(latencies))
	if failed > 0 {
		return fmt.Errorf("look up %s %s: %d of %d lookups failed, the first: %w", typ, name, failed, len(latencies), firstErr)
	}
	return nil
}

// latencySummary is "min=D p50=D p90=D p99=D max=D", nearest-rank
// percentiles, rounded to the microsecond.
func latencySummary(latencies []time.Duration) string {
	sorted := slices.Sorted(slices.Values(latencies))
	at := func(p float64) time.Duration {
		rank := int(math.Ceil(p*float64(len(sorted)))) - 1
		return sorted[min(max(rank, 0), len(sorted)-1)].Round(time.Microsecond)
	}
	return fmt.Sprintf("min=%s p50=%s p90=%s p99=%s max=%s", at(0), at(0.50), at(0.90), at(0.99), at(1))
}

func knownRecordTypes() []string {
	types := make([]string, 0, len(recordTypes))
	for t := range recordTypes {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

func lookupIP(network string) lookupFunc {
	return func(ctx context.Context, r *net.Resolver, name string) ([]string, error) {
		ips, err := r.LookupIP(ctx, network, name)
		return stringsOf(ips, net.IP.String), err
	}
}

func lookupHost(ctx context.Context, r *net.Resolver, name string) ([]string, error) {
	return r.LookupHost(ctx, name)
}

func lookupCNAME(ctx context.Context, r *net.Resolver, name string) ([]string, error) {
	cname, err := r.LookupCNAME(ctx, name)
	if err != nil {
		return nil, err
	}
	return []string{cname}, nil
}

// lookupSRV takes the full name ("_http._tcp.web"): that is how tests name
// a Service port's record.
func lookupSRV(ctx context.Context, r *net.Resolver, name string) ([]string, error) {
	_, srvs, err := r.LookupSRV(ctx, "", "", name)
	return stringsOf(srvs, func(s *net.SRV) string {
		return fmt.Sprintf("%d %d %d %s", s.Priority, s.Weight, s.Port, s.Target)
	}), err
}

func lookupMX(ctx context.Context, r *net.Resolver, name string) ([]string, error) {
	mxs, err := r.LookupMX(ctx, name)
	return stringsOf(mxs, func(mx *net.MX) string { return fmt.Sprintf("%d %s", mx.Pref, mx.Host) }), err
}

func lookupTXT(ctx context.Context, r *net.Resolver, name string) ([]string, error) {
	return r.LookupTXT(ctx, name)
}

func lookupNS(ctx context.Context, r *net.Resolver, name string) ([]string, error) {
	nss, err := r.LookupNS(ctx, name)
	return stringsOf(nss, func(ns *net.NS) string { return ns.Host }), err
}

func lookupPTR(ctx context.Context, r *net.Resolver, name string) ([]string, error) {
	return r.LookupAddr(ctx, name)
}

func stringsOf[T any](items []T, format func(T) string) []string {
	out := make([]string, len(items))
	for i, item := range items {
		out[i] = format(item)
	}
	return out
}
