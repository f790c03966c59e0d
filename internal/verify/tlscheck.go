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
	expiry := chainExpiry(chain)
	left := time.Until(expiry)
	min := time.Duration(v.cfg.MinCertDays) * 24 * time.Hour
	if left < min {
		return failed(fmt.Sprintf(fixTLSExpired, sni),
			"%s: certificate expires %s, in %.0f days (minimum %d)",
			addr, expiry.UTC().Format(time.DateOnly), left.Hours()/24, v.cfg.MinCertDays)
	}
	return passed("%s: valid for %s, issued by %q, expires %s (%.0f days)",
		addr, sni, leaf.Issuer.CommonName, expiry.UTC().Format(time.DateOnly), left.Hours()/24)
}

// chainExpiry is the earliest NotAfter of the chain below its root.
func chainExpiry(chain []*x509.Certificate) time.Time {
	expiry := chain[0].NotAfter
	if len(chain) < 3 {
		return expiry
	}
	for _, c := range chain[1 : len(chain)-1] {
		if c.NotAfter.Before(expiry) {
			expiry = c.NotAfter
		}
	}
	return expiry
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
		return failed(fmt.Sprintf(fixTLSExpired, sni), "%s: certificate for %s expired (not valid after %s)",
			addr, sni, invalidErr.Cert.NotAfter.UTC().Format(time.RFC3339))
	case errors.As(err, &authErr):
		return failed(fmt.Sprintf(fixTLSTrust, sni), "%s: certificate for %s is signed by an unknown authority", addr, sni)
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
