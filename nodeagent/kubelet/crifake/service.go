package crifake

import (
	"context"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Version reports containerd 1.6.20 speaking CRI v1.
func (r *Runtime) Version(context.Context, *runtimeapi.VersionRequest, ...grpc.CallOption) (*runtimeapi.VersionResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("Version"); err != nil {
		return nil, err
	}
	return &runtimeapi.VersionResponse{
		Version:           "0.1.0",
		RuntimeName:       "containerd",
		RuntimeVersion:    "v1.6.20",
		RuntimeApiVersion: "v1",
	}, nil
}

// Status reports the runtime ready and the network as SetNetworkReady left
// it, with containerd's reason and message when it is not.
func (r *Runtime) Status(context.Context, *runtimeapi.StatusRequest, ...grpc.CallOption) (*runtimeapi.StatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("Status"); err != nil {
		return nil, err
	}
	network := &runtimeapi.RuntimeCondition{Type: runtimeapi.NetworkReady, Status: true}
	if !r.networkReady {
		network.Status = false
		network.Reason = "NetworkPluginNotReady"
		network.Message = "Network plugin returns error: cni plugin not initialized"
	}
	return &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: true},
		network,
	}}}, nil
}

// UpdateRuntimeConfig sets the pod CIDR that sandboxes get addresses from.
func (r *Runtime) UpdateRuntimeConfig(_ context.Context, in *runtimeapi.UpdateRuntimeConfigRequest, _ ...grpc.CallOption) (*runtimeapi.UpdateRuntimeConfigResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("UpdateRuntimeConfig"); err != nil {
		return nil, err
	}
	if cidr := in.GetRuntimeConfig().GetNetworkConfig().GetPodCidr(); cidr != "" {
		if err := r.setPodCIDR(cidr); err != nil {
			return nil, err
		}
	}
	return &runtimeapi.UpdateRuntimeConfigResponse{}, nil
}

// UpdateContainerResources accepts any update without applying it.
func (r *Runtime) UpdateContainerResources(_ context.Context, in *runtimeapi.UpdateContainerResourcesRequest, _ ...grpc.CallOption) (*runtimeapi.UpdateContainerResourcesResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("UpdateContainerResources"); err != nil {
		return nil, err
	}
	if _, ok := r.containers[in.GetContainerId()]; !ok {
		return nil, notFound("container", in.GetContainerId())
	}
	return &runtimeapi.UpdateContainerResourcesResponse{}, nil
}

// ReopenContainerLog succeeds for a running container.
func (r *Runtime) ReopenContainerLog(_ context.Context, in *runtimeapi.ReopenContainerLogRequest, _ ...grpc.CallOption) (*runtimeapi.ReopenContainerLogResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("ReopenContainerLog"); err != nil {
		return nil, err
	}
	if _, ok := r.containers[in.GetContainerId()]; !ok {
		return nil, notFound("container", in.GetContainerId())
	}
	return &runtimeapi.ReopenContainerLogResponse{}, nil
}

// RuntimeConfig reports the cgroupfs driver, which kindish nodes use.
func (r *Runtime) RuntimeConfig(context.Context, *runtimeapi.RuntimeConfigRequest, ...grpc.CallOption) (*runtimeapi.RuntimeConfigResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.enter("RuntimeConfig"); err != nil {
		return nil, err
	}
	return &runtimeapi.RuntimeConfigResponse{Linux: &runtimeapi.LinuxRuntimeConfiguration{
		CgroupDriver: runtimeapi.CgroupDriver_CGROUPFS,
	}}, nil
}

// The streaming, stats and checkpoint calls are not faked: the pod runtime
// does not use them.

func (r *Runtime) Exec(context.Context, *runtimeapi.ExecRequest, ...grpc.CallOption) (*runtimeapi.ExecResponse, error) {
	return nil, unimplemented("Exec")
}

func (r *Runtime) Attach(context.Context, *runtimeapi.AttachRequest, ...grpc.CallOption) (*runtimeapi.AttachResponse, error) {
	return nil, unimplemented("Attach")
}

func (r *Runtime) PortForward(context.Context, *runtimeapi.PortForwardRequest, ...grpc.CallOption) (*runtimeapi.PortForwardResponse, error) {
	return nil, unimplemented("PortForward")
}

func (r *Runtime) ContainerStats(context.Context, *runtimeapi.ContainerStatsRequest, ...grpc.CallOption) (*runtimeapi.ContainerStatsResponse, error) {
	return nil, unimplemented("ContainerStats")
}

func (r *Runtime) ListContainerStats(context.Context, *runtimeapi.ListContainerStatsRequest, ...grpc.CallOption) (*runtimeapi.ListContainerStatsResponse, error) {
	return nil, unimplemented("ListContainerStats")
}

func (r *Runtime) PodSandboxStats(context.Context, *runtimeapi.PodSandboxStatsRequest, ...grpc.CallOption) (*runtimeapi.PodSandboxStatsResponse, error) {
	return nil, unimplemented("PodSandboxStats")
}

func (r *Runtime) ListPodSandboxStats(context.Context, *runtimeapi.ListPodSandboxStatsRequest, ...grpc.CallOption) (*runtimeapi.ListPodSandboxStatsResponse, error) {
	return nil, unimplemented("ListPodSandboxStats")
}

func (r *Runtime) CheckpointContainer(context.Context, *runtimeapi.CheckpointContainerRequest, ...grpc.CallOption) (*runtimeapi.CheckpointContainerResponse, error) {
	return nil, unimplemented("CheckpointContainer")
}

func (r *Runtime) ListMetricDescriptors(context.Context, *runtimeapi.ListMetricDescriptorsRequest, ...grpc.CallOption) (*runtimeapi.ListMetricDescriptorsResponse, error) {
	return nil, unimplemented("ListMetricDescriptors")
}

func (r *Runtime) ListPodSandboxMetrics(context.Context, *runtimeapi.ListPodSandboxMetricsRequest, ...grpc.CallOption) (*runtimeapi.ListPodSandboxMetricsResponse, error) {
	return nil, unimplemented("ListPodSandboxMetrics")
}

func (r *Runtime) UpdatePodSandboxResources(context.Context, *runtimeapi.UpdatePodSandboxResourcesRequest, ...grpc.CallOption) (*runtimeapi.UpdatePodSandboxResourcesResponse, error) {
	return nil, unimplemented("UpdatePodSandboxResources")
}

func (r *Runtime) StreamPodSandboxes(context.Context, *runtimeapi.StreamPodSandboxesRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[runtimeapi.StreamPodSandboxesResponse], error) {
	return nil, unimplemented("StreamPodSandboxes")
}

func (r *Runtime) StreamContainers(context.Context, *runtimeapi.StreamContainersRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[runtimeapi.StreamContainersResponse], error) {
	return nil, unimplemented("StreamContainers")
}

func (r *Runtime) StreamContainerStats(context.Context, *runtimeapi.StreamContainerStatsRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[runtimeapi.StreamContainerStatsResponse], error) {
	return nil, unimplemented("StreamContainerStats")
}

func (r *Runtime) StreamPodSandboxStats(context.Context, *runtimeapi.StreamPodSandboxStatsRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[runtimeapi.StreamPodSandboxStatsResponse], error) {
	return nil, unimplemented("StreamPodSandboxStats")
}

func (r *Runtime) StreamPodSandboxMetrics(context.Context, *runtimeapi.StreamPodSandboxMetricsRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[runtimeapi.StreamPodSandboxMetricsResponse], error) {
	return nil, unimplemented("StreamPodSandboxMetrics")
}

func (r *Runtime) GetContainerEvents(context.Context, *runtimeapi.GetEventsRequest, ...grpc.CallOption) (grpc.ServerStreamingClient[runtimeapi.ContainerEventResponse], error) {
	return nil, unimplemented("GetContainerEvents")
}
