package crifake

import (
	"fmt"
	"net/netip"
	"time"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ExecResult is what a scripted ExecSync returns. A non-nil Err fails the
// call itself; otherwise the command ran and exited with ExitCode.
type ExecResult struct {
	Stdout, Stderr []byte
	ExitCode       int32
	Err            error
}

// ExecCall is one ExecSync the runtime received.
type ExecCall struct {
	ContainerID string
	// Name is the container's name in its pod.
	Name    string
	Cmd     []string
	Timeout int64
}

// StopCall is one StopContainer the runtime received.
type StopCall struct {
	ContainerID string
	Name        string
	// Timeout is the grace period in seconds.
	Timeout int64
}

// SandboxRecord is a copy of a sandbox's state.
type SandboxRecord struct {
	ID             string
	State          runtimeapi.PodSandboxState
	Config         *runtimeapi.PodSandboxConfig
	RuntimeHandler string
	IP             string
	CreatedAt      time.Time
}

// ContainerRecord is a copy of a container's state.
type ContainerRecord struct {
	ID        string
	SandboxID string
	// Name and Attempt are the container's metadata.
	Name       string
	Attempt    uint32
	State      runtimeapi.ContainerState
	Config     *runtimeapi.ContainerConfig
	ImageID    string
	LogPath    string
	ExitCode   int32
	Reason     string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

// AddImage stores an image as if it had been pulled or imported, and
// returns its ID.
func (r *Runtime) AddImage(img Image) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	stored := newImage(img)
	r.images[stored.id] = stored
	return stored.id
}

// SetPullable makes a pull of any of img's tags succeed and store img.
func (r *Runtime) SetPullable(img Image) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range img.RepoTags {
		r.registry[Normalize(t)] = img
	}
}

// SetPullError makes pulls of ref fail with err; a nil err removes the rule.
func (r *Runtime) SetPullError(ref string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		delete(r.pullErrors, Normalize(ref))
		return
	}
	r.pullErrors[Normalize(ref)] = err
}

// SetNetworkReady sets the network condition of Status; while it is false,
// sandboxes on the pod network fail to start.
func (r *Runtime) SetNetworkReady(ready bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.networkReady = ready
}

// SetPodCIDR sets the range new sandboxes get addresses from.
func (r *Runtime) SetPodCIDR(cidr string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.setPodCIDR(cidr)
}

func (r *Runtime) setPodCIDR(cidr string) error {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return fmt.Errorf("parse pod CIDR %q: %w", cidr, err)
	}
	r.setPodCIDRLocked(p)
	return nil
}

// SetStopExitCode sets the code a container exits with when stopped.
func (r *Runtime) SetStopExitCode(code int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopExitCode = code
}

// ExitOnStart makes every start of a container with this name (in any pod)
// end at once with code, as a program that fails on startup.
func (r *Runtime) ExitOnStart(name string, code int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exitOnStart[name] = code
}

// ClearExitOnStart lets containers with this name run again.
func (r *Runtime) ClearExitOnStart(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.exitOnStart, name)
}

// ExitContainer makes a running container exit with code.
func (r *Runtime) ExitContainer(id string, code int32) error {
	return r.exit(id, code, "")
}

// OOMKill makes a running container exit as the OOM killer ends it.
func (r *Runtime) OOMKill(id string) error {
	return r.exit(id, 137, reasonOOMKilled)
}

func (r *Runtime) exit(id string, code int32, reason string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return fmt.Errorf("container %q: not found", id)
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return fmt.Errorf("container %q is in %s state", id, c.state)
	}
	r.exitLocked(c, code, reason)
	return nil
}

// SetExecHandler scripts ExecSync. The handler runs without the runtime's
// lock held, so it may call the runtime.
func (r *Runtime) SetExecHandler(h func(containerID string, cmd []string) ExecResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.execHandler = h
}

// ExecCalls returns the ExecSync calls received so far, in order.
func (r *Runtime) ExecCalls() []ExecCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ExecCall(nil), r.execCalls...)
}

// StopCalls returns the StopContainer calls received so far, in order.
func (r *Runtime) StopCalls() []StopCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]StopCall(nil), r.stopCalls...)
}

// FailNext makes the next call to method (a CRI method name such as
// "CreateContainer") fail with err. Calls queue up: two FailNext fail two
// calls.
func (r *Runtime) FailNext(method string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failNext[method] = append(r.failNext[method], err)
}

// SetError makes every call to method fail with err until SetError is
// called again with nil.
func (r *Runtime) SetError(method string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		delete(r.failAlways, method)
		return
	}
	r.failAlways[method] = err
}

// Calls returns how many times method was called, failed calls included.
func (r *Runtime) Calls(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[method]
}

// ResetCalls zeroes the call counters and the exec and stop logs.
func (r *Runtime) ResetCalls() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = map[string]int{}
	r.execCalls = nil
	r.stopCalls = nil
}

// Sandboxes returns copies of all sandboxes, oldest first.
func (r *Runtime) Sandboxes() []SandboxRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []SandboxRecord
	for _, sb := range r.sortedSandboxes() {
		out = append(out, SandboxRecord{
			ID:             sb.id,
			State:          sb.state,
			Config:         proto.Clone(sb.config).(*runtimeapi.PodSandboxConfig),
			RuntimeHandler: sb.handler,
			IP:             sb.ip,
			CreatedAt:      time.Unix(0, sb.createdAt),
		})
	}
	return out
}

// Containers returns copies of all containers, oldest first.
func (r *Runtime) Containers() []ContainerRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ContainerRecord
	for _, c := range r.sortedContainers() {
		out = append(out, c.record())
	}
	return out
}

// PodContainers returns copies of the containers of the pod with this UID
// (by the io.kubernetes.pod.uid label) named name, oldest first; an empty
// name matches all.
func (r *Runtime) PodContainers(podUID, name string) []ContainerRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ContainerRecord
	for _, c := range r.sortedContainers() {
		if c.config.GetLabels()["io.kubernetes.pod.uid"] != podUID {
			continue
		}
		if name != "" && c.config.GetMetadata().GetName() != name {
			continue
		}
		out = append(out, c.record())
	}
	return out
}

func (c *container) record() ContainerRecord {
	rec := ContainerRecord{
		ID:        c.id,
		SandboxID: c.sandboxID,
		Name:      c.config.GetMetadata().GetName(),
		Attempt:   c.config.GetMetadata().GetAttempt(),
		State:     c.state,
		Config:    proto.Clone(c.config).(*runtimeapi.ContainerConfig),
		ImageID:   c.image.id,
		LogPath:   c.logPath,
		ExitCode:  c.exitCode,
		Reason:    c.reason,
		CreatedAt: time.Unix(0, c.createdAt),
	}
	if c.startedAt != 0 {
		rec.StartedAt = time.Unix(0, c.startedAt)
	}
	if c.finishedAt != 0 {
		rec.FinishedAt = time.Unix(0, c.finishedAt)
	}
	return rec
}
