package registry

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/docker/go-connections/nat"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kindish/kindish/cluster/provider"
	imageregistry "github.com/kindish/kindish/images/registry"
)

var testNetwork = provider.Network{Name: "kindish", Subnet: netip.MustParsePrefix("172.18.0.0/16"), Gateway: netip.MustParseAddr("172.18.0.1")}

// fakeDocker keeps one registry container in memory and logs the calls
// that change it.
type fakeDocker struct {
	Docker   // calls the tests do not expect panic
	c        *container.InspectResponse
	calls    []string
	startErr error
	copied   []byte
}

func (f *fakeDocker) ContainerInspect(_ context.Context, name string) (container.InspectResponse, error) {
	if f.c == nil {
		return container.InspectResponse{}, errdefs.NotFound(errors.New("no such container"))
	}
	return *f.c, nil
}

func (f *fakeDocker) VolumeCreate(_ context.Context, o volume.CreateOptions) (volume.Volume, error) {
	f.calls = append(f.calls, "volume "+o.Name)
	return volume.Volume{Name: o.Name}, nil
}

func (f *fakeDocker) ContainerCreate(_ context.Context, cfg *container.Config, host *container.HostConfig, net *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	f.calls = append(f.calls, "create "+name)
	if f.c != nil {
		return container.CreateResponse{}, errdefs.Conflict(errors.New("name in use"))
	}
	eps := map[string]*network.EndpointSettings{}
	for n, ep := range net.EndpointsConfig {
		eps[n] = ep
	}
	f.c = &container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{ID: "id-" + name, Name: "/" + name, Image: "sha256:image", State: &container.State{Status: "created"}},
		Config:            cfg,
		NetworkSettings:   &container.NetworkSettings{Networks: eps},
	}
	return container.CreateResponse{ID: f.c.ID}, nil
}

func (f *fakeDocker) CopyToContainer(_ context.Context, id, path string, content io.Reader, _ container.CopyToContainerOptions) error {
	f.calls = append(f.calls, "copy "+path)
	f.copied, _ = io.ReadAll(content)
	return nil
}

func (f *fakeDocker) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	f.calls = append(f.calls, "start")
	if f.startErr != nil {
		return f.startErr
	}
	f.c.State = &container.State{Status: "running", Running: true}
	f.c.NetworkSettings.Ports = nat.PortMap{"5000/tcp": {{HostIP: "127.0.0.1", HostPort: "32768"}}}
	return nil
}

func (f *fakeDocker) ContainerRemove(_ context.Context, id string, _ container.RemoveOptions) error {
	f.calls = append(f.calls, "remove")
	f.c = nil
	return nil
}

func (f *fakeDocker) ImageInspect(context.Context, string, ...client.ImageInspectOption) (image.InspectResponse, error) {
	return image.InspectResponse{ID: "sha256:image"}, nil
}

type fakeNetwork struct{}

func (fakeNetwork) EnsureNetwork(context.Context) (provider.Network, error) { return testNetwork, nil }
func (fakeNetwork) AllocateIPs(context.Context, provider.Network, int) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("172.18.0.9")}, nil
}

func testManager(t *testing.T, d *fakeDocker) *containerManager {
	p, err := loadOrCreatePKI(t.TempDir(), "kindish-registry", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	opts, err := Options{StateDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return &containerManager{docker: d, nodes: fakeNetwork{}, opts: opts, network: testNetwork, want: wanted{image: "sha256:image", pki: p.Fingerprint()}, pki: p}
}

func TestEnsureCreatesCopiesStartsThenFinds(t *testing.T) {
	d := &fakeDocker{}
	c := testManager(t, d)
	addr, err := c.ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1:32768" {
		t.Errorf("address %q", addr)
	}
	// The files go in before the start: the registry reads them at boot.
	if want := []string{"volume kindish-registry", "create kindish-registry", "copy /", "start"}; !slices.Equal(d.calls, want) {
		t.Errorf("calls %q, want %q", d.calls, want)
	}
	d.calls = nil
	if _, err := c.ensure(context.Background()); err != nil || len(d.calls) != 0 {
		t.Errorf("a running, current container: calls %q, %v", d.calls, err)
	}
}

func TestEnsureReplacesAStaleContainer(t *testing.T) {
	d := &fakeDocker{}
	c := testManager(t, d)
	if _, err := c.ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.c.Config.Labels[pkiLabel] = "another PKI"
	d.calls = nil
	if _, err := c.ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"remove", "volume kindish-registry", "create kindish-registry", "copy /", "start"}; !slices.Equal(d.calls, want) {
		t.Errorf("calls %q, want %q", d.calls, want)
	}
}

func TestEnsureReplacesAContainerThatDoesNotStart(t *testing.T) {
	d := &fakeDocker{}
	c := testManager(t, d)
	if _, err := c.ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.c.State = &container.State{Status: "exited"}
	d.startErr = errors.New("Address already in use")
	d.calls = nil
	_, err := c.ensure(context.Background())
	if err == nil || !strings.Contains(err.Error(), "gave up after 5 attempts") || !strings.Contains(err.Error(), "Address already in use") {
		t.Fatalf("err = %v, want the attempts and the cause", err)
	}
	if d.calls[0] != "start" || d.calls[1] != "remove" {
		t.Errorf("calls %q, want a start, then a removal", d.calls)
	}
	d.startErr = nil
	if _, err := c.ensure(context.Background()); err != nil {
		t.Errorf("once the address is free: %v", err)
	}
}

func TestStaleSaysWhy(t *testing.T) {
	c := testManager(t, &fakeDocker{})
	good := func() container.InspectResponse {
		return container.InspectResponse{
			ContainerJSONBase: &container.ContainerJSONBase{Image: "sha256:image", State: &container.State{Status: "running", Running: true}},
			Config:            &container.Config{Labels: map[string]string{pkiLabel: c.want.pki}},
			NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
				"kindish": {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: "172.18.0.9"}},
			}},
		}
	}
	if reason := c.stale(good()); reason != "" {
		t.Fatalf("a good container is stale: %s", reason)
	}
	for want, spoil := range map[string]func(*container.InspectResponse){
		"other certificates":    func(i *container.InspectResponse) { i.Config.Labels = nil },
		"runs image sha256:old": func(i *container.InspectResponse) { i.Image = "sha256:old" },
		"never started":         func(i *container.InspectResponse) { i.State = &container.State{Status: "created"} },
		"not on network":        func(i *container.InspectResponse) { i.NetworkSettings.Networks = nil },
		"outside network": func(i *container.InspectResponse) {
			i.NetworkSettings.Networks["kindish"].IPAMConfig.IPv4Address = "10.0.0.5"
		},
	} {
		info := good()
		spoil(&info)
		if reason := c.stale(info); !strings.Contains(reason, want) {
			t.Errorf("stale = %q, want it to say %q", reason, want)
		}
	}
	stopped := good()
	stopped.State = &container.State{Status: "exited"}
	if reason := c.stale(stopped); reason != "" {
		t.Errorf("a stopped container is stale (%s); it only needs a start", reason)
	}
}

func TestContainerConfig(t *testing.T) {
	opts, _ := Options{Name: "kindish-registry", StateDir: "/state"}.withDefaults()
	cfg, host, net := containerConfig(opts, wanted{image: "sha256:image", pki: "fp"}, "kindish", netip.MustParseAddr("172.18.0.9"))
	if cfg.Image != imageregistry.Image() || cfg.Labels[pkiLabel] != "fp" || cfg.Labels[RegistryLabel] != "kindish-registry" {
		t.Errorf("config %+v", cfg)
	}
	if b := host.PortBindings["5000/tcp"]; len(b) != 1 || b[0].HostIP != "127.0.0.1" || b[0].HostPort != "" {
		t.Errorf("port bindings %v, want 5000 on 127.0.0.1, a port Docker picks", host.PortBindings)
	}
	if len(host.Mounts) != 1 || host.Mounts[0].Source != "kindish-registry" || host.Mounts[0].Target != imageregistry.StorageDir {
		t.Errorf("mounts %+v, want the named volume at %s", host.Mounts, imageregistry.StorageDir)
	}
	if host.Privileged || !slices.Equal(host.CapDrop, []string{"ALL"}) || !slices.Contains(host.SecurityOpt, "no-new-privileges") {
		t.Errorf("privileges: %v %v %v", host.Privileged, host.CapDrop, host.SecurityOpt)
	}
	if host.RestartPolicy.Name != container.RestartPolicyUnlessStopped {
		t.Errorf("restart policy %v", host.RestartPolicy)
	}
	ep := net.EndpointsConfig["kindish"]
	if ep == nil || ep.IPAMConfig.IPv4Address != "172.18.0.9" || !slices.Equal(ep.Aliases, []string{"kindish-registry"}) {
		t.Errorf("endpoint %+v", ep)
	}
}

func TestTLSFilesAreTheRegistryUsers(t *testing.T) {
	p, err := loadOrCreatePKI(t.TempDir(), "kindish-registry", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := tlsTar(p)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got[h.Name] = fmt.Sprintf("%o %d:%d %d", h.Mode, h.Uid, h.Gid, len(body))
		if "/"+h.Name == imageregistry.TLSPaths.ServerKey && !bytes.Equal(body, p.ServerKey) {
			t.Error("server key entry is not the server key")
		}
	}
	want := map[string]string{
		"etc/distribution/tls/":              "755 0:0 0",
		"etc/distribution/tls/server.crt":    fmt.Sprintf("644 65534:65534 %d", len(p.ServerCert)),
		"etc/distribution/tls/server.key":    fmt.Sprintf("600 65534:65534 %d", len(p.ServerKey)),
		"etc/distribution/tls/client-ca.crt": fmt.Sprintf("644 65534:65534 %d", len(p.CACert)),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("entries %v, want %v", got, want)
	}
}

func TestPublishedAddress(t *testing.T) {
	info := container.InspectResponse{
		ContainerJSONBase: &container.ContainerJSONBase{Name: "/kindish-registry"},
		NetworkSettings: &container.NetworkSettings{NetworkSettingsBase: container.NetworkSettingsBase{Ports: nat.PortMap{
			"5000/tcp": {{HostIP: "::1", HostPort: "1"}, {HostIP: "127.0.0.1", HostPort: "32770"}},
		}}},
	}
	if addr, err := publishedAddress(info); err != nil || addr != "127.0.0.1:32770" {
		t.Errorf("publishedAddress = %q, %v", addr, err)
	}
	info.NetworkSettings.Ports = nil
	if _, err := publishedAddress(info); err == nil || !strings.Contains(err.Error(), "kindish-registry") {
		t.Errorf("unpublished port: %v", err)
	}
}

func TestLockMakesProcessesTakeTurns(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockDir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := lockDir(ctx, dir); err == nil || !strings.Contains(err.Error(), "another kindish holds it") {
		t.Errorf("second lock while held: %v", err)
	}
	unlock()
	again, err := lockDir(context.Background(), dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again()
}
