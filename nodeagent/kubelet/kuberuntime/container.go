package kuberuntime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The reasons a container is waiting after a failed start; they become
// the container's waiting reason in the pod status, as upstream's.
var (
	ErrCreateContainerConfig = errors.New("CreateContainerConfigError")
	ErrCreateContainer       = errors.New("CreateContainerError")
	ErrRunContainer          = errors.New("RunContainerError")
	ErrPostStartHook         = errors.New("PostStartHookError")
	ErrCrashLoopBackOff      = errors.New("CrashLoopBackOff")
)

// Event reasons about containers, upstream's (pkg/kubelet/events).
const (
	EventCreated             = "Created"
	EventStarted             = "Started"
	EventFailed              = "Failed"
	EventKilling             = "Killing"
	EventBackOff             = "BackOff"
	EventFailedPostStartHook = "FailedPostStartHook"
	EventFailedPreStopHook   = "FailedPreStopHook"
)

// The paths runc masks or makes read-only in /proc and /sys unless the
// container asks for an unmasked /proc, upstream's defaults.
var (
	defaultMaskedPaths = []string{
		"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap",
	}
	defaultReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// statusMessage is the text of a CRI error without gRPC's "rpc error:"
// prefix, which is what upstream shows in events and container states.
func statusMessage(err error) string {
	if s, ok := status.FromError(err); ok {
		return s.Message()
	}
	return err.Error()
}

// containerEnv resolves the container's environment.
func (m *Manager) containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIPs []string) ([]*runtimeapi.KeyValue, error) {
	if m.env != nil {
		return m.env.Env(ctx, pod, c, podIPs, m.nodeIP)
	}
	var env []*runtimeapi.KeyValue
	for _, e := range c.Env {
		env = append(env, &runtimeapi.KeyValue{Key: e.Name, Value: []byte(e.Value)})
	}
	return env, nil
}

// imageUser is the user the image runs as: a UID, else a user name, else
// root.
func (m *Manager) imageUser(ctx context.Context, imageRef string) (*int64, string, error) {
	resp, err := m.images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: imageRef}})
	if err != nil {
		return nil, "", fmt.Errorf("status of image %q: %w", imageRef, err)
	}
	if img := resp.GetImage(); img != nil {
		if img.GetUid() != nil {
			uid := img.GetUid().GetValue()
			return &uid, "", nil
		}
		if img.GetUsername() != "" {
			return nil, img.GetUsername(), nil
		}
	}
	return new(int64), "", nil
}

// effectiveSecurityContext merges the pod's security context into the
// container's, the container's fields winning.
func effectiveSecurityContext(pod *corev1.Pod, c *corev1.Container) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{}
	if psc := pod.Spec.SecurityContext; psc != nil {
		sc.SELinuxOptions = psc.SELinuxOptions
		sc.RunAsUser = psc.RunAsUser
		sc.RunAsGroup = psc.RunAsGroup
		sc.RunAsNonRoot = psc.RunAsNonRoot
		sc.SeccompProfile = psc.SeccompProfile
		sc.AppArmorProfile = psc.AppArmorProfile
	}
	csc := c.SecurityContext
	if csc == nil {
		return sc
	}
	if csc.SELinuxOptions != nil {
		sc.SELinuxOptions = csc.SELinuxOptions
	}
	if csc.RunAsUser != nil {
		sc.RunAsUser = csc.RunAsUser
	}
	if csc.RunAsGroup != nil {
		sc.RunAsGroup = csc.RunAsGroup
	}
	if csc.RunAsNonRoot != nil {
		sc.RunAsNonRoot = csc.RunAsNonRoot
	}
	if csc.SeccompProfile != nil {
		sc.SeccompProfile = csc.SeccompProfile
	}
	if csc.AppArmorProfile != nil {
		sc.AppArmorProfile = csc.AppArmorProfile
	}
	sc.Capabilities = csc.Capabilities
	sc.Privileged = csc.Privileged
	sc.ReadOnlyRootFilesystem = csc.ReadOnlyRootFilesystem
	sc.AllowPrivilegeEscalation = csc.AllowPrivilegeEscalation
	sc.ProcMount = csc.ProcMount
	return sc
}

// verifyRunAsNonRoot refuses a container that must not run as root but
// would, or whose user cannot be known to be non-root.
func verifyRunAsNonRoot(pod *corev1.Pod, c *corev1.Container, uid *int64, username string) error {
	sc := effectiveSecurityContext(pod, c)
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		return nil
	}
	if sc.RunAsUser != nil {
		if *sc.RunAsUser == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", FormatPod(pod), c.Name)
		}
		return nil
	}
	switch {
	case uid != nil && *uid == 0:
		return fmt.Errorf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", FormatPod(pod), c.Name)
	case uid == nil && username != "":
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)", username, FormatPod(pod), c.Name)
	}
	return nil
}

func (m *Manager) seccompProfile(sc *corev1.SecurityContext) (*runtimeapi.SecurityProfile, error) {
	p := sc.SeccompProfile
	if p == nil {
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, nil
	}
	switch p.Type {
	case corev1.SeccompProfileTypeRuntimeDefault:
		return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}, nil
	case corev1.SeccompProfileTypeLocalhost:
		if p.LocalhostProfile == nil || *p.LocalhostProfile == "" {
			return nil, errors.New("localhostProfile must be set if seccompProfile type is Localhost.")
		}
		return &runtimeapi.SecurityProfile{
			ProfileType:  runtimeapi.SecurityProfile_Localhost,
			LocalhostRef: filepath.Join(m.seccompRoot, *p.LocalhostProfile),
		}, nil
	}
	return &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}, nil
}

// containerSecurityContext is the container's Linux security context, as
// upstream's determineEffectiveSecurityContext.
func (m *Manager) containerSecurityContext(pod *corev1.Pod, c *corev1.Container, uid *int64, username string) (*runtimeapi.LinuxContainerSecurityContext, error) {
	sc := effectiveSecurityContext(pod, c)
	out := &runtimeapi.LinuxContainerSecurityContext{
		NamespaceOptions: namespacesFor(pod),
		MaskedPaths:      defaultMaskedPaths,
		ReadonlyPaths:    defaultReadonlyPaths,
	}
	if sc.ProcMount != nil && *sc.ProcMount == corev1.UnmaskedProcMount {
		out.MaskedPaths = []string{}
		out.ReadonlyPaths = []string{}
	}
	if caps := sc.Capabilities; caps != nil {
		out.Capabilities = &runtimeapi.Capability{}
		for _, a := range caps.Add {
			out.Capabilities.AddCapabilities = append(out.Capabilities.AddCapabilities, string(a))
		}
		for _, d := range caps.Drop {
			out.Capabilities.DropCapabilities = append(out.Capabilities.DropCapabilities, string(d))
		}
	}
	if o := sc.SELinuxOptions; o != nil {
		out.SelinuxOptions = &runtimeapi.SELinuxOption{User: o.User, Role: o.Role, Type: o.Type, Level: o.Level}
	}
	if sc.RunAsUser != nil {
		out.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
	} else {
		if uid != nil {
			out.RunAsUser = &runtimeapi.Int64Value{Value: *uid}
		}
		out.RunAsUsername = username
	}
	if sc.RunAsGroup != nil {
		out.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
	}
	if sc.Privileged != nil {
		out.Privileged = *sc.Privileged
	}
	if sc.ReadOnlyRootFilesystem != nil {
		out.ReadonlyRootfs = *sc.ReadOnlyRootFilesystem
	}
	// no_new_privs only when privilege escalation is explicitly refused.
	out.NoNewPrivs = sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.FSGroup != nil {
			out.SupplementalGroups = append(out.SupplementalGroups, *psc.FSGroup)
		}
		out.SupplementalGroups = append(out.SupplementalGroups, psc.SupplementalGroups...)
	}
	seccomp, err := m.seccompProfile(sc)
	if err != nil {
		return nil, err
	}
	out.Seccomp = seccomp
	return out, nil
}

// containerResources is the container's cgroup settings, as upstream's
// calculateLinuxResources: cpu.shares from the CPU request (the limit when
// only a limit is set; at least 2), a CFS quota from the CPU limit over a
// 100ms period, and the memory limit. The OOM score is left to the
// runtime, which clamps it anyway (restrict_oom_score_adj).
func containerResources(c *corev1.Container) *runtimeapi.LinuxContainerResources {
	var cpuRequest *resource.Quantity
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		cpuRequest = &q
	}
	cpuLimit := c.Resources.Limits.Cpu()
	r := &runtimeapi.LinuxContainerResources{}
	if cpuRequest == nil && !cpuLimit.IsZero() {
		r.CpuShares = milliCPUToShares(cpuLimit.MilliValue())
	} else {
		var milli int64
		if cpuRequest != nil {
			milli = cpuRequest.MilliValue()
		}
		r.CpuShares = milliCPUToShares(milli)
	}
	if mem := c.Resources.Limits.Memory().Value(); mem != 0 {
		r.MemoryLimitInBytes = mem
	}
	r.CpuPeriod = quotaPeriod
	r.CpuQuota = milliCPUToQuota(cpuLimit.MilliValue(), quotaPeriod)
	return r
}

var restartCountLogFile = regexp.MustCompile(`^(\d+)\.log(\..*)?`)

// restartCountFromLogs guesses a container's restart count from its log
// directory when the runtime lost its instances (a node reboot): one more
// than the highest <n>.log, so that logs are not overwritten.
func restartCountFromLogs(dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	count := 0
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		match := restartCountLogFile.FindStringSubmatch(e.Name())
		if match == nil {
			continue
		}
		n, err := strconv.Atoi(match[1])
		if err != nil {
			continue
		}
		count = max(count, n+1)
	}
	return count
}

// ContainerConfig builds a container's config. imageRef is the image as
// the runtime resolved it (its ID).
func (m *Manager) ContainerConfig(ctx context.Context, pod *corev1.Pod, c *corev1.Container, restartCount int, imageRef string, podIPs []string) (*runtimeapi.ContainerConfig, error) {
	var mounts []*runtimeapi.Mount
	if m.mounts != nil {
		if err := m.mounts.WriteEtcHosts(pod, podIPs); err != nil {
			return nil, err
		}
		var err error
		if mounts, err = m.mounts.Mounts(pod, c); err != nil {
			return nil, err
		}
	}
	env, err := m.containerEnv(ctx, pod, c, podIPs)
	if err != nil {
		return nil, err
	}
	uid, username, err := m.imageUser(ctx, imageRef)
	if err != nil {
		return nil, err
	}
	if err := verifyRunAsNonRoot(pod, c, uid, username); err != nil {
		return nil, err
	}
	sc, err := m.containerSecurityContext(pod, c, uid, username)
	if err != nil {
		return nil, err
	}
	logDir := filepath.Join(PodLogsDir(m.podLogsDir, pod.Namespace, pod.Name, pod.UID), c.Name)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("create container log directory for container %s failed: %w", c.Name, err)
	}
	command, args := expandCommandAndArgs(c.Command, c.Args, env)
	return &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: uint32(restartCount)},
		Image:       &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:     command,
		Args:        args,
		WorkingDir:  c.WorkingDir,
		Envs:        env,
		Mounts:      mounts,
		Labels:      containerLabels(pod, c),
		Annotations: containerAnnotations(pod, c, restartCount),
		LogPath:     containerLogPath(c.Name, restartCount),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       containerResources(c),
			SecurityContext: sc,
		},
	}, nil
}

// startContainer pulls the image, creates and starts the container and runs
// its postStart hook. On failure it returns the waiting reason and message.
func (m *Manager) startContainer(ctx context.Context, sandboxID string, sandboxConfig *runtimeapi.PodSandboxConfig, c *corev1.Container, pod *corev1.Pod, ps *PodStatus, podIPs []string) (string, error) {
	ref := containerRef(pod, c)
	imageRef, msg, err := m.ensureImage(ctx, pod, c, ref, sandboxConfig)
	if err != nil {
		m.event(ref, corev1.EventTypeWarning, EventFailed, "Error: "+statusMessage(err))
		return msg, err
	}

	restartCount := 0
	if prev := ps.FindContainer(c.Name); prev != nil {
		restartCount = prev.RestartCount + 1
	} else {
		restartCount = restartCountFromLogs(filepath.Join(PodLogsDir(m.podLogsDir, pod.Namespace, pod.Name, pod.UID), c.Name))
	}

	cfg, err := m.ContainerConfig(ctx, pod, c, restartCount, imageRef, podIPs)
	if err != nil {
		msg := statusMessage(err)
		m.event(ref, corev1.EventTypeWarning, EventFailed, "Error: "+msg)
		return msg, ErrCreateContainerConfig
	}
	created, err := m.runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  sandboxID,
		Config:        cfg,
		SandboxConfig: sandboxConfig,
	})
	if err != nil {
		msg := statusMessage(err)
		m.event(ref, corev1.EventTypeWarning, EventFailed, "Error: "+msg)
		return msg, ErrCreateContainer
	}
	id := created.GetContainerId()
	m.event(ref, corev1.EventTypeNormal, EventCreated, "Created container: "+c.Name)

	if _, err := m.runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		msg := statusMessage(err)
		m.event(ref, corev1.EventTypeWarning, EventFailed, "Error: "+msg)
		return msg, ErrRunContainer
	}
	m.event(ref, corev1.EventTypeNormal, EventStarted, "Started container "+c.Name)

	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		msg, err := m.runHook(ctx, pod, c, id, c.Lifecycle.PostStart, firstIP(podIPs))
		if err != nil {
			// The hook's output stays out of the event: it may hold secrets.
			m.event(ref, corev1.EventTypeWarning, EventFailedPostStartHook, "PostStartHook failed")
			if kerr := m.killContainer(ctx, pod, id, c.Name, "FailedPostStartHook", killReasonFailedPostStartHook, nil, firstIP(podIPs)); kerr != nil {
				m.log.Error("Kill container after its postStart hook failed", "pod", FormatPod(pod), "container", c.Name, "err", kerr)
			}
			return msg, ErrPostStartHook
		}
	}
	return "", nil
}

func firstIP(ips []string) string {
	if len(ips) == 0 {
		return ""
	}
	return ips[0]
}
