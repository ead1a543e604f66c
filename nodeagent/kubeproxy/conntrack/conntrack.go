// Package conntrack clears conntrack entries that would outlive the rules
// they came from, as upstream's pkg/proxy/conntrack does for UDP. UDP has
// no connection to end: a client that keeps sending keeps its conntrack
// entry alive, and with it the DNAT to an endpoint that is gone, or the
// "no endpoint" verdict of a service that now has some. TCP needs nothing:
// its entries die with the connection, and established connections must
// survive a resync untouched.
//
// It drives the conntrack(8) binary, as upstream did before it moved to
// netlink.
package conntrack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/nodeagent/kubeproxy/servicemap"
)

// noEntriesDeleted is how conntrack reports a filter that matched nothing,
// with a non-zero exit: not an error here.
const noEntriesDeleted = "0 flow entries have been deleted"

// Executor runs programs.
type Executor interface {
	LookPath(file string) (string, error)
	Run(ctx context.Context, stdin []byte, path string, args ...string) ([]byte, error)
}

// Deletion is one "conntrack -D" filter.
type Deletion []string

func (d Deletion) String() string { return strings.Join(d, " ") }

// StaleEntries compares what the rules sent traffic to before (prev) and
// now (cur) and returns the UDP entries to delete:
//   - for an endpoint that stopped serving, entries DNATed to it through
//     the service's ClusterIP or NodePort;
//   - for a service port that went from no serving endpoint to some, or
//     that is gone, entries for its ClusterIP and NodePort, which may hold
//     the REJECT of the time it had none.
func StaleEntries(prev, cur servicemap.Snapshot) []Deletion {
	var dels []Deletion
	for name, svc := range prev.Services {
		if _, ok := cur.Services[name]; !ok && name.Protocol == corev1.ProtocolUDP {
			dels = append(dels, serviceEntries(svc)...)
		}
	}
	for name, eps := range cur.Endpoints {
		if name.Protocol != corev1.ProtocolUDP || serving(eps) == 0 || serving(prev.Endpoints[name]) > 0 {
			continue
		}
		if svc, ok := cur.Services[name]; ok {
			dels = append(dels, serviceEntries(svc)...)
		}
	}
	for name, eps := range prev.Endpoints {
		svc, ok := cur.Services[name]
		if !ok || name.Protocol != corev1.ProtocolUDP {
			continue
		}
		for _, ep := range eps {
			if !ep.Serving || stillServing(cur.Endpoints[name], ep) {
				continue
			}
			ip := ep.IP.String()
			if svc.NodePort != 0 {
				dels = append(dels, Deletion{"-D", "-p", "udp", "--dport", strconv.Itoa(svc.NodePort), "--dst-nat", ip})
			}
			dels = append(dels, Deletion{"-D", "--orig-dst", svc.ClusterIP.String(), "--dst-nat", ip, "-p", "udp"})
		}
	}
	slices.SortFunc(dels, func(a, b Deletion) int { return strings.Compare(a.String(), b.String()) })
	return slices.CompactFunc(dels, func(a, b Deletion) bool { return a.String() == b.String() })
}

func serviceEntries(svc servicemap.ServicePort) []Deletion {
	dels := []Deletion{{"-D", "--orig-dst", svc.ClusterIP.String(), "-p", "udp", "--dport", strconv.Itoa(svc.Port)}}
	if svc.NodePort != 0 {
		dels = append(dels, Deletion{"-D", "-p", "udp", "--dport", strconv.Itoa(svc.NodePort)})
	}
	return dels
}

func serving(eps []servicemap.Endpoint) int {
	n := 0
	for _, ep := range eps {
		if ep.Serving {
			n++
		}
	}
	return n
}

// stillServing says whether ep is still there with the same serving state.
func stillServing(eps []servicemap.Endpoint, ep servicemap.Endpoint) bool {
	for _, e := range eps {
		if e.String() == ep.String() && e.Serving == ep.Serving {
			return true
		}
	}
	return false
}

// Cleaner deletes conntrack entries with the conntrack binary.
type Cleaner struct {
	exec Executor
	path string
}

// New finds the conntrack binary. Without it, stale UDP entries stay until
// they time out (30 s without traffic, 120 s for a stream).
func New(e Executor) (*Cleaner, error) {
	path, err := e.LookPath("conntrack")
	if err != nil {
		// The netfilter layer of kube-proxy's image has it in /usr/sbin,
		// whatever PATH the container got.
		var errSbin error
		if path, errSbin = e.LookPath("/usr/sbin/conntrack"); errSbin != nil {
			return nil, fmt.Errorf("find conntrack: %w", errors.Join(err, errSbin))
		}
	}
	return &Cleaner{exec: e, path: path}, nil
}

// Delete runs one conntrack -D per deletion; a filter that matches nothing
// is fine. It tries them all and reports every failure.
func (c *Cleaner) Delete(ctx context.Context, dels []Deletion) error {
	var errs []error
	for _, d := range dels {
		if _, err := c.exec.Run(ctx, nil, c.path, d...); err != nil && !strings.Contains(err.Error(), noEntriesDeleted) {
			errs = append(errs, fmt.Errorf("conntrack %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}
