package kuberuntime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ContainerState is a container's state as the kubelet sees it.
type ContainerState string

// The container states, as upstream's kubecontainer.
const (
	ContainerStateCreated ContainerState = "created"
	ContainerStateRunning ContainerState = "running"
	ContainerStateExited  ContainerState = "exited"
	ContainerStateUnknown ContainerState = "unknown"
)

// ContainerStatus is one container instance as the runtime reports it.
type ContainerStatus struct {
	// ID is the runtime's ID, without the "containerd://" prefix.
	ID    string
	Name  string
	State ContainerState
	// StartedAt is zero for a container that was never started.
	CreatedAt, StartedAt, FinishedAt time.Time
	ExitCode                         int
	// Reason is the runtime's (Completed, Error, OOMKilled); Message
	// includes the container's termination message.
	Reason, Message string
	// Image is the image as the runtime names it; ImageRef its digest (or
	// ID), the API's imageID.
	Image, ImageRef string
	// Hash and RestartCount come from the container's annotations.
	Hash         uint64
	RestartCount int
}

// PodStatus is a pod's state in the runtime.
type PodStatus struct {
	UID             types.UID
	Name, Namespace string
	// IPs are the newest sandbox's addresses while it is ready.
	IPs []string
	// Sandboxes are the pod's sandboxes, newest first.
	Sandboxes []*runtimeapi.PodSandboxStatus
	// Containers are all the pod's container instances, newest first.
	Containers []*ContainerStatus
}

// FindContainer returns the newest instance of the named container, or nil.
func (s *PodStatus) FindContainer(name string) *ContainerStatus {
	if s == nil {
		return nil
	}
	for _, c := range s.Containers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Limits on what a container's termination message holds, upstream's.
const (
	maxTerminationMessageLength    = 1024 * 4
	maxTerminationMessageLogLength = 1024 * 2
	maxTerminationMessageLogLines  = 80
)

// PodStatus reads the pod's sandboxes and containers from the runtime.
// Objects that vanish between listing and inspection are skipped, not
// errors.
func (m *Manager) PodStatus(ctx context.Context, uid types.UID, name, namespace string) (*PodStatus, error) {
	ps := &PodStatus{UID: uid, Name: name, Namespace: namespace}
	selector := map[string]string{LabelPodUID: string(uid)}

	sandboxes, err := m.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{LabelSelector: selector},
	})
	if err != nil {
		return nil, fmt.Errorf("list sandboxes of pod %s_%s: %w", name, namespace, err)
	}
	items := sandboxes.GetItems()
	sort.SliceStable(items, func(i, j int) bool { return items[i].GetCreatedAt() > items[j].GetCreatedAt() })
	for _, item := range items {
		resp, err := m.runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: item.GetId()})
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("status of sandbox %s: %w", item.GetId(), err)
		}
		if resp.GetStatus() == nil {
			return nil, fmt.Errorf("status of sandbox %s: runtime returned none", item.GetId())
		}
		ps.Sandboxes = append(ps.Sandboxes, resp.GetStatus())
	}
	if len(ps.Sandboxes) > 0 && ps.Sandboxes[0].GetState() == runtimeapi.PodSandboxState_SANDBOX_READY {
		ps.IPs = sandboxIPs(ps.Sandboxes[0])
	}

	containers, err := m.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{LabelSelector: selector},
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of pod %s_%s: %w", name, namespace, err)
	}
	for _, c := range containers.GetContainers() {
		resp, err := m.runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.GetId()})
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("status of container %s: %w", c.GetId(), err)
		}
		if resp.GetStatus() == nil {
			return nil, fmt.Errorf("status of container %s: runtime returned none", c.GetId())
		}
		ps.Containers = append(ps.Containers, m.convertContainerStatus(resp.GetStatus()))
	}
	sortNewestFirst(ps.Containers)
	return ps, nil
}

// sortNewestFirst orders container instances by creation, newest first;
// the restart count breaks ties between instances of one container.
func sortNewestFirst(cs []*ContainerStatus) {
	sort.SliceStable(cs, func(i, j int) bool {
		if !cs[i].CreatedAt.Equal(cs[j].CreatedAt) {
			return cs[i].CreatedAt.After(cs[j].CreatedAt)
		}
		return cs[i].RestartCount > cs[j].RestartCount
	})
}

func sandboxIPs(s *runtimeapi.PodSandboxStatus) []string {
	var ips []string
	if ip := s.GetNetwork().GetIp(); ip != "" {
		ips = append(ips, ip)
	}
	for _, extra := range s.GetNetwork().GetAdditionalIps() {
		if extra.GetIp() != "" {
			ips = append(ips, extra.GetIp())
		}
	}
	return ips
}

func toContainerState(s runtimeapi.ContainerState) ContainerState {
	switch s {
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		return ContainerStateCreated
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		return ContainerStateRunning
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		return ContainerStateExited
	default:
		return ContainerStateUnknown
	}
}

func (m *Manager) convertContainerStatus(s *runtimeapi.ContainerStatus) *ContainerStatus {
	labeled := containerInfoFromLabels(s.GetLabels())
	annotated := containerInfoFromAnnotations(s.GetAnnotations())
	imageRef := s.GetImageRef()
	cs := &ContainerStatus{
		ID:           s.GetId(),
		Name:         labeled.ContainerName,
		State:        toContainerState(s.GetState()),
		CreatedAt:    time.Unix(0, s.GetCreatedAt()),
		Image:        s.GetImage().GetImage(),
		ImageRef:     imageRef,
		Hash:         annotated.Hash,
		RestartCount: annotated.RestartCount,
	}
	if cs.Name == "" {
		cs.Name = s.GetMetadata().GetName()
	}
	if s.GetState() != runtimeapi.ContainerState_CONTAINER_CREATED {
		cs.StartedAt = time.Unix(0, s.GetStartedAt())
	}
	if s.GetState() != runtimeapi.ContainerState_CONTAINER_EXITED {
		return cs
	}
	cs.Reason = s.GetReason()
	cs.Message = s.GetMessage()
	cs.ExitCode = int(s.GetExitCode())
	cs.FinishedAt = time.Unix(0, s.GetFinishedAt())

	// A container that could not even start has no logs to fall back to.
	fallback := annotated.TerminationMessagePolicy == corev1.TerminationMessageFallbackToLogsOnError &&
		cs.ExitCode != 0 && cs.Reason != "ContainerCannotRun"
	msg, checkLogs := terminationMessage(s, annotated.TerminationMessagePath, fallback)
	if checkLogs {
		msg = logTail(s.GetLogPath())
	}
	if msg != "" {
		if cs.Message != "" {
			cs.Message += ": "
		}
		cs.Message += msg
	}
	return cs
}

// terminationMessage reads the file mounted at the container's
// terminationMessagePath, at most 4 KiB from its end. It reports whether
// the logs should be read instead: the file is missing or empty and the
// policy falls back to logs.
func terminationMessage(s *runtimeapi.ContainerStatus, path string, fallback bool) (string, bool) {
	if path == "" {
		return "", fallback
	}
	for _, mount := range s.GetMounts() {
		if mount.GetContainerPath() != path {
			continue
		}
		data, err := readAtMostFromEnd(mount.GetHostPath(), maxTerminationMessageLength)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fallback
			}
			return fmt.Sprintf("Error on reading termination log %s: %v", mount.GetHostPath(), err), false
		}
		return string(data), fallback && len(data) == 0
	}
	return "", fallback
}

func readAtMostFromEnd(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > max {
		if _, err := f.Seek(-max, io.SeekEnd); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(f)
}

// logTail returns the end of a container's CRI-format log: the content of
// its last 80 lines, at most 2 KiB, as upstream's FallbackToLogsOnError.
func logTail(path string) string {
	if path == "" {
		return ""
	}
	// The tail of 80 lines is within the last few hundred KiB of any log
	// a runtime keeps; reading more is wasted.
	data, err := readAtMostFromEnd(path, 512*1024)
	if err != nil {
		return fmt.Sprintf("Error on reading termination message from logs: %v", err)
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > maxTerminationMessageLogLines {
		lines = lines[len(lines)-maxTerminationMessageLogLines:]
	}
	var out []byte
	for _, line := range lines {
		content, full, ok := parseCRILogLine(line)
		if !ok {
			continue
		}
		out = append(out, content...)
		if full {
			out = append(out, '\n')
		}
	}
	if len(out) > maxTerminationMessageLogLength {
		out = out[len(out)-maxTerminationMessageLogLength:]
	}
	return string(out)
}

// parseCRILogLine splits "<time> <stream> <P|F> <content>" and reports the
// content and whether it ends a line (F) or continues on the next (P).
func parseCRILogLine(line []byte) ([]byte, bool, bool) {
	parts := bytes.SplitN(line, []byte(" "), 4)
	if len(parts) < 3 {
		return nil, false, false
	}
	var content []byte
	if len(parts) == 4 {
		content = parts[3]
	}
	tags := strings.Split(string(parts[2]), ":")
	return content, tags[0] != string(runtimeapi.LogTagPartial), true
}

// RuntimeObject is a sandbox or container as a runtime listing shows it.
type RuntimeObject struct {
	ID string
	// Name is the container's name; empty for sandboxes.
	Name  string
	State string
}

// RuntimePod is what the runtime holds for one pod UID.
type RuntimePod struct {
	UID             types.UID
	Name, Namespace string
	Sandboxes       []RuntimeObject
	Containers      []RuntimeObject
}

// ListPods lists the runtime's sandboxes and containers grouped by the pod
// UID in their labels. Objects without one were not made by a kubelet and
// are left out.
func (m *Manager) ListPods(ctx context.Context) (map[types.UID]*RuntimePod, error) {
	pods := map[types.UID]*RuntimePod{}
	get := func(uid types.UID, name, namespace string) *RuntimePod {
		p, ok := pods[uid]
		if !ok {
			p = &RuntimePod{UID: uid, Name: name, Namespace: namespace}
			pods[uid] = p
		}
		return p
	}
	sandboxes, err := m.runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	for _, s := range sandboxes.GetItems() {
		uid := types.UID(s.GetLabels()[LabelPodUID])
		if uid == "" {
			continue
		}
		p := get(uid, s.GetMetadata().GetName(), s.GetMetadata().GetNamespace())
		p.Sandboxes = append(p.Sandboxes, RuntimeObject{ID: s.GetId(), State: s.GetState().String()})
	}
	containers, err := m.runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range containers.GetContainers() {
		info := containerInfoFromLabels(c.GetLabels())
		if info.PodUID == "" {
			continue
		}
		p := get(info.PodUID, info.PodName, info.PodNamespace)
		p.Containers = append(p.Containers, RuntimeObject{ID: c.GetId(), Name: info.ContainerName, State: c.GetState().String()})
	}
	return pods, nil
}
