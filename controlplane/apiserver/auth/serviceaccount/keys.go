package serviceaccount

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParsePrivateKey reads the signing key from sa.key: a PEM "PRIVATE KEY"
// (PKCS #8) or "EC PRIVATE KEY" (SEC 1) holding an ECDSA P-256 key.
func ParsePrivateKey(pemData []byte) (*ecdsa.PrivateKey, error) {
	for rest := pemData; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("parse service account signing key: no PRIVATE KEY block")
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse service account signing key: %w", err)
		}
		ec, ok := key.(*ecdsa.PrivateKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("parse service account signing key: %T is not an ECDSA P-256 key", key)
		}
		return ec, nil
	}
}

// ParsePublicKeys reads the verification keys from sa.pub: every PEM
// "PUBLIC KEY" (PKIX) block, so that a file holding the old and the new key
// verifies tokens of both during a rotation. Certificates are accepted too,
// as upstream's --service-account-key-file does.
func ParsePublicKeys(pemData []byte) ([]*ecdsa.PublicKey, error) {
	var keys []*ecdsa.PublicKey
	for rest := pemData; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		case "PRIVATE KEY", "EC PRIVATE KEY":
			var priv *ecdsa.PrivateKey
			if priv, err = ParsePrivateKey(pem.EncodeToMemory(block)); err == nil {
				key = &priv.PublicKey
			}
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse service account public key: %w", err)
		}
		ec, ok := key.(*ecdsa.PublicKey)
		if !ok || ec.Curve != elliptic.P256() {
			return nil, fmt.Errorf("parse service account public key: %T is not an ECDSA P-256 key", key)
		}
		keys = append(keys, ec)
	}
	if len(keys) == 0 {
		return nil, errors.New("parse service account public key: no PUBLIC KEY block")
	}
	return keys, nil
}

// KeyID is the "kid" of tokens signed with key, computed as upstream does
// so that the same key has the same ID in a kindish and a kubeadm cluster
// (and in the issuer's JWKS): the unpadded base64url SHA-256 of the PKIX
// public key.
func KeyID(key *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return "", fmt.Errorf("key ID: %w", err)
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}
