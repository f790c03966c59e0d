package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matrix-on-aws/homeserver/internal/dendritetest"
	"github.com/matrix-on-aws/homeserver/internal/dnstest"
	"github.com/matrix-on-aws/homeserver/internal/testpki"
	"github.com/matrix-on-aws/homeserver/internal/verify"
)

// TestCLI drives the command as `go run ./cmd/verify` would be driven,
// against a real Dendrite reached through --resolve, --ca-file and
// --dns-server.
func TestCLI(t *testing.T) {
	ca, err := testpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srv := dendritetest.Start(t, dendritetest.Options{ServerName: "example.test", CA: ca})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.RegisterUser(ctx, "bob", "secret password"); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	lo := netip.MustParseAddr("127.0.0.1")
	dns := dnstest.Start(t, dnstest.Zone{Addrs: map[string][]netip.Addr{
		"example.test": {lo}, "matrix.example.test": {lo},
	}})
	// Dendrite listens on one random port, so every name:port the
	// deployment uses is sent there, as a port-forwarding balancer would.
	base := []string{
		"--ca-file", caFile,
		"--dns-server", dns.Addr,
		"--connect-to", "example.test:443:" + srv.HTTPSAddr,
		"--connect-to", "matrix.example.test:443:" + srv.HTTPSAddr,
		"--connect-to", "matrix.example.test:8448:" + srv.HTTPSAddr,
		"--expect-ipv4", "127.0.0.1",
		"--timeout", "30s",
	}

	t.Run("healthy JSON", func(t *testing.T) {
		args := append(base, "--json", "--registration", "closed", "--user", "bob", "--password", "secret password", "example.test")
		code, stdout, stderr := runCLI(ctx, args)
		if code != exitOK {
			t.Fatalf("exit %d, want 0\n%s\n%s", code, stdout, stderr)
		}
		var rep verify.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("output is not a JSON report: %v\n%s", err, stdout)
		}
		if !rep.OK || len(rep.Results) != 11 {
			t.Errorf("ok=%v with %d results, want 11 passing", rep.OK, len(rep.Results))
		}
		if res, _ := rep.Result(verify.CheckRoundTrip); res.Status != verify.Pass {
			t.Errorf("round trip: %s %s", res.Status, res.Reason)
		}
	})
	t.Run("failure table", func(t *testing.T) {
		args := append(base, "--registration", "open", "--server-name", "example.test")
		code, stdout, _ := runCLI(ctx, args)
		if code != exitFailed {
			t.Errorf("exit %d, want %d", code, exitFailed)
		}
		for _, want := range []string{"CHECK", "WHAT TO DO", "registration is closed, want open", "FAIL", "1 check(s) failed"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, stdout)
			}
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{},
			{"--registration", "maybe", "example.test"},
			{"--resolve", "example.test:443", "example.test"},
			{"--connect-to", "example.test:443:127.0.0.1", "example.test"},
			{"--expect-ipv4", "not-an-ip", "example.test"},
			{"a.test", "b.test"},
		} {
			if code, _, _ := runCLI(ctx, args); code != exitUsage {
				t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
			}
		}
	})
}

func runCLI(ctx context.Context, args []string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}
