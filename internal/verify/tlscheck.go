package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

const (
	fixTLSName    = "issue a certificate that covers %s (the playbook's Traefik gets one from Let's Encrypt once DNS points at the host and port 80 is open)"
	fixTLSExpired = "renew the certificate for %s (check that ACME renewal works: port 80 open, DNS correct)"
	fixTLSTrust   = "serve the full chain from a public CA for %s (or pass --ca-file for a private CA)"
	fixTLSChain   = "serve the CA's current intermediate certificate in the chain for %s (an old fullchain file or a pinned chain keeps an expired one)"
	fixTLSDial    = "open %s in the firewall/security group and make sure the reverse proxy listens there"
)

// checkTLS connects to addr, presents sni and verifies the chain and its
// remaining validity.
func (v *verifier) checkTLS(ctx context.Context, addr, sni string) Result {
	dialer := &tls.Dialer{
		NetDialer: v.cfg.Network.dialer(),
		Config:    v.cfg.Network.tlsConfig(sni),
	}
	conn, err := dialer.DialContext(ctx, "tcp", v.cfg.Network.target(addr))
	if err != nil {
		return tlsFailure(addr, sni, err)
	}
	defer conn.Close()
	state := conn.(*tls.Conn).ConnectionState()
	chain := state.VerifiedChains[0]
	leaf := chain[0]
	first := firstToExpire(chain)
	expiry := first.NotAfter
	left := time.Until(expiry)
	min := time.Duration(v.cfg.MinCertDays) * 24 * time.Hour
	if left < min {
		fix := fmt.Sprintf(fixTLSExpired, sni)
		what := "certificate"
		if first != leaf {
			fix = fmt.Sprintf(fixTLSChain, sni)
			what = fmt.Sprintf("intermediate certificate %q in the chain", certName(first))
		}
		return failed(fix, "%s: %s expires %s, in %.0f days (minimum %d)",
			addr, what, expiry.UTC().Format(time.DateOnly), left.Hours()/24, v.cfg.MinCertDays)
	}
	return passed("%s: valid for %s, issued by %q, expires %s (%.0f days)",
		addr, sni, leaf.Issuer.CommonName, expiry.UTC().Format(time.DateOnly), left.Hours()/24)
}

// firstToExpire returns the certificate of a verified chain below its root
// that expires first. The intermediates count as much as the leaf: once
// one expires, every client rejects the chain although the leaf is valid.
// The root is left out because it comes from the client's trust store,
// not from the server.
func firstToExpire(chain []*x509.Certificate) *x509.Certificate {
	first := chain[0]
	if len(chain) < 3 {
		return first
	}
	for _, c := range chain[1 : len(chain)-1] {
		if c.NotAfter.Before(first.NotAfter) {
			first = c
		}
	}
	return first
}

func tlsFailure(addr, sni string, err error) Result {
	var (
		hostErr    x509.HostnameError
		invalidErr x509.CertificateInvalidError
		authErr    x509.UnknownAuthorityError
		opErr      *net.OpError
	)
	switch {
	case errors.As(err, &hostErr):
		return failed(fmt.Sprintf(fixTLSName, sni), "%s: certificate is for %s, not %s",
			addr, certNames(hostErr.Certificate), sni)
	case errors.As(err, &invalidErr) && invalidErr.Reason == x509.Expired:
		// crypto/x509 reports an expired intermediate this way too, with
		// the intermediate as Cert; blaming the leaf would send the
		// operator to renew a certificate that is fine.
		if sent := sentChain(err); len(sent) > 0 && !invalidErr.Cert.Equal(sent[0]) {
			return intermediateFailure(addr, sni, invalidErr.Cert)
		}
		return failed(fmt.Sprintf(fixTLSExpired, sni), "%s: certificate for %s %s",
			addr, sni, validityProblem(invalidErr.Cert, time.Now()))
	case errors.As(err, &authErr):
		// crypto/x509 may also report an expired intermediate as an
		// unknown authority, naming it only in the error text's hint.
		if c := invalidIntermediate(sentChain(err), time.Now()); c != nil {
			return intermediateFailure(addr, sni, c)
		}
		return failed(fmt.Sprintf(fixTLSTrust, sni), "%s: certificate for %s is signed by an unknown authority: %s",
			addr, sni, unknownIssuer(authErr))
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return failed(fmt.Sprintf(fixTLSDial, addr), "%s: cannot connect: %v", addr, opErr.Err)
	default:
		return failed(fmt.Sprintf(fixTLSTrust, sni), "%s: TLS handshake for %s failed: %v", addr, sni, err)
	}
}

func certNames(c *x509.Certificate) string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		names = append(names, c.Subject.CommonName)
	}
	return strings.Join(names, ", ")
}

// intermediateFailure reports an intermediate certificate c of the chain
// for sni that is outside its validity period.
func intermediateFailure(addr, sni string, c *x509.Certificate) Result {
	return failed(fmt.Sprintf(fixTLSChain, sni), "%s: intermediate certificate %q in the chain for %s %s",
		addr, certName(c), sni, validityProblem(c, time.Now()))
}

// sentChain returns the certificates the server sent when their
// verification failed during the handshake.
func sentChain(err error) []*x509.Certificate {
	var verr *tls.CertificateVerificationError
	if errors.As(err, &verr) {
		return verr.UnverifiedCertificates
	}
	return nil
}

// invalidIntermediate returns a certificate that the server sent above the
// leaf, that issued another certificate it sent, and that is not valid at
// now.
func invalidIntermediate(sent []*x509.Certificate, now time.Time) *x509.Certificate {
	for _, c := range sent[min(1, len(sent)):] {
		if !now.After(c.NotAfter) && !now.Before(c.NotBefore) {
			continue
		}
		for _, child := range sent {
			if child != c && child.CheckSignatureFrom(c) == nil {
				return c
			}
		}
	}
	return nil
}

// validityProblem says how now falls outside c's validity period.
func validityProblem(c *x509.Certificate, now time.Time) string {
	if now.Before(c.NotBefore) {
		return "is not valid yet (not valid before " + c.NotBefore.UTC().Format(time.RFC3339) + ")"
	}
	return "expired (not valid after " + c.NotAfter.UTC().Format(time.RFC3339) + ")"
}

// unknownIssuer names the authority no trusted root vouches for: the
// issuer of the highest certificate crypto/x509 could place in a chain.
func unknownIssuer(authErr x509.UnknownAuthorityError) string {
	if authErr.Cert == nil {
		return "no chain to a trusted root"
	}
	return fmt.Sprintf("%q is not a trusted root", issuerName(authErr.Cert))
}

// certName is a certificate's common name, or its whole subject when the
// common name is empty.
func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}
