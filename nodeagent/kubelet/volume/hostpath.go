package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// checkHostPath does what upstream's hostPath SetUp does: refuse paths with
// "..", then hold the path to its declared type, creating it for the
// OrCreate types. The messages are upstream's, since users match on them in
// events.
func checkHostPath(src *corev1.HostPathVolumeSource) error {
	path := src.Path
	if err := validatePathNoBacksteps(path); err != nil {
		return fmt.Errorf("invalid HostPath `%s`: %w", path, err)
	}
	if src.Type == nil {
		return nil
	}
	switch *src.Type {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if !pathExists(path) {
			return makeHostDir(path)
		}
		fallthrough
	case corev1.HostPathDirectory:
		if t, _ := hostFileType(path); t != corev1.HostPathDirectory {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", path)
		}
	case corev1.HostPathFileOrCreate:
		if !pathExists(path) {
			return makeHostFile(path)
		}
		fallthrough
	case corev1.HostPathFile:
		// Upstream counts anything that exists and is not a directory as a
		// file, devices and sockets included.
		if !pathExists(path) {
			return fmt.Errorf("hostPath type check failed: %s is not a file", path)
		}
		if t, _ := hostFileType(path); t == corev1.HostPathDirectory {
			return fmt.Errorf("hostPath type check failed: %s is not a file", path)
		}
	case corev1.HostPathSocket:
		if t, _ := hostFileType(path); t != corev1.HostPathSocket {
			return fmt.Errorf("hostPath type check failed: %s is not a socket file", path)
		}
	case corev1.HostPathCharDev:
		if t, _ := hostFileType(path); t != corev1.HostPathCharDev {
			return fmt.Errorf("hostPath type check failed: %s is not a character device", path)
		}
	case corev1.HostPathBlockDev:
		if t, _ := hostFileType(path); t != corev1.HostPathBlockDev {
			return fmt.Errorf("hostPath type check failed: %s is not a block device", path)
		}
	default:
		return fmt.Errorf("%s is an invalid volume type", *src.Type)
	}
	return nil
}

// validatePathNoBacksteps is upstream's check that a path has no ".."
// element, with its message.
func validatePathNoBacksteps(p string) error {
	for _, item := range strings.Split(filepath.ToSlash(p), "/") {
		if item == ".." {
			return errors.New("must not contain '..'")
		}
	}
	return nil
}

// pathExists follows symlinks, as the runtime will when it binds the path.
func pathExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// hostFileType names what is at p in the HostPathType vocabulary.
func hostFileType(p string) (corev1.HostPathType, error) {
	info, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	mode := info.Mode()
	switch {
	case mode.IsDir():
		return corev1.HostPathDirectory, nil
	case mode.IsRegular():
		return corev1.HostPathFile, nil
	case mode&os.ModeSocket != 0:
		return corev1.HostPathSocket, nil
	case mode&os.ModeCharDevice != 0:
		return corev1.HostPathCharDev, nil
	case mode&os.ModeDevice != 0:
		return corev1.HostPathBlockDev, nil
	}
	return "", errors.New("only recognise file, directory, socket, block device and character device")
}

func makeHostDir(p string) error {
	if err := os.MkdirAll(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// makeHostFile creates an empty file but, like upstream, not its parent
// directories.
func makeHostFile(p string) error {
	f, err := os.OpenFile(p, os.O_CREATE, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	return f.Close()
}
