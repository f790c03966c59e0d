// Package testpki creates throwaway certificate authorities, intermediate
// CAs and leaf certificates for tests that speak TLS to local servers.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// CA is a certificate authority that lives for one test run: a root, or an
// intermediate issued by another CA.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
	// parent issued an intermediate; nil for a root.
	parent *CA
}

// NewCA creates a self-signed root CA named "matrix-on-aws test CA",
// valid for a year.
func NewCA() (*CA, error) {
	return NewNamedCA("matrix-on-aws test CA")
}

// NewNamedCA creates a self-signed root CA with the given common name,
// valid for a year. Tests use a second, differently named CA as an
// authority the verifier does not trust, so that its findings can tell
// the two apart.
func NewNamedCA(commonName string) (*CA, error) {
	now := time.Now()
	return newCA(nil, commonName, now.Add(-time.Hour), now.Add(365*24*time.Hour))
}

// NewIntermediate creates an intermediate CA issued by ca and valid from
// notBefore to notAfter, which may lie in the past to make an expired
// intermediate. Leaves it issues carry it (and any intermediates above
// it) after the leaf in CertPEM, as a server sends its chain.
func (ca *CA) NewIntermediate(commonName string, notBefore, notAfter time.Time) (*CA, error) {
	return newCA(ca, commonName, notBefore, notAfter)
}

// newCA creates a CA certificate signed by parent, or a self-signed one
// when parent is nil.
func newCA(parent *CA, commonName string, notBefore, notAfter time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.Cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate %q: %w", commonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate %q: %w", commonName, err)
	}
	return &CA{Cert: cert, key: key, der: der, parent: parent}, nil
}

// Root returns the root CA of ca's hierarchy: ca itself unless it is an
// intermediate.
func (ca *CA) Root() *CA {
	for ca.parent != nil {
		ca = ca.parent
	}
	return ca
}

// Pool returns a pool holding only the root of ca's hierarchy, the trust
// anchor a client needs for certificates ca issues. An intermediate is
// never put in the pool: a client has to get it from the server's chain.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root().Cert)
	return p
}

// PEM returns the root certificate of ca's hierarchy in PEM form, as a
// --ca-file would hold it.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root().der})
}

// chainPEM returns the intermediates from ca up to, but not including,
// the root, in PEM form and in the order a server sends them.
func (ca *CA) chainPEM() []byte {
	var out []byte
	for c := ca; c.parent != nil; c = c.parent {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der})...)
	}
	return out
}

// Leaf is an issued certificate and its key. CertPEM holds the leaf
// followed by the intermediates of its issuer, if any.
type Leaf struct {
	CertPEM, KeyPEM []byte
}

// TLS returns the leaf as a tls.Certificate.
func (l *Leaf) TLS() (tls.Certificate, error) {
	return tls.X509KeyPair(l.CertPEM, l.KeyPEM)
}

// WriteFiles writes cert.pem and key.pem into dir and returns their paths.
func (l *Leaf) WriteFiles(dir string) (certFile, keyFile string, err error) {
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, l.CertPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, l.KeyPEM, 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// Issue creates a server certificate for names valid from notBefore to
// notAfter. When ca is an intermediate, the chain up to the root follows
// the leaf in CertPEM.
func (ca *CA) Issue(names []string, notBefore, notAfter time.Time) (*Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate leaf key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %v: %w", names, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal leaf key: %w", err)
	}
	return &Leaf{
		CertPEM: append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca.chainPEM()...),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// IssueValid issues a certificate for names valid from an hour ago for
// the given duration.
func (ca *CA) IssueValid(validFor time.Duration, names ...string) (*Leaf, error) {
	now := time.Now()
	return ca.Issue(names, now.Add(-time.Hour), now.Add(validFor))
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(fmt.Sprintf("testpki: read random serial: %v", err))
	}
	return n
}
