package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Mounts returns the CRI mounts of a container, in upstream's order: its
// volumeMounts, then the pod's /etc/hosts (when WriteEtcHosts wrote one and
// the container does not mount its own), then its termination-message file.
// SetUp must have run for the pod. Each call creates a new, empty
// termination-message file under <pod dir>/containers/<container>/, since
// each call is for a new container instance.
func (m *Manager) Mounts(pod *corev1.Pod, container *corev1.Container) ([]*runtimeapi.Mount, error) {
	if err := validUID(pod.UID); err != nil {
		return nil, fmt.Errorf("mounts of container %q: %w", container.Name, err)
	}
	unlock := m.locks.lock(pod.UID)
	defer unlock()

	volumes := make(map[string]*corev1.Volume, len(pod.Spec.Volumes))
	for i := range pod.Spec.Volumes {
		volumes[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	mountEtcHosts := true
	var mounts []*runtimeapi.Mount
	for _, vm := range container.VolumeMounts {
		if vm.MountPath == etcHostsPath {
			mountEtcHosts = false
		}
		mount, err := m.volumeMount(pod, container, volumes[vm.Name], vm)
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, mount)
	}
	if mountEtcHosts {
		if file := m.etcHostsFile(pod); pathExists(file) {
			mounts = append(mounts, &runtimeapi.Mount{ContainerPath: etcHostsPath, HostPath: file})
		}
	}
	if tm := m.terminationMessageMount(pod, container); tm != nil {
		mounts = append(mounts, tm)
	}
	return mounts, nil
}

func (m *Manager) volumeMount(pod *corev1.Pod, container *corev1.Container, vol *corev1.Volume, vm corev1.VolumeMount) (*runtimeapi.Mount, error) {
	if vol == nil {
		return nil, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, container.Name)
	}
	hostPath, mustReadOnly, err := m.volumeHostDir(pod, vol)
	if err != nil {
		return nil, fmt.Errorf("cannot find volume %q to mount into container %q: %w", vm.Name, container.Name, err)
	}
	if vol.HostPath == nil && !pathExists(hostPath) {
		// Not set up (yet): upstream's volume manager would not list it.
		return nil, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, container.Name)
	}

	subPath := vm.SubPath
	if vm.SubPathExpr != "" {
		if subPath, err = expandSubPathExpr(vm.SubPathExpr, containerEnv(pod, container)); err != nil {
			return nil, err
		}
	}
	if subPath != "" {
		if filepath.IsAbs(subPath) {
			return nil, fmt.Errorf("error SubPath `%s` must not be an absolute path", subPath)
		}
		if err := validatePathNoBacksteps(subPath); err != nil {
			return nil, fmt.Errorf("unable to provision SubPath `%s`: %w", subPath, err)
		}
		if hostPath, err = m.prepareSubPath(hostPath, subPath, vm.Name, container.Name); err != nil {
			return nil, err
		}
	}

	propagation, err := translateMountPropagation(vm.MountPropagation)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.Mount{
		ContainerPath: vm.MountPath,
		HostPath:      hostPath,
		Readonly:      vm.ReadOnly || mustReadOnly,
		Propagation:   propagation,
	}, nil
}

// prepareSubPath returns the host path of subPath inside a volume, creating
// it as a directory first when missing, as upstream does (so that it gets
// the volume's mode rather than whatever the runtime would create). The
// path is returned with its symlinks resolved, and must stay inside the
// volume: a symlink the pod planted in its volume must not open the host.
// The messages returned are upstream's, which keep host paths out of events.
func (m *Manager) prepareSubPath(volumePath, subPath, mountName, containerName string) (string, error) {
	full := filepath.Join(volumePath, subPath)
	if !pathExists(full) {
		info, err := os.Stat(volumePath)
		if err == nil {
			err = safeMakeDir(volumePath, subPath, info.Mode().Perm())
		}
		if err != nil {
			m.log.Error("Failed to create subPath directory", "volumeMount", mountName, "container", containerName, "err", err)
			return "", fmt.Errorf("failed to create subPath directory for volumeMount %q of container %q", mountName, containerName)
		}
	}
	resolved, err := resolveInside(volumePath, full)
	if err != nil {
		m.log.Error("Failed to prepare subPath", "volumeMount", mountName, "container", containerName, "err", err)
		return "", fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q", mountName, containerName)
	}
	return resolved, nil
}

// safeMakeDir creates root/subPath one element at a time, following only
// symlinks that stay inside root.
func safeMakeDir(root, subPath string, perm os.FileMode) error {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	cur := realRoot
	for _, part := range strings.Split(filepath.Clean(subPath), string(os.PathSeparator)) {
		if part == "" || part == "." {
			continue
		}
		next := filepath.Join(cur, part)
		info, err := os.Lstat(next)
		switch {
		case err == nil && info.Mode()&os.ModeSymlink != 0:
			if next, err = resolveInside(realRoot, next); err != nil {
				return err
			}
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(next, perm); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			// Mkdir's mode passes through the umask.
			if err := os.Chmod(next, perm); err != nil {
				return err
			}
		default:
			return err
		}
		cur = next
	}
	return nil
}

// resolveInside resolves the symlinks of p and checks the result is root or
// below it.
func resolveInside(root, p string) (string, error) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	if resolved != realRoot && !strings.HasPrefix(resolved, realRoot+string(os.PathSeparator)) {
		return "", fmt.Errorf("%s resolves to %s, outside the volume %s", p, resolved, realRoot)
	}
	return resolved, nil
}

// translateMountPropagation maps the API's mode onto CRI's; unset and None
// are both private, as upstream.
func translateMountPropagation(mode *corev1.MountPropagationMode) (runtimeapi.MountPropagation, error) {
	switch {
	case mode == nil, *mode == corev1.MountPropagationNone:
		return runtimeapi.MountPropagation_PROPAGATION_PRIVATE, nil
	case *mode == corev1.MountPropagationHostToContainer:
		return runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER, nil
	case *mode == corev1.MountPropagationBidirectional:
		return runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL, nil
	}
	return 0, fmt.Errorf("invalid MountPropagation mode: %q", *mode)
}

// terminationMessageMount creates the file a container writes its
// termination message to, as upstream's kuberuntime does. Failing to is not
// fatal upstream either: the container runs without one.
func (m *Manager) terminationMessageMount(pod *corev1.Pod, container *corev1.Container) *runtimeapi.Mount {
	containerPath := container.TerminationMessagePath
	if containerPath == "" {
		containerPath = corev1.TerminationMessagePathDefault
	}
	dir := filepath.Join(m.PodDir(pod.UID), "containers", container.Name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		m.log.Warn("Cannot create container directory", "path", dir, "err", err)
		return nil
	}
	file := filepath.Join(dir, m.randomID())
	f, err := os.Create(file)
	if err != nil {
		m.log.Warn("Cannot create termination-log file", "path", file, "err", err)
		return nil
	}
	f.Close()
	// Any user the container runs as must be able to write it.
	if err := os.Chmod(file, 0o666); err != nil {
		m.log.Warn("Cannot set termination-log file permissions", "path", file, "err", err)
	}
	return &runtimeapi.Mount{ContainerPath: containerPath, HostPath: file}
}

// randomContainerFileID is upstream's makeUID: eight hex digits.
func randomContainerFileID() string {
	return fmt.Sprintf("%08x", rand.Uint32())
}

// containerEnv is the part of a container's environment that a subPathExpr
// can use without the rest of the kubelet: literal values, and fieldRefs to
// the pod. Variables from configMaps, secrets or resources are absent, and
// expanding one fails as a missing value.
func containerEnv(pod *corev1.Pod, container *corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range container.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			if v, ok := podEnvFieldValue(pod, e.ValueFrom.FieldRef.FieldPath); ok {
				env[e.Name] = v
			}
		}
	}
	return env
}

func podEnvFieldValue(pod *corev1.Pod, fieldPath string) (string, bool) {
	switch fieldPath {
	case "spec.nodeName":
		return pod.Spec.NodeName, true
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, true
	case "status.podIP":
		return pod.Status.PodIP, true
	case "status.hostIP":
		return pod.Status.HostIP, true
	}
	v, err := podFieldValue(pod, fieldPath)
	return v, err == nil
}

// expandSubPathExpr expands $(VAR) references as upstream's
// ExpandContainerVolumeMounts does: $$ is a literal $, and a variable that
// is unset or empty is an error, since it would change which directory the
// container gets.
func expandSubPathExpr(expr string, env map[string]string) (string, error) {
	var b strings.Builder
	var missing []string
	for i := 0; i < len(expr); i++ {
		if expr[i] != '$' || i+1 == len(expr) {
			b.WriteByte(expr[i])
			continue
		}
		switch expr[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(expr[i+2:], ')')
			if end < 0 {
				b.WriteString(expr[i:])
				i = len(expr)
				continue
			}
			name := expr[i+2 : i+2+end]
			v := env[name]
			if v == "" && !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			b.WriteString(v)
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return "", fmt.Errorf("missing value for %s", strings.Join(missing, ", "))
	}
	return b.String(), nil
}
