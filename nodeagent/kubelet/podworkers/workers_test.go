package podworkers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kindish/kindish/nodeagent/kubelet/crifake"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	k8stesting "k8s.io/client-go/testing"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestPodStartsAndReportsRunningReady(t *testing.T) {
	e := newEnv(t)
	e.start()
	pod := newPod("web")
	pod.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
	pod = e.create(pod)

	e.waitFor("the pod to be ready", func() bool {
		c := condition(e.api(pod), corev1.PodReady)
		return c != nil && c.Status == corev1.ConditionTrue
	})
	p := e.api(pod)
	s := p.Status
	if s.Phase != corev1.PodRunning || s.PodIP != "10.244.0.2" || len(s.PodIPs) != 1 || s.HostIP != nodeIP || s.HostIPs[0].IP != nodeIP {
		t.Errorf("status = phase %s podIP %s podIPs %v hostIP %s", s.Phase, s.PodIP, s.PodIPs, s.HostIP)
	}
	if s.QOSClass != corev1.PodQOSBurstable || s.StartTime == nil || !s.StartTime.Time.Equal(epoch) {
		t.Errorf("qos %s startTime %v", s.QOSClass, s.StartTime)
	}
	cs := s.ContainerStatuses[0]
	c := e.cri.PodContainers("web-uid", "app")[0]
	if cs.ContainerID != "containerd://"+c.ID || cs.State.Running == nil || !cs.Ready || cs.Started == nil || !*cs.Started {
		t.Errorf("container status = %+v", cs)
	}
	if cs.Image != "docker.io/library/busybox:1.36" || !strings.HasPrefix(cs.ImageID, "sha256:") || cs.RestartCount != 0 {
		t.Errorf("image %q imageID %q restarts %d", cs.Image, cs.ImageID, cs.RestartCount)
	}
	var types []string
	for _, c := range s.Conditions {
		types = append(types, string(c.Type)+"="+string(c.Status))
	}
	if got := strings.Join(types, ","); got != "PodReadyToStartContainers=True,Initialized=True,Ready=True,ContainersReady=True,PodScheduled=True" {
		t.Errorf("conditions = %s", got)
	}
	if sched := condition(p, corev1.PodScheduled); !sched.LastTransitionTime.Time.Equal(epoch.Add(-time.Minute)) {
		t.Errorf("PodScheduled was not kept as the API had it: %v", sched)
	}

	sb := e.cri.Sandboxes()[0].Config
	if got := sb.GetLinux().GetCgroupParent(); got != "/kubepods/burstable/podweb-uid" {
		t.Errorf("cgroup parent = %q", got)
	}
	if got := sb.GetDnsConfig(); got.GetServers()[0] != "10.96.0.10" || got.GetOptions()[0] != "ndots:5" {
		t.Errorf("DNS config = %v", got)
	}
	if c.LogPath != sb.GetLogDirectory()+"/app/0.log" || !strings.HasSuffix(sb.GetLogDirectory(), "/default_web_web-uid") {
		t.Errorf("log path = %q in %q", c.LogPath, sb.GetLogDirectory())
	}
	if c.Config.GetLabels()["io.kubernetes.pod.uid"] != "web-uid" || c.Config.GetAnnotations()["io.kubernetes.container.restartCount"] != "0" {
		t.Errorf("labels %v annotations %v", c.Config.GetLabels(), c.Config.GetAnnotations())
	}
	for _, want := range []string{"Normal Created Created container: app", "Normal Started Started container app"} {
		if !e.rec.has(want) {
			t.Errorf("missing event %q", want)
		}
	}
	if got, ok := e.w.PodStatus(pod.UID); !ok || got.Phase != corev1.PodRunning {
		t.Errorf("PodStatus = %v, %v", got, ok)
	}

	// Resyncs of a steady pod write nothing.
	patches := e.statusPatches(pod)
	e.stepUntil("two resyncs", 8*time.Second, func() bool { return e.clock.Since(epoch) > 40*time.Second })
	if got := e.statusPatches(pod); got != patches {
		t.Errorf("status patches of a steady pod went from %d to %d", patches, got)
	}
}

func TestReadinessFollowsProbe(t *testing.T) {
	e := newEnv(t)
	e.start()
	pod := newPod("ready")
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
	pod = e.create(pod)
	e.waitFor("running", e.running(pod, "app"))
	ready := condition(e.api(pod), corev1.PodReady)
	if ready.Status != corev1.ConditionFalse || ready.Reason != "ContainersNotReady" || ready.Message != "containers with unready status: [app]" {
		t.Errorf("Ready before the probe = %+v", ready)
	}
	notReadySince := ready.LastTransitionTime

	id := e.containerStatus(pod, "app").ContainerID
	e.clock.Step(3 * time.Second)
	e.probes.setReady(id, true)
	e.w.Resync(pod.UID)
	e.waitFor("ready", func() bool { return condition(e.api(pod), corev1.PodReady).Status == corev1.ConditionTrue })
	if got := condition(e.api(pod), corev1.PodReady).LastTransitionTime; !got.After(notReadySince.Time) {
		t.Errorf("Ready's transition time %v did not move past %v", got, notReadySince)
	}
	if init := condition(e.api(pod), corev1.PodInitialized); !init.LastTransitionTime.Equal(&metav1.Time{Time: epoch}) {
		t.Errorf("Initialized moved without a transition: %v", init.LastTransitionTime)
	}
}

func TestInitContainersRunInOrderAndAFailureBlocksTheApp(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.cri.ExitOnStart("first", 0)
	e.cri.ExitOnStart("second", 1)
	pod := newPod("init")
	pod.Spec.InitContainers = []corev1.Container{
		{Name: "first", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent},
		{Name: "second", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent},
	}
	pod = e.create(pod)

	e.stepUntil("the second init container to back off", time.Second, e.waiting(pod, "second", "CrashLoopBackOff"))
	p := e.api(pod)
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("phase = %s", p.Status.Phase)
	}
	init := condition(p, corev1.PodInitialized)
	if init.Status != corev1.ConditionFalse || init.Reason != "ContainersNotInitialized" || init.Message != "containers with incomplete status: [second]" {
		t.Errorf("Initialized = %+v", init)
	}
	if cs := e.containerStatus(pod, "app"); cs.State.Waiting == nil || cs.State.Waiting.Reason != "PodInitializing" {
		t.Errorf("app = %+v", cs.State)
	}
	if n := len(e.cri.PodContainers("init-uid", "app")); n != 0 {
		t.Fatalf("app started before initialization completed")
	}
	first := e.cri.PodContainers("init-uid", "first")
	second := e.cri.PodContainers("init-uid", "second")
	if len(first) != 1 || len(second) == 0 || !second[0].CreatedAt.After(first[0].FinishedAt) {
		t.Errorf("init containers did not run in order: first %+v second %+v", first, second)
	}

	e.cri.ClearExitOnStart("second")
	e.cri.ExitOnStart("second", 0)
	e.stepUntil("the app to run", time.Second, e.running(pod, "app"))
	p = e.api(pod)
	if p.Status.Phase != corev1.PodRunning || condition(p, corev1.PodInitialized).Status != corev1.ConditionTrue {
		t.Errorf("phase %s Initialized %v", p.Status.Phase, condition(p, corev1.PodInitialized))
	}
}

func TestFailedInitContainerUnderNeverFailsThePod(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.cri.ExitOnStart("init", 3)
	pod := newPod("initfail")
	pod.Spec.RestartPolicy = corev1.RestartPolicyNever
	pod.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent}}
	pod = e.create(pod)
	e.stepUntil("Failed", time.Second, func() bool { return e.phase(pod) == corev1.PodFailed })
	e.waitFor("volumes torn down", func() bool { return e.volumes.tornDownCount(pod.UID) > 0 })
	if n := len(e.cri.PodContainers("initfail-uid", "")); n != 1 {
		t.Errorf("containers = %d, want only the failed init container", n)
	}
	if cs := e.containerStatus(pod, "init"); cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 3 {
		t.Errorf("init status = %+v", cs.State)
	}
}

func TestCrashLoopBackOffGrows(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.cri.ExitOnStart("app", 1)
	pod := e.create(newPod("crash"))

	wantBackOff := func(d string, restarts int32) {
		t.Helper()
		want := "back-off " + d + " restarting failed container=app pod=crash_default(crash-uid)"
		e.stepUntil("CrashLoopBackOff "+d, time.Second, func() bool {
			cs := e.containerStatus(pod, "app")
			return cs != nil && cs.State.Waiting != nil && cs.State.Waiting.Message == want
		})
		cs := e.containerStatus(pod, "app")
		if cs.State.Waiting.Reason != "CrashLoopBackOff" || cs.RestartCount != restarts {
			t.Errorf("waiting %+v restarts %d, want CrashLoopBackOff after %d restarts", cs.State.Waiting, cs.RestartCount, restarts)
		}
		if last := cs.LastTerminationState.Terminated; last == nil || last.ExitCode != 1 || last.Reason != "Error" {
			t.Errorf("last termination = %+v", cs.LastTerminationState)
		}
		if p := e.api(pod); p.Status.Phase != corev1.PodRunning || condition(p, corev1.PodReady).Status != corev1.ConditionFalse {
			t.Errorf("phase %s ready %v", p.Status.Phase, condition(p, corev1.PodReady))
		}
	}
	wantBackOff("10s", 1)
	wantBackOff("20s", 2)
	wantBackOff("40s", 3)
	if !e.rec.has("Warning BackOff Back-off restarting failed container app in pod crash_default(crash-uid)") {
		t.Error("no BackOff event")
	}
}

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		name      string
		policy    corev1.RestartPolicy
		exitCode  int32
		wantPhase corev1.PodPhase
		restarted bool
	}{
		{"OnFailure restarts a failure", corev1.RestartPolicyOnFailure, 1, corev1.PodRunning, true},
		{"OnFailure completes on success", corev1.RestartPolicyOnFailure, 0, corev1.PodSucceeded, false},
		{"Never fails on a failure", corev1.RestartPolicyNever, 2, corev1.PodFailed, false},
		{"Never completes on success", corev1.RestartPolicyNever, 0, corev1.PodSucceeded, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.start()
			pod := newPod("rp")
			pod.Spec.RestartPolicy = tt.policy
			pod = e.create(pod)
			e.waitFor("running", e.running(pod, "app"))
			if err := e.cri.ExitContainer(e.cri.PodContainers("rp-uid", "app")[0].ID, tt.exitCode); err != nil {
				t.Fatal(err)
			}
			if tt.restarted {
				e.stepUntil("a restart", time.Second, func() bool { return len(e.cri.PodContainers("rp-uid", "app")) == 2 })
				e.waitFor("Running", func() bool { return e.phase(pod) == tt.wantPhase })
				return
			}
			e.stepUntil(string(tt.wantPhase), time.Second, func() bool { return e.phase(pod) == tt.wantPhase })
			e.waitFor("volumes torn down", func() bool { return e.volumes.tornDownCount(pod.UID) > 0 })
			e.stepUntil("a few resyncs", 5*time.Second, func() bool { return e.clock.Since(epoch) > 40*time.Second })
			if n := len(e.cri.PodContainers("rp-uid", "app")); n != 1 {
				t.Errorf("a finished pod was restarted: %d instances", n)
			}
			if sb := e.cri.Sandboxes(); len(sb) != 1 || sb[0].State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
				t.Errorf("sandbox = %+v, want one, stopped", sb)
			}
			if e.phase(pod) != tt.wantPhase {
				t.Errorf("phase moved to %s", e.phase(pod))
			}
			ready := condition(e.api(pod), corev1.PodReady)
			wantReason := "PodCompleted"
			if tt.wantPhase == corev1.PodFailed {
				wantReason = "PodFailed"
			}
			if ready.Status != corev1.ConditionFalse || ready.Reason != wantReason {
				t.Errorf("Ready = %+v", ready)
			}
		})
	}
}

func TestMissingImageBacksOff(t *testing.T) {
	e := newEnv(t)
	e.start()
	pod := newPod("pull")
	pod.Spec.Containers[0].Image = "x"
	pod.Spec.Containers[0].ImagePullPolicy = corev1.PullAlways
	pod = e.create(pod)
	wantMsg := `rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/x:latest": failed to resolve reference "docker.io/library/x:latest": docker.io/library/x:latest: not found`
	waitingWith := func(reason, msg string) func() bool {
		return func() bool {
			p := e.api(pod)
			if p == nil || len(p.Status.ContainerStatuses) != 1 || p.Status.Phase != corev1.PodPending {
				return false
			}
			w := p.Status.ContainerStatuses[0].State.Waiting
			return w != nil && w.Reason == reason && w.Message == msg
		}
	}
	e.waitFor("ErrImagePull with the runtime's message", waitingWith("ErrImagePull", wantMsg))
	e.stepUntil("ImagePullBackOff", time.Second, waitingWith("ImagePullBackOff", `Back-off pulling image "x"`))
	for _, want := range []string{`Normal Pulling Pulling image "x"`, `Warning Failed Failed to pull image "x": ` + wantMsg, "Warning Failed Error: ErrImagePull", `Normal BackOff Back-off pulling image "x"`, "Warning Failed Error: ImagePullBackOff"} {
		if !e.rec.has(want) {
			t.Errorf("missing event %q", want)
		}
	}
	e.cri.SetPullable(crifake.Image{RepoTags: []string{"x"}})
	e.stepUntil("the image to be pulled", 2*time.Second, e.running(pod, "app"))
}

func TestEnvErrorIsCreateContainerConfigError(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Env = failingEnv{} })
	e.start()
	pod := e.create(newPod("env"))
	e.waitFor("CreateContainerConfigError", e.waiting(pod, "app", "CreateContainerConfigError"))
	if cs := e.containerStatus(pod, "app"); cs.State.Waiting.Message != `couldn't find key missing in ConfigMap default/cfg` {
		t.Errorf("message = %q", cs.State.Waiting.Message)
	}
}

type failingEnv struct{}

func (failingEnv) Env(context.Context, *corev1.Pod, *corev1.Container, []string, string) ([]*runtimeapi.KeyValue, error) {
	return nil, errors.New(`couldn't find key missing in ConfigMap default/cfg`)
}

func TestLivenessFailureRestartsContainer(t *testing.T) {
	e := newEnv(t)
	e.start()
	pod := e.create(newPod("live"))
	e.waitFor("running", e.running(pod, "app"))
	id := e.containerStatus(pod, "app").ContainerID
	e.probes.fail(id)
	e.w.Resync(pod.UID)
	e.waitFor("a restart", func() bool {
		cs := e.containerStatus(pod, "app")
		return cs != nil && cs.RestartCount == 1 && cs.State.Running != nil && cs.ContainerID != id
	})
	if !e.rec.has("Normal Killing Container app failed liveness probe, will be restarted") {
		t.Error("no Killing event")
	}
	if last := e.containerStatus(pod, "app").LastTerminationState.Terminated; last == nil || last.ContainerID != id {
		t.Errorf("last termination = %+v", last)
	}
}

func TestGracefulDeletion(t *testing.T) {
	e := newEnv(t)
	e.start()
	pod := newPod("del")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"nginx", "-s", "quit"}}}}
	pod = e.create(pod)
	e.waitFor("running", e.running(pod, "app"))

	deleting := e.api(pod)
	deleting.DeletionTimestamp = &metav1.Time{Time: epoch.Add(time.Minute)}
	deleting.DeletionGracePeriodSeconds = ptr(int64(20))
	if _, err := e.client.CoreV1().Pods("default").Update(context.Background(), deleting, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.w.UpdatePod(deleting)
	e.waitFor("the pod to be deleted and forgotten", func() bool {
		_, kept := e.w.PodStatus(pod.UID)
		return e.api(pod) == nil && !kept
	})

	if execs := e.cri.ExecCalls(); len(execs) != 1 || strings.Join(execs[0].Cmd, " ") != "nginx -s quit" {
		t.Errorf("preStop calls = %+v", execs)
	}
	if stops := e.cri.StopCalls(); len(stops) != 1 || stops[0].Timeout != 20 || stops[0].Name != "app" {
		t.Errorf("stop calls = %+v, want app with the deletion's grace period", stops)
	}
	if len(e.cri.Sandboxes()) != 0 || len(e.cri.Containers()) != 0 {
		t.Errorf("left in the runtime: %d sandboxes, %d containers", len(e.cri.Sandboxes()), len(e.cri.Containers()))
	}
	if e.volumes.tornDownCount(pod.UID) == 0 || !e.probes.wasRemoved(pod.UID) {
		t.Error("volumes or probes not cleaned up")
	}
	var del *k8stesting.DeleteActionImpl
	for _, a := range e.client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && d.Name == "del" {
			del = &d
		}
	}
	if del == nil || del.DeleteOptions.GracePeriodSeconds == nil || *del.DeleteOptions.GracePeriodSeconds != 0 ||
		del.DeleteOptions.Preconditions == nil || *del.DeleteOptions.Preconditions.UID != pod.UID {
		t.Errorf("delete = %+v, want grace 0 with a UID precondition", del)
	}
	if !e.rec.has("Normal Killing Stopping container app") {
		t.Error("no Killing event")
	}
	// A late update about the deleted pod starts nothing.
	e.w.UpdatePod(deleting)
	e.stepUntil("a resync", 5*time.Second, func() bool { return e.clock.Since(epoch) > 20*time.Second })
	if len(e.cri.Sandboxes()) != 0 {
		t.Error("a late update restarted the pod")
	}
}

func TestDeletePodRemovesWithoutTouchingTheAPI(t *testing.T) {
	e := newEnv(t)
	e.start()
	pod := e.create(newPod("gone"))
	e.waitFor("running", e.running(pod, "app"))
	e.w.DeletePod(pod.UID)
	e.waitFor("the runtime to be empty", func() bool { return len(e.cri.Sandboxes()) == 0 })
	for _, a := range e.client.Actions() {
		if a.GetVerb() == "delete" {
			t.Errorf("DeletePod deleted in the API: %v", a)
		}
	}
	if stops := e.cri.StopCalls(); len(stops) != 1 || stops[0].Timeout != 30 {
		t.Errorf("stop calls = %+v, want the pod's grace period", stops)
	}
}

func TestPodGoneFromTheAPIIsRemoved(t *testing.T) {
	e := newEnv(t)
	e.start()
	pod := e.create(newPod("vanish"))
	e.waitFor("running", e.running(pod, "app"))
	if err := e.client.CoreV1().Pods("default").Delete(context.Background(), "vanish", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The next status write meets a 404.
	e.cri.ExitContainer(e.cri.PodContainers("vanish-uid", "app")[0].ID, 1)
	e.stepUntil("the runtime to be empty", time.Second, func() bool { return len(e.cri.Sandboxes()) == 0 })
}

func TestNewWorkersAdoptRunningPodsAndRestartNothing(t *testing.T) {
	first := newEnv(t)
	first.start()
	pod := first.create(newPod("adopt"))
	first.waitFor("ready", func() bool {
		c := condition(first.api(pod), corev1.PodReady)
		return c != nil && c.Status == corev1.ConditionTrue
	})
	first.stop()
	before := first.api(pod)

	second := restarted(first)
	second.cri.ResetCalls()
	second.start()
	second.w.UpdatePod(before)
	second.waitFor("a sync", func() bool { _, ok := second.w.PodStatus(pod.UID); return ok })
	second.stepUntil("a few relists", time.Second, func() bool { return second.clock.Since(epoch) > 5*time.Second })
	for _, m := range []string{"RunPodSandbox", "StopPodSandbox", "CreateContainer", "StartContainer", "StopContainer", "RemoveContainer", "PullImage"} {
		if n := second.cri.Calls(m); n != 0 {
			t.Errorf("adoption called %s %d times", m, n)
		}
	}
	after := second.api(pod)
	if after.Status.Phase != corev1.PodRunning || condition(after, corev1.PodReady).Status != corev1.ConditionTrue ||
		after.Status.ContainerStatuses[0].ContainerID != before.Status.ContainerStatuses[0].ContainerID ||
		!after.Status.StartTime.Equal(before.Status.StartTime) {
		t.Errorf("adopted status changed: before %+v after %+v", before.Status, after.Status)
	}
}

// restarted is a kubelet restarted over first's node: the same runtime,
// API and clock, new workers.
func restarted(first *testEnv) *testEnv {
	second := newEnv(first.t)
	second.cri, second.client, second.clock = first.cri, first.client, first.clock
	second.cfg.Runtime, second.cfg.Images, second.cfg.Client, second.cfg.Clock = first.cri, first.cri, first.client, first.clock
	second.w = New(second.cfg)
	return second
}

func TestRemoveOrphans(t *testing.T) {
	first := newEnv(t)
	first.start()
	kept := first.create(newPod("kept"))
	orphan := newPod("orphan")
	orphan.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"drain"}}}}
	orphan = first.create(orphan)
	first.waitFor("both running", func() bool { return first.running(kept, "app")() && first.running(orphan, "app")() })
	first.stop()

	second := restarted(first)
	second.start()
	second.w.UpdatePod(kept)
	if err := second.w.RemoveOrphans(context.Background(), map[types.UID]bool{kept.UID: true}); err != nil {
		t.Fatal(err)
	}
	if got := second.cri.PodContainers("orphan-uid", ""); len(got) != 0 {
		t.Errorf("orphan containers left: %+v", got)
	}
	for _, sb := range second.cri.Sandboxes() {
		if sb.Config.GetMetadata().GetUid() != "kept-uid" {
			t.Errorf("orphan sandbox left: %s", sb.Config.GetMetadata().GetName())
		}
	}
	if execs := second.cri.ExecCalls(); len(execs) != 1 || execs[0].Cmd[0] != "drain" {
		t.Errorf("the orphan's preStop, from its annotations, ran: %+v", execs)
	}
	if c := second.cri.PodContainers("kept-uid", "app"); len(c) != 1 || c[0].State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("known pod touched: %+v", c)
	}
	if second.volumes.tornDownCount("orphan-uid") != 1 {
		t.Error("the orphan's volumes were not torn down")
	}
}

func TestHostNetworkPodGetsNodeIP(t *testing.T) {
	e := newEnv(t)
	e.start()
	e.setNetworkErr(errors.New("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"))
	pod := newPod("hostnet")
	pod.Spec.HostNetwork = true
	pod = e.create(pod)
	e.waitFor("running", e.running(pod, "app"))
	s := e.api(pod).Status
	if s.PodIP != nodeIP || len(s.PodIPs) != 1 || s.PodIPs[0].IP != nodeIP {
		t.Errorf("podIP %q podIPs %v, want the node IP", s.PodIP, s.PodIPs)
	}
}

func TestNetworkNotReadyHoldsPodNetworkPods(t *testing.T) {
	e := newEnv(t)
	e.start()
	netErr := errors.New("container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized")
	e.setNetworkErr(netErr)
	pod := e.create(newPod("nonet"))
	want := "Warning NetworkNotReady network is not ready: " + netErr.Error()
	e.waitFor("the NetworkNotReady event", func() bool { return e.rec.has(want) })
	e.waitFor("a status", func() bool { return e.phase(pod) == corev1.PodPending && e.waiting(pod, "app", "ContainerCreating")() })
	if len(e.cri.Sandboxes()) != 0 {
		t.Error("a sandbox started without the network")
	}
	if c := condition(e.api(pod), corev1.PodReadyToStartContainers); c == nil || c.Status != corev1.ConditionFalse {
		t.Errorf("PodReadyToStartContainers = %+v", c)
	}
	e.setNetworkErr(nil)
	e.stepUntil("the pod to run", 5*time.Second, e.running(pod, "app"))
}

// failingMount starts a node whose volumes fail to set up for want of
// configMap, creates a pod named name, and waits for its FailedMount.
func failingMount(t *testing.T, name, volume, configMap string) (*testEnv, *corev1.Pod) {
	e := newEnv(t)
	e.start()
	msg := fmt.Sprintf(`MountVolume.SetUp failed for volume %q : configmap %q not found`, volume, configMap)
	e.volumes.setError(errors.New(msg))
	pod := e.create(newPod(name))
	e.waitFor("FailedMount", func() bool { return e.rec.has("Warning FailedMount " + msg) })
	return e, pod
}

func TestFailedMountHoldsPod(t *testing.T) {
	e, pod := failingMount(t, "mount", "cfg", "cfg")
	e.waitFor("ContainerCreating", e.waiting(pod, "app", "ContainerCreating"))
	if e.phase(pod) != corev1.PodPending || len(e.cri.Sandboxes()) != 0 {
		t.Errorf("phase %s sandboxes %d", e.phase(pod), len(e.cri.Sandboxes()))
	}
	e.volumes.setError(nil)
	e.stepUntil("the pod to run", 5*time.Second, e.running(pod, "app"))
}

// A volume whose ConfigMap appears a moment after the pod is retried
// within a second, as upstream's volume manager retries, not at the pod's
// next resync (10 s or more).
func TestFailedMountIsRetriedWithinASecond(t *testing.T) {
	e, pod := failingMount(t, "mount-retry", "kube-api-access", "kube-root-ca.crt")
	e.volumes.setError(nil)
	running := e.running(pod, "app")
	for i := 0; i < 10 && !running(); i++ {
		e.clock.Step(100 * time.Millisecond)
		for j := 0; j < 25 && !running(); j++ {
			time.Sleep(2 * time.Millisecond)
		}
	}
	if !running() {
		t.Fatalf("the pod did not run within a second of its volume becoming available; events:\n%s", e.rec.dump())
	}
}

func TestStaticPodStatusGoesToMirrorOnceItExists(t *testing.T) {
	var mirror *corev1.Pod
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	e := newEnv(t, func(c *Config) {
		c.MirrorPodFor = func(*corev1.Pod) (*corev1.Pod, bool) {
			<-mu
			defer func() { mu <- struct{}{} }()
			if mirror == nil {
				return nil, false
			}
			return mirror.DeepCopy(), true
		}
	})
	e.start()
	static := newPod("etcd-node")
	static.UID = "static-hash"
	static.Annotations = map[string]string{configSourceAnnotation: "file"}
	static.Status = corev1.PodStatus{}
	e.w.UpdatePod(static)
	e.waitFor("running", func() bool {
		s, ok := e.w.PodStatus(static.UID)
		return ok && s.Phase == corev1.PodRunning
	})
	if n := len(e.client.Actions()); n != 0 {
		t.Fatalf("API calls before the mirror exists: %v", e.client.Actions())
	}

	m := newPod("etcd-node")
	m.UID = "mirror-uid"
	m.Annotations = map[string]string{"kubernetes.io/config.mirror": "static-hash"}
	m.Status = corev1.PodStatus{}
	created, err := e.client.CoreV1().Pods("default").Create(context.Background(), m, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-mu
	mirror = created
	mu <- struct{}{}
	e.stepUntil("the mirror's status", 5*time.Second, func() bool { return e.phase(m) == corev1.PodRunning })
	if cond := condition(e.api(m), corev1.PodScheduled); cond == nil || cond.Status != corev1.ConditionTrue {
		t.Errorf("a static pod is scheduled by being here: %+v", cond)
	}
}

func TestPodAlreadyTerminalInTheAPIIsNotStarted(t *testing.T) {
	e := newEnv(t)
	e.start()
	pod := newPod("done")
	pod.Status.Phase = corev1.PodSucceeded
	pod = e.create(pod)
	e.waitFor("volumes torn down", func() bool { return e.volumes.tornDownCount(pod.UID) > 0 })
	if len(e.cri.Sandboxes()) != 0 || e.phase(pod) != corev1.PodSucceeded {
		t.Errorf("sandboxes %d phase %s", len(e.cri.Sandboxes()), e.phase(pod))
	}
}

func TestStaticPodComesBackWithItsUID(t *testing.T) {
	e := newEnv(t)
	e.start()
	static := newPod("static")
	static.Annotations = map[string]string{configSourceAnnotation: "file"}
	static.Status = corev1.PodStatus{}
	e.w.UpdatePod(static)
	e.waitFor("running", func() bool { return len(e.cri.PodContainers("static-uid", "app")) == 1 })
	e.w.DeletePod(static.UID)
	e.waitFor("removed", func() bool { return len(e.cri.Sandboxes()) == 0 })
	e.waitFor("the worker to finish", func() bool { _, ok := e.w.PodStatus(static.UID); return !ok })
	e.w.UpdatePod(static)
	e.waitFor("running again", func() bool { return len(e.cri.PodContainers("static-uid", "app")) == 1 })
}

func TestOnlyChangesTheKubeletActsOnCauseASync(t *testing.T) {
	base := newPod("p")
	base.Status.Phase = corev1.PodRunning
	base.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   bool
	}{
		{"nothing", func(*corev1.Pod) {}, false},
		{"the kubelet's own status write", func(p *corev1.Pod) {
			p.ResourceVersion = "42"
			p.Status.Conditions[0].Status = corev1.ConditionTrue
			p.Status.PodIP = "10.244.1.2"
		}, false},
		{"a label", func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} }, true},
		{"an annotation", func(p *corev1.Pod) { p.Annotations = map[string]string{"a": "b"} }, true},
		{"the spec", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr(int64(5)) }, true},
		{"a deletion", func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} }, true},
		{"a terminal phase set by another", func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }, true},
		{"a readiness gate's condition", func(p *corev1.Pod) {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: "example.com/gate", Status: corev1.ConditionTrue})
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := base.DeepCopy()
			tt.mutate(pod)
			if got := podsDifferSemantically(base, pod) || statusNeedsSync(base, pod); got != tt.want {
				t.Errorf("sync = %v, want %v", got, tt.want)
			}
		})
	}
}
