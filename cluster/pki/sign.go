package pki

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"
)

const (
	// caValidity and leafValidity are kubeadm's defaults.
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// backdate covers a node whose clock runs slightly behind the host's:
	// a certificate that is not yet valid fails every handshake.
	backdate = 5 * time.Minute
)

// keyPair is a certificate with its key, kept both parsed (to sign with and
// to test) and PEM-encoded (to write out).
type keyPair struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

// leafSpec says what one issued certificate is for.
type leafSpec struct {
	commonName    string
	organizations []string
	usages        []x509.ExtKeyUsage
	dnsNames      []string
	ips           []net.IP
}

func newAuthority(commonName string, now time.Time) (*keyPair, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	kp, err := sign(tmpl, nil)
	if err != nil {
		return nil, fmt.Errorf("create CA %q: %w", commonName, err)
	}
	return kp, nil
}

func (ca *keyPair) issue(spec leafSpec, now time.Time) (*keyPair, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: spec.commonName, Organization: spec.organizations},
		NotBefore:   now.Add(-backdate),
		NotAfter:    now.Add(leafValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: spec.usages,
		DNSNames:    spec.dnsNames,
		IPAddresses: spec.ips,
	}
	kp, err := sign(tmpl, ca)
	if err != nil {
		return nil, fmt.Errorf("issue certificate %q: %w", spec.commonName, err)
	}
	return kp, nil
}

// sign creates a key for tmpl and signs it with parent, or self-signs it
// when parent is nil.
func sign(tmpl *x509.Certificate, parent *keyPair) (*keyPair, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial

	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse signed certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return &keyPair{cert: cert, key: key, certPEM: encodeCert(der), keyPEM: keyPEM}, nil
}

// newSerial returns a random positive 128-bit serial: serials must be unique
// per issuer, and a random one needs no state across runs.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
