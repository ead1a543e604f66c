package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/kindish/kindish/nodeagent/kubelet/logs"
)

const (
	// The labels the kubelet puts on every container it creates, as
	// upstream's kuberuntime.
	podUIDLabel        = "io.kubernetes.pod.uid"
	containerNameLabel = "io.kubernetes.container.name"

	// runtimeName prefixes container IDs in messages, as in a pod's
	// status: containerd is the node's only runtime.
	runtimeName = "containerd"
)

// containerLogs serves GET /containerLogs/<namespace>/<pod>/<container>,
// with upstream's statuses and messages.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	podName, containerName := r.PathValue("pod"), r.PathValue("container")
	query := r.URL.Query()
	// "tail" is the older name of tailLines; "all" means every line.
	if tail := query.Get("tail"); tail != "" {
		query["tailLines"] = []string{tail}
		if tail == "all" {
			delete(query, "tailLines")
		}
	}
	opts, err := decodeLogOptions(query)
	if err != nil {
		s.log.Debug("decode container log query", "query", r.URL.RawQuery, "err", err)
		writeText(w, http.StatusBadRequest, `{"message": "Unable to decode query."}`)
		return
	}
	if err := validateLogOptions(opts); err != nil {
		s.log.Debug("invalid container log query", "query", r.URL.RawQuery, "err", err)
		writeText(w, http.StatusUnprocessableEntity, `{"message": "Invalid request."}`)
		return
	}
	pod, ok := s.cfg.Pods.GetPodByName(r.PathValue("namespace"), podName)
	if !ok {
		writeText(w, http.StatusNotFound, fmt.Sprintf("pod %q does not exist", podName))
		return
	}
	if containerSpec(pod, containerName) == nil {
		writeText(w, http.StatusNotFound, fmt.Sprintf("container %q not found in pod %q", containerName, podName))
		return
	}

	ctx := r.Context()
	c, err := s.logContainer(ctx, pod, containerName, opts.Previous)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	path, err := s.logPath(ctx, pod, c)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	f, err := logs.Open(path)
	if err != nil {
		writeText(w, http.StatusBadRequest, err.Error())
		return
	}
	defer f.Close()

	out := &flushWriter{w: w, rc: http.NewResponseController(w)}
	var stdout, stderr io.Writer = out, out
	if opts.Stream != nil {
		switch *opts.Stream {
		case corev1.LogStreamStdout:
			stderr = nil
		case corev1.LogStreamStderr:
			stdout = nil
		}
	}
	readOpts := logs.NewOptions(opts, time.Now())
	readOpts.Running = func(ctx context.Context) (bool, error) { return s.isRunning(ctx, c.Id) }
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// Send the headers now, as upstream's empty first write does: a
	// follower of a quiet container sees the stream open.
	if _, err := out.Write(nil); err != nil {
		return
	}
	if err := f.Copy(ctx, readOpts, stdout, stderr); err != nil && ctx.Err() == nil {
		// The status is sent; upstream appends the error to the body.
		s.log.Warn("read container log", "pod", pod.Namespace+"/"+pod.Name, "container", containerName, "err", err)
		_, _ = io.WriteString(out, err.Error())
	}
}

// decodeLogOptions reads PodLogOptions from a query with the conversions
// the API machinery uses for query parameters: a boolean is true unless it
// is "false" or "0".
func decodeLogOptions(q url.Values) (*corev1.PodLogOptions, error) {
	opts := &corev1.PodLogOptions{Container: q.Get("container")}
	bools := map[string]*bool{
		"follow":                       &opts.Follow,
		"previous":                     &opts.Previous,
		"timestamps":                   &opts.Timestamps,
		"insecureSkipTLSVerifyBackend": &opts.InsecureSkipTLSVerifyBackend,
	}
	for key, out := range bools {
		if v, ok := q[key]; ok {
			if err := runtime.Convert_Slice_string_To_bool(&v, out, nil); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	ints := map[string]**int64{
		"sinceSeconds": &opts.SinceSeconds,
		"tailLines":    &opts.TailLines,
		"limitBytes":   &opts.LimitBytes,
	}
	for key, out := range ints {
		if v, ok := q[key]; ok {
			if err := runtime.Convert_Slice_string_To_Pointer_int64(&v, out, nil); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	if v, ok := q["sinceTime"]; ok {
		if err := metav1.Convert_Slice_string_To_Pointer_v1_Time(&v, &opts.SinceTime, nil); err != nil {
			return nil, fmt.Errorf("sinceTime: %w", err)
		}
	}
	if v, ok := q["stream"]; ok && len(v) > 0 {
		stream := v[0]
		opts.Stream = &stream
	}
	return opts, nil
}

// validateLogOptions is upstream's ValidatePodLogOptions.
func validateLogOptions(opts *corev1.PodLogOptions) error {
	if opts.TailLines != nil && *opts.TailLines < 0 {
		return errors.New("tailLines: must be greater than or equal to 0")
	}
	if opts.LimitBytes != nil && *opts.LimitBytes < 1 {
		return errors.New("limitBytes: must be greater than 0")
	}
	if opts.SinceSeconds != nil && opts.SinceTime != nil {
		return errors.New("at most one of `sinceTime` or `sinceSeconds` may be specified")
	}
	if opts.SinceSeconds != nil && *opts.SinceSeconds < 1 {
		return errors.New("sinceSeconds: must be greater than 0")
	}
	if opts.Stream != nil {
		switch *opts.Stream {
		case corev1.LogStreamAll:
		case corev1.LogStreamStdout, corev1.LogStreamStderr:
			if opts.TailLines != nil {
				return errors.New("`tailLines` and specific `stream` are mutually exclusive for now")
			}
		default:
			return fmt.Errorf("stream: unsupported value %q", *opts.Stream)
		}
	}
	return nil
}

// containerSpec finds a container of the pod by name, init and ephemeral
// containers included.
func containerSpec(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if pod.Spec.EphemeralContainers[i].Name == name {
			return (*corev1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		}
	}
	return nil
}

// logContainer picks the run of the container whose log is asked for: the
// newest one, or with previous the one before the current. Upstream reads
// both from the pod's status; here the runtime's containers are the truth
// and the status only tells a run that will be restarted (waiting: the
// newest run is then the previous one) from a final one.
func (s *Server) logContainer(ctx context.Context, pod *corev1.Pod, name string, previous bool) (*runtimeapi.Container, error) {
	runs, err := s.containerRuns(ctx, pod, name)
	if err != nil {
		return nil, err
	}
	if previous {
		i := 1
		if len(runs) > 0 && runs[0].State != runtimeapi.ContainerState_CONTAINER_RUNNING && restartPending(pod, name) {
			i = 0
		}
		if i >= len(runs) {
			return nil, fmt.Errorf("previous terminated container %q in pod %q not found", name, pod.Name)
		}
		return runs[i], nil
	}
	if len(runs) == 0 {
		return nil, notStarted(pod, name)
	}
	return runs[0], nil
}

// containerRuns lists the runs of a pod's container that have started,
// newest first.
func (s *Server) containerRuns(ctx context.Context, pod *corev1.Pod, name string) ([]*runtimeapi.Container, error) {
	resp, err := s.cfg.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{
		Filter: &runtimeapi.ContainerFilter{LabelSelector: map[string]string{
			podUIDLabel:        string(pod.UID),
			containerNameLabel: name,
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("list containers of pod %q: %w", pod.Name, err)
	}
	var runs []*runtimeapi.Container
	for _, c := range resp.Containers {
		// A container created but never started has written nothing.
		if c.State != runtimeapi.ContainerState_CONTAINER_CREATED {
			runs = append(runs, c)
		}
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if a, b := runs[i].GetMetadata().GetAttempt(), runs[j].GetMetadata().GetAttempt(); a != b {
			return a > b
		}
		return runs[i].CreatedAt > runs[j].CreatedAt
	})
	return runs, nil
}

// restartPending reports whether the pod's status says the container waits
// to run again.
func restartPending(pod *corev1.Pod, name string) bool {
	st, ok := containerStatus(pod, name)
	return ok && st.State.Waiting != nil
}

// notStarted is upstream's error for a container with no log yet, from
// the pod's status.
func notStarted(pod *corev1.Pod, name string) error {
	st, ok := containerStatus(pod, name)
	if !ok {
		return fmt.Errorf("container %q in pod %q is not available", name, pod.Name)
	}
	switch {
	case st.State.Terminated != nil, st.LastTerminationState.Terminated != nil:
		return fmt.Errorf("container %q in pod %q is terminated", name, pod.Name)
	case st.State.Waiting != nil:
		switch reason := st.State.Waiting.Reason; reason {
		case "ErrImagePull":
			return fmt.Errorf("container %q in pod %q is waiting to start: image can't be pulled", name, pod.Name)
		case "ImagePullBackOff":
			return fmt.Errorf("container %q in pod %q is waiting to start: trying and failing to pull image", name, pod.Name)
		default:
			return fmt.Errorf("container %q in pod %q is waiting to start: %v", name, pod.Name, reason)
		}
	}
	return fmt.Errorf("container %q in pod %q is waiting to start - no logs yet", name, pod.Name)
}

func containerStatus(pod *corev1.Pod, name string) (*corev1.ContainerStatus, bool) {
	for _, list := range [][]corev1.ContainerStatus{
		pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses, pod.Status.EphemeralContainerStatuses,
	} {
		for i := range list {
			if list[i].Name == name {
				return &list[i], true
			}
		}
	}
	return nil, false
}

// logPath is where the runtime writes the container's log; when it does not
// say, upstream's layout under LogRoot.
func (s *Server) logPath(ctx context.Context, pod *corev1.Pod, c *runtimeapi.Container) (string, error) {
	resp, err := s.cfg.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.Id})
	if err != nil {
		return "", fmt.Errorf("unable to retrieve container logs for %s://%s: %w", runtimeName, c.Id, err)
	}
	if resp.GetStatus() == nil {
		return "", fmt.Errorf("unable to retrieve container logs for %s://%s: container status is nil", runtimeName, c.Id)
	}
	if p := resp.Status.LogPath; p != "" {
		return p, nil
	}
	dir := fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID)
	return filepath.Join(s.cfg.LogRoot, dir, c.GetMetadata().GetName(), fmt.Sprintf("%d.log", c.GetMetadata().GetAttempt())), nil
}

// isRunning tells a log follower whether the container still writes.
func (s *Server) isRunning(ctx context.Context, id string) (bool, error) {
	resp, err := s.cfg.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		return false, fmt.Errorf("container status of %s://%s: %w", runtimeName, id, err)
	}
	return resp.GetStatus().GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING, nil
}

// flushWriter sends each write to the client at once: logs are followed.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		return n, err
	}
	if err := f.rc.Flush(); err != nil {
		return n, err
	}
	return n, nil
}
