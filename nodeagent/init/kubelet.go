package nodeinit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// KubeletFlagsFile is where kindish writes a node's kubelet flags before
// the node starts, in kubeadm's format, so that a node reads like a
// kubeadm one: KUBELET_KUBEADM_ARGS="--node-ip=... --node-labels=...".
const KubeletFlagsFile = "/var/lib/kubelet/kubeadm-flags.env"

const kubeletFlagsVar = "KUBELET_KUBEADM_ARGS"

// KubeletService runs the kubelet after containerd and the image import,
// so that the pause image is there before its first sandbox.
func KubeletService(args []string) Service {
	return Service{Name: "kubelet", Path: "/usr/bin/kubelet", Args: args}
}

// ReadKubeletFlags reads the kubelet's flags from a kubeadm-style
// environment file. ok is false when the file does not exist: a node
// image booted by hand, without a cluster, runs no kubelet.
func ReadKubeletFlags(path string) (args []string, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("kubelet flags: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, found := strings.Cut(line, "=")
		if !found || name != kubeletFlagsVar {
			continue
		}
		if unquoted, err := strconv.Unquote(value); err == nil {
			value = unquoted
		} else if strings.HasPrefix(value, `"`) {
			return nil, false, fmt.Errorf("kubelet flags: %s line %d: %s is badly quoted", path, n, kubeletFlagsVar)
		}
		// Flag values never hold spaces (labels and taints are comma
		// separated), as in kubeadm's file.
		return strings.Fields(value), true, nil
	}
	if err := sc.Err(); err != nil {
		return nil, false, fmt.Errorf("kubelet flags: %w", err)
	}
	return nil, false, fmt.Errorf("kubelet flags: %s sets no %s", path, kubeletFlagsVar)
}

// FormatKubeletFlags is the file ReadKubeletFlags reads.
func FormatKubeletFlags(args []string) []byte {
	return []byte(kubeletFlagsVar + "=" + strconv.Quote(strings.Join(args, " ")) + "\n")
}
