package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"net"
	"testing"
	"time"
)

var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testOptions() Options {
	return Options{
		Nodes: []Node{
			{Name: "kindish-control-plane", IP: net.ParseIP("172.18.0.2"), ControlPlane: true},
			{Name: "kindish-worker", IP: net.ParseIP("172.18.0.3")},
			{Name: "kindish-worker2", IP: net.ParseIP("172.18.0.4")},
		},
		APIServerAddress: "127.0.0.1",
		Now:              func() time.Time { return testNow },
	}
}

func mustGenerate(t *testing.T, opts Options) *Bundle {
	t.Helper()
	b, err := Generate(opts)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return b
}

func mustNodeFiles(t *testing.T, b *Bundle, node string) map[string]File {
	t.Helper()
	files, err := b.NodeFiles(node)
	if err != nil {
		t.Fatalf("NodeFiles(%s): %v", node, err)
	}
	return files
}

func parseCert(t *testing.T, name string, data []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: no CERTIFICATE block", name)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cert
}

// privateKeys returns every private key in data, parsed.
func privateKeys(t *testing.T, name string, data []byte) []crypto.Signer {
	t.Helper()
	var keys []crypto.Signer
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return keys
		}
		if block.Type != "PRIVATE KEY" {
			continue
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		keys = append(keys, key.(crypto.Signer))
	}
}

func samePublicKey(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
