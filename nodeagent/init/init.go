// Package nodeinit is PID 1 of a kindish node container. Nodes have no
// systemd: this package prepares the container for nested containers
// (writable cgroups, shared mount propagation, sysctls, a machine-id),
// supervises the node's services (containerd first, then the kubelet),
// imports the image archives baked into the node image, reaps the orphans
// that exited shims leave behind, and stops everything in order when Docker
// stops the container.
//
// The package lives in nodeagent/init but is named nodeinit because Go
// cannot import a package under the name init.
package nodeinit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/kindish/kindish/nodeagent/criclient"
)

// Config describes one node's init. DefaultConfig returns the values for a
// real node; every path is a field so that tests can run the supervisor in
// a temporary directory, without mounts and without being PID 1.
type Config struct {
	// LogDir receives <service>.log for each service's output and init.log,
	// a timestamped copy of the init's own lines.
	LogDir string
	// Stdout is the container log. The host side follows it with
	// `docker logs -f` and waits for the milestone lines.
	Stdout io.Writer

	// Boot steps. An empty path or list skips its step.

	// MountInfoPath lists the mounts that the cgroup and propagation steps fix.
	MountInfoPath string
	// CgroupRoot is where the cgroup controllers are mounted. Those mounted
	// read-only below it are remounted read-write, and on a cgroup v2 host
	// the node's processes move to a child group so that controllers can be
	// delegated to the pods' cgroups.
	CgroupRoot string
	// SharedMounts become recursively shared, in order, so that mounts made
	// by containerd and by Bidirectional hostPath volumes propagate. A path
	// that is not a mount point is first bind-mounted onto itself.
	SharedMounts []string
	// ProcSysDir is where Sysctls are written.
	ProcSysDir string
	Sysctls    []Sysctl
	// MachineIDPath gets a fresh random machine-id when it is missing or
	// empty: nodes made from one image must not share one.
	MachineIDPath string
	// DNS makes Docker's DNS reachable from pods.
	DNS DNSFix

	// Services start in order; each one with a readiness check must be
	// ready before the next starts.
	Services []Service
	// FilesCopied is the file the host writes once it has copied the
	// node's own files in (certificates, kubeconfigs, the kubelet's
	// flags). The host starts the node first and copies them while
	// containerd boots, so only what reads them waits: once FilesCopied
	// exists, NeedFiles returns those services (the kubelet), which start
	// after Services. A nil NeedFiles skips the wait.
	FilesCopied string
	NeedFiles   func() ([]Service, error)
	// Images are imported once the service they name in After is ready.
	Images ImageImport
	// ReadyTimeout bounds the wait for each service's readiness; a service
	// that never becomes ready fails the node.
	ReadyTimeout time.Duration
	// Backoff spaces the restarts of a service that keeps exiting.
	Backoff Backoff

	// StopTimeout bounds the whole shutdown. Docker sends SIGKILL 10 s
	// after SIGTERM by default, so stay below that.
	StopTimeout time.Duration
	// ServiceStopTimeout is how long each service gets between SIGTERM and
	// SIGKILL.
	ServiceStopTimeout time.Duration
}

// Service is a long-running process the init keeps running.
type Service struct {
	// Name names the log file, <LogDir>/<Name>.log, and the log lines.
	Name string
	// Path is also argv[0], so that ps shows the full path.
	Path string
	Args []string
	// Env replaces the init's environment when not nil.
	Env []string

	// Readiness checks; a service with neither counts as ready at once.

	// ReadySocket is a unix socket that must accept a connection.
	ReadySocket string
	// ReadyProbe must return nil; it is called after ReadySocket accepts.
	ReadyProbe func(ctx context.Context) error
}

func (s Service) hasReadyCheck() bool { return s.ReadySocket != "" || s.ReadyProbe != nil }

// Sysctl is a kernel parameter the node's pods need.
type Sysctl struct {
	// Name is dotted, as sysctl(8) spells it: net.ipv4.ip_forward.
	Name  string
	Value string
	// AtLeast keeps a larger current value. Such limits (fs.inotify.*) are
	// not namespaced: they are shared with the host and every other node,
	// so a node may raise them but never lowers them.
	AtLeast bool
	// Required fails the boot when the value cannot be written. Other
	// sysctls are logged and skipped: they are missing on some kernels.
	Required bool
}

// ImageImport loads the image archives shipped in the node image into
// containerd, because nothing can be pulled from a registry.
type ImageImport struct {
	// Dir holds the archives (*.tar, docker-save or OCI). Empty disables
	// the import.
	Dir string
	// After names the service (containerd) that must be ready first.
	After string
	// Ctr is the path of containerd's ctr client; Address is containerd's
	// socket and Namespace the one the CRI plugin reads (k8s.io).
	Ctr       string
	Address   string
	Namespace string
	// StateFile remembers which archives were imported, so that a restarted
	// node skips them. It must live on the same volume as containerd's
	// store, so that both survive or vanish together.
	StateFile string
}

// Backoff is the delay between restarts of a service: Initial, doubled at
// each consecutive exit up to Max, back to Initial once the service stayed
// up for ResetAfter.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	ResetAfter time.Duration
}

const (
	containerdSocket = "/run/containerd/containerd.sock"
	ctrPath          = "/usr/bin/ctr"
)

// FilesCopiedFile is the host's sign that a node's files are all in. It
// lives on the container's own file system, as the files do, so that a
// restarted node finds it and does not wait.
const FilesCopiedFile = "/kind/files-copied"

// DefaultConfig is the init of a real node, with containerd as its only
// service; callers set NeedFiles to run the kubelet.
func DefaultConfig() Config {
	return Config{
		LogDir:        "/var/log/kindish",
		Stdout:        os.Stdout,
		MountInfoPath: "/proc/self/mountinfo",
		CgroupRoot:    "/sys/fs/cgroup",
		// The kubelet's directory becomes a shared mount of its own, as the
		// upstream kubelet makes it at start, so that volumes mounted below
		// it propagate into the pods' mount namespaces.
		SharedMounts:  []string{"/", "/var/lib/kubelet"},
		ProcSysDir:    "/proc/sys",
		Sysctls:       DefaultSysctls(),
		MachineIDPath: "/etc/machine-id",
		DNS: DNSFix{
			ResolvConf:      "/etc/resolv.conf",
			RouteTable:      "/proc/net/route",
			IPTablesSave:    "/usr/sbin/iptables-nft-save",
			IPTablesRestore: "/usr/sbin/iptables-nft-restore",
		},
		Services:    []Service{ContainerdService()},
		FilesCopied: FilesCopiedFile,
		Images: ImageImport{
			Dir:       "/kind/images",
			After:     "containerd",
			Ctr:       ctrPath,
			Address:   containerdSocket,
			Namespace: "k8s.io",
			StateFile: "/var/lib/containerd/kindish-imported-images.json",
		},
		ReadyTimeout:       time.Minute,
		Backoff:            Backoff{Initial: time.Second, Max: 30 * time.Second, ResetAfter: time.Minute},
		StopTimeout:        8 * time.Second,
		ServiceStopTimeout: 2 * time.Second,
	}
}

// ContainerdService runs containerd as kind's containerd.service does:
// without arguments, so it reads /etc/containerd/config.toml and ps shows
// plain /usr/local/bin/containerd.
func ContainerdService() Service {
	return Service{
		Name:        "containerd",
		Path:        "/usr/local/bin/containerd",
		ReadySocket: containerdSocket,
		ReadyProbe:  criAnswers(containerdSocket),
	}
}

// criAnswers is a probe that asks the CRI runtime at socket for its
// version, as the kubelet's first call does: the socket alone accepts
// before the CRI plugin serves. It is a call from this process, not a
// client binary started for each probe, which cost a tenth of a CPU-second
// on a node that is booting.
func criAnswers(socket string) func(context.Context) error {
	return func(ctx context.Context) error {
		c, err := criclient.Dial(ctx, socket)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Version(ctx)
		return err
	}
}

// DefaultSysctls are the kernel parameters a node needs for pods.
func DefaultSysctls() []Sysctl {
	return []Sysctl{
		// Pods are routed, not bridged: without forwarding nothing leaves them.
		{Name: "net.ipv4.ip_forward", Value: "1", Required: true},
		// Service traffic between pods on one bridge must pass iptables;
		// the file exists only when br_netfilter is available.
		{Name: "net.bridge.bridge-nf-call-iptables", Value: "1"},
		// Docker's embedded DNS lives at 127.0.0.11; DNAT of pod traffic to a
		// loopback address needs route_localnet (kind sets it too).
		{Name: "net.ipv4.conf.all.route_localnet", Value: "1"},
		// A host with arp_ignore >= 2 drops ARP for the /32 addresses that
		// the ptp plugin gives pods (kind sets 0 for the same reason).
		{Name: "net.ipv4.conf.all.arp_ignore", Value: "0"},
		// Every node's kubelet, containerd and pods share the host's inotify
		// limits; the defaults run out with a few nodes (kind's known issue).
		{Name: "fs.inotify.max_user_watches", Value: "524288", AtLeast: true},
		{Name: "fs.inotify.max_user_instances", Value: "512", AtLeast: true},
	}
}

// Init is PID 1 of a node.
type Init struct {
	cfg Config
	log *logger
}

// New returns an Init for cfg. Zero durations take DefaultConfig's values
// and a nil Stdout means os.Stdout.
func New(cfg Config) *Init {
	def := DefaultConfig()
	if cfg.Stdout == nil {
		cfg.Stdout = os.Stdout
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = def.ReadyTimeout
	}
	if cfg.Backoff.Initial <= 0 {
		cfg.Backoff.Initial = def.Backoff.Initial
	}
	if cfg.Backoff.Max < cfg.Backoff.Initial {
		cfg.Backoff.Max = max(def.Backoff.Max, cfg.Backoff.Initial)
	}
	if cfg.Backoff.ResetAfter <= 0 {
		cfg.Backoff.ResetAfter = def.Backoff.ResetAfter
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = def.StopTimeout
	}
	if cfg.ServiceStopTimeout <= 0 {
		cfg.ServiceStopTimeout = def.ServiceStopTimeout
	}
	return &Init{cfg: cfg}
}

// Run boots the node, starts its services and keeps them running until ctx
// is cancelled (the caller cancels it on SIGTERM), then stops everything
// and returns nil. It returns an error when the node cannot come up; the
// services already started are stopped first.
//
// Only one Init may run in a process at a time: it reaps every child of
// the process.
func (in *Init) Run(ctx context.Context) error {
	if err := in.cfg.validate(); err != nil {
		return err
	}
	log, err := openLogger(in.cfg.Stdout, in.cfg.LogDir)
	if err != nil {
		return err
	}
	defer log.close()
	in.log = log

	if err := in.boot(); err != nil {
		return fmt.Errorf("boot: %w", err)
	}
	r, err := startReaper()
	if err != nil {
		return err
	}
	defer r.stop()

	sups, err := in.bringUp(ctx, r)
	if err == nil {
		<-ctx.Done()
	}
	in.shutdown(sups)
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// bringUp starts the services in order, waits for each one's readiness and
// imports the images once their runtime is ready; then, once the host has
// copied the node's files in, the services that need them. It returns the
// supervisors it started, also on error, so that they can be stopped.
func (in *Init) bringUp(ctx context.Context, r *reaper) ([]*supervisor, error) {
	var sups []*supervisor
	start := func(services []Service) error {
		for _, svc := range services {
			sup := newSupervisor(svc, in.cfg.LogDir, in.cfg.Backoff, r, in.log)
			go sup.run()
			sups = append(sups, sup)

			if svc.hasReadyCheck() {
				if err := waitReady(ctx, svc, in.cfg.ReadyTimeout); err != nil {
					return err
				}
				in.log.printf("%s is ready", svc.Name)
			}
			if in.cfg.Images.Dir != "" && svc.Name == in.cfg.Images.After {
				if err := in.importImages(ctx, r); err != nil {
					return fmt.Errorf("import images: %w", err)
				}
				in.log.printf("images imported")
			}
		}
		return nil
	}
	if err := start(in.cfg.Services); err != nil {
		return sups, err
	}
	if in.cfg.NeedFiles != nil {
		if err := in.waitForFiles(ctx); err != nil {
			return sups, err
		}
		services, err := in.cfg.NeedFiles()
		if err != nil {
			return sups, err
		}
		if err := start(services); err != nil {
			return sups, err
		}
	}
	in.log.printf("node is up")
	return sups, nil
}

// filesPollInterval spaces the looks for FilesCopied. The host copies the
// files while containerd boots, so the wait is usually over before it
// begins; a stat is all each look costs.
const filesPollInterval = 10 * time.Millisecond

// waitForFiles returns once FilesCopied exists. A node booted without a
// cluster waits for ever, running containerd alone.
func (in *Init) waitForFiles(ctx context.Context) error {
	if in.cfg.FilesCopied == "" {
		return nil
	}
	for logged := false; ; logged = true {
		_, err := os.Stat(in.cfg.FilesCopied)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("wait for the node's files: %w", err)
		}
		if !logged {
			in.log.printf("waiting for the node's files (%s)", in.cfg.FilesCopied)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(filesPollInterval):
		}
	}
}

func (cfg Config) validate() error {
	if cfg.LogDir == "" {
		return errors.New("config: LogDir is empty")
	}
	names := map[string]bool{}
	for _, svc := range cfg.Services {
		if svc.Name == "" || svc.Path == "" {
			return fmt.Errorf("config: service %q needs a name and a path", svc.Name)
		}
		if names[svc.Name] {
			return fmt.Errorf("config: two services are named %q", svc.Name)
		}
		names[svc.Name] = true
	}
	if cfg.Images.Dir != "" && !names[cfg.Images.After] {
		return fmt.Errorf("config: images are imported after service %q, which is not configured", cfg.Images.After)
	}
	return nil
}
