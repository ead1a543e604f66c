package registry

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The registry's PKI follows cluster/pki's conventions (ECDSA P-256 keys
// in PKCS #8, random serials, kubeadm's validity periods, backdated
// certificates), whose helpers are private to the cluster PKI. It is a
// separate authority from any cluster's: a cluster's credentials never open
// the registry, and the registry's never open a cluster.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// renewBefore is how long before it expires a certificate is replaced.
	// Nodes keep the client certificate they were created with, so a
	// cluster created just before a renewal still has this long.
	renewBefore = 90 * 24 * time.Hour
	// backdate covers a node whose clock runs slightly behind the host's.
	backdate = 5 * time.Minute
)

// The files of the PKI in the state directory. Keys are 0600, and so is
// nothing else: certificates are public.
const (
	caCertFile     = "ca.crt"
	caKeyFile      = "ca.key"
	serverCertFile = "server.crt"
	serverKeyFile  = "server.key"
	clientCertFile = "client.crt"
	clientKeyFile  = "client.key"

	certMode fs.FileMode = 0o644
	keyMode  fs.FileMode = 0o600
	dirMode  fs.FileMode = 0o700
)

// PKI is the registry's certificates, PEM-encoded: one CA that signs the
// server's certificate and the one client certificate that kindish on the
// host and the nodes' containerd present.
type PKI struct {
	CACert     []byte
	ServerCert []byte
	ServerKey  []byte
	ClientCert []byte
	ClientKey  []byte
}

// Fingerprint identifies the authority and the server certificate a
// registry container was given: when it changes, the container must be
// recreated with the new files.
func (p *PKI) Fingerprint() string {
	h := sha256.New()
	h.Write(p.CACert)
	h.Write(p.ServerCert)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// keyPair is a parsed certificate with its key.
type keyPair struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

// loadOrCreatePKI reads the PKI kept in dir, generating what is missing,
// invalid or about to expire, and writes back what it generated. The
// server certificate names serverName (the registry's container name,
// which nodes dial), localhost and 127.0.0.1 (the host's published port).
// A new CA brings new server and client certificates.
func loadOrCreatePKI(dir, serverName string, now time.Time) (*PKI, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("registry PKI %s: %w", dir, err)
	}
	// MkdirAll leaves an existing directory's mode alone.
	if err := os.Chmod(dir, dirMode); err != nil {
		return nil, fmt.Errorf("registry PKI %s: %w", dir, err)
	}

	ca, err := readPair(dir, caCertFile, caKeyFile)
	if err != nil || !ca.cert.IsCA || !fresh(ca.cert, now) {
		if ca, err = newPair(caTemplate(now), nil); err != nil {
			return nil, fmt.Errorf("registry PKI: CA: %w", err)
		}
		if err := writePair(dir, caCertFile, caKeyFile, ca); err != nil {
			return nil, err
		}
	}

	server, err := readPair(dir, serverCertFile, serverKeyFile)
	if err != nil || !issuedBy(server, ca, now) || !servesNames(server.cert, serverName) {
		if server, err = newPair(serverTemplate(serverName, now), ca); err != nil {
			return nil, fmt.Errorf("registry PKI: server certificate: %w", err)
		}
		if err := writePair(dir, serverCertFile, serverKeyFile, server); err != nil {
			return nil, err
		}
	}

	client, err := readPair(dir, clientCertFile, clientKeyFile)
	if err != nil || !issuedBy(client, ca, now) {
		if client, err = newPair(clientTemplate(now), ca); err != nil {
			return nil, fmt.Errorf("registry PKI: client certificate: %w", err)
		}
		if err := writePair(dir, clientCertFile, clientKeyFile, client); err != nil {
			return nil, err
		}
	}

	return &PKI{
		CACert:     ca.certPEM,
		ServerCert: server.certPEM,
		ServerKey:  server.keyPEM,
		ClientCert: client.certPEM,
		ClientKey:  client.keyPEM,
	}, nil
}

// fresh reports whether cert is valid now and for renewBefore to come.
func fresh(cert *x509.Certificate, now time.Time) bool {
	return !now.Before(cert.NotBefore) && now.Add(renewBefore).Before(cert.NotAfter)
}

// issuedBy reports whether leaf is fresh, signed by ca and holds the key
// that goes with its certificate.
func issuedBy(leaf, ca *keyPair, now time.Time) bool {
	if !fresh(leaf.cert, now) || leaf.cert.CheckSignatureFrom(ca.cert) != nil {
		return false
	}
	_, err := tls.X509KeyPair(leaf.certPEM, leaf.keyPEM)
	return err == nil
}

func servesNames(cert *x509.Certificate, serverName string) bool {
	for _, name := range serverDNSNames(serverName) {
		if !slices.Contains(cert.DNSNames, name) {
			return false
		}
	}
	return slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
}

func serverDNSNames(serverName string) []string {
	if serverName == "localhost" {
		return []string{"localhost"}
	}
	return []string{serverName, "localhost"}
}

func caTemplate(now time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: "kindish-registry-ca"},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// It signs the registry's two certificates and nothing else.
		MaxPathLenZero: true,
	}
}

func serverTemplate(serverName string, now time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: serverName},
		NotBefore:   now.Add(-backdate),
		NotAfter:    now.Add(leafValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    serverDNSNames(serverName),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
}

func clientTemplate(now time.Time) *x509.Certificate {
	return &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kindish"},
		NotBefore:   now.Add(-backdate),
		NotAfter:    now.Add(leafValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
}

// newPair creates a key for tmpl and signs it with parent, or self-signs
// it when parent is nil.
func newPair(tmpl *x509.Certificate, parent *keyPair) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ECDSA P-256 key: %w", err)
	}
	// A random positive 128-bit serial needs no state across runs.
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	tmpl.SerialNumber = serial.Add(serial, big.NewInt(1))
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key of %q: %w", tmpl.Subject.CommonName, err)
	}
	return &keyPair{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// errInvalidPair is a certificate or key file that does not parse, or a
// key that is not the certificate's.
var errInvalidPair = errors.New("not a matching ECDSA certificate and key")

func readPair(dir, certFile, keyFile string) (*keyPair, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, certFile))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", certFile, errInvalidPair, err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: %w", keyFile, errInvalidPair)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", certFile, errInvalidPair, err)
	}
	return &keyPair{cert: cert, key: key, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// writePair writes the key first, then the certificate, each through a
// temporary file: a reader never sees half a file, and a certificate
// never stands next to a key that is not its own for longer than a rename.
func writePair(dir, certFile, keyFile string, kp *keyPair) error {
	if err := writeFile(filepath.Join(dir, keyFile), kp.keyPEM, keyMode); err != nil {
		return fmt.Errorf("registry PKI: %w", err)
	}
	if err := writeFile(filepath.Join(dir, certFile), kp.certPEM, certMode); err != nil {
		return fmt.Errorf("registry PKI: %w", err)
	}
	return nil
}

func writeFile(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes it 0600 already; Chmod states the intent and makes
	// certificates readable.
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
