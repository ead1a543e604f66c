package kuberuntime

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kindish/kindish/nodeagent/kubelet/crifake"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestSyncPodStartsSandboxThenContainers(t *testing.T) {
	h := newHarness(t)
	pod := testPod("web")
	pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
		Name: "side", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent,
		Command: []string{"sh", "-c", "echo $(GREETING) $$(HOME) $(MISSING)"},
		Env:     []corev1.EnvVar{{Name: "GREETING", Value: "hello"}},
	})
	res := h.sync(t, pod)
	if res.Err != nil {
		t.Fatalf("SyncPod: %v", res.Err)
	}
	if len(res.Starts) != 2 || res.Starts[0].Err != nil || res.Starts[1].Err != nil {
		t.Fatalf("starts = %+v, want two successful", res.Starts)
	}

	sbs := h.cri.Sandboxes()
	if len(sbs) != 1 {
		t.Fatalf("sandboxes = %d, want 1", len(sbs))
	}
	sb := sbs[0].Config
	if got := sb.GetMetadata(); got.Name != "web" || got.Namespace != "default" || got.Uid != "web-uid" || got.Attempt != 0 {
		t.Errorf("sandbox metadata = %v", got)
	}
	if got := sb.GetLinux().GetCgroupParent(); got != "/kubepods/besteffort/podweb-uid" {
		t.Errorf("cgroup parent = %q", got)
	}
	if got := sb.GetDnsConfig().GetServers(); len(got) != 1 || got[0] != "10.96.0.10" {
		t.Errorf("DNS servers = %v, want the DNS config passed through", got)
	}
	if got, want := sb.GetLogDirectory(), filepath.Join(h.logs, "default_web_web-uid"); got != want {
		t.Errorf("log directory = %q, want %q", got, want)
	}
	if fi, err := os.Stat(sb.GetLogDirectory()); err != nil || !fi.IsDir() {
		t.Errorf("the pod's log directory was not created: %v", err)
	}

	app := h.cri.PodContainers("web-uid", "app")
	side := h.cri.PodContainers("web-uid", "side")
	if len(app) != 1 || len(side) != 1 {
		t.Fatalf("containers app=%d side=%d, want one each", len(app), len(side))
	}
	if app[0].State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("app state = %v", app[0].State)
	}
	if app[0].LogPath != filepath.Join(sb.GetLogDirectory(), "app", "0.log") {
		t.Errorf("app log path = %q", app[0].LogPath)
	}
	labels := app[0].Config.GetLabels()
	for k, want := range map[string]string{LabelPodName: "web", LabelPodNamespace: "default", LabelPodUID: "web-uid", LabelContainerName: "app"} {
		if labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, labels[k], want)
		}
	}
	if got := side[0].Config.GetCommand(); strings.Join(got, " ") != "sh -c echo hello $(HOME) $(MISSING)" {
		t.Errorf("expanded command = %q", got)
	}
	if got := app[0].Config.GetImage(); !strings.HasPrefix(got.GetImage(), "sha256:") || got.GetUserSpecifiedImage() != "busybox:1.36" {
		t.Errorf("image spec = %v, want the resolved ID and the user's name", got)
	}

	events := h.rec.take()
	for _, want := range []string{
		`Normal Pulled Container image "busybox:1.36" already present on machine`,
		"Normal Created Created container: app",
		"Normal Started Started container app",
		"Normal Started Started container side",
	} {
		if !hasEvent(events, want) {
			t.Errorf("missing event %q in:\n%s", want, eventStrings(events))
		}
	}
	if events[1].FieldPath != "spec.containers{app}" {
		t.Errorf("container event field path = %q", events[1].FieldPath)
	}

	// A second sync over a running pod changes nothing.
	h.cri.ResetCalls()
	if res := h.sync(t, pod); res.Err != nil || len(res.Starts) != 0 {
		t.Errorf("second sync: %+v", res)
	}
	for _, method := range []string{"RunPodSandbox", "CreateContainer", "StartContainer", "StopContainer", "PullImage"} {
		if n := h.cri.Calls(method); n != 0 {
			t.Errorf("second sync called %s %d times", method, n)
		}
	}
}

func TestSyncPodHostNetworkPodKeepsNodeHostnameAndGetsNodeIPInEnv(t *testing.T) {
	h := newHarness(t)
	pod := testPod("net")
	pod.Spec.HostNetwork = true
	pod.Spec.Containers[0].Args = []string{"$(POD_IP)"}
	h.m.env = env{}
	if res := h.sync(t, pod); res.Err != nil {
		t.Fatal(res.Err)
	}
	sb := h.cri.Sandboxes()[0]
	if sb.Config.GetHostname() != "" || sb.IP != "" {
		t.Errorf("host-network sandbox: hostname %q ip %q, want neither", sb.Config.GetHostname(), sb.IP)
	}
	if got := sb.Config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork(); got != runtimeapi.NamespaceMode_NODE {
		t.Errorf("network namespace = %v", got)
	}
	c := h.cri.PodContainers("net-uid", "app")[0]
	if got := c.Config.GetArgs(); len(got) != 1 || got[0] != "172.18.0.2" {
		t.Errorf("args = %v, want the node IP", got)
	}
}

func TestSyncPodImagePullFailureBacksOff(t *testing.T) {
	h := newHarness(t)
	pod := testPod("pull")
	pod.Spec.Containers[0].Image = "x"
	pod.Spec.Containers[0].ImagePullPolicy = ""
	wantMsg := `rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/x:latest": failed to resolve reference "docker.io/library/x:latest": docker.io/library/x:latest: not found`

	res := h.sync(t, pod)
	if len(res.Starts) != 1 || !errors.Is(res.Starts[0].Err, ErrImagePull) || res.Starts[0].Message != wantMsg {
		t.Fatalf("first sync starts = %+v, want ErrImagePull with the runtime's message", res.Starts)
	}
	events := h.rec.take()
	for _, want := range []string{
		`Normal Pulling Pulling image "x"`,
		`Warning Failed Failed to pull image "x": ` + wantMsg,
		"Warning Failed Error: ErrImagePull",
	} {
		if !hasEvent(events, want) {
			t.Errorf("missing event %q in:\n%s", want, eventStrings(events))
		}
	}

	tests := []struct {
		advance time.Duration
		want    error
	}{
		{5 * time.Second, ErrImagePullBackOff},
		{5 * time.Second, ErrImagePull}, // 10s passed: retried
		{10 * time.Second, ErrImagePullBackOff},
		{10 * time.Second, ErrImagePull}, // 20s passed: retried
	}
	for i, tt := range tests {
		h.clock.Step(tt.advance)
		res := h.sync(t, pod)
		if len(res.Starts) != 1 || !errors.Is(res.Starts[0].Err, tt.want) {
			t.Fatalf("step %d: starts = %+v, want %v", i, res.Starts, tt.want)
		}
		if tt.want == ErrImagePullBackOff && res.Starts[0].Message != `Back-off pulling image "x"` {
			t.Errorf("step %d: message = %q", i, res.Starts[0].Message)
		}
	}
	if n := h.cri.Calls("PullImage"); n != 3 {
		t.Errorf("PullImage calls = %d, want 3", n)
	}

	h.cri.SetPullable(crifake.Image{RepoTags: []string{"x"}})
	h.clock.Step(time.Minute)
	res = h.sync(t, pod)
	if len(res.Starts) != 1 || res.Starts[0].Err != nil {
		t.Fatalf("after the image appears: %+v", res.Starts)
	}
	found := false
	for _, e := range h.rec.take() {
		if e.Reason == EventPulled && strings.HasPrefix(e.Message, `Successfully pulled image "x" in 0s (0s including waiting). Image size: 1048576 bytes.`) {
			found = true
		}
	}
	if !found {
		t.Error("no Pulled event with the pull's duration and size")
	}
}

func TestSyncPodImagePolicies(t *testing.T) {
	tests := []struct {
		name     string
		image    string
		policy   corev1.PullPolicy
		present  bool
		wantErr  error
		wantPull bool
	}{
		{"Never without the image", "busybox:9", corev1.PullNever, false, ErrImageNeverPull, false},
		{"Never with the image", "busybox:9", corev1.PullNever, true, nil, false},
		{"IfNotPresent with the image", "busybox:9", corev1.PullIfNotPresent, true, nil, false},
		{"Always with the image pulls", "busybox:9", corev1.PullAlways, true, nil, true},
		{"no policy on latest pulls", "busybox", "", true, nil, true},
		{"no policy on a tag uses what is there", "busybox:9", "", true, nil, false},
		{"invalid name", "Not Valid", corev1.PullIfNotPresent, false, ErrInvalidImageName, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.cri.SetPullable(crifake.Image{RepoTags: []string{tt.image}})
			if tt.present {
				h.cri.AddImage(crifake.Image{RepoTags: []string{tt.image}})
			}
			pod := testPod("img")
			pod.Spec.Containers[0].Image = tt.image
			pod.Spec.Containers[0].ImagePullPolicy = tt.policy
			res := h.sync(t, pod)
			if len(res.Starts) != 1 || !errors.Is(res.Starts[0].Err, tt.wantErr) {
				t.Fatalf("starts = %+v, want %v", res.Starts, tt.wantErr)
			}
			if pulled := h.cri.Calls("PullImage") > 0; pulled != tt.wantPull {
				t.Errorf("pulled = %v, want %v", pulled, tt.wantPull)
			}
			if tt.wantErr == ErrImageNeverPull && res.Starts[0].Message != `Container image "busybox:9" is not present with pull policy of Never` {
				t.Errorf("message = %q", res.Starts[0].Message)
			}
		})
	}
}

func TestSyncPodCrashLoopBackOffGrows(t *testing.T) {
	h := newHarness(t)
	h.cri.ExitOnStart("app", 1)
	pod := testPod("crash")

	if res := h.sync(t, pod); res.Err != nil {
		t.Fatalf("first start: %v", res.Err)
	}
	// The first exit restarts at once and arms a 10s back-off.
	h.clock.Step(time.Second)
	if res := h.sync(t, pod); res.Err != nil || len(res.Starts) != 1 || res.Starts[0].Err != nil {
		t.Fatalf("first restart: %+v", res)
	}
	wantBackOff := func(step string, d string) {
		t.Helper()
		res := h.sync(t, pod)
		want := "back-off " + d + " restarting failed container=app pod=crash_default(crash-uid)"
		if len(res.Starts) != 1 || res.Starts[0].Err != ErrCrashLoopBackOff || res.Starts[0].Message != want {
			t.Fatalf("%s: starts = %+v, want CrashLoopBackOff %q", step, res.Starts, want)
		}
		if !hasEvent(h.rec.take(), "Warning BackOff Back-off restarting failed container app in pod crash_default(crash-uid)") {
			t.Errorf("%s: no BackOff event", step)
		}
	}
	h.clock.Step(time.Second)
	wantBackOff("1s after the second exit", "10s")

	h.clock.Step(10 * time.Second)
	if res := h.sync(t, pod); len(res.Starts) != 1 || res.Starts[0].Err != nil {
		t.Fatalf("restart after 10s: %+v", res.Starts)
	}
	h.clock.Step(time.Second)
	wantBackOff("after the third exit", "20s")
	h.clock.Step(20 * time.Second)
	if res := h.sync(t, pod); len(res.Starts) != 1 || res.Starts[0].Err != nil {
		t.Fatalf("restart after 20s: %+v", res.Starts)
	}
	h.clock.Step(time.Second)
	wantBackOff("after the fourth exit", "40s")

	ps := h.status(t, pod)
	if got := ps.FindContainer("app").RestartCount; got != 3 {
		t.Errorf("restart count = %d, want 3", got)
	}
	if n := len(h.cri.PodContainers("crash-uid", "app")); n != 4 {
		t.Errorf("container instances = %d, want 4 (exited ones are kept)", n)
	}
}

func TestSyncPodRestartPolicies(t *testing.T) {
	tests := []struct {
		name        string
		policy      corev1.RestartPolicy
		exitCode    int32
		wantRestart bool
	}{
		{"Always restarts a success", corev1.RestartPolicyAlways, 0, true},
		{"Always restarts a failure", corev1.RestartPolicyAlways, 1, true},
		{"OnFailure restarts a failure", corev1.RestartPolicyOnFailure, 1, true},
		{"OnFailure keeps a success", corev1.RestartPolicyOnFailure, 0, false},
		{"Never keeps a failure", corev1.RestartPolicyNever, 1, false},
		{"Never keeps a success", corev1.RestartPolicyNever, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			pod := testPod("rp")
			pod.Spec.RestartPolicy = tt.policy
			h.sync(t, pod)
			c := h.cri.PodContainers("rp-uid", "app")[0]
			if err := h.cri.ExitContainer(c.ID, tt.exitCode); err != nil {
				t.Fatal(err)
			}
			h.sync(t, pod)
			if got := len(h.cri.PodContainers("rp-uid", "app")) == 2; got != tt.wantRestart {
				t.Errorf("restarted = %v, want %v", got, tt.wantRestart)
			}
			if !tt.wantRestart {
				if sb := h.cri.Sandboxes()[0]; sb.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
					t.Errorf("a pod with nothing left to run keeps its sandbox %v", sb.State)
				}
			}
		})
	}
}

func TestSyncPodInitContainersRunInOrder(t *testing.T) {
	h := newHarness(t)
	pod := testPod("init")
	pod.Spec.InitContainers = []corev1.Container{
		{Name: "first", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent},
		{Name: "second", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent},
	}
	started := func() []string {
		var names []string
		for _, c := range h.cri.PodContainers("init-uid", "") {
			names = append(names, c.Name)
		}
		return names
	}
	h.sync(t, pod)
	if got := started(); strings.Join(got, ",") != "first" {
		t.Fatalf("after sync 1: %v, want only the first init container", got)
	}
	h.sync(t, pod)
	if got := started(); len(got) != 1 {
		t.Fatalf("a running init container blocks the next: %v", got)
	}
	first := h.cri.PodContainers("init-uid", "first")[0]
	h.cri.ExitContainer(first.ID, 1)
	h.clock.Step(time.Second)
	h.sync(t, pod)
	if got := started(); strings.Join(got, ",") != "first,first" {
		t.Fatalf("a failed init container restarts under Always: %v", got)
	}
	if a := h.cri.PodContainers("init-uid", "first")[1].Attempt; a != 1 {
		t.Errorf("restarted init container attempt = %d, want 1", a)
	}
	h.cri.ExitContainer(h.cri.PodContainers("init-uid", "first")[1].ID, 0)
	h.sync(t, pod)
	if got := started(); strings.Join(got, ",") != "first,second" {
		t.Fatalf("after the first succeeds: %v (the failed instance is pruned)", got)
	}
	h.cri.ExitContainer(h.cri.PodContainers("init-uid", "second")[0].ID, 0)
	h.sync(t, pod)
	if got := started(); strings.Join(got, ",") != "first,second,app" {
		t.Fatalf("after all init containers: %v", got)
	}
}

func TestSyncPodFailedInitContainerUnderNeverKillsPod(t *testing.T) {
	h := newHarness(t)
	pod := testPod("initnever")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent}}
	h.cri.ExitOnStart("init", 2)
	h.sync(t, pod)
	h.sync(t, pod)
	if n := len(h.cri.PodContainers("initnever-uid", "")); n != 1 {
		t.Errorf("containers = %d, want only the failed init container", n)
	}
	if sb := h.cri.Sandboxes()[0]; sb.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("sandbox = %v, want stopped", sb.State)
	}
}

func TestSyncPodEnvErrorIsCreateContainerConfigError(t *testing.T) {
	h := newHarness(t)
	h.m.env = env{err: errors.New(`couldn't find key missing in ConfigMap default/cfg`)}
	res := h.sync(t, testPod("env"))
	if len(res.Starts) != 1 || res.Starts[0].Err != ErrCreateContainerConfig || res.Starts[0].Message != `couldn't find key missing in ConfigMap default/cfg` {
		t.Fatalf("starts = %+v", res.Starts)
	}
	if !hasEvent(h.rec.take(), "Warning Failed Error: couldn't find key missing in ConfigMap default/cfg") {
		t.Error("no Failed event with the error")
	}
	if n := h.cri.Calls("CreateContainer"); n != 0 {
		t.Errorf("CreateContainer called %d times", n)
	}
}

func TestSyncPodRunAsNonRootRefusesRootImage(t *testing.T) {
	h := newHarness(t)
	pod := testPod("nonroot")
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr(true)}
	res := h.sync(t, pod)
	want := `container has runAsNonRoot and image will run as root (pod: "nonroot_default(nonroot-uid)", container: app)`
	if len(res.Starts) != 1 || res.Starts[0].Err != ErrCreateContainerConfig || res.Starts[0].Message != want {
		t.Fatalf("starts = %+v", res.Starts)
	}
}

func TestSyncPodLivenessFailureRestartsContainer(t *testing.T) {
	h := newHarness(t)
	pod := testPod("live")
	h.sync(t, pod)
	first := h.cri.PodContainers("live-uid", "app")[0]
	h.liveness.fail("containerd://" + first.ID)
	h.rec.take()
	if res := h.sync(t, pod); res.Err != nil {
		t.Fatal(res.Err)
	}
	if !hasEvent(h.rec.take(), "Normal Killing Container app failed liveness probe, will be restarted") {
		t.Error("no Killing event for the liveness failure")
	}
	instances := h.cri.PodContainers("live-uid", "app")
	if len(instances) != 2 || instances[0].State != runtimeapi.ContainerState_CONTAINER_EXITED || instances[1].State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("instances = %+v, want the old exited and a new one running", instances)
	}
	if got := h.status(t, pod).FindContainer("app").RestartCount; got != 1 {
		t.Errorf("restart count = %d, want 1", got)
	}
	if calls := h.cri.StopCalls(); len(calls) != 1 || calls[0].Timeout != 30 {
		t.Errorf("stop calls = %+v, want one with the pod's grace period", calls)
	}
}

func TestSyncPodChangedImageRestartsContainerEvenUnderNever(t *testing.T) {
	h := newHarness(t)
	h.cri.AddImage(crifake.Image{RepoTags: []string{"busybox:1.37"}})
	pod := testPod("change")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	h.sync(t, pod)
	pod.Spec.Containers[0].Image = "busybox:1.37"
	h.rec.take()
	h.sync(t, pod)
	if !hasEvent(h.rec.take(), "Normal Killing Container app definition changed, will be restarted") {
		t.Error("no Killing event for the changed definition")
	}
	instances := h.cri.PodContainers("change-uid", "app")
	if len(instances) != 2 || instances[1].State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("instances = %+v", instances)
	}
}

func TestSyncPodPostStartFailureKillsContainer(t *testing.T) {
	h := newHarness(t)
	h.cri.SetExecHandler(func(_ string, cmd []string) crifake.ExecResult {
		return crifake.ExecResult{Stderr: []byte("boom"), ExitCode: 1}
	})
	pod := testPod("hook")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"false"}}}}
	res := h.sync(t, pod)
	want := `Exec lifecycle hook ([false]) for Container "app" in Pod "hook_default(hook-uid)" failed - error: command 'false' exited with 1: boom, message: "boom"`
	if len(res.Starts) != 1 || res.Starts[0].Err != ErrPostStartHook || res.Starts[0].Message != want {
		t.Fatalf("starts = %+v", res.Starts)
	}
	events := h.rec.take()
	for _, want := range []string{"Warning FailedPostStartHook PostStartHook failed", "Normal Killing FailedPostStartHook"} {
		if !hasEvent(events, want) {
			t.Errorf("missing event %q in:\n%s", want, eventStrings(events))
		}
	}
	if c := h.cri.PodContainers("hook-uid", "app")[0]; c.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		t.Errorf("container = %v, want killed", c.State)
	}
}

func TestSyncPodRecreatesChangedSandbox(t *testing.T) {
	h := newHarness(t)
	pod := testPod("sbx")
	pod.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent}}
	h.sync(t, pod)
	h.cri.ExitContainer(h.cri.PodContainers("sbx-uid", "init")[0].ID, 0)
	h.sync(t, pod)
	old := h.cri.Sandboxes()[0]
	if _, err := h.cri.StopPodSandbox(context.Background(), &runtimeapi.StopPodSandboxRequest{PodSandboxId: old.ID}); err != nil {
		t.Fatal(err)
	}
	h.rec.take()
	if res := h.sync(t, pod); res.Err != nil {
		t.Fatal(res.Err)
	}
	if !hasEvent(h.rec.take(), "Normal SandboxChanged Pod sandbox changed, it will be killed and re-created.") {
		t.Error("no SandboxChanged event")
	}
	sbs := h.cri.Sandboxes()
	if len(sbs) != 2 || sbs[1].Config.GetMetadata().GetAttempt() != 1 || sbs[1].State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Fatalf("sandboxes = %+v, want a second, ready, attempt 1", sbs)
	}
	var names []string
	for _, c := range h.cri.PodContainers("sbx-uid", "") {
		names = append(names, c.Name+"/"+c.SandboxID[:4])
	}
	inits := h.cri.PodContainers("sbx-uid", "init")
	if len(inits) != 1 || inits[0].SandboxID != sbs[1].ID || inits[0].Attempt != 1 {
		t.Errorf("init containers after the new sandbox = %v, want one fresh in the new sandbox", names)
	}
}

func TestSyncPodSandboxFailureRecordsEvent(t *testing.T) {
	h := newHarness(t)
	h.cri.FailNext("RunPodSandbox", status.Error(codes.Unknown, "failed to setup network for sandbox: cni plugin not initialized"))
	res := h.sync(t, testPod("sbfail"))
	if res.Err == nil || len(res.Starts) != 0 {
		t.Fatalf("result = %+v, want a failure and no start", res)
	}
	want := "Warning FailedCreatePodSandBox Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox: cni plugin not initialized"
	if !hasEvent(h.rec.take(), want) {
		t.Errorf("missing %q", want)
	}
}

func TestKillPodRunsPreStopAndStopsWithGracePeriod(t *testing.T) {
	tests := []struct {
		name     string
		deletion *int64
		override *int64
		want     int64
	}{
		{"pod's termination grace period", nil, nil, 30},
		{"deletion grace period wins", ptr(int64(10)), nil, 10},
		{"override wins", ptr(int64(10)), ptr(int64(5)), 5},
		{"at least two seconds", nil, ptr(int64(0)), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			pod := testPod("kill")
			pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"nginx", "-s", "quit"}}}}
			h.sync(t, pod)
			pod.DeletionGracePeriodSeconds = tt.deletion
			h.rec.take()
			if err := h.m.KillPod(context.Background(), pod, h.status(t, pod), tt.override); err != nil {
				t.Fatal(err)
			}
			execs := h.cri.ExecCalls()
			wantHook := tt.override == nil || *tt.override > 0
			if got := len(execs) == 1 && strings.Join(execs[0].Cmd, " ") == "nginx -s quit"; got != wantHook {
				t.Errorf("preStop exec calls = %+v, want run=%v", execs, wantHook)
			}
			stops := h.cri.StopCalls()
			if len(stops) != 1 || stops[0].Timeout != tt.want {
				t.Errorf("stop calls = %+v, want timeout %d", stops, tt.want)
			}
			if !hasEvent(h.rec.take(), "Normal Killing Stopping container app") {
				t.Error("no Killing event")
			}
			if sb := h.cri.Sandboxes()[0]; sb.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
				t.Errorf("sandbox = %v, want stopped", sb.State)
			}
		})
	}
}

func TestKillPodOfUnknownPodUsesAnnotations(t *testing.T) {
	h := newHarness(t)
	pod := testPod("orphan")
	pod.Spec.TerminationGracePeriodSeconds = ptr(int64(7))
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"drain"}}}}
	h.sync(t, pod)
	if err := h.m.KillPod(context.Background(), nil, h.status(t, pod), nil); err != nil {
		t.Fatal(err)
	}
	if execs := h.cri.ExecCalls(); len(execs) != 1 || execs[0].Cmd[0] != "drain" {
		t.Errorf("preStop restored from annotations: exec calls %+v", execs)
	}
	if stops := h.cri.StopCalls(); len(stops) != 1 || stops[0].Timeout != 7 {
		t.Errorf("grace period restored from annotations: stop calls %+v", stops)
	}
}

func TestKillPodHTTPPreStopHitsPodIP(t *testing.T) {
	h := newHarness(t)
	var gotURL string
	h.m.httpClient.Transport = roundTripper(func(r *http.Request) {
		gotURL = r.URL.String()
	})
	pod := testPod("http")
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "web", ContainerPort: 8080}}
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "shutdown", Port: intstr.FromString("web")}}}
	h.sync(t, pod)
	if err := h.m.KillPod(context.Background(), pod, h.status(t, pod), nil); err != nil {
		t.Fatal(err)
	}
	if gotURL != "http://10.244.0.2:8080/shutdown" {
		t.Errorf("preStop URL = %q", gotURL)
	}
}

func TestRemovePodRemovesEverything(t *testing.T) {
	h := newHarness(t)
	pod := testPod("rm")
	h.sync(t, pod)
	ps := h.status(t, pod)
	if err := h.m.RemovePod(context.Background(), ps); err != nil {
		t.Fatal(err)
	}
	if len(h.cri.Sandboxes()) != 0 || len(h.cri.Containers()) != 0 {
		t.Errorf("left: %d sandboxes, %d containers", len(h.cri.Sandboxes()), len(h.cri.Containers()))
	}
	if _, err := os.Stat(PodLogsDir(h.logs, "default", "rm", "rm-uid")); !os.IsNotExist(err) {
		t.Errorf("log directory still there: %v", err)
	}
}

// Every StopPodSandbox makes containerd run the CNI plugins' DEL again: a
// pod killed and then removed is stopped once.
func TestKillThenRemoveStopsTheSandboxOnce(t *testing.T) {
	h := newHarness(t)
	pod := testPod("once")
	h.sync(t, pod)
	if err := h.m.KillPod(context.Background(), pod, h.status(t, pod), nil); err != nil {
		t.Fatal(err)
	}
	if err := h.m.RemovePod(context.Background(), h.status(t, pod)); err != nil {
		t.Fatal(err)
	}
	if n := h.cri.Calls("StopPodSandbox"); n != 1 {
		t.Errorf("StopPodSandbox called %d times, want 1", n)
	}
	if len(h.cri.Sandboxes()) != 0 {
		t.Errorf("%d sandboxes left", len(h.cri.Sandboxes()))
	}
}

func TestSyncPodKeepsDeletedPodsDown(t *testing.T) {
	h := newHarness(t)
	pod := testPod("del")
	h.sync(t, pod)
	h.cri.ExitContainer(h.cri.PodContainers("del-uid", "app")[0].ID, 0)
	pod.DeletionTimestamp = &metav1.Time{Time: epoch}
	h.sync(t, pod)
	if n := len(h.cri.PodContainers("del-uid", "app")); n != 1 {
		t.Errorf("a deleted pod's container was restarted: %d instances", n)
	}
}

// roundTripper answers every request with an empty 200, after showing it to
// the test.
type roundTripper func(*http.Request)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	f(req)
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}
