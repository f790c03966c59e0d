package verify

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"maunium.net/go/mautrix/federation"
)

// Registration modes a server can be configured with.
const (
	RegistrationClosed = "closed"
	RegistrationToken  = "token"
	RegistrationOpen   = "open"
)

// Config says what to check and what to expect.
type Config struct {
	// ServerName is the Matrix server name: the base domain, example.com.
	ServerName string
	// Registration is the expected registration mode (closed, token or
	// open); empty skips the registration check.
	Registration string
	// MinCertDays fails a TLS check whose certificate chain expires within
	// this many days.
	MinCertDays int
	// AuthService expects the server to delegate authentication to the
	// Matrix Authentication Service and checks that it advertises it.
	// Registration then belongs to MAS, whose web pages the registration
	// check cannot read, so Registration must be empty.
	AuthService bool
	// Username and Password enable the client round trip when both are set.
	// Username is a localpart or a full user ID.
	Username string
	Password string
	// ExpectIPv4 and ExpectIPv6 enable the DNS check: every name in
	// DNSNames must resolve to exactly these addresses of that family.
	ExpectIPv4 []netip.Addr
	ExpectIPv6 []netip.Addr
	// DNSNames are the names the DNS check looks up; empty means
	// ServerName and matrix.ServerName.
	DNSNames []string
	// ExpectRTCFocus enables the check that /.well-known/matrix/client
	// announces a LiveKit focus (MSC4143), as it must when calls run.
	ExpectRTCFocus bool
	// ProbeTimeout bounds each check; zero means 10 seconds.
	ProbeTimeout time.Duration
	// Network controls dialing, name resolution and trusted roots.
	Network Network
}

// Validate reports whether c can be run.
func (c *Config) Validate() error {
	if c.ServerName == "" {
		return errors.New("server name is empty")
	}
	if _, _, ok := federation.ParseServerName(c.ServerName); !ok {
		return fmt.Errorf("invalid server name %q", c.ServerName)
	}
	switch c.Registration {
	case "", RegistrationClosed, RegistrationToken, RegistrationOpen:
	default:
		return fmt.Errorf("unknown registration mode %q (want closed, token or open)", c.Registration)
	}
	if c.AuthService && c.Registration != "" {
		return errors.New("the registration mode cannot be checked when the Matrix Authentication Service handles registration")
	}
	if (c.Username == "") != (c.Password == "") {
		return errors.New("username and password must be given together")
	}
	if c.MinCertDays < 0 {
		return errors.New("minimum certificate days is negative")
	}
	for _, a := range c.ExpectIPv4 {
		if !a.Unmap().Is4() {
			return fmt.Errorf("%s is not an IPv4 address", a)
		}
	}
	for _, a := range c.ExpectIPv6 {
		if !a.Is6() || a.Is4In6() {
			return fmt.Errorf("%s is not an IPv6 address", a)
		}
	}
	return nil
}

func (c *Config) probeTimeout() time.Duration {
	if c.ProbeTimeout <= 0 {
		return 10 * time.Second
	}
	return c.ProbeTimeout
}

func (c *Config) dnsNames() []string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames
	}
	host, _, _ := federation.ParseServerName(c.ServerName)
	return []string{host, "matrix." + host}
}
