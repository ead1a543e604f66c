package registry

import (
	"archive/tar"
	"bytes"
	"fmt"
	"path"
	"runtime"
	"strconv"
	"strings"
	"text/template"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kindish/kindish/images/archive"
)

// The image's layout: where the binary, its configuration and its data
// live, and the files the configuration names that the image lacks.
const (
	// BinaryPath is the registry binary, and the entrypoint.
	BinaryPath = "/registry"
	// ConfigPath is the configuration `registry serve` reads, upstream's
	// path for it.
	ConfigPath = "/etc/distribution/config.yml"
	// StorageDir is where the images are kept; mount a volume there.
	StorageDir = "/var/lib/registry"
	// TLSDir holds what TLSFiles names; it is not in the image.
	TLSDir = "/etc/distribution/tls"
	// Port is the HTTPS port, in the container.
	Port = 5000
	// UID and GID are the registry's user and group: nobody and nogroup.
	// The registry needs no privilege: its port is above 1024 and it
	// writes only StorageDir, which the image gives to this user.
	UID = 65534
	GID = 65534
)

// TLSFiles are the files the configuration names under TLSDir, which must
// be in the container, readable by UID, before it starts.
type TLSFiles struct {
	// ServerCert and ServerKey are the registry's serving certificate
	// (PEM) and its key (PEM, PKCS #8).
	ServerCert, ServerKey string
	// ClientCA holds the certificates (PEM) that sign the client
	// certificates the registry accepts.
	ClientCA string
}

// TLSPaths are the paths of the TLS files in the container.
var TLSPaths = TLSFiles{
	ServerCert: TLSDir + "/server.crt",
	ServerKey:  TLSDir + "/server.key",
	ClientCA:   TLSDir + "/client-ca.crt",
}

var configTemplate = template.Must(template.New("config.yml").Parse(`# The kindish registry: CNCF Distribution {{.Version}}, configured by kindish
# (images/registry). Part of the kindish/registry image.
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    # A named volume: the images outlive the container.
    rootdirectory: {{.StorageDir}}
  delete:
    enabled: true
  maintenance:
    # Uploads that a killed client left half done are removed after a week.
    uploadpurging:
      enabled: true
      age: 168h
      interval: 24h
      dryrun: false
http:
  addr: :{{.Port}}
  # The registry is PID 1 of its container, where a signal without a
  # handler is ignored: without a drain timeout it installs none, and
  # docker stop waits ten seconds and kills it. With one, SIGTERM lets the
  # requests under way finish, for up to this long, and the registry exits.
  draintimeout: 5s
  # No secret is set: the registry draws a random one at every start, which
  # only breaks uploads spread over several registry instances, and there
  # is one.
  tls:
    certificate: {{.TLS.ServerCert}}
    key: {{.TLS.ServerKey}}
    # Mutual TLS: every connection must present a client certificate that
    # the kindish registry CA signed; there is no anonymous access at all.
    clientcas:
      - {{.TLS.ClientCA}}
    clientauth: require-and-verify-client-cert
    # Every client is Go (containerd, kindish, docker): all speak TLS 1.3.
    minimumtls: tls1.3
  headers:
    X-Content-Type-Options: [nosniff]
health:
  # A failing volume turns every answer into 503 rather than into errors
  # deep inside a pull.
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`))

// Config is the registry's configuration file, ConfigPath in the image.
func Config() []byte {
	var b bytes.Buffer
	err := configTemplate.Execute(&b, struct {
		Version, StorageDir string
		Port                int
		TLS                 TLSFiles
	}{Version, StorageDir, Port, TLSPaths})
	if err != nil {
		// The template is constant and its data always complete.
		panic(err)
	}
	return b.Bytes()
}

// Files is the image's root-owned content: the binary and its
// configuration.
func Files(registryBinary string) []archive.File {
	return []archive.File{
		archive.HostFile(BinaryPath, registryBinary, 0o755),
		archive.Bytes(ConfigPath, Config(), 0o644),
	}
}

// NewImage is the registry image made of the binary at registryBinary:
// Files, and StorageDir owned by the registry's user. Like every image
// kindish makes it is reproducible, so its ID tells whether the engine's
// copy is current.
func NewImage(registryBinary string) (v1.Image, error) {
	files, err := archive.NewLayer(Files(registryBinary))
	if err != nil {
		return nil, fmt.Errorf("registry image: %w", err)
	}
	storage, err := ownedDirLayer(StorageDir, UID, GID, 0o700)
	if err != nil {
		return nil, fmt.Errorf("registry image: %w", err)
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Created:      v1.Time{Time: archive.Epoch},
		Config: v1.Config{
			Entrypoint:   []string{BinaryPath},
			Cmd:          []string{"serve", ConfigPath},
			WorkingDir:   "/",
			User:         strconv.Itoa(UID) + ":" + strconv.Itoa(GID),
			ExposedPorts: map[string]struct{}{strconv.Itoa(Port) + "/tcp": {}},
			Env: []string{
				// Distribution always sets up OpenTelemetry tracing, whose
				// default exporter sends every span to an OTLP collector
				// on localhost; there is none.
				"OTEL_TRACES_EXPORTER=none",
			},
			Labels: map[string]string{"io.kindish.component": "registry"},
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, fmt.Errorf("registry image: %w", err)
	}
	for _, add := range []mutate.Addendum{
		{Layer: files, History: v1.History{Created: v1.Time{Time: archive.Epoch}, CreatedBy: "registry " + Version + " and its configuration"}},
		{Layer: storage, History: v1.History{Created: v1.Time{Time: archive.Epoch}, CreatedBy: StorageDir + " for the registry's user"}},
	} {
		if img, err = mutate.Append(img, add); err != nil {
			return nil, fmt.Errorf("registry image: %w", err)
		}
	}
	return img, nil
}

// ownedDirLayer is a layer holding the directory dir, owned by uid:gid,
// and its root-owned parents. archive.WriteTar owns every entry by root;
// this one directory is why the image has a second layer. A named volume
// mounted on it starts as a copy of it, ownership included.
func ownedDirLayer(dir string, uid, gid int, perm int64) (v1.Layer, error) {
	var parents []string
	for p := path.Dir(dir); p != "/"; p = path.Dir(p) {
		parents = append([]string{p}, parents...)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	entry := func(name string, mode int64, uid, gid int) error {
		return tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeDir,
			Name:     strings.TrimPrefix(name, "/") + "/",
			Mode:     mode,
			Uid:      uid,
			Gid:      gid,
			ModTime:  archive.Epoch,
			Format:   tar.FormatPAX,
		})
	}
	for _, p := range parents {
		if err := entry(p, 0o755, 0, 0); err != nil {
			return nil, fmt.Errorf("layer %s: %w", dir, err)
		}
	}
	if err := entry(dir, perm, uid, gid); err != nil {
		return nil, fmt.Errorf("layer %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("layer %s: %w", dir, err)
	}
	return static.NewLayer(b.Bytes(), types.DockerUncompressedLayer), nil
}
