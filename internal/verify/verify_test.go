package verify_test

import (
	"bytes"
	"context"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matrix-on-aws/homeserver/internal/dendritetest"
	"github.com/matrix-on-aws/homeserver/internal/dnstest"
	"github.com/matrix-on-aws/homeserver/internal/testpki"
	"github.com/matrix-on-aws/homeserver/internal/verify"
)

func TestDendrite(t *testing.T) {
	f := newFixture(t)

	t.Run("healthy", func(t *testing.T) {
		t.Parallel()
		rep := run(t, f.config(t, f.routes(t), zone()))
		for _, res := range rep.Results {
			// Dendrite has no Matrix Authentication Service, and the call
			// check runs only when asked (TestRTCFocus): neither is asked for.
			if res.Status != verify.Pass && res.Check != verify.CheckAuthService && res.Check != verify.CheckRTCFocus {
				t.Errorf("%s: %s: %s", res.Check, res.Status, res.Reason)
			}
		}
		if res, _ := rep.Result(verify.CheckAuthService); res.Status != verify.Skip {
			t.Errorf("auth-service: %s (%s), want skip without --auth-service", res.Status, res.Reason)
		}
		if len(rep.Results) != 13 || !rep.OK {
			t.Errorf("got %d results, ok=%v; want 13 checks, all but auth-service and rtc-focus passing", len(rep.Results), rep.OK)
		}
		if res, _ := rep.Result(verify.CheckRTCFocus); res.Status != verify.Skip {
			t.Errorf("rtc-focus: %s (%s) without --expect-rtc-focus, want skip", res.Status, res.Reason)
		}
		var table bytes.Buffer
		if err := rep.WriteTable(&table); err != nil {
			t.Fatal(err)
		}
		t.Logf("\n%s", table.String())
		expectReason(t, rep, verify.CheckDiscovery, "matrix.example.test:8448 via .well-known delegation")
		expectReason(t, rep, verify.CheckFederationKeys, "self-signed by example.test")
		expectReason(t, rep, verify.CheckRoundTrip, "read it back via /sync")
	})
	t.Run("open registration", func(t *testing.T) {
		t.Parallel()
		for mode, want := range map[string]verify.Status{
			verify.RegistrationOpen:   verify.Pass,
			verify.RegistrationToken:  verify.Fail,
			verify.RegistrationClosed: verify.Fail,
		} {
			cfg := f.config(t, map[string]string{
				other + ":443":              f.other.HTTPSAddr,
				"matrix." + other + ":443":  f.other.HTTPSAddr,
				"matrix." + other + ":8448": f.other.HTTPSAddr,
			}, zone())
			cfg.ServerName, cfg.Registration = other, mode
			cfg.Username, cfg.Password, cfg.ExpectIPv4, cfg.ExpectIPv6 = "", "", nil, nil
			rep := run(t, cfg)
			res, _ := rep.Result(verify.CheckRegistration)
			if res.Status != want || rep.OK != (want == verify.Pass) {
				t.Errorf("mode %s: registration %s (%s), report ok=%v; want %s", mode, res.Status, res.Reason, rep.OK, want)
			}
			if want == verify.Fail && !strings.Contains(res.Reason, "registration is open, want "+mode) {
				t.Errorf("mode %s: reason %q", mode, res.Reason)
			}
		}
	})
	t.Run("SRV discovery", func(t *testing.T) {
		t.Parallel()
		testSRV(t, f)
	})
	t.Run("auth service", func(t *testing.T) {
		t.Parallel()
		testAuthService(t, f)
	})
	t.Run("retry until pass", func(t *testing.T) {
		t.Parallel()
		testRetry(t, f)
	})
	t.Run("failures", func(t *testing.T) {
		t.Parallel()
		runFailureCases(t, f)
	})
	t.Run("rtc focus", func(t *testing.T) {
		t.Parallel()
		testRTCFocus(t, f)
	})
}

// testRTCFocus serves Dendrite's own client .well-known, which announces
// no call backend, and the same with an org.matrix.msc4143.rtc_foci list
// added on the way, as the playbook's static files do when LiveKit runs.
func testRTCFocus(t *testing.T, f *fixture) {
	for _, tc := range []struct {
		name   string
		foci   any // nil: Dendrite's document unchanged
		status verify.Status
		reason string
	}{
		{"advertised", []map[string]string{{"type": "livekit", "livekit_service_url": "https://matrix.example.test/livekit-jwt-service"}},
			verify.Pass, "livekit focus at https://matrix.example.test/livekit-jwt-service"},
		{"not advertised", nil, verify.Fail, `has no "org.matrix.msc4143.rtc_foci"`},
		{"plain http", []map[string]string{{"type": "livekit", "livekit_service_url": "http://matrix.example.test/livekit-jwt-service"}},
			verify.Fail, `"http://matrix.example.test/livekit-jwt-service" is not an https URL`},
		{"no livekit focus", []map[string]string{{"type": "nextcloud"}}, verify.Fail, "lists no livekit focus"},
		{"not a list", "livekit", verify.Fail, "is not a list of foci"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			routes := f.routes(t)
			if tc.foci != nil {
				routes[domain+":443"] = f.startProxy(t, fault{modify: onPath("/.well-known/matrix/client", addMember("org.matrix.msc4143.rtc_foci", tc.foci))})
			}
			cfg := f.config(t, routes, zone())
			cfg.ExpectRTCFocus = true
			rep := run(t, cfg)
			res, _ := rep.Result(verify.CheckRTCFocus)
			if res.Status != tc.status || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("rtc-focus: %s (%s), want %s with %q", res.Status, res.Reason, tc.status, tc.reason)
			}
			if tc.status == verify.Fail && res.Fix == "" {
				t.Error("rtc-focus failed without a fix hint")
			}
			if rep.OK != (tc.status == verify.Pass) {
				t.Errorf("report ok=%v with rtc-focus %s", rep.OK, res.Status)
			}
			for _, other := range rep.Results {
				if other.Check != verify.CheckRTCFocus && other.Check != verify.CheckAuthService && other.Status != verify.Pass {
					t.Errorf("%s: %s (%s): the added member broke it", other.Check, other.Status, other.Reason)
				}
			}
		})
	}
}

// failureCase is a broken deployment and what the verifier must say.
type failureCase struct {
	name   string
	setup  func(t *testing.T, f *fixture, routes map[string]string, cfg *verify.Config)
	checks map[string]string // the checks that must fail -> text their reason must contain
}

var failureCases = []failureCase{
	{
		name: "well-known server missing",
		setup: func(t *testing.T, f *fixture, routes map[string]string, _ *verify.Config) {
			routes[domain+":443"] = f.startProxy(t, fault{modify: onPath("/.well-known/matrix/server", func(resp *http.Response) error {
				resp.StatusCode, resp.Status = http.StatusNotFound, "404 Not Found"
				return nil
			})})
		},
		checks: map[string]string{
			verify.CheckWellKnownServer: "HTTP 404",
			// Discovery falls back to example.test:8448, where nothing listens.
			verify.CheckFederationTLS:     "example.test:8448: cannot connect",
			verify.CheckFederationVersion: "connection refused",
			verify.CheckFederationKeys:    "connection refused",
		},
	},
	{
		name: "well-known server without m.server",
		setup: func(t *testing.T, f *fixture, routes map[string]string, _ *verify.Config) {
			routes[domain+":443"] = f.startProxy(t, fault{modify: onPath("/.well-known/matrix/server", replaceBody(`"m.server"`, `"server"`))})
		},
		checks: map[string]string{
			verify.CheckWellKnownServer:   `no "m.server"`,
			verify.CheckFederationTLS:     "example.test:8448: cannot connect",
			verify.CheckFederationVersion: "connection refused",
			verify.CheckFederationKeys:    "connection refused",
		},
	},
	{
		name: "well-known client not JSON",
		setup: func(t *testing.T, f *fixture, routes map[string]string, _ *verify.Config) {
			routes[domain+":443"] = f.startProxy(t, fault{modify: onPath("/.well-known/matrix/client", replaceBody(`{`, `<`))})
		},
		checks: map[string]string{verify.CheckWellKnownClient: "not valid JSON"},
	},
	{
		name: "CORS header missing",
		setup: func(t *testing.T, f *fixture, routes map[string]string, _ *verify.Config) {
			routes[domain+":443"] = f.startProxy(t, fault{modify: onPath("/.well-known/matrix/client", func(resp *http.Response) error {
				resp.Header.Del("Access-Control-Allow-Origin")
				return nil
			})})
		},
		checks: map[string]string{verify.CheckWellKnownClient: `Access-Control-Allow-Origin is "", want *`},
	},
	{
		name: "wrong content type",
		setup: func(t *testing.T, f *fixture, routes map[string]string, _ *verify.Config) {
			routes[domain+":443"] = f.startProxy(t, fault{modify: func(resp *http.Response) error {
				resp.Header.Set("Content-Type", "text/plain; charset=utf-8")
				return nil
			}})
		},
		checks: map[string]string{
			verify.CheckWellKnownServer: `Content-Type is "text/plain; charset=utf-8", want application/json`,
			verify.CheckWellKnownClient: `Content-Type is "text/plain; charset=utf-8", want application/json`,
		},
	},
	{
		name: "certificate for the wrong name",
		setup: func(t *testing.T, f *fixture, routes map[string]string, _ *verify.Config) {
			leaf, err := f.ca.IssueValid(30*24*time.Hour, "wrong.test")
			if err != nil {
				t.Fatal(err)
			}
			addr := f.startProxy(t, fault{cert: leaf})
			routes[matrixHS+":443"] = addr
			routes[matrixHS+":8448"] = addr
		},
		checks: map[string]string{
			verify.CheckClientTLS:         "certificate is for wrong.test, not matrix.example.test",
			verify.CheckFederationTLS:     "certificate is for wrong.test, not matrix.example.test",
			verify.CheckFederationVersion: "certificate is valid for wrong.test",
			verify.CheckFederationKeys:    "certificate is valid for wrong.test",
			verify.CheckClientVersions:    "certificate is valid for wrong.test",
			verify.CheckRegistration:      "certificate is valid for wrong.test",
			verify.CheckRoundTrip:         "certificate is valid for wrong.test",
		},
	},
	{
		name: "expired certificate",
		setup: func(t *testing.T, f *fixture, routes map[string]string, _ *verify.Config) {
			now := time.Now()
			leaf, err := f.ca.Issue([]string{matrixHS}, now.Add(-60*24*time.Hour), now.Add(-24*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			routes[matrixHS+":8448"] = f.startProxy(t, fault{cert: leaf})
		},
		checks: map[string]string{
			verify.CheckFederationTLS:     "certificate for matrix.example.test expired",
			verify.CheckFederationVersion: "certificate has expired",
			verify.CheckFederationKeys:    "certificate has expired",
		},
	},
	{
		// The verifier must not trust whatever chain a server presents:
		// Dendrite here serves a valid certificate for the right names,
		// issued by a CA that is not among the verifier's roots.
		name: "certificate from an unknown CA",
		setup: func(t *testing.T, _ *fixture, routes map[string]string, _ *verify.Config) {
			rogue, err := testpki.NewNamedCA("rogue test CA")
			if err != nil {
				t.Fatal(err)
			}
			srv := dendritetest.Start(t, dendritetest.Options{ServerName: domain, CA: rogue})
			routes[matrixHS+":443"] = srv.HTTPSAddr
			routes[matrixHS+":8448"] = srv.HTTPSAddr
		},
		checks: map[string]string{
			verify.CheckClientTLS:         `signed by an unknown authority: "rogue test CA" is not a trusted root`,
			verify.CheckFederationTLS:     `signed by an unknown authority: "rogue test CA" is not a trusted root`,
			verify.CheckFederationVersion: "certificate signed by unknown authority",
			verify.CheckFederationKeys:    "certificate signed by unknown authority",
			verify.CheckClientVersions:    "certificate signed by unknown authority",
			verify.CheckRegistration:      "certificate signed by unknown authority",
			verify.CheckRoundTrip:         "certificate signed by unknown authority",
		},
	},
	{
		// A stale fullchain: the leaf is valid for 30 days, but the
		// intermediate Dendrite sends with it expired yesterday.
		name: "expired intermediate",
		setup: func(t *testing.T, f *fixture, routes map[string]string, _ *verify.Config) {
			now := time.Now()
			inter, err := f.ca.NewIntermediate("expired test intermediate", now.Add(-90*24*time.Hour), now.Add(-24*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			srv := dendritetest.Start(t, dendritetest.Options{ServerName: domain, CA: inter})
			routes[matrixHS+":8448"] = srv.HTTPSAddr
		},
		checks: map[string]string{
			verify.CheckFederationTLS:     `intermediate certificate "expired test intermediate" in the chain for matrix.example.test expired`,
			verify.CheckFederationVersion: "certificate has expired",
			verify.CheckFederationKeys:    "certificate has expired",
		},
	},
	{
		// The leaf has 30 days left, its intermediate 5: the chain stops
		// working in 5 days. The federation API checks pass, so a valid
		// chain through an intermediate is accepted.
		name: "intermediate expiring soon",
		setup: func(t *testing.T, f *fixture, routes map[string]string, cfg *verify.Config) {
			now := time.Now()
			inter, err := f.ca.NewIntermediate("short-lived test intermediate", now.Add(-time.Hour), now.Add(5*24*time.Hour+time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			srv := dendritetest.Start(t, dendritetest.Options{ServerName: domain, CA: inter})
			routes[matrixHS+":8448"] = srv.HTTPSAddr
			cfg.MinCertDays = 14
		},
		checks: map[string]string{
			verify.CheckFederationTLS: `intermediate certificate "short-lived test intermediate" in the chain expires`,
		},
	},
	{
		name: "certificate expiring soon",
		setup: func(t *testing.T, f *fixture, routes map[string]string, cfg *verify.Config) {
			leaf, err := f.ca.IssueValid(5*24*time.Hour+time.Hour, matrixHS)
			if err != nil {
				t.Fatal(err)
			}
			routes[matrixHS+":443"] = f.startProxy(t, fault{cert: leaf})
			cfg.MinCertDays = 14
		},
		checks: map[string]string{verify.CheckClientTLS: "in 5 days (minimum 14)"},
	},
	{
		name: "federation port closed",
		setup: func(t *testing.T, _ *fixture, routes map[string]string, _ *verify.Config) {
			routes[matrixHS+":8448"] = closedAddr(t)
		},
		checks: map[string]string{
			verify.CheckFederationTLS:     "matrix.example.test:8448: cannot connect",
			verify.CheckFederationVersion: "connection refused",
			verify.CheckFederationKeys:    "connection refused",
		},
	},
	{
		name: "keys signed for another server name",
		setup: func(t *testing.T, f *fixture, routes map[string]string, _ *verify.Config) {
			routes[matrixHS+":8448"] = f.other.HTTPSAddr
		},
		checks: map[string]string{verify.CheckFederationKeys: `keys are for server_name "other.test", not "example.test"`},
	},
	{
		name: "client API down",
		setup: func(t *testing.T, f *fixture, routes map[string]string, _ *verify.Config) {
			down := closedAddr(t)
			routes[matrixHS+":443"] = f.startProxy(t, fault{upstream: func(r *http.Request) string {
				if strings.HasPrefix(r.URL.Path, "/_matrix/client/") {
					return down
				}
				return f.main.HTTPSAddr
			}})
		},
		checks: map[string]string{
			verify.CheckClientVersions: "502",
			verify.CheckRegistration:   "502",
			verify.CheckRoundTrip:      "502",
		},
	},
	{
		name: "client API hangs",
		setup: func(t *testing.T, f *fixture, routes map[string]string, cfg *verify.Config) {
			routes[matrixHS+":443"] = f.startProxy(t, fault{modify: onPath("/_matrix/client/versions", func(resp *http.Response) error {
				<-resp.Request.Context().Done()
				return resp.Request.Context().Err()
			})})
			cfg.ProbeTimeout = 3 * time.Second
		},
		checks: map[string]string{verify.CheckClientVersions: "gave up after 3"},
	},
	{
		name: "registration mode differs",
		setup: func(_ *testing.T, _ *fixture, _ map[string]string, cfg *verify.Config) {
			cfg.Registration = verify.RegistrationOpen
		},
		checks: map[string]string{verify.CheckRegistration: "registration is closed, want open"},
	},
	{
		name: "wrong password",
		setup: func(_ *testing.T, _ *fixture, _ map[string]string, cfg *verify.Config) {
			cfg.Password = "not the password"
		},
		checks: map[string]string{verify.CheckRoundTrip: "log in as alice"},
	},
	{
		name: "DNS points elsewhere",
		setup: func(_ *testing.T, _ *fixture, _ map[string]string, cfg *verify.Config) {
			cfg.ExpectIPv4 = []netip.Addr{netip.MustParseAddr("192.0.2.10")}
		},
		checks: map[string]string{verify.CheckDNS: "example.test IPv4 is 127.0.0.1, want 192.0.2.10"},
	},
}

func runFailureCases(t *testing.T, f *fixture) {
	for _, tc := range failureCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			routes := f.routes(t)
			cfg := f.config(t, routes, zone())
			tc.setup(t, f, routes, &cfg)
			rep := run(t, cfg)
			if rep.OK {
				t.Error("report is OK, want a failure")
			}
			for _, res := range rep.Results {
				want, expected := tc.checks[res.Check]
				switch {
				case expected && res.Status != verify.Fail:
					t.Errorf("%s: %s (%s), want fail", res.Check, res.Status, res.Reason)
				case expected && !strings.Contains(res.Reason, want):
					t.Errorf("%s: reason %q does not contain %q", res.Check, res.Reason, want)
				case expected && res.Fix == "":
					t.Errorf("%s: no fix hint", res.Check)
				case !expected && res.Status == verify.Fail:
					t.Errorf("%s failed too: %s", res.Check, res.Reason)
				}
			}
			for check := range tc.checks {
				if _, ok := rep.Result(check); !ok {
					t.Errorf("%s did not run", check)
				}
			}
		})
	}
}

// testSRV removes the .well-known delegation and publishes SRV records, so
// discovery must take the SRV step of the algorithm; _matrix-fed._tcp wins
// over the legacy _matrix._tcp.
func testSRV(t *testing.T, f *fixture) {
	wellKnownGone := fault{modify: onPath("/.well-known/matrix/server", func(resp *http.Response) error {
		resp.StatusCode, resp.Status = http.StatusNotFound, "404 Not Found"
		return nil
	})}
	tests := []struct {
		name    string
		srv     map[string][]dnstest.SRV
		want    string
		wantErr bool
	}{
		{
			name: "matrix-fed preferred",
			srv: map[string][]dnstest.SRV{
				"_matrix-fed._tcp." + domain: {{Target: "fed.example.test", Port: 8449}},
				"_matrix._tcp." + domain:     {{Target: "legacy.example.test", Port: 8450}},
			},
			want: "fed.example.test:8449 via SRV record",
		},
		{
			name: "legacy matrix fallback",
			srv: map[string][]dnstest.SRV{
				"_matrix._tcp." + domain: {{Target: "legacy.example.test", Port: 8450}},
			},
			want: "legacy.example.test:8450 via SRV record",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			routes := f.routes(t)
			routes[domain+":443"] = f.startProxy(t, wellKnownGone)
			routes["fed.example.test:8449"] = f.main.HTTPSAddr
			routes["legacy.example.test:8450"] = f.main.HTTPSAddr
			z := zone()
			z.SRV = tc.srv
			rep := run(t, f.config(t, routes, z))
			expectReason(t, rep, verify.CheckDiscovery, tc.want)
			// Without .well-known the certificate must cover the server
			// name itself, which the main server's does.
			expectReason(t, rep, verify.CheckFederationTLS, "valid for example.test")
			expectReason(t, rep, verify.CheckFederationKeys, "self-signed by example.test")
			if res, _ := rep.Result(verify.CheckWellKnownServer); res.Status != verify.Fail {
				t.Errorf("well-known-server: %s, want fail", res.Status)
			}
		})
	}
}

// testRetry serves the client .well-known with 503 for the first seconds,
// as a host whose certificate is still being issued would, and expects
// RunUntilPass to keep going until it passes.
func testRetry(t *testing.T, f *fixture) {
	// The first answer fails, every later one passes: by count, not by the
	// clock, so a slow attempt on a loaded machine cannot pass the first
	// time.
	var served atomic.Int32
	routes := f.routes(t)
	routes[domain+":443"] = f.startProxy(t, fault{modify: onPath("/.well-known/matrix/client", func(resp *http.Response) error {
		if served.Add(1) == 1 {
			resp.StatusCode, resp.Status = http.StatusServiceUnavailable, "503 Service Unavailable"
		}
		return nil
	})})
	cfg := f.config(t, routes, zone())
	var failedAttempts int
	rep, err := verify.RunUntilPass(context.Background(), cfg, verify.Retry{
		For:       time.Minute,
		Every:     500 * time.Millisecond,
		Timeout:   30 * time.Second,
		OnAttempt: func(*verify.Report) { failedAttempts++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Attempts < 2 || failedAttempts != rep.Attempts-1 {
		t.Errorf("ok=%v after %d attempts (%d reported failed), want a pass after at least one failure", rep.OK, rep.Attempts, failedAttempts)
	}

	// A deployment that stays broken gives up when the window ends.
	routes[matrixHS+":8448"] = closedAddr(t)
	start := time.Now()
	// A window several attempts long even when each is slowed by a loaded
	// machine.
	rep, err = verify.RunUntilPass(context.Background(), cfg, verify.Retry{For: 6 * time.Second, Every: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Attempts < 2 || time.Since(start) > 40*time.Second {
		t.Errorf("ok=%v after %d attempts in %s, want failure after several attempts within the window", rep.OK, rep.Attempts, time.Since(start))
	}
}

// expectReason fails unless check has a reason containing want.
func expectReason(t *testing.T, rep *verify.Report, check, want string) {
	t.Helper()
	res, ok := rep.Result(check)
	if !ok {
		t.Errorf("%s did not run", check)
		return
	}
	if !strings.Contains(res.Reason, want) {
		t.Errorf("%s: reason %q does not contain %q", check, res.Reason, want)
	}
}
