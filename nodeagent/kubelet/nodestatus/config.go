package nodestatus

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// Runtime is the part of the CRI runtime service the node status needs:
// readiness and version. runtimeapi.RuntimeServiceClient satisfies it.
type Runtime interface {
	Status(ctx context.Context, in *runtimeapi.StatusRequest, opts ...grpc.CallOption) (*runtimeapi.StatusResponse, error)
	Version(ctx context.Context, in *runtimeapi.VersionRequest, opts ...grpc.CallOption) (*runtimeapi.VersionResponse, error)
}

// Reservation is what allocatable holds back from capacity. Upstream
// subtracts kube-reserved, system-reserved and the hard eviction thresholds;
// only the thresholds have defaults there.
type Reservation struct {
	// Memory is subtracted from memory capacity (memory.available).
	Memory resource.Quantity
	// EphemeralStorageFraction of the ephemeral storage capacity is
	// subtracted from it (nodefs.available), between 0 and 1.
	EphemeralStorageFraction float64
}

// upstreamReservation is the kubelet's default evictionHard:
// memory.available<100Mi, nodefs.available<10%.
func upstreamReservation() Reservation {
	return Reservation{Memory: resource.MustParse("100Mi"), EphemeralStorageFraction: 0.10}
}

// Config is what a Manager needs from the kubelet.
type Config struct {
	// NodeName is the Node's name, and the Lease's.
	NodeName string
	// Hostname is the kubernetes.io/hostname label and the Hostname
	// address; empty means NodeName.
	Hostname string
	// Client talks to the API server.
	Client kubernetes.Interface
	// Labels are set on the Node besides the kubelet's own (hostname, os,
	// arch): node-role.kubernetes.io/control-plane="" on control planes and
	// the cluster config's labels. They win over the kubelet's own.
	Labels map[string]string
	// Taints are set on the Node when the kubelet creates it, never later,
	// so that taints removed or added by others afterwards stay so.
	Taints []corev1.Taint
	// InternalIP is the node's InternalIP address.
	InternalIP string
	// KubeletVersion is status.nodeInfo.kubeletVersion ("v1.36.4").
	KubeletVersion string
	// KubeletPort is the kubelet API's port, published in
	// status.daemonEndpoints; zero means 10250.
	KubeletPort int32
	// Runtime is the CRI runtime whose readiness makes the node Ready.
	Runtime Runtime
	// Machine is the machine's capacity and identity, from
	// MachineReader.Read on a real node.
	Machine MachineInfo
	// MaxPods is the pods capacity; zero means 110.
	MaxPods int
	// Reservation is held back from capacity in allocatable; nil means
	// upstream's default hard eviction thresholds.
	Reservation *Reservation

	// StatusUpdateFrequency is how often the status is computed and posted
	// when it changed; zero means 10s.
	StatusUpdateFrequency time.Duration
	// StatusReportFrequency is how often the status is posted although
	// nothing changed, the Lease being the heartbeat; zero means 5m.
	StatusReportFrequency time.Duration
	// LeaseDuration is the Lease's leaseDurationSeconds; zero means 40s.
	LeaseDuration time.Duration
	// LeaseRenewInterval is how often the Lease is renewed; zero means 10s.
	LeaseRenewInterval time.Duration
	// RuntimeCheckInterval is how often the runtime's readiness is asked;
	// zero means 5s. Until the runtime is first ready it is asked more often,
	// so that a new node turns Ready as soon as its network is configured.
	RuntimeCheckInterval time.Duration

	// Recorder receives the Node's events; nil records none.
	Recorder record.EventRecorder
	// Clock paces the loops and stamps heartbeats; nil means the real clock.
	Clock clock.WithTicker
	// Log receives failed attempts (they are retried); nil discards them.
	Log *slog.Logger
}

const (
	defaultMaxPods               = 110
	defaultKubeletPort           = 10250
	defaultStatusUpdateFrequency = 10 * time.Second
	defaultStatusReportFrequency = 5 * time.Minute
	defaultLeaseDuration         = 40 * time.Second
	defaultLeaseRenewInterval    = 10 * time.Second
	defaultRuntimeCheckInterval  = 5 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Hostname == "" {
		c.Hostname = c.NodeName
	}
	if c.KubeletPort == 0 {
		c.KubeletPort = defaultKubeletPort
	}
	if c.MaxPods == 0 {
		c.MaxPods = defaultMaxPods
	}
	if c.Reservation == nil {
		r := upstreamReservation()
		c.Reservation = &r
	}
	if c.StatusUpdateFrequency == 0 {
		c.StatusUpdateFrequency = defaultStatusUpdateFrequency
	}
	if c.StatusReportFrequency == 0 {
		c.StatusReportFrequency = defaultStatusReportFrequency
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = defaultLeaseDuration
	}
	if c.LeaseRenewInterval == 0 {
		c.LeaseRenewInterval = defaultLeaseRenewInterval
	}
	if c.RuntimeCheckInterval == 0 {
		c.RuntimeCheckInterval = defaultRuntimeCheckInterval
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.NodeName == "" {
		errs = append(errs, errors.New("no node name"))
	}
	if c.Client == nil {
		errs = append(errs, errors.New("no API client"))
	}
	if c.Runtime == nil {
		errs = append(errs, errors.New("no container runtime"))
	}
	if c.Machine.NumCPU <= 0 {
		errs = append(errs, errors.New("machine info: no CPUs"))
	}
	if c.Machine.MemoryBytes <= 0 {
		errs = append(errs, errors.New("machine info: no memory"))
	}
	if c.MaxPods < 0 {
		errs = append(errs, errors.New("negative max pods"))
	}
	if f := c.Reservation.EphemeralStorageFraction; f < 0 || f > 1 {
		errs = append(errs, errors.New("reserved ephemeral storage fraction out of [0, 1]"))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"status update frequency", c.StatusUpdateFrequency},
		{"status report frequency", c.StatusReportFrequency},
		{"lease duration", c.LeaseDuration},
		{"lease renew interval", c.LeaseRenewInterval},
		{"runtime check interval", c.RuntimeCheckInterval},
	} {
		if d.d < 0 {
			errs = append(errs, errors.New("negative "+d.name))
		}
	}
	return errors.Join(errs...)
}
