package crifake

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

type sandbox struct {
	id        string
	name      string // containerd's reserved name
	config    *runtimeapi.PodSandboxConfig
	handler   string
	state     runtimeapi.PodSandboxState
	createdAt int64
	ip        string
}

// sandboxName is containerd's name for a sandbox, which it reserves: a
// second sandbox with the same metadata is refused until the first is
// removed.
func sandboxName(m *runtimeapi.PodSandboxMetadata) string {
	return strings.Join([]string{m.GetName(), m.GetNamespace(), m.GetUid(), fmt.Sprint(m.GetAttempt())}, "_")
}

func (r *Runtime) reserve(kind, name, id string) error {
	if owner, ok := r.reservedNames[name]; ok {
		return status.Errorf(codes.Unknown, "failed to reserve %s name %q: name %q is reserved for %q", kind, name, name, owner)
	}
	r.reservedNames[name] = id
	return nil
}

func hostNetwork(cfg *runtimeapi.PodSandboxConfig) bool {
	return cfg.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE
}

// RunPodSandbox creates a ready sandbox. Pods on the pod network get the next
// address of the pod CIDR; host-network pods get none, as with containerd.
func (r *Runtime) RunPodSandbox(_ context.Context, in *runtimeapi.RunPodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.RunPodSandboxResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("RunPodSandbox"); err != nil {
		return nil, err
	}
	cfg := in.GetConfig()
	if cfg.GetMetadata() == nil {
		return nil, status.Error(codes.InvalidArgument, "sandbox config must include metadata")
	}
	if !hostNetwork(cfg) && !r.networkReady {
		return nil, status.Error(codes.Unknown, "failed to setup network for sandbox: cni plugin not initialized")
	}
	id := r.newID("sandbox")
	name := sandboxName(cfg.GetMetadata())
	if err := r.reserve("sandbox", name, id); err != nil {
		return nil, err
	}
	sb := &sandbox{
		id:        id,
		name:      name,
		config:    proto.Clone(cfg).(*runtimeapi.PodSandboxConfig),
		handler:   in.GetRuntimeHandler(),
		state:     runtimeapi.PodSandboxState_SANDBOX_READY,
		createdAt: r.now().UnixNano(),
	}
	if !hostNetwork(cfg) {
		ip, err := r.allocateIP()
		if err != nil {
			delete(r.reservedNames, name)
			return nil, status.Errorf(codes.Unknown, "failed to setup network for sandbox %q: %v", id, err)
		}
		sb.ip = ip
	}
	r.sandboxes[id] = sb
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: id}, nil
}

// StopPodSandbox kills the sandbox's containers at once, as containerd does,
// and marks it not ready.
func (r *Runtime) StopPodSandbox(_ context.Context, in *runtimeapi.StopPodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.StopPodSandboxResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("StopPodSandbox"); err != nil {
		return nil, err
	}
	sb, ok := r.sandboxes[in.GetPodSandboxId()]
	if !ok {
		return nil, notFound("sandbox", in.GetPodSandboxId())
	}
	for _, c := range r.containers {
		if c.sandboxID == sb.id && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
			r.exitLocked(c, 137, "")
		}
	}
	sb.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

// RemovePodSandbox removes a stopped sandbox and all its containers. Removing
// a sandbox that does not exist succeeds.
func (r *Runtime) RemovePodSandbox(_ context.Context, in *runtimeapi.RemovePodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.RemovePodSandboxResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("RemovePodSandbox"); err != nil {
		return nil, err
	}
	sb, ok := r.sandboxes[in.GetPodSandboxId()]
	if !ok {
		return &runtimeapi.RemovePodSandboxResponse{}, nil
	}
	if sb.state == runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil, status.Errorf(codes.Unknown, "sandbox container %q is not fully stopped", sb.id)
	}
	for id, c := range r.containers {
		if c.sandboxID == sb.id {
			delete(r.reservedNames, c.name)
			delete(r.containers, id)
		}
	}
	delete(r.reservedNames, sb.name)
	delete(r.sandboxes, sb.id)
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

func (sb *sandbox) status() *runtimeapi.PodSandboxStatus {
	cfg := sb.config
	st := &runtimeapi.PodSandboxStatus{
		Id:             sb.id,
		Metadata:       proto.Clone(cfg.GetMetadata()).(*runtimeapi.PodSandboxMetadata),
		State:          sb.state,
		CreatedAt:      sb.createdAt,
		Network:        &runtimeapi.PodSandboxNetworkStatus{Ip: sb.ip},
		Labels:         copyMap(cfg.GetLabels()),
		Annotations:    copyMap(cfg.GetAnnotations()),
		RuntimeHandler: sb.handler,
	}
	if opts := cfg.GetLinux().GetSecurityContext().GetNamespaceOptions(); opts != nil {
		st.Linux = &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{
			Options: proto.Clone(opts).(*runtimeapi.NamespaceOption),
		}}
	}
	return st
}

// PodSandboxStatus reports a sandbox's state, addresses and namespaces.
func (r *Runtime) PodSandboxStatus(_ context.Context, in *runtimeapi.PodSandboxStatusRequest, _ ...grpc.CallOption) (*runtimeapi.PodSandboxStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("PodSandboxStatus"); err != nil {
		return nil, err
	}
	sb, ok := r.sandboxes[in.GetPodSandboxId()]
	if !ok {
		return nil, notFound("sandbox", in.GetPodSandboxId())
	}
	return &runtimeapi.PodSandboxStatusResponse{Status: sb.status()}, nil
}

// ListPodSandbox lists sandboxes matching the filter's ID, state and labels,
// oldest first.
func (r *Runtime) ListPodSandbox(_ context.Context, in *runtimeapi.ListPodSandboxRequest, _ ...grpc.CallOption) (*runtimeapi.ListPodSandboxResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("ListPodSandbox"); err != nil {
		return nil, err
	}
	f := in.GetFilter()
	var items []*runtimeapi.PodSandbox
	for _, sb := range r.sortedSandboxes() {
		if f.GetId() != "" && f.GetId() != sb.id {
			continue
		}
		if f.GetState() != nil && f.GetState().GetState() != sb.state {
			continue
		}
		if !matchLabels(sb.config.GetLabels(), f.GetLabelSelector()) {
			continue
		}
		items = append(items, &runtimeapi.PodSandbox{
			Id:             sb.id,
			Metadata:       proto.Clone(sb.config.GetMetadata()).(*runtimeapi.PodSandboxMetadata),
			State:          sb.state,
			CreatedAt:      sb.createdAt,
			Labels:         copyMap(sb.config.GetLabels()),
			Annotations:    copyMap(sb.config.GetAnnotations()),
			RuntimeHandler: sb.handler,
		})
	}
	return &runtimeapi.ListPodSandboxResponse{Items: items}, nil
}

func (r *Runtime) sortedSandboxes() []*sandbox {
	out := make([]*sandbox, 0, len(r.sandboxes))
	for _, sb := range r.sandboxes {
		out = append(out, sb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].createdAt < out[j].createdAt })
	return out
}
