package registry

import (
	"crypto/x509"
	"encoding/pem"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

func parseCert(t *testing.T, pemData []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(pemData)
	if block == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPKIIsGeneratedOnceAndKeptPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "registry")
	now := time.Now()
	first, err := loadOrCreatePKI(dir, "kindish-registry", now)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %v, want 0700", st.Mode().Perm())
	}
	for name, want := range map[string]fs.FileMode{
		caCertFile: 0o644, caKeyFile: 0o600,
		serverCertFile: 0o644, serverKeyFile: 0o600,
		clientCertFile: 0o644, clientKeyFile: 0o600,
	} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: %v, mode %v; want %v", name, err, st.Mode().Perm(), want)
		}
	}

	again, err := loadOrCreatePKI(dir, "kindish-registry", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, first) {
		t.Error("a second run replaced a valid PKI")
	}
}

func TestPKICertificatesSayWhatTheyAreFor(t *testing.T) {
	p, err := loadOrCreatePKI(t.TempDir(), "kindish-registry", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(p.CACert)
	server := parseCert(t, p.ServerCert)
	for _, name := range []string{"kindish-registry", "localhost", "127.0.0.1"} {
		if _, err := server.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if !slices.ContainsFunc(server.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) }) {
		t.Errorf("server IP SANs %v lack 127.0.0.1", server.IPAddresses)
	}
	client := parseCert(t, p.ClientCert)
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("the client certificate can serve")
	}
	ca := parseCert(t, p.CACert)
	if !ca.IsCA || !ca.MaxPathLenZero || ca.NotAfter.Sub(ca.NotBefore) < 9*365*24*time.Hour {
		t.Errorf("CA: IsCA %v, MaxPathLenZero %v, valid %v", ca.IsCA, ca.MaxPathLenZero, ca.NotAfter.Sub(ca.NotBefore))
	}
}

func TestPKIRenewsWhatWouldExpireUnderTheSameCA(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	first, err := loadOrCreatePKI(dir, "kindish-registry", now)
	if err != nil {
		t.Fatal(err)
	}
	// Eleven months on, the leaves have less than renewBefore left.
	later, err := loadOrCreatePKI(dir, "kindish-registry", now.Add(330*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if string(later.CACert) != string(first.CACert) {
		t.Error("renewing the leaves replaced the CA: every node would lose the registry")
	}
	if string(later.ServerCert) == string(first.ServerCert) || string(later.ClientCert) == string(first.ClientCert) {
		t.Error("leaves about to expire were kept")
	}
	if later.Fingerprint() == first.Fingerprint() {
		t.Error("a new server certificate kept the fingerprint: the container would keep the old one")
	}
}

func TestPKIFollowsTheServerName(t *testing.T) {
	dir := t.TempDir()
	first, err := loadOrCreatePKI(dir, "kindish-registry", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, err := loadOrCreatePKI(dir, "kindish-registry-test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if string(other.CACert) != string(first.CACert) || string(other.ClientCert) != string(first.ClientCert) {
		t.Error("a new server name replaced more than the server certificate")
	}
	if !slices.Contains(parseCert(t, other.ServerCert).DNSNames, "kindish-registry-test") {
		t.Error("the server certificate does not name the new server")
	}
}

func TestPKIRecoversFromDamage(t *testing.T) {
	dir := t.TempDir()
	first, err := loadOrCreatePKI(dir, "kindish-registry", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// A client key that is not the certificate's: only the client pair
	// is issued again.
	os.WriteFile(filepath.Join(dir, clientKeyFile), first.ServerKey, 0o600)
	fixed, err := loadOrCreatePKI(dir, "kindish-registry", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if string(fixed.CACert) != string(first.CACert) || string(fixed.ClientCert) == string(first.ClientCert) {
		t.Error("a mismatched client key was not replaced alone")
	}
	// A lost CA key: a new CA, and new leaves signed by it.
	os.Remove(filepath.Join(dir, caKeyFile))
	fresh, err := loadOrCreatePKI(dir, "kindish-registry", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if string(fresh.CACert) == string(first.CACert) {
		t.Fatal("the CA was kept without its key")
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(fresh.CACert)
	if _, err := parseCert(t, fresh.ServerCert).Verify(x509.VerifyOptions{DNSName: "kindish-registry", Roots: roots}); err != nil {
		t.Errorf("server certificate under the new CA: %v", err)
	}
}
