package crifake

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// Runtime is the fake runtime. Its zero value is not usable: call New.
type Runtime struct {
	mu    sync.Mutex
	clock clock.PassiveClock
	// last is the latest timestamp handed out: every new one is later, as
	// on a real machine, so that "newest first" orders are never ties.
	last time.Time
	seq  int

	sandboxes  map[string]*sandbox
	containers map[string]*container
	images     map[string]*image // by image ID

	// registry holds the images a pull finds, by normalized reference.
	registry   map[string]Image
	pullErrors map[string]error

	podCIDR netip.Prefix
	nextIP  netip.Addr

	networkReady  bool
	stopExitCode  int32
	exitOnStart   map[string]int32
	execHandler   func(containerID string, cmd []string) ExecResult
	execCalls     []ExecCall
	stopCalls     []StopCall
	calls         map[string]int
	failNext      map[string][]error
	failAlways    map[string]error
	reservedNames map[string]string
}

// New returns an empty runtime whose timestamps come from clk (the real
// clock when nil). Pods get addresses from 10.244.0.0/24, the network is
// ready, and a stopped container exits with 143, as a shell does on SIGTERM.
func New(clk clock.PassiveClock) *Runtime {
	if clk == nil {
		clk = clock.RealClock{}
	}
	r := &Runtime{
		clock:         clk,
		sandboxes:     map[string]*sandbox{},
		containers:    map[string]*container{},
		images:        map[string]*image{},
		registry:      map[string]Image{},
		pullErrors:    map[string]error{},
		networkReady:  true,
		stopExitCode:  143,
		exitOnStart:   map[string]int32{},
		calls:         map[string]int{},
		failNext:      map[string][]error{},
		failAlways:    map[string]error{},
		reservedNames: map[string]string{},
	}
	r.setPodCIDRLocked(netip.MustParsePrefix("10.244.0.0/24"))
	return r
}

// enter counts a call to method and returns the error injected for it, if
// any. The caller holds r.mu.
func (r *Runtime) enter(method string) error {
	r.calls[method]++
	if q := r.failNext[method]; len(q) > 0 {
		r.failNext[method] = q[1:]
		return q[0]
	}
	return r.failAlways[method]
}

// now returns the clock's time, nudged forward past the last stamp.
func (r *Runtime) now() time.Time {
	t := r.clock.Now()
	if !t.After(r.last) {
		t = r.last.Add(time.Nanosecond)
	}
	r.last = t
	return t
}

// newID returns a 64-hex-digit ID, as containerd's, derived from a counter.
func (r *Runtime) newID(kind string) string {
	r.seq++
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", kind, r.seq)))
	return hex.EncodeToString(sum[:])
}

func (r *Runtime) setPodCIDRLocked(p netip.Prefix) {
	r.podCIDR = p.Masked()
	// .1 is the bridge's, as with host-local IPAM.
	r.nextIP = r.podCIDR.Addr().Next().Next()
}

func (r *Runtime) allocateIP() (string, error) {
	ip := r.nextIP
	if !r.podCIDR.Contains(ip) {
		return "", fmt.Errorf("failed to allocate for range 0: no IP addresses available in range set: %s", r.podCIDR)
	}
	r.nextIP = ip.Next()
	return ip.String(), nil
}

func notFound(kind, id string) error {
	return status.Errorf(codes.NotFound, "an error occurred when try to find %s %q: not found", kind, id)
}

func unimplemented(method string) error {
	return status.Errorf(codes.Unimplemented, "method %s not implemented", method)
}

// matchLabels reports whether labels hold every pair of selector.
func matchLabels(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

var _ runtimeapi.RuntimeServiceClient = (*Runtime)(nil)
var _ runtimeapi.ImageServiceClient = (*Runtime)(nil)
