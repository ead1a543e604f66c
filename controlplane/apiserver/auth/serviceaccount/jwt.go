package serviceaccount

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// The compact JWS form of ES256 tokens (RFC 7515, RFC 7518 §3.4): the
// signature is r and s, each left-padded to 32 bytes.
const (
	algES256     = "ES256"
	es256SigSize = 64
)

var (
	errMalformed    = errors.New("token is not a compact JWS")
	errBadSignature = errors.New("token signature is invalid")
)

type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid,omitempty"`
}

// sign returns the compact serialization of claims, signed with key.
func sign(key *ecdsa.PrivateKey, kid string, claims any) (string, error) {
	header, err := json.Marshal(jwsHeader{Alg: algES256, Kid: kid})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, enc.EncodedLen(len(header))+enc.EncodedLen(len(payload))+enc.EncodedLen(es256SigSize)+2)
	buf = enc.AppendEncode(buf, header)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	var sig [es256SigSize]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig[:])
	return string(buf), nil
}

// jws is a parsed, not yet verified, token.
type jws struct {
	header       jwsHeader
	payload      []byte
	signingInput string
	signature    []byte
}

func parseJWS(token string) (*jws, error) {
	// A JWE has five parts; anything but three is not ours.
	first := strings.IndexByte(token, '.')
	last := strings.LastIndexByte(token, '.')
	if first < 0 || first == last || strings.IndexByte(token[first+1:last], '.') >= 0 {
		return nil, errMalformed
	}
	enc := base64.RawURLEncoding
	headerJSON, err := enc.DecodeString(token[:first])
	if err != nil {
		return nil, errMalformed
	}
	payload, err := enc.DecodeString(token[first+1 : last])
	if err != nil {
		return nil, errMalformed
	}
	sig, err := enc.DecodeString(token[last+1:])
	if err != nil {
		return nil, errMalformed
	}
	t := &jws{payload: payload, signingInput: token[:last], signature: sig}
	if err := json.Unmarshal(headerJSON, &t.header); err != nil {
		return nil, errMalformed
	}
	return t, nil
}

// verify checks the signature against the keys, the one named by the
// token's kid first. Only ES256 is accepted: "none", HMAC and RSA tokens
// are refused whatever they claim.
func (t *jws) verify(keys []*ecdsa.PublicKey, kids []string) error {
	if t.header.Alg != algES256 {
		return fmt.Errorf("token signing algorithm %q is not %s", t.header.Alg, algES256)
	}
	if len(t.signature) != es256SigSize {
		return errBadSignature
	}
	digest := sha256.Sum256([]byte(t.signingInput))
	r := new(big.Int).SetBytes(t.signature[:32])
	s := new(big.Int).SetBytes(t.signature[32:])
	for i, key := range keys {
		if kids[i] == t.header.Kid && ecdsa.Verify(key, digest[:], r, s) {
			return nil
		}
	}
	for i, key := range keys {
		if kids[i] != t.header.Kid && ecdsa.Verify(key, digest[:], r, s) {
			return nil
		}
	}
	return errBadSignature
}

// numericDate is a JWT time: seconds since the epoch. Integers are written;
// fractions are read, as go-jose does.
type numericDate int64

func newNumericDate(t time.Time) *numericDate {
	n := numericDate(t.Unix())
	return &n
}

func (n numericDate) Time() time.Time { return time.Unix(int64(n), 0) }

func (n *numericDate) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("invalid NumericDate %s", b)
	}
	*n = numericDate(f)
	return nil
}

// audience is written as an array, as the go-jose version kube-apiserver
// signs with does, and read from an array or a single string (RFC 7519).
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("invalid audience claim")
	}
	*a = list
	return nil
}
