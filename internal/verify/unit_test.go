package verify

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/matrix-on-aws/homeserver/internal/testpki"
)

func TestModeFromFlows(t *testing.T) {
	flow := func(stages ...mautrix.AuthType) mautrix.UIAFlow { return mautrix.UIAFlow{Stages: stages} }
	tests := []struct {
		flows []mautrix.UIAFlow
		want  string
	}{
		{[]mautrix.UIAFlow{flow(mautrix.AuthTypeDummy)}, RegistrationOpen},
		{[]mautrix.UIAFlow{flow(authTypeRegistrationToken)}, RegistrationToken},
		{[]mautrix.UIAFlow{flow(mautrix.AuthTypeDummy), flow(authTypeRegistrationToken, mautrix.AuthTypeDummy)}, RegistrationToken},
		{[]mautrix.UIAFlow{flow(mautrix.AuthTypeReCAPTCHA, mautrix.AuthTypeDummy)}, "flows m.login.recaptcha+m.login.dummy"},
	}
	for _, tc := range tests {
		if got := modeFromFlows(tc.flows); got != tc.want {
			t.Errorf("modeFromFlows(%v) = %q, want %q", tc.flows, got, tc.want)
		}
	}
}

func TestAddResolve(t *testing.T) {
	var n Network
	for _, entry := range []string{"Example.test:443:127.0.0.1", "matrix.example.test:8448:[::1]", "v6.test:443:::1"} {
		if err := n.AddResolve(entry); err != nil {
			t.Fatalf("AddResolve(%q): %v", entry, err)
		}
	}
	for from, want := range map[string]string{
		"example.test:443":         "127.0.0.1:443",
		"EXAMPLE.test:443":         "127.0.0.1:443",
		"matrix.example.test:8448": "[::1]:8448",
		"v6.test:443":              "[::1]:443",
		"example.test:8448":        "example.test:8448",
	} {
		if got := n.target(from); got != want {
			t.Errorf("target(%q) = %q, want %q", from, got, want)
		}
	}
	for _, bad := range []string{"example.test", "example.test:443", "example.test:443:not-an-ip", ":443:127.0.0.1"} {
		if err := n.AddResolve(bad); err == nil {
			t.Errorf("AddResolve(%q) accepted", bad)
		}
	}
}

func TestAddConnectTo(t *testing.T) {
	var n Network
	for _, entry := range []string{"example.test:443:127.0.0.1:8443", "matrix.example.test:8448:[::1]:9448"} {
		if err := n.AddConnectTo(entry); err != nil {
			t.Fatalf("AddConnectTo(%q): %v", entry, err)
		}
	}
	if got := n.target("example.test:443"); got != "127.0.0.1:8443" {
		t.Errorf("target = %q", got)
	}
	if got := n.target("matrix.example.test:8448"); got != "[::1]:9448" {
		t.Errorf("target = %q", got)
	}
	for _, bad := range []string{"example.test:443:127.0.0.1", "example.test:443::8443", "example.test"} {
		if err := n.AddConnectTo(bad); err == nil {
			t.Errorf("AddConnectTo(%q) accepted", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Config{ServerName: "example.com", Registration: RegistrationToken}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	bad := map[string]Config{
		"server name":  {},
		"invalid name": {ServerName: "exa mple.com"},
		"registration": {ServerName: "example.com", Registration: "sometimes"},
		"auth service": {ServerName: "example.com", Registration: RegistrationClosed, AuthService: true},
		"password":     {ServerName: "example.com", Username: "alice"},
		"ipv4":         {ServerName: "example.com", ExpectIPv4: []netip.Addr{netip.MustParseAddr("::1")}},
		"ipv6":         {ServerName: "example.com", ExpectIPv6: []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
	}
	for name, cfg := range bad {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: invalid config accepted", name)
		}
	}
}

func TestCompareAddrs(t *testing.T) {
	a := netip.MustParseAddr
	if got := compareAddrs("x", "IPv4", []netip.Addr{a("192.0.2.2"), a("192.0.2.1")}, []netip.Addr{a("192.0.2.1"), a("192.0.2.2")}); got != "" {
		t.Errorf("same addresses in another order reported: %q", got)
	}
	if got := compareAddrs("x", "IPv6", nil, []netip.Addr{a("2001:db8::1")}); !strings.Contains(got, "no IPv6 address") {
		t.Errorf("missing family: %q", got)
	}
	if got := compareAddrs("x", "IPv4", []netip.Addr{a("192.0.2.9")}, nil); got != "" {
		t.Errorf("unexpected family compared: %q", got)
	}
}

// TestTLSFailureExpiredIntermediate feeds tlsFailure both ways crypto/x509
// can report a chain through an expired intermediate: as an invalid
// certificate naming the intermediate (what Go does today, exercised
// against Dendrite in TestDendrite) and as an unknown authority with the
// expiry only as a hint. Either way the finding must blame the
// intermediate, not the leaf or the trust store.
func TestTLSFailureExpiredIntermediate(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	inter, err := ca.NewIntermediate("stale intermediate", now.Add(-48*time.Hour), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := inter.IssueValid(30*24*time.Hour, "matrix.example.test")
	if err != nil {
		t.Fatal(err)
	}
	var sent []*x509.Certificate
	for rest := leaf.CertPEM; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, c)
	}
	if len(sent) != 2 {
		t.Fatalf("leaf PEM holds %d certificates, want leaf and intermediate", len(sent))
	}
	for name, cause := range map[string]error{
		"invalid certificate": x509.CertificateInvalidError{Cert: sent[1], Reason: x509.Expired},
		"unknown authority":   x509.UnknownAuthorityError{Cert: sent[0]},
	} {
		err := &tls.CertificateVerificationError{UnverifiedCertificates: sent, Err: cause}
		res := tlsFailure("matrix.example.test:8448", "matrix.example.test", err)
		want := `intermediate certificate "stale intermediate" in the chain for matrix.example.test expired`
		if res.Status != Fail || !strings.Contains(res.Reason, want) {
			t.Errorf("%s: %s %q, want fail containing %q", name, res.Status, res.Reason, want)
		}
	}
}
