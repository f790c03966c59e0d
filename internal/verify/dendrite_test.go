package verify_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/matrix-on-aws/homeserver/internal/dendritetest"
	"github.com/matrix-on-aws/homeserver/internal/dnstest"
	"github.com/matrix-on-aws/homeserver/internal/testpki"
	"github.com/matrix-on-aws/homeserver/internal/verify"
)

const (
	domain   = "example.test"
	matrixHS = "matrix.example.test"
	other    = "other.test"
	user     = "alice"
	password = "correct horse battery staple"
)

var (
	loop4 = netip.MustParseAddr("127.0.0.1")
	loop6 = netip.MustParseAddr("::1")
)

// fixture is a pair of real Dendrite servers behind names that only this
// test resolves: example.test (closed registration, a user registered
// through the shared-secret admin API) and other.test (open registration,
// with a certificate that also covers matrix.example.test).
type fixture struct {
	ca    *testpki.CA
	main  *dendritetest.Server
	other *dendritetest.Server
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ca: ca}
	f.main = dendritetest.Start(t, dendritetest.Options{ServerName: domain, CA: ca})
	f.other = dendritetest.Start(t, dendritetest.Options{
		ServerName:       other,
		CA:               ca,
		CertNames:        []string{other, "matrix." + other, matrixHS},
		OpenRegistration: true,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.main.RegisterUser(ctx, user, password); err != nil {
		t.Fatal(err)
	}
	return f
}

// zone is the DNS the verifier sees: both names on loopback, no SRV.
func zone() dnstest.Zone {
	return dnstest.Zone{Addrs: map[string][]netip.Addr{
		domain:   {loop4, loop6},
		matrixHS: {loop4, loop6},
		other:    {loop4},
	}}
}

// routes maps every name:port of a deployment of example.test to the
// main server, as DNS plus port forwarding would.
func (f *fixture) routes(t testing.TB) map[string]string {
	return map[string]string{
		domain + ":443":    f.main.HTTPSAddr,
		matrixHS + ":443":  f.main.HTTPSAddr,
		matrixHS + ":8448": f.main.HTTPSAddr,
		domain + ":8448":   closedAddr(t),
	}
}

// config checks example.test with the given routes and DNS zone.
func (f *fixture) config(t testing.TB, routes map[string]string, z dnstest.Zone) verify.Config {
	dns := dnstest.Start(t, z)
	return verify.Config{
		ServerName:   domain,
		Registration: verify.RegistrationClosed,
		MinCertDays:  14,
		Username:     user,
		Password:     password,
		ExpectIPv4:   []netip.Addr{loop4},
		ExpectIPv6:   []netip.Addr{loop6},
		ProbeTimeout: 15 * time.Second,
		Network: verify.Network{
			Resolve:  routes,
			RootCAs:  f.ca.Pool(),
			Resolver: dns.Resolver(),
		},
	}
}

func run(t testing.TB, cfg verify.Config) *verify.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := verify.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
