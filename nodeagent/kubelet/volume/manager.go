package volume

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// DefaultRootDir is the kubelet's root directory on a node.
const DefaultRootDir = "/var/lib/kubelet"

// DefaultClusterDomain is the DNS domain of the cluster's services.
const DefaultClusterDomain = "cluster.local"

// The plugin directories of the volume types this package sets up, named as
// upstream names them (kubernetes.io~<plugin>).
const (
	emptyDirPlugin    = "kubernetes.io~empty-dir"
	configMapPlugin   = "kubernetes.io~configmap"
	secretPlugin      = "kubernetes.io~secret"
	downwardAPIPlugin = "kubernetes.io~downward-api"
	projectedPlugin   = "kubernetes.io~projected"
)

// Config is what a Manager needs.
type Config struct {
	// RootDir is the kubelet's root directory; DefaultRootDir when empty.
	RootDir string
	// Client reads configMaps, secrets and this node, and requests
	// ServiceAccount tokens. Without one, only emptyDir and hostPath volumes
	// can be set up.
	Client kubernetes.Interface
	// NodeName is this node's name, for the allocatable resources that a
	// downwardAPI limit falls back on.
	NodeName string
	// ClusterDomain ends the FQDN of pods with a subdomain in /etc/hosts;
	// DefaultClusterDomain when empty.
	ClusterDomain string
	// NodeHostsFile is the node's hosts file, which hostNetwork pods get a
	// copy of; /etc/hosts when empty.
	NodeHostsFile string
	// Clock decides token rotation; the real clock when nil.
	Clock clock.PassiveClock
	// Log receives what is worth knowing but not worth failing for; discarded
	// when nil.
	Log *slog.Logger
}

// Manager sets up, describes and removes the volumes of the pods on a node.
// It is safe for concurrent use; calls for one pod are serialised.
type Manager struct {
	rootDir       string
	client        kubernetes.Interface
	nodeName      string
	clusterDomain string
	nodeHostsFile string
	clock         clock.PassiveClock
	log           *slog.Logger
	tokens        *tokenCache
	locks         podLocks

	// mountPoints lists the node's mount points; TearDown refuses to
	// delete through one. A field so that tests can pretend.
	mountPoints func() ([]string, error)
	// randomID names termination-log files.
	randomID func() string
}

// New returns a Manager for cfg.
func New(cfg Config) *Manager {
	m := &Manager{
		rootDir:       cfg.RootDir,
		client:        cfg.Client,
		nodeName:      cfg.NodeName,
		clusterDomain: cfg.ClusterDomain,
		nodeHostsFile: cfg.NodeHostsFile,
		clock:         cfg.Clock,
		log:           cfg.Log,
		mountPoints:   func() ([]string, error) { return readMountPoints("/proc/self/mountinfo") },
		randomID:      randomContainerFileID,
	}
	if m.rootDir == "" {
		m.rootDir = DefaultRootDir
	}
	if m.clusterDomain == "" {
		m.clusterDomain = DefaultClusterDomain
	}
	if m.nodeHostsFile == "" {
		m.nodeHostsFile = etcHostsPath
	}
	if m.clock == nil {
		m.clock = clock.RealClock{}
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.tokens = newTokenCache(m.client, m.clock, m.log)
	return m
}

// PodDir is the directory of a pod on this node: <root>/pods/<uid>.
func (m *Manager) PodDir(uid types.UID) string {
	return filepath.Join(m.rootDir, "pods", string(uid))
}

func (m *Manager) podsDir() string { return filepath.Join(m.rootDir, "pods") }

func (m *Manager) volumeDir(uid types.UID, plugin, name string) string {
	return filepath.Join(m.PodDir(uid), "volumes", plugin, name)
}

// SetUp makes every volume of the pod ready on disk. It is meant to be
// called at every sync of the pod: it creates what is missing, copies in
// sources that changed, and rotates ServiceAccount tokens, writing nothing
// when nothing changed. Volumes that fail do not stop the others; each comes
// back as a *MountError (see MountErrors).
func (m *Manager) SetUp(ctx context.Context, pod *corev1.Pod) error {
	if err := validUID(pod.UID); err != nil {
		return fmt.Errorf("set up volumes of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	unlock := m.locks.lock(pod.UID)
	defer unlock()

	if err := os.MkdirAll(filepath.Join(m.PodDir(pod.UID), "volumes"), 0o750); err != nil {
		return fmt.Errorf("create directory of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	var errs []error
	for i := range pod.Spec.Volumes {
		if err := ctx.Err(); err != nil {
			return err
		}
		vol := &pod.Spec.Volumes[i]
		if err := m.setUpVolume(ctx, pod, vol); err != nil {
			errs = append(errs, &MountError{Volume: vol.Name, Err: err})
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) setUpVolume(ctx context.Context, pod *corev1.Pod, vol *corev1.Volume) error {
	fsGroup := fsGroupOf(pod)
	switch {
	case vol.EmptyDir != nil:
		// The content belongs to the pod: only the directory is ours.
		return ensureVolumeDir(m.volumeDir(pod.UID, emptyDirPlugin, vol.Name), fsGroup)
	case vol.HostPath != nil:
		return checkHostPath(vol.HostPath)
	case vol.ConfigMap != nil:
		src := vol.ConfigMap
		optional := isOptional(src.Optional)
		cm, err := m.getConfigMap(ctx, pod.Namespace, src.Name, optional)
		if err != nil {
			return err
		}
		payload, err := configMapPayload(src.Items, cm, modeOr(src.DefaultMode, corev1.ConfigMapVolumeSourceDefaultMode), optional)
		if err != nil {
			return err
		}
		return m.project(pod, configMapPlugin, vol.Name, payload)
	case vol.Secret != nil:
		src := vol.Secret
		optional := isOptional(src.Optional)
		secret, err := m.getSecret(ctx, pod.Namespace, src.SecretName, optional)
		if err != nil {
			return err
		}
		payload, err := secretPayload(src.Items, secret, modeOr(src.DefaultMode, corev1.SecretVolumeSourceDefaultMode), optional)
		if err != nil {
			return err
		}
		return m.project(pod, secretPlugin, vol.Name, payload)
	case vol.DownwardAPI != nil:
		src := vol.DownwardAPI
		payload, err := m.downwardAPIPayload(ctx, pod, src.Items, modeOr(src.DefaultMode, corev1.DownwardAPIVolumeSourceDefaultMode))
		if err != nil {
			return err
		}
		return m.project(pod, downwardAPIPlugin, vol.Name, payload)
	case vol.Projected != nil:
		payload, err := m.projectedPayload(ctx, pod, vol.Name, vol.Projected)
		if err != nil {
			return err
		}
		return m.project(pod, projectedPlugin, vol.Name, payload)
	}
	return fmt.Errorf("volume type %s is not supported by this kubelet", volumeSourceKind(vol))
}

// project writes an atomically updated volume. With an fsGroup, new files
// get the group before they become visible.
func (m *Manager) project(pod *corev1.Pod, plugin, name string, payload map[string]fileProjection) error {
	dir := m.volumeDir(pod.UID, plugin, name)
	fsGroup := fsGroupOf(pod)
	if err := ensureVolumeDir(dir, fsGroup); err != nil {
		return err
	}
	w := &atomicWriter{dir: dir, now: m.clock.Now}
	if fsGroup != nil {
		w.prepare = func(tsDir string) error { return setVolumeOwnership(tsDir, *fsGroup, true) }
	}
	changed, err := w.write(payload)
	if err != nil {
		return fmt.Errorf("write volume files: %w", err)
	}
	if changed {
		m.log.Debug("Volume content updated", "pod", pod.Namespace+"/"+pod.Name, "volume", name, "plugin", plugin)
	}
	return nil
}

// volumeHostDir is where a volume of the pod is on the node, and whether
// upstream mounts it read-only whatever the volumeMount says (the volumes
// whose content the kubelet writes).
func (m *Manager) volumeHostDir(pod *corev1.Pod, vol *corev1.Volume) (string, bool, error) {
	switch {
	case vol.EmptyDir != nil:
		return m.volumeDir(pod.UID, emptyDirPlugin, vol.Name), false, nil
	case vol.HostPath != nil:
		return vol.HostPath.Path, false, nil
	case vol.ConfigMap != nil:
		return m.volumeDir(pod.UID, configMapPlugin, vol.Name), true, nil
	case vol.Secret != nil:
		return m.volumeDir(pod.UID, secretPlugin, vol.Name), true, nil
	case vol.DownwardAPI != nil:
		return m.volumeDir(pod.UID, downwardAPIPlugin, vol.Name), true, nil
	case vol.Projected != nil:
		return m.volumeDir(pod.UID, projectedPlugin, vol.Name), true, nil
	}
	return "", false, fmt.Errorf("volume type %s is not supported by this kubelet", volumeSourceKind(vol))
}

// volumeSourceKind names the source of a volume this package cannot set
// up, by its field name in the pod spec.
func volumeSourceKind(vol *corev1.Volume) string {
	s := vol.VolumeSource
	switch {
	case s.PersistentVolumeClaim != nil:
		return "persistentVolumeClaim"
	case s.Ephemeral != nil:
		return "ephemeral"
	case s.CSI != nil:
		return "csi"
	case s.Image != nil:
		return "image"
	case s.NFS != nil:
		return "nfs"
	case s.ISCSI != nil:
		return "iscsi"
	case s.GitRepo != nil:
		return "gitRepo"
	case s.FlexVolume != nil:
		return "flexVolume"
	case s.FC != nil:
		return "fc"
	case s.RBD != nil:
		return "rbd"
	case s.CephFS != nil:
		return "cephfs"
	}
	return "(unknown)"
}

// TearDown removes everything the pod has in its directory: volumes,
// /etc/hosts and termination-log files. It refuses to when something is
// mounted below the directory, since deleting through a mount would destroy
// what is mounted there.
func (m *Manager) TearDown(ctx context.Context, podUID types.UID) error {
	if err := validUID(podUID); err != nil {
		return fmt.Errorf("tear down pod %s: %w", podUID, err)
	}
	unlock := m.locks.lock(podUID)
	defer unlock()

	dir := m.PodDir(podUID)
	if err := m.refuseMounted(dir); err != nil {
		return fmt.Errorf("tear down pod %s: %w", podUID, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove directory of pod %s: %w", podUID, err)
	}
	m.tokens.retain(func(uid types.UID) bool { return uid != podUID })
	return nil
}

// Cleanup tears down the directories of pods not in keep: after a restart,
// the kubelet calls it with the pods it still runs so that pods deleted in
// the meantime leave nothing behind.
func (m *Manager) Cleanup(ctx context.Context, keep map[types.UID]bool) error {
	m.tokens.retain(func(uid types.UID) bool { return keep[uid] })
	entries, err := os.ReadDir(m.podsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list pod directories: %w", err)
	}
	var errs []error
	for _, e := range entries {
		uid := types.UID(e.Name())
		if !e.IsDir() || keep[uid] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.TearDown(ctx, uid); err != nil {
			errs = append(errs, err)
			continue
		}
		m.log.Info("Removed directory of orphaned pod", "podUID", uid)
	}
	return errors.Join(errs...)
}

func (m *Manager) refuseMounted(dir string) error {
	points, err := m.mountPoints()
	if err != nil {
		// Without mountinfo there is nothing to check against; kindish
		// mounts nothing below pod directories.
		m.log.Debug("Cannot list mount points", "err", err)
		return nil
	}
	prefix := dir + string(os.PathSeparator)
	for _, p := range points {
		if p == dir || strings.HasPrefix(p, prefix) {
			return fmt.Errorf("%s is still mounted", p)
		}
	}
	return nil
}

// validUID keeps a UID from naming anything but one directory below pods/.
func validUID(uid types.UID) error {
	s := string(uid)
	if s == "" || s == "." || s == ".." || strings.ContainsRune(s, os.PathSeparator) {
		return fmt.Errorf("invalid pod UID %q", s)
	}
	return nil
}

// podLocks serialises the calls for one pod while letting pods proceed in
// parallel; a pod's entry lives only while someone holds or awaits it.
type podLocks struct {
	mu    sync.Mutex
	locks map[types.UID]*podLock
}

type podLock struct {
	sync.Mutex
	refs int
}

func (l *podLocks) lock(uid types.UID) (unlock func()) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[types.UID]*podLock{}
	}
	pl := l.locks[uid]
	if pl == nil {
		pl = &podLock{}
		l.locks[uid] = pl
	}
	pl.refs++
	l.mu.Unlock()

	pl.Lock()
	return func() {
		pl.Unlock()
		l.mu.Lock()
		pl.refs--
		if pl.refs == 0 {
			delete(l.locks, uid)
		}
		l.mu.Unlock()
	}
}
