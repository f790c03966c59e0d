package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"maunium.net/go/mautrix/federation"
)

// verifier holds one run's configuration and collected results.
type verifier struct {
	cfg  Config
	host string // server name without port: where .well-known lives
	http *http.Client

	mu      sync.Mutex
	results map[string]Result
}

// Run performs every check once, concurrently, and returns the report.
// Each check is bounded by Config.ProbeTimeout; ctx bounds the whole run.
// The error is non-nil only when cfg is invalid.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	host, _, _ := federation.ParseServerName(cfg.ServerName)
	v := &verifier{
		cfg:     cfg,
		host:    host,
		http:    cfg.Network.HTTPClient(),
		results: make(map[string]Result),
	}
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { v.probe(ctx, CheckWellKnownServer, v.checkWellKnownServer) })
	wg.Go(func() { v.federationChecks(ctx, &wg) })
	wg.Go(func() { v.clientChecks(ctx, &wg) })
	if len(cfg.ExpectIPv4)+len(cfg.ExpectIPv6) > 0 {
		wg.Go(func() { v.probe(ctx, CheckDNS, v.checkDNS) })
	} else {
		v.record(CheckDNS, skipped("no expected addresses given (--expect-ipv4, --expect-ipv6)"))
	}
	if cfg.ExpectRTCFocus {
		wg.Go(func() { v.probe(ctx, CheckRTCFocus, v.checkRTCFocus) })
	} else {
		v.record(CheckRTCFocus, skipped("no call stack expected (--expect-rtc-focus)"))
	}
	wg.Wait()
	return v.report(start), nil
}

// federationChecks runs discovery, then the checks that need its result.
func (v *verifier) federationChecks(ctx context.Context, wg *sync.WaitGroup) {
	var res *federation.ResolvedServerName
	v.probe(ctx, CheckDiscovery, func(ctx context.Context) Result {
		var r Result
		r, res = v.checkDiscovery(ctx)
		return r
	})
	if res == nil {
		v.skipBlocked(CheckDiscovery, CheckFederationTLS, CheckFederationVersion, CheckFederationKeys)
		return
	}
	cli := v.federationClient(res)
	wg.Go(func() {
		v.probe(ctx, CheckFederationTLS, func(ctx context.Context) Result {
			return v.checkTLS(ctx, res.IPPort[0], federationSNI(res))
		})
	})
	wg.Go(func() {
		v.probe(ctx, CheckFederationVersion, func(ctx context.Context) Result {
			return v.checkFederationVersion(ctx, cli, res)
		})
	})
	wg.Go(func() {
		v.probe(ctx, CheckFederationKeys, func(ctx context.Context) Result {
			return v.checkFederationKeys(ctx, cli, res)
		})
	})
}

// clientChecks reads the client .well-known, then runs the checks against
// the base URL it announces.
func (v *verifier) clientChecks(ctx context.Context, wg *sync.WaitGroup) {
	var base *url.URL
	v.probe(ctx, CheckWellKnownClient, func(ctx context.Context) Result {
		var r Result
		r, base = v.checkWellKnownClient(ctx)
		return r
	})
	if base == nil {
		v.skipBlocked(CheckWellKnownClient, CheckClientTLS, CheckClientVersions, CheckRegistration, CheckRoundTrip, CheckAuthService)
		return
	}
	if v.cfg.AuthService {
		wg.Go(func() {
			v.probe(ctx, CheckAuthService, func(ctx context.Context) Result {
				return v.checkAuthService(ctx, base)
			})
		})
	} else {
		v.record(CheckAuthService, skipped("the server is not expected to use the Matrix Authentication Service (--auth-service)"))
	}
	wg.Go(func() {
		v.probe(ctx, CheckClientTLS, func(ctx context.Context) Result {
			return v.checkTLS(ctx, clientTLSAddr(base), base.Hostname())
		})
	})
	wg.Go(func() {
		v.probe(ctx, CheckClientVersions, func(ctx context.Context) Result {
			return v.checkClientVersions(ctx, base)
		})
	})
	if v.cfg.AuthService {
		v.record(CheckRegistration, skipped("the Matrix Authentication Service handles registration"))
	} else if v.cfg.Registration == "" {
		v.record(CheckRegistration, skipped("no expected mode given (--registration)"))
	} else {
		wg.Go(func() {
			v.probe(ctx, CheckRegistration, func(ctx context.Context) Result {
				return v.checkRegistration(ctx, base)
			})
		})
	}
	if v.cfg.Username == "" {
		v.record(CheckRoundTrip, skipped("no credentials given (--user with $MATRIX_VERIFY_PASSWORD or --password-file)"))
	} else {
		wg.Go(func() {
			v.probe(ctx, CheckRoundTrip, func(ctx context.Context) Result {
				return v.checkRoundTrip(ctx, base)
			})
		})
	}
}

// probe runs one check under the probe timeout and records its result.
func (v *verifier) probe(ctx context.Context, name string, check func(context.Context) Result) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.probeTimeout())
	defer cancel()
	start := time.Now()
	res := check(ctx)
	if res.Status == Fail && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res.Reason += fmt.Sprintf(" (gave up after %s)", time.Since(start).Round(time.Millisecond))
	}
	res.Elapsed = Duration(time.Since(start))
	v.record(name, res)
}

func (v *verifier) record(name string, res Result) {
	res.Check = name
	v.mu.Lock()
	defer v.mu.Unlock()
	v.results[name] = res
}

func (v *verifier) skipBlocked(cause string, checks ...string) {
	for _, c := range checks[1:] {
		v.record(c, skipped("not run: %s failed", cause))
	}
}

func (v *verifier) report(start time.Time) *Report {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := &Report{
		ServerName: v.cfg.ServerName,
		OK:         true,
		Attempts:   1,
		Started:    start,
		Elapsed:    Duration(time.Since(start)),
	}
	for _, name := range checkOrder {
		res, ok := v.results[name]
		if !ok {
			continue
		}
		r.Results = append(r.Results, res)
		if res.Status == Fail {
			r.OK = false
		}
	}
	return r
}
