package volume

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestHostPathTypeChecks(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name     string
		path     string
		hostType corev1.HostPathType
		wantErr  string
		// created is what the check must leave at path: "dir" or "file".
		created string
	}{
		{name: "unset type accepts anything, even nothing", path: missing, hostType: corev1.HostPathUnset},
		{name: "Directory accepts a directory", path: dir, hostType: corev1.HostPathDirectory},
		{name: "Directory refuses a file", path: file, hostType: corev1.HostPathDirectory, wantErr: "hostPath type check failed: " + file + " is not a directory"},
		{name: "Directory refuses nothing", path: missing, hostType: corev1.HostPathDirectory, wantErr: "hostPath type check failed: " + missing + " is not a directory"},
		{name: "DirectoryOrCreate creates a directory", path: filepath.Join(dir, "new-dir", "sub"), hostType: corev1.HostPathDirectoryOrCreate, created: "dir"},
		{name: "DirectoryOrCreate refuses a file", path: file, hostType: corev1.HostPathDirectoryOrCreate, wantErr: "hostPath type check failed: " + file + " is not a directory"},
		{name: "File accepts a file", path: file, hostType: corev1.HostPathFile},
		{name: "File refuses a directory", path: dir, hostType: corev1.HostPathFile, wantErr: "hostPath type check failed: " + dir + " is not a file"},
		{name: "File refuses nothing", path: missing, hostType: corev1.HostPathFile, wantErr: "hostPath type check failed: " + missing + " is not a file"},
		{name: "FileOrCreate creates an empty file", path: filepath.Join(dir, "new-file"), hostType: corev1.HostPathFileOrCreate, created: "file"},
		{name: "FileOrCreate refuses a directory", path: dir, hostType: corev1.HostPathFileOrCreate, wantErr: "hostPath type check failed: " + dir + " is not a file"},
		{name: "Socket accepts a socket", path: sock, hostType: corev1.HostPathSocket},
		{name: "Socket refuses a file", path: file, hostType: corev1.HostPathSocket, wantErr: "hostPath type check failed: " + file + " is not a socket file"},
		{name: "CharDevice accepts /dev/null", path: "/dev/null", hostType: corev1.HostPathCharDev},
		{name: "CharDevice refuses a file", path: file, hostType: corev1.HostPathCharDev, wantErr: "hostPath type check failed: " + file + " is not a character device"},
		{name: "BlockDevice refuses a character device", path: "/dev/null", hostType: corev1.HostPathBlockDev, wantErr: "hostPath type check failed: /dev/null is not a block device"},
		{name: "an unknown type is refused", path: dir, hostType: "Pipe", wantErr: "Pipe is an invalid volume type"},
		{name: "a path with .. is refused", path: dir + "/../etc", hostType: corev1.HostPathUnset, wantErr: "invalid HostPath `" + dir + "/../etc`: must not contain '..'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newTestEnv(t)
			pod := testPod(corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: tt.path, Type: &tt.hostType}}})
			want := ""
			if tt.wantErr != "" {
				want = `MountVolume.SetUp failed for volume "host" : ` + tt.wantErr
			}
			wantError(t, env.m.SetUp(context.Background(), pod), want)
			switch tt.created {
			case "dir":
				if got := fileMode(t, tt.path); got != 0o755 {
					t.Errorf("created directory mode = %v, want 0755", got)
				}
			case "file":
				info, err := os.Stat(tt.path)
				if err != nil || !info.Mode().IsRegular() || info.Size() != 0 {
					t.Errorf("created %v (%v), want an empty regular file", info, err)
				}
			}
		})
	}
}
