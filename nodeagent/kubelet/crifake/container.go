package crifake

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// containerd's reasons for an exited container.
const (
	reasonCompleted = "Completed"
	reasonError     = "Error"
	reasonOOMKilled = "OOMKilled"
)

type container struct {
	id        string
	sandboxID string
	name      string // containerd's reserved name
	config    *runtimeapi.ContainerConfig
	image     *image
	logPath   string

	state      runtimeapi.ContainerState
	createdAt  int64
	startedAt  int64
	finishedAt int64
	exitCode   int32
	reason     string
	message    string
}

func containerName(c *runtimeapi.ContainerMetadata, s *runtimeapi.PodSandboxMetadata) string {
	return strings.Join([]string{c.GetName(), s.GetName(), s.GetNamespace(), s.GetUid(), fmt.Sprint(c.GetAttempt())}, "_")
}

// exitLocked ends a container's process with code; reason defaults to
// containerd's Completed or Error.
func (r *Runtime) exitLocked(c *container, code int32, reason string) {
	if reason == "" {
		reason = reasonError
		if code == 0 {
			reason = reasonCompleted
		}
	}
	c.state = runtimeapi.ContainerState_CONTAINER_EXITED
	c.finishedAt = r.now().UnixNano()
	c.exitCode = code
	c.reason = reason
}

// CreateContainer creates a container in a ready sandbox from an image the
// runtime holds. Its log path is the sandbox's log directory joined with the
// config's log path, as containerd builds it.
func (r *Runtime) CreateContainer(_ context.Context, in *runtimeapi.CreateContainerRequest, _ ...grpc.CallOption) (*runtimeapi.CreateContainerResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("CreateContainer"); err != nil {
		return nil, err
	}
	cfg := in.GetConfig()
	if cfg.GetMetadata() == nil {
		return nil, status.Error(codes.InvalidArgument, "container config must include metadata")
	}
	sb, ok := r.sandboxes[in.GetPodSandboxId()]
	if !ok {
		return nil, notFound("sandbox", in.GetPodSandboxId())
	}
	if sb.state != runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil, status.Errorf(codes.Unknown, "sandbox %q is not ready", sb.id)
	}
	img := r.lookupImage(cfg.GetImage().GetImage())
	if img == nil {
		return nil, status.Errorf(codes.NotFound, "failed to resolve image %q: not found", cfg.GetImage().GetImage())
	}
	id := r.newID("container")
	name := containerName(cfg.GetMetadata(), sb.config.GetMetadata())
	if err := r.reserve("container", name, id); err != nil {
		return nil, err
	}
	c := &container{
		id:        id,
		sandboxID: sb.id,
		name:      name,
		config:    proto.Clone(cfg).(*runtimeapi.ContainerConfig),
		image:     img,
		state:     runtimeapi.ContainerState_CONTAINER_CREATED,
		createdAt: r.now().UnixNano(),
	}
	if cfg.GetLogPath() != "" {
		c.logPath = filepath.Join(sb.config.GetLogDirectory(), cfg.GetLogPath())
	}
	r.containers[id] = c
	return &runtimeapi.CreateContainerResponse{ContainerId: id}, nil
}

// StartContainer runs a created container. A container named in ExitOnStart
// exits at once with the code given there.
func (r *Runtime) StartContainer(_ context.Context, in *runtimeapi.StartContainerRequest, _ ...grpc.CallOption) (*runtimeapi.StartContainerResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("StartContainer"); err != nil {
		return nil, err
	}
	c, ok := r.containers[in.GetContainerId()]
	if !ok {
		return nil, notFound("container", in.GetContainerId())
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_CREATED {
		return nil, status.Errorf(codes.Unknown, "container is in %s state", c.state)
	}
	if sb := r.sandboxes[c.sandboxID]; sb == nil || sb.state != runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil, status.Errorf(codes.Unknown, "sandbox container %q is not running", c.sandboxID)
	}
	c.state = runtimeapi.ContainerState_CONTAINER_RUNNING
	c.startedAt = r.now().UnixNano()
	if code, ok := r.exitOnStart[c.config.GetMetadata().GetName()]; ok {
		r.exitLocked(c, code, "")
	}
	return &runtimeapi.StartContainerResponse{}, nil
}

// StopContainer ends a running container with the configured stop exit
// code, and records the timeout it was given.
func (r *Runtime) StopContainer(_ context.Context, in *runtimeapi.StopContainerRequest, _ ...grpc.CallOption) (*runtimeapi.StopContainerResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("StopContainer"); err != nil {
		return nil, err
	}
	c, ok := r.containers[in.GetContainerId()]
	if !ok {
		return nil, notFound("container", in.GetContainerId())
	}
	r.stopCalls = append(r.stopCalls, StopCall{ContainerID: c.id, Name: c.config.GetMetadata().GetName(), Timeout: in.GetTimeout()})
	if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
		r.exitLocked(c, r.stopExitCode, "")
	}
	return &runtimeapi.StopContainerResponse{}, nil
}

// RemoveContainer kills the container if it runs and forgets it. Removing a
// container that does not exist succeeds, as with containerd.
func (r *Runtime) RemoveContainer(_ context.Context, in *runtimeapi.RemoveContainerRequest, _ ...grpc.CallOption) (*runtimeapi.RemoveContainerResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("RemoveContainer"); err != nil {
		return nil, err
	}
	c, ok := r.containers[in.GetContainerId()]
	if !ok {
		return &runtimeapi.RemoveContainerResponse{}, nil
	}
	delete(r.reservedNames, c.name)
	delete(r.containers, c.id)
	return &runtimeapi.RemoveContainerResponse{}, nil
}

// ListContainers lists containers matching the filter's ID, state, sandbox
// and labels, oldest first.
func (r *Runtime) ListContainers(_ context.Context, in *runtimeapi.ListContainersRequest, _ ...grpc.CallOption) (*runtimeapi.ListContainersResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("ListContainers"); err != nil {
		return nil, err
	}
	f := in.GetFilter()
	var out []*runtimeapi.Container
	for _, c := range r.sortedContainers() {
		if f.GetId() != "" && f.GetId() != c.id {
			continue
		}
		if f.GetState() != nil && f.GetState().GetState() != c.state {
			continue
		}
		if f.GetPodSandboxId() != "" && f.GetPodSandboxId() != c.sandboxID {
			continue
		}
		if !matchLabels(c.config.GetLabels(), f.GetLabelSelector()) {
			continue
		}
		out = append(out, &runtimeapi.Container{
			Id:           c.id,
			PodSandboxId: c.sandboxID,
			Metadata:     proto.Clone(c.config.GetMetadata()).(*runtimeapi.ContainerMetadata),
			Image:        proto.Clone(c.config.GetImage()).(*runtimeapi.ImageSpec),
			ImageRef:     c.image.id,
			ImageId:      c.image.id,
			State:        c.state,
			CreatedAt:    c.createdAt,
			Labels:       copyMap(c.config.GetLabels()),
			Annotations:  copyMap(c.config.GetAnnotations()),
		})
	}
	return &runtimeapi.ListContainersResponse{Containers: out}, nil
}

func (r *Runtime) sortedContainers() []*container {
	out := make([]*container, 0, len(r.containers))
	for _, c := range r.containers {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].createdAt < out[j].createdAt })
	return out
}

// status reports the container as containerd does: the image by its first
// tag, the image reference by its first repo digest (the ID when it has
// none).
func (c *container) status() *runtimeapi.ContainerStatus {
	st := &runtimeapi.ContainerStatus{
		Id:          c.id,
		Metadata:    proto.Clone(c.config.GetMetadata()).(*runtimeapi.ContainerMetadata),
		State:       c.state,
		CreatedAt:   c.createdAt,
		StartedAt:   c.startedAt,
		FinishedAt:  c.finishedAt,
		ExitCode:    c.exitCode,
		Image:       &runtimeapi.ImageSpec{Image: c.image.displayName(c.config.GetImage().GetImage())},
		ImageRef:    c.image.digestRef(),
		ImageId:     c.image.id,
		Reason:      c.reason,
		Message:     c.message,
		Labels:      copyMap(c.config.GetLabels()),
		Annotations: copyMap(c.config.GetAnnotations()),
		LogPath:     c.logPath,
	}
	for _, m := range c.config.GetMounts() {
		st.Mounts = append(st.Mounts, proto.Clone(m).(*runtimeapi.Mount))
	}
	return st
}

// ContainerStatus reports one container.
func (r *Runtime) ContainerStatus(_ context.Context, in *runtimeapi.ContainerStatusRequest, _ ...grpc.CallOption) (*runtimeapi.ContainerStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("ContainerStatus"); err != nil {
		return nil, err
	}
	c, ok := r.containers[in.GetContainerId()]
	if !ok {
		return nil, notFound("container", in.GetContainerId())
	}
	return &runtimeapi.ContainerStatusResponse{Status: c.status()}, nil
}

// ExecSync runs a command in a running container through the handler set
// with SetExecHandler; without one the command succeeds with no output.
func (r *Runtime) ExecSync(_ context.Context, in *runtimeapi.ExecSyncRequest, _ ...grpc.CallOption) (*runtimeapi.ExecSyncResponse, error) {
	r.mu.Lock()
	if err := r.enter("ExecSync"); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	c, ok := r.containers[in.GetContainerId()]
	if !ok {
		r.mu.Unlock()
		return nil, notFound("container", in.GetContainerId())
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		r.mu.Unlock()
		return nil, status.Errorf(codes.Unknown, "container is in %s state", c.state)
	}
	cmd := append([]string(nil), in.GetCmd()...)
	r.execCalls = append(r.execCalls, ExecCall{ContainerID: c.id, Name: c.config.GetMetadata().GetName(), Cmd: cmd, Timeout: in.GetTimeout()})
	handler := r.execHandler
	r.mu.Unlock()

	// The handler runs unlocked: it may call back into the runtime, to make
	// the container exit for instance.
	if handler == nil {
		return &runtimeapi.ExecSyncResponse{}, nil
	}
	res := handler(in.GetContainerId(), cmd)
	if res.Err != nil {
		return nil, res.Err
	}
	return &runtimeapi.ExecSyncResponse{Stdout: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode}, nil
}
