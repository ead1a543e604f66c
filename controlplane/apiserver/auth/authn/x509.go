package authn

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/kindish/kindish/controlplane/apiserver/auth/user"
)

// X509 authenticates requests by their TLS client certificate: the user is
// the subject's CN, the groups its O values, as upstream's x509
// authenticator with CommonNameUserConversion.
type X509 struct {
	// Roots, if set, makes X509 verify the presented chain itself, as
	// upstream does, for servers whose TLS layer only requests
	// certificates. Left nil, X509 trusts only chains the TLS layer has
	// verified (tls.VerifyClientCertIfGiven against the cluster CA) and
	// never the bare PeerCertificates.
	Roots *x509.CertPool
	// Now is the clock for verification against Roots; nil: time.Now.
	Now func() time.Time
}

var errUnverifiedCertificate = errors.New("client certificate was not verified against the cluster CA")

// AuthenticateRequest implements RequestAuthenticator.
func (a *X509) AuthenticateRequest(r *http.Request) (*Response, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, false, nil
	}
	leaf := r.TLS.PeerCertificates[0]
	if a.Roots != nil {
		if err := a.verify(r.TLS.PeerCertificates); err != nil {
			return nil, false, err
		}
	} else {
		if len(r.TLS.VerifiedChains) == 0 || !r.TLS.VerifiedChains[0][0].Equal(leaf) {
			return nil, false, errUnverifiedCertificate
		}
		// Go's TLS server verifies client chains for client
		// authentication already; checking again keeps a serving
		// certificate from ever being taken for a client's, whatever
		// the server's configuration.
		if !forClientAuth(leaf) {
			return nil, false, fmt.Errorf("verifying certificate %s failed: x509: certificate specifies an incompatible key usage", certificateIdentifier(leaf))
		}
	}
	if leaf.Subject.CommonName == "" {
		return nil, false, nil
	}
	sum := sha256.Sum256(leaf.Raw)
	return &Response{User: &user.User{
		Name:   leaf.Subject.CommonName,
		Groups: leaf.Subject.Organization,
		Extra:  map[string][]string{user.CredentialIDKey: {"X509SHA256=" + hex.EncodeToString(sum[:])}},
	}}, true, nil
}

func (a *X509) verify(chain []*x509.Certificate) error {
	opts := x509.VerifyOptions{
		Roots:     a.Roots,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if a.Now != nil {
		opts.CurrentTime = a.Now()
	}
	if len(chain) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range chain[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	if _, err := chain[0].Verify(opts); err != nil {
		return fmt.Errorf("verifying certificate %s failed: %w", certificateIdentifier(chain[0]), err)
	}
	return nil
}

// forClientAuth applies Go's (and so upstream's) rule: a certificate is
// usable for client authentication if it says so, allows any usage, or
// names no extended usage at all.
func forClientAuth(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	return slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) || slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny)
}

// certificateIdentifier names a certificate in errors as upstream does.
func certificateIdentifier(c *x509.Certificate) string {
	return fmt.Sprintf("SN=%d, SKID=%s, AKID=%s", c.SerialNumber, hexColons(c.SubjectKeyId), hexColons(c.AuthorityKeyId))
}

func hexColons(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	out := make([]byte, 0, len(b)*3)
	const digits = "0123456789ABCDEF"
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&0xf])
	}
	return string(out)
}
