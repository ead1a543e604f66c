package docker

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/kindish/kindish/cluster/provider"
)

func TestPickSubnetSkipsUsedRanges(t *testing.T) {
	used := []netip.Prefix{
		netip.MustParsePrefix("172.17.0.0/16"), // docker0
		netip.MustParsePrefix("172.18.0.0/16"), // another network
		netip.MustParsePrefix("172.19.5.0/24"), // a host interface inside 172.19/16
	}
	got, err := pickSubnet(used)
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParsePrefix("172.20.0.0/16"); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestPickSubnetFallsBackTo192168(t *testing.T) {
	got, err := pickSubnet([]netip.Prefix{netip.MustParsePrefix("172.16.0.0/12")})
	if err != nil {
		t.Fatal(err)
	}
	if want := netip.MustParsePrefix("192.168.0.0/20"); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestFreeAddrsSkipsTakenAndGateway(t *testing.T) {
	nw := provider.Network{Name: "kindish", Subnet: netip.MustParsePrefix("172.20.0.0/16"), Gateway: netip.MustParseAddr("172.20.0.1")}
	taken := map[netip.Addr]bool{nw.Gateway: true, netip.MustParseAddr("172.20.0.3"): true}
	got, err := freeAddrs(nw, taken, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("172.20.0.2"), netip.MustParseAddr("172.20.0.4"), netip.MustParseAddr("172.20.0.5")}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestFreeAddrsReportsAFullNetwork(t *testing.T) {
	nw := provider.Network{Name: "kindish", Subnet: netip.MustParsePrefix("10.0.0.0/30"), Gateway: netip.MustParseAddr("10.0.0.1")}
	if _, err := freeAddrs(nw, map[netip.Addr]bool{nw.Gateway: true}, 2); err == nil {
		t.Fatal("a /30 with its gateway taken has one free address, want an error for two")
	}
}

func TestContainerConfigFallbackUsesExplicitCapabilities(t *testing.T) {
	spec := provider.NodeSpec{
		Name: "c-control-plane", Cluster: "c", Role: "control-plane", Image: "kindish/node:x",
		IP:    netip.MustParseAddr("172.20.0.2"),
		Ports: []provider.PortMapping{{ListenAddress: "127.0.0.1", HostPort: 40000, ContainerPort: 6443}},
	}
	cfg, host, net, err := containerConfig(spec, false)
	if err != nil {
		t.Fatal(err)
	}
	if host.Privileged || !slices.Contains(host.CapAdd, "SYS_ADMIN") || !slices.Contains(host.SecurityOpt, "seccomp=unconfined") {
		t.Fatalf("fallback config lacks the explicit set: privileged=%v caps=%v secopt=%v", host.Privileged, host.CapAdd, host.SecurityOpt)
	}
	if host.MaskedPaths == nil || len(host.MaskedPaths) != 0 || host.ReadonlyPaths == nil || len(host.ReadonlyPaths) != 0 {
		t.Fatalf("systempaths must be unconfined with empty, non-nil lists: %#v %#v", host.MaskedPaths, host.ReadonlyPaths)
	}
	if !host.CgroupnsMode.IsPrivate() || host.Tmpfs["/run"] == "" || host.Mounts[0].Target != "/var/lib/containerd" {
		t.Fatalf("node basics missing: %+v", host)
	}
	if cfg.Hostname != spec.Name || cfg.Labels[provider.ClusterLabel] != "c" || cfg.Labels[provider.RoleLabel] != "control-plane" {
		t.Fatalf("identity wrong: %+v", cfg)
	}
	if b := host.PortBindings["6443/tcp"]; len(b) != 1 || b[0].HostPort != "40000" || b[0].HostIP != "127.0.0.1" {
		t.Fatalf("api server binding wrong: %+v", host.PortBindings)
	}
	if got := net.EndpointsConfig[NetworkName].IPAMConfig.IPv4Address; got != "172.20.0.2" {
		t.Fatalf("static address %q", got)
	}
	_, host, _, _ = containerConfig(spec, true)
	if !host.Privileged || len(host.CapAdd) != 0 {
		t.Fatalf("privileged config must not add caps: %+v", host)
	}
}

func TestPrivilegedRefusalIsRecognised(t *testing.T) {
	err := errors.New(`Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: unable to apply caps: operation not permitted: unknown`)
	if !isPrivilegedRefusal(err) {
		t.Fatal("runc's caps refusal not recognised")
	}
	if isPrivilegedRefusal(errors.New("port is already allocated")) {
		t.Fatal("an unrelated error taken for a caps refusal")
	}
}

func TestFilesCopiedIsTheArchivesLastEntry(t *testing.T) {
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	for _, f := range []struct{ name, data string }{{"etc/kubernetes/admin.conf", "kubeconfig"}, {"var/lib/kubelet/kubeadm-flags.env", "flags"}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o600, Size: int64(len(f.data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}

	out, err := withFilesCopied(in.Bytes(), "/kind/files-copied")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		got = append(got, fmt.Sprintf("%s %o %q", hdr.Name, hdr.Mode, data))
	}
	want := []string{`etc/kubernetes/admin.conf 600 "kubeconfig"`, `var/lib/kubelet/kubeadm-flags.env 600 "flags"`, `kind/files-copied 644 ""`}
	if !slices.Equal(got, want) {
		t.Errorf("entries %q, want %q", got, want)
	}

	if same, _ := withFilesCopied(in.Bytes(), ""); !bytes.Equal(same, in.Bytes()) {
		t.Error("without a FilesCopied path the archive changed")
	}
	if _, err := withFilesCopied([]byte("not a tar archive, long enough to fill one header block"+strings.Repeat(".", 512)), "/kind/files-copied"); err == nil {
		t.Error("a corrupt archive was accepted")
	}
}
