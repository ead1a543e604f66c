package kindnetd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
)

// The conflist, as kind writes it. cniVersion 0.3.1 is what containerd
// 1.6 and the Debian plugins (1.1.1) agree on.
type (
	cniConfList struct {
		CNIVersion string      `json:"cniVersion"`
		Name       string      `json:"name"`
		Plugins    []cniPlugin `json:"plugins"`
	}
	cniPlugin struct {
		Type         string           `json:"type"`
		IPMasq       *bool            `json:"ipMasq,omitempty"`
		IPAM         *cniIPAM         `json:"ipam,omitempty"`
		MTU          int              `json:"mtu,omitempty"`
		Capabilities *cniCapabilities `json:"capabilities,omitempty"`
	}
	cniIPAM struct {
		Type    string       `json:"type"`
		DataDir string       `json:"dataDir"`
		Routes  []cniRoute   `json:"routes"`
		Ranges  [][]cniRange `json:"ranges"`
	}
	cniRoute struct {
		Dst string `json:"dst"`
	}
	cniRange struct {
		Subnet string `json:"subnet"`
	}
	cniCapabilities struct {
		PortMappings bool `json:"portMappings"`
	}
)

// ipamDataDir keeps host-local's leases on /run, so that a node that
// restarts starts with every address free, as its pods are gone too.
const ipamDataDir = "/run/cni-ipam-state"

// renderConflist is the node's CNI configuration: ptp, which gives each
// pod a veth and a /32 route on the node, with host-local handing out
// addresses from the node's ranges, then portmap for hostPort. The ptp
// plugin's own masquerade stays off: the masquerade agent's rules decide.
// mtu 0 leaves the MTU to the plugin (the kernel's default).
func renderConflist(podCIDRs []netip.Prefix, mtu int) ([]byte, error) {
	if len(podCIDRs) == 0 {
		return nil, errors.New("no pod CIDR")
	}
	ipam := &cniIPAM{Type: "host-local", DataDir: ipamDataDir}
	haveDefault := map[bool]bool{}
	for _, cidr := range podCIDRs {
		ipam.Ranges = append(ipam.Ranges, []cniRange{{Subnet: cidr.String()}})
		is4 := cidr.Addr().Is4()
		if haveDefault[is4] {
			continue
		}
		haveDefault[is4] = true
		dst := "0.0.0.0/0"
		if !is4 {
			dst = "::/0"
		}
		ipam.Routes = append(ipam.Routes, cniRoute{Dst: dst})
	}
	noMasq := false
	list := cniConfList{
		CNIVersion: "0.3.1",
		Name:       "kindnet",
		Plugins: []cniPlugin{
			{Type: "ptp", IPMasq: &noMasq, IPAM: ipam, MTU: mtu},
			{Type: "portmap", Capabilities: &cniCapabilities{PortMappings: true}},
		},
	}
	out, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// writeFileIfChanged replaces path with data unless it already holds
// exactly that, and says whether it wrote. The new content appears at
// once or not at all: it is written to a temporary file in the same
// directory, whose name ends in .tmp so that CNI's loader (which reads
// .conf, .conflist and .json) never sees it half-written, then renamed.
func writeFileIfChanged(path string, data []byte) (bool, error) {
	current, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(current, data):
		return false, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("rename into place: %w", err)
	}
	// The rename is durable only once the directory is.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return true, nil
}
