package crifake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func sandboxConfig(name, uid string, attempt uint32, hostNet bool) *runtimeapi.PodSandboxConfig {
	mode := runtimeapi.NamespaceMode_POD
	if hostNet {
		mode = runtimeapi.NamespaceMode_NODE
	}
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: uid, Attempt: attempt},
		LogDirectory: "/var/log/pods/default_" + name + "_" + uid,
		Labels:       map[string]string{"io.kubernetes.pod.uid": uid, "app": name},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: mode},
		}},
	}
}

func containerConfig(name, uid string, attempt uint32) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name, Attempt: attempt},
		Image:    &runtimeapi.ImageSpec{Image: "busybox"},
		LogPath:  fmt.Sprintf("%s/%d.log", name, attempt),
		Labels:   map[string]string{"io.kubernetes.pod.uid": uid, "io.kubernetes.container.name": name},
		Mounts:   []*runtimeapi.Mount{{ContainerPath: "/dev/termination-log", HostPath: "/tmp/x"}},
	}
}

// newPod starts a sandbox with one running container "app" from busybox.
func newPod(t *testing.T, r *Runtime, name string) (sandboxID, containerID string) {
	t.Helper()
	ctx := context.Background()
	r.AddImage(Image{RepoTags: []string{"busybox"}})
	sb, err := r.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandboxConfig(name, name+"-uid", 0, false)})
	if err != nil {
		t.Fatalf("RunPodSandbox: %v", err)
	}
	c, err := r.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: containerConfig("app", name+"-uid", 0)})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := r.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	return sb.PodSandboxId, c.ContainerId
}

func containerStatus(t *testing.T, r *Runtime, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	resp, err := r.ContainerStatus(context.Background(), &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		t.Fatalf("ContainerStatus: %v", err)
	}
	return resp.Status
}

func TestSandboxesGetSequentialPodIPsAndHostNetworkGetsNone(t *testing.T) {
	r := New(clocktesting.NewFakeClock(epoch))
	ctx := context.Background()
	tests := []struct {
		name    string
		hostNet bool
		wantIP  string
	}{
		{"first", false, "10.244.0.2"},
		{"host", true, ""},
		{"second", false, "10.244.0.3"},
	}
	for _, tt := range tests {
		resp, err := r.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandboxConfig(tt.name, tt.name, 0, tt.hostNet)})
		if err != nil {
			t.Fatalf("%s: RunPodSandbox: %v", tt.name, err)
		}
		st, err := r.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: resp.PodSandboxId})
		if err != nil {
			t.Fatalf("%s: PodSandboxStatus: %v", tt.name, err)
		}
		if got := st.Status.GetNetwork().GetIp(); got != tt.wantIP {
			t.Errorf("%s: IP = %q, want %q", tt.name, got, tt.wantIP)
		}
		if st.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
			t.Errorf("%s: state = %v, want ready", tt.name, st.Status.State)
		}
		wantMode := runtimeapi.NamespaceMode_POD
		if tt.hostNet {
			wantMode = runtimeapi.NamespaceMode_NODE
		}
		if got := st.Status.GetLinux().GetNamespaces().GetOptions().GetNetwork(); got != wantMode {
			t.Errorf("%s: network namespace = %v, want %v", tt.name, got, wantMode)
		}
	}
}

func TestSandboxNameIsReservedUntilRemoved(t *testing.T) {
	r := New(nil)
	ctx := context.Background()
	cfg := sandboxConfig("web", "u1", 0, false)
	first, err := r.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg}); err == nil || !strings.Contains(err.Error(), "failed to reserve sandbox name") {
		t.Fatalf("second sandbox with the same attempt: err = %v, want a reservation error", err)
	}
	if _, err := r.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandboxConfig("web", "u1", 1, false)}); err != nil {
		t.Fatalf("next attempt: %v", err)
	}
	if _, err := r.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: first.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: first.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg}); err != nil {
		t.Fatalf("after removal the name is free again: %v", err)
	}
}

func TestStopPodSandboxKillsContainersAndRemoveNeedsStop(t *testing.T) {
	r := New(clocktesting.NewFakeClock(epoch))
	ctx := context.Background()
	sb, c := newPod(t, r, "web")
	if _, err := r.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb}); err == nil || !strings.Contains(err.Error(), "is not fully stopped") {
		t.Fatalf("removing a ready sandbox: err = %v, want refusal", err)
	}
	if _, err := r.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb}); err != nil {
		t.Fatal(err)
	}
	st := containerStatus(t, r, c)
	if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 137 || st.Reason != "Error" {
		t.Errorf("container after sandbox stop: state %v exit %d reason %q, want exited 137 Error", st.State, st.ExitCode, st.Reason)
	}
	if _, err := r.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb}); err != nil {
		t.Fatal(err)
	}
	if got := len(r.Containers()); got != 0 {
		t.Errorf("containers after sandbox removal = %d, want 0", got)
	}
	if _, err := r.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb}); err != nil {
		t.Errorf("removing a removed sandbox should succeed: %v", err)
	}
	if _, err := r.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb}); status.Code(err) != codes.NotFound {
		t.Errorf("stopping a removed sandbox: err = %v, want NotFound", err)
	}
}

func TestContainerExitReasons(t *testing.T) {
	tests := []struct {
		name       string
		end        func(r *Runtime, id string) error
		wantCode   int32
		wantReason string
	}{
		{"exit 0 is Completed", func(r *Runtime, id string) error { return r.ExitContainer(id, 0) }, 0, "Completed"},
		{"exit 1 is Error", func(r *Runtime, id string) error { return r.ExitContainer(id, 1) }, 1, "Error"},
		{"OOM kill is OOMKilled", func(r *Runtime, id string) error { return r.OOMKill(id) }, 137, "OOMKilled"},
		{"stop exits with the stop code", func(r *Runtime, id string) error {
			_, err := r.StopContainer(context.Background(), &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 30})
			return err
		}, 143, "Error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(clocktesting.NewFakeClock(epoch))
			_, id := newPod(t, r, "web")
			if err := tt.end(r, id); err != nil {
				t.Fatal(err)
			}
			st := containerStatus(t, r, id)
			if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != tt.wantCode || st.Reason != tt.wantReason {
				t.Errorf("state %v exit %d reason %q, want exited %d %q", st.State, st.ExitCode, st.Reason, tt.wantCode, tt.wantReason)
			}
			if st.FinishedAt <= st.StartedAt || st.StartedAt <= st.CreatedAt {
				t.Errorf("timestamps not increasing: created %d started %d finished %d", st.CreatedAt, st.StartedAt, st.FinishedAt)
			}
		})
	}
}

func TestExitOnStartAndStopRecordsTimeout(t *testing.T) {
	r := New(nil)
	ctx := context.Background()
	r.ExitOnStart("app", 3)
	sb, first := newPod(t, r, "web")
	if st := containerStatus(t, r, first); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 3 {
		t.Fatalf("container named in ExitOnStart: state %v exit %d, want exited 3", st.State, st.ExitCode)
	}
	r.ClearExitOnStart("app")
	c, err := r.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb, Config: containerConfig("app", "web-uid", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId}); err == nil {
		t.Error("starting a running container should fail")
	}
	if _, err := r.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.ContainerId, Timeout: 17}); err != nil {
		t.Fatal(err)
	}
	calls := r.StopCalls()
	if len(calls) != 1 || calls[0].ContainerID != c.ContainerId || calls[0].Timeout != 17 || calls[0].Name != "app" {
		t.Errorf("StopCalls = %+v, want one call for app with timeout 17", calls)
	}
}

func TestContainerStatusReportsImageLogPathAndMounts(t *testing.T) {
	r := New(nil)
	uid := int64(1000)
	r.AddImage(Image{RepoTags: []string{"nginx:1.25"}, RepoDigests: []string{"docker.io/library/nginx@sha256:" + strings.Repeat("a", 64)}, UID: &uid})
	ctx := context.Background()
	sb, err := r.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandboxConfig("web", "u", 0, false)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := containerConfig("app", "u", 2)
	img, err := r.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "nginx:1.25"}})
	if err != nil || img.Image == nil {
		t.Fatalf("ImageStatus: %v %v", img, err)
	}
	if img.Image.GetUid().GetValue() != 1000 {
		t.Errorf("image uid = %v, want 1000", img.Image.GetUid())
	}
	cfg.Image = &runtimeapi.ImageSpec{Image: img.Image.Id, UserSpecifiedImage: "nginx:1.25"}
	c, err := r.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	st := containerStatus(t, r, c.ContainerId)
	if st.Image.Image != "docker.io/library/nginx:1.25" {
		t.Errorf("image = %q, want the first tag", st.Image.Image)
	}
	if !strings.HasPrefix(st.ImageRef, "docker.io/library/nginx@sha256:") {
		t.Errorf("image ref = %q, want the repo digest", st.ImageRef)
	}
	if st.LogPath != "/var/log/pods/default_web_u/app/2.log" {
		t.Errorf("log path = %q", st.LogPath)
	}
	if len(st.Mounts) != 1 || st.Mounts[0].ContainerPath != "/dev/termination-log" {
		t.Errorf("mounts = %v", st.Mounts)
	}
	if st.State != runtimeapi.ContainerState_CONTAINER_CREATED || st.StartedAt != 0 {
		t.Errorf("new container: state %v startedAt %d, want created and not started", st.State, st.StartedAt)
	}
}

func TestCreateContainerNeedsImageAndReadySandbox(t *testing.T) {
	r := New(nil)
	ctx := context.Background()
	sb, err := r.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandboxConfig("web", "u", 0, false)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: containerConfig("app", "u", 0)})
	if status.Code(err) != codes.NotFound {
		t.Errorf("create without the image: err = %v, want NotFound", err)
	}
	r.AddImage(Image{RepoTags: []string{"docker.io/library/busybox:latest"}})
	if _, err := r.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.PodSandboxId}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: containerConfig("app", "u", 0)}); err == nil {
		t.Error("create in a stopped sandbox should fail")
	}
}

func TestListFilters(t *testing.T) {
	r := New(clocktesting.NewFakeClock(epoch))
	ctx := context.Background()
	sbA, cA := newPod(t, r, "a")
	_, cB := newPod(t, r, "b")
	if err := r.ExitContainer(cB, 0); err != nil {
		t.Fatal(err)
	}
	running := runtimeapi.ContainerState_CONTAINER_RUNNING
	tests := []struct {
		name   string
		filter *runtimeapi.ContainerFilter
		want   []string
	}{
		{"no filter lists all, oldest first", nil, []string{cA, cB}},
		{"by pod label", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"io.kubernetes.pod.uid": "b-uid"}}, []string{cB}},
		{"by state", &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: running}}, []string{cA}},
		{"by sandbox", &runtimeapi.ContainerFilter{PodSandboxId: sbA}, []string{cA}},
		{"by id", &runtimeapi.ContainerFilter{Id: cB}, []string{cB}},
		{"unmatched label", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"x": "y"}}, nil},
	}
	for _, tt := range tests {
		resp, err := r.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: tt.filter})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range resp.Containers {
			got = append(got, c.Id)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	sbs, err := r.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"app": "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sbs.Items) != 1 || sbs.Items[0].Id != sbA {
		t.Errorf("sandboxes by label = %v, want only %s", sbs.Items, sbA)
	}
}

func TestNormalize(t *testing.T) {
	tests := map[string]string{
		"busybox":                      "docker.io/library/busybox:latest",
		"nginx:1.25":                   "docker.io/library/nginx:1.25",
		"kindish/node":                 "docker.io/kindish/node:latest",
		"registry.k8s.io/pause:3.9":    "registry.k8s.io/pause:3.9",
		"localhost:5000/app":           "localhost:5000/app:latest",
		"docker.io/library/x:latest":   "docker.io/library/x:latest",
		"Not A Reference!":             "Not A Reference!",
		"busybox@sha256:" + hex64('b'): "docker.io/library/busybox@sha256:" + hex64('b'),
	}
	for in, want := range tests {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func hex64(c rune) string { return strings.Repeat(string(c), 64) }

func TestPullImage(t *testing.T) {
	ctx := context.Background()
	pull := func(r *Runtime, ref string) (string, error) {
		resp, err := r.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}})
		return resp.GetImageRef(), err
	}
	t.Run("absent image fails as containerd does", func(t *testing.T) {
		r := New(nil)
		_, err := pull(r, "x")
		want := `failed to pull and unpack image "docker.io/library/x:latest": failed to resolve reference "docker.io/library/x:latest": docker.io/library/x:latest: not found`
		if status.Code(err) != codes.NotFound || status.Convert(err).Message() != want {
			t.Errorf("err = %v, want NotFound %q", err, want)
		}
	})
	t.Run("pullable image is stored", func(t *testing.T) {
		r := New(nil)
		r.SetPullable(Image{RepoTags: []string{"nginx"}})
		ref, err := pull(r, "docker.io/library/nginx:latest")
		if err != nil {
			t.Fatal(err)
		}
		st, err := r.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "nginx"}})
		if err != nil || st.Image == nil || st.Image.Id != ref {
			t.Errorf("after pull ImageStatus = %v, %v; want image %s", st, err, ref)
		}
	})
	t.Run("pull error is returned", func(t *testing.T) {
		r := New(nil)
		r.SetPullable(Image{RepoTags: []string{"nginx"}})
		boom := status.Error(codes.Unknown, "registry down")
		r.SetPullError("nginx", boom)
		if _, err := pull(r, "nginx"); !errors.Is(err, boom) {
			t.Errorf("err = %v, want %v", err, boom)
		}
		r.SetPullError("nginx", nil)
		if _, err := pull(r, "nginx"); err != nil {
			t.Errorf("after clearing the rule: %v", err)
		}
	})
	t.Run("absent image status is empty, not an error", func(t *testing.T) {
		r := New(nil)
		st, err := r.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: "nope"}})
		if err != nil || st.Image != nil {
			t.Errorf("ImageStatus = %v, %v; want empty response", st, err)
		}
	})
}

func TestInjectedErrorsAndCallCounts(t *testing.T) {
	r := New(nil)
	ctx := context.Background()
	boom := errors.New("boom")
	r.FailNext("Version", boom)
	if _, err := r.Version(ctx, &runtimeapi.VersionRequest{}); !errors.Is(err, boom) {
		t.Errorf("first call: err = %v, want boom", err)
	}
	v, err := r.Version(ctx, &runtimeapi.VersionRequest{})
	if err != nil || v.RuntimeName != "containerd" || v.RuntimeApiVersion != "v1" {
		t.Errorf("second call: %v, %v", v, err)
	}
	r.SetError("ListContainers", boom)
	for i := 0; i < 2; i++ {
		if _, err := r.ListContainers(ctx, &runtimeapi.ListContainersRequest{}); !errors.Is(err, boom) {
			t.Errorf("persistent error, call %d: err = %v", i, err)
		}
	}
	r.SetError("ListContainers", nil)
	if _, err := r.ListContainers(ctx, &runtimeapi.ListContainersRequest{}); err != nil {
		t.Errorf("after clearing: %v", err)
	}
	if got := r.Calls("Version"); got != 2 {
		t.Errorf("Calls(Version) = %d, want 2", got)
	}
	if got := r.Calls("ListContainers"); got != 3 {
		t.Errorf("Calls(ListContainers) = %d, want 3", got)
	}
}

func TestExecSyncIsScriptedAndNeedsARunningContainer(t *testing.T) {
	r := New(nil)
	ctx := context.Background()
	_, id := newPod(t, r, "web")
	r.SetExecHandler(func(cid string, cmd []string) ExecResult {
		if cmd[0] == "fail" {
			return ExecResult{Stderr: []byte("nope"), ExitCode: 2}
		}
		return ExecResult{Stdout: []byte(strings.Join(cmd, " "))}
	})
	resp, err := r.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"echo", "hi"}})
	if err != nil || string(resp.Stdout) != "echo hi" || resp.ExitCode != 0 {
		t.Errorf("exec echo = %v, %v", resp, err)
	}
	resp, err = r.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"fail"}})
	if err != nil || resp.ExitCode != 2 || string(resp.Stderr) != "nope" {
		t.Errorf("exec fail = %v, %v", resp, err)
	}
	if calls := r.ExecCalls(); len(calls) != 2 || calls[0].Name != "app" || calls[1].Cmd[0] != "fail" {
		t.Errorf("ExecCalls = %+v", calls)
	}
	if err := r.ExitContainer(id, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"true"}}); err == nil {
		t.Error("exec in an exited container should fail")
	}
}

func TestNetworkNotReadyRefusesPodNetworkSandboxes(t *testing.T) {
	r := New(nil)
	ctx := context.Background()
	r.SetNetworkReady(false)
	st, err := r.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if c := st.Status.Conditions[1]; c.Type != runtimeapi.NetworkReady || c.Status || c.Reason != "NetworkPluginNotReady" {
		t.Errorf("network condition = %v", c)
	}
	if _, err := r.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandboxConfig("a", "a", 0, false)}); err == nil {
		t.Error("pod-network sandbox should fail while the network is not ready")
	}
	if _, err := r.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandboxConfig("h", "h", 0, true)}); err != nil {
		t.Errorf("host-network sandbox: %v", err)
	}
}

func TestConcurrentUseIsSafe(t *testing.T) {
	r := New(nil)
	r.AddImage(Image{RepoTags: []string{"busybox"}})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			name := fmt.Sprintf("p%d", i)
			sb, err := r.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sandboxConfig(name, name, 0, false)})
			if err != nil {
				t.Error(err)
				return
			}
			c, err := r.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, Config: containerConfig("app", name, 0)})
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = r.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId})
			_, _ = r.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
		}(i)
	}
	wg.Wait()
	if got := len(r.Containers()); got != 8 {
		t.Errorf("containers = %d, want 8", got)
	}
	seen := map[string]bool{}
	for _, sb := range r.Sandboxes() {
		if seen[sb.IP] {
			t.Errorf("IP %s handed out twice", sb.IP)
		}
		seen[sb.IP] = true
	}
}
