package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"

	"github.com/kindish/kindish/controlplane/apiserver/subresource"
)

// RunOptions are kube-apiserver's flags, as kubeadm's manifest sets them.
type RunOptions struct {
	BindAddress      string // 0.0.0.0
	SecurePort       int    // 6443
	AdvertiseAddress string // the node's IP: the kubernetes service points here
	TLSCertFile      string
	TLSKeyFile       string
	ClientCAFile     string

	EtcdServers  []string
	EtcdCAFile   string
	EtcdCertFile string
	EtcdKeyFile  string

	ServiceClusterIPRange string
	// ServiceAccountKeyFile holds the public key(s) that verify tokens;
	// ServiceAccountSigningKeyFile the private key that signs them.
	ServiceAccountKeyFile        string
	ServiceAccountSigningKeyFile string
	ServiceAccountIssuer         string

	// KubeletClientCertFile and KeyFile authenticate the server to
	// kubelets; KubeletCAFile verifies them (ClientCAFile when empty: the
	// cluster CA signs both). KubeletAddressTypes orders node addresses.
	KubeletClientCertFile string
	KubeletClientKeyFile  string
	KubeletCAFile         string
	KubeletAddressTypes   []corev1.NodeAddressType

	// DeleteCollectionWorkers: see Config.
	DeleteCollectionWorkers int

	Log *slog.Logger
}

// maxEtcdRequestBytes leaves room above the 3 MiB request limit for the
// object's metadata; clientv3's own default is 2 MiB.
const maxEtcdRequestBytes = 5 << 20

// Run serves the API until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, o RunOptions) error {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	etcd, err := dialEtcd(ctx, o)
	if err != nil {
		return err
	}
	defer etcd.Close()

	cidr, err := netip.ParsePrefix(o.ServiceClusterIPRange)
	if err != nil {
		return fmt.Errorf("--service-cluster-ip-range %q: %w", o.ServiceClusterIPRange, err)
	}
	saPublic, err := os.ReadFile(o.ServiceAccountKeyFile)
	if err != nil {
		return fmt.Errorf("--service-account-key-file: %w", err)
	}
	saPrivate, err := os.ReadFile(o.ServiceAccountSigningKeyFile)
	if err != nil {
		return fmt.Errorf("--service-account-signing-key-file: %w", err)
	}
	advertise, err := netip.ParseAddr(o.AdvertiseAddress)
	if err != nil {
		return fmt.Errorf("--advertise-address %q: %w", o.AdvertiseAddress, err)
	}
	var kubelet subresource.KubeletDialer
	if o.KubeletClientCertFile != "" {
		ca := o.KubeletCAFile
		if ca == "" {
			ca = o.ClientCAFile
		}
		kubelet, err = NewKubeletClient(KubeletClientConfig{
			CertFile: o.KubeletClientCertFile, KeyFile: o.KubeletClientKeyFile, CAFile: ca, AddressTypes: o.KubeletAddressTypes,
		})
		if err != nil {
			return err
		}
	}
	srv, err := New(Config{
		Etcd:          etcd,
		ServiceCIDR:   cidr,
		ServerAddress: net.JoinHostPort(o.AdvertiseAddress, strconv.Itoa(o.SecurePort)),
		Auth: AuthConfig{
			ServiceAccountKey:        saPrivate,
			ServiceAccountPublicKeys: saPublic,
			Issuer:                   o.ServiceAccountIssuer,
		},
		Kubelet:                 kubelet,
		DeleteCollectionWorkers: o.DeleteCollectionWorkers,
		Log:                     log,
	})
	if err != nil {
		return err
	}
	tlsConfig, err := servingTLS(o)
	if err != nil {
		return err
	}
	listener, err := tls.Listen("tcp", net.JoinHostPort(o.BindAddress, strconv.Itoa(o.SecurePort)), tlsConfig)
	if err != nil {
		return fmt.Errorf("listen on %s:%d: %w", o.BindAddress, o.SecurePort, err)
	}
	start := time.Now()
	if err := srv.Start(ctx); err != nil {
		listener.Close()
		return fmt.Errorf("start: %w", err)
	}
	if err := srv.ReconcileKubernetesService(ctx, advertise, o.SecurePort); err != nil {
		log.Warn("the kubernetes service could not be written yet", "error", err)
	}
	// Starting leaves megabytes of garbage; hand them back to the system
	// now rather than over the scavenger's next minutes, so that an idle
	// server is small.
	debug.FreeOSMemory()
	httpServer := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 30 * time.Second,
		// Watches stream for up to an hour: no write timeout.
		IdleTimeout: 90 * time.Second,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	log.Info("serving", "address", listener.Addr().String(), "startup", time.Since(start).Round(time.Millisecond))
	errCh := make(chan error, 1)
	go func() { errCh <- httpServer.Serve(listener) }()
	select {
	case err := <-errCh:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Watches never end on their own; Shutdown waits for them only until
	// the deadline, then Close cuts them.
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		httpServer.Close()
	}
	return nil
}

func dialEtcd(ctx context.Context, o RunOptions) (*clientv3.Client, error) {
	if len(o.EtcdServers) == 0 {
		return nil, errors.New("--etcd-servers is required")
	}
	cert, err := tls.LoadX509KeyPair(o.EtcdCertFile, o.EtcdKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--etcd-certfile/--etcd-keyfile: %w", err)
	}
	pool, err := certPool(o.EtcdCAFile)
	if err != nil {
		return nil, fmt.Errorf("--etcd-cafile: %w", err)
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:          o.EtcdServers,
		DialTimeout:        20 * time.Second,
		DialKeepAliveTime:  30 * time.Second,
		MaxCallSendMsgSize: maxEtcdRequestBytes,
		TLS:                &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12},
		Logger:             zap.NewNop(),
		Context:            ctx,
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %v: %w", o.EtcdServers, err)
	}
	return client, nil
}

// servingTLS verifies client certificates when given: certificates are one
// way to authenticate, ServiceAccount tokens another.
func servingTLS(o RunOptions) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert-file/--tls-private-key-file: %w", err)
	}
	pool, err := certPool(o.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("--client-ca-file: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}, nil
}

func certPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}
