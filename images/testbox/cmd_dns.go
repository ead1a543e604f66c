package testbox

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
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
	fs := newFlagSet(p, "dns-lookup NAME [--type TYPE]", `Resolve NAME through /etc/resolv.conf, search list included, as a pod's
programs do, and print the answers one a line. PTR takes an IP as NAME.`)
	typ := fs.String("type", "HOST", "record type: "+strings.Join(knownRecordTypes(), ", ")+"; HOST is A and AAAA, as getent hosts")
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
