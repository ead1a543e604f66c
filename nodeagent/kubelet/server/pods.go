package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

// getPods lists the pods bound to the node as a v1 PodList; like upstream's
// encoding, the items carry no kind of their own.
func (s *Server) getPods(w http.ResponseWriter, _ *http.Request) {
	list := corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}}
	for _, p := range s.cfg.Pods.GetPods() {
		item := *p
		item.TypeMeta = metav1.TypeMeta{}
		list.Items = append(list.Items, item)
	}
	data, err := json.Marshal(&list)
	if err != nil {
		writeText(w, http.StatusInternalServerError, fmt.Sprintf("encode pods: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// metrics serves upstream's pod and container gauges in the Prometheus text
// format; the rest of upstream's metrics are not kept.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sandboxes, err := s.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{
		Filter: &runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}},
	})
	if err != nil {
		writeText(w, http.StatusInternalServerError, fmt.Sprintf("list pod sandboxes: %v", err))
		return
	}
	containers, err := s.cfg.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		writeText(w, http.StatusInternalServerError, fmt.Sprintf("list containers: %v", err))
		return
	}
	byState := map[runtimeapi.ContainerState]int{}
	for _, c := range containers.Containers {
		byState[c.State]++
	}
	var b strings.Builder
	b.WriteString("# HELP kubelet_running_containers [ALPHA] Number of containers currently running\n")
	b.WriteString("# TYPE kubelet_running_containers gauge\n")
	for _, st := range []struct {
		label string
		state runtimeapi.ContainerState
	}{
		{"created", runtimeapi.ContainerState_CONTAINER_CREATED},
		{"exited", runtimeapi.ContainerState_CONTAINER_EXITED},
		{"running", runtimeapi.ContainerState_CONTAINER_RUNNING},
		{"unknown", runtimeapi.ContainerState_CONTAINER_UNKNOWN},
	} {
		fmt.Fprintf(&b, "kubelet_running_containers{container_state=%q} %d\n", st.label, byState[st.state])
	}
	b.WriteString("# HELP kubelet_running_pods [ALPHA] Number of pods that have a running pod sandbox\n")
	b.WriteString("# TYPE kubelet_running_pods gauge\n")
	fmt.Fprintf(&b, "kubelet_running_pods %d\n", len(sandboxes.Items))
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, b.String())
}
