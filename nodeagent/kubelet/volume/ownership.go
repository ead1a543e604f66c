package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// The permission bits upstream's SetVolumeOwnership (volume_linux.go) adds
// for the pod's fsGroup: the group may read, and write unless the volume is
// read-only; directories are also searchable and setgid so that new files
// inherit the group.
const (
	rwMask   = 0o660
	roMask   = 0o440
	execMask = 0o110
)

// volumeDirMode is the mode of a volume's own directory. Upstream creates
// every emptyDir-backed volume 0777, and the configMap and secret volumes
// wrap an emptyDir, so containers see drwxrwxrwx at their mount points.
const volumeDirMode = 0o777

// ensureVolumeDir creates a volume's directory if needed and gives it the
// mode and group upstream gives it. It touches only the directory itself,
// so calling it at every sync is cheap.
func ensureVolumeDir(dir string, fsGroup *int64) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, volumeDirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if !info.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	want := os.FileMode(volumeDirMode)
	if fsGroup != nil {
		want |= os.ModeSetgid
		if err := os.Lchown(dir, -1, int(*fsGroup)); err != nil {
			return fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	if info.Mode()&(os.ModePerm|os.ModeSetgid) != want {
		if err := os.Chmod(dir, want); err != nil {
			return fmt.Errorf("chmod %s: %w", dir, err)
		}
	}
	return nil
}

// setVolumeOwnership gives everything under dir to the fsGroup, as upstream
// does for managed volumes. Symlinks are skipped: chown would follow them
// out of the volume.
func setVolumeOwnership(dir string, fsGroup int64, readOnly bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.Lchown(p, -1, int(fsGroup)); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
		mask := os.FileMode(rwMask)
		if readOnly {
			mask = roMask
		}
		if info.IsDir() {
			mask |= os.ModeSetgid | execMask
		}
		if err := os.Chmod(p, info.Mode()|mask); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
		return nil
	})
}

// fsGroupOf is the pod's fsGroup, or nil.
func fsGroupOf(pod *corev1.Pod) *int64 {
	if pod.Spec.SecurityContext == nil {
		return nil
	}
	return pod.Spec.SecurityContext.FSGroup
}

// fsUserOf is the user every container of the pod runs as, when they all
// name the same one (upstream's FsUserFrom): a token file is then given to
// that user so that a non-root workload can read it at mode 0600.
func fsUserOf(pod *corev1.Pod) *int64 {
	var user *int64
	containers := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for i := range containers {
		uid := effectiveRunAsUser(pod, &containers[i])
		if uid == nil || (user != nil && *user != *uid) {
			return nil
		}
		user = uid
	}
	return user
}

func effectiveRunAsUser(pod *corev1.Pod, c *corev1.Container) *int64 {
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		return c.SecurityContext.RunAsUser
	}
	if pod.Spec.SecurityContext != nil {
		return pod.Spec.SecurityContext.RunAsUser
	}
	return nil
}
