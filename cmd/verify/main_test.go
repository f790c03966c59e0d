package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
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
		pwFile := writePasswordFile(t, "secret password\n", 0o600)
		args := append(base, "--json", "--registration", "closed", "--user", "bob", "--password-file", pwFile, "example.test")
		code, stdout, stderr := runCLI(ctx, args)
		if code != exitOK {
			t.Fatalf("exit %d, want 0\n%s\n%s", code, stdout, stderr)
		}
		var rep verify.Report
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("output is not a JSON report: %v\n%s", err, stdout)
		}
		if !rep.OK || len(rep.Results) != 13 {
			t.Errorf("ok=%v with %d results, want 13 (11 passing, auth-service and rtc-focus skipped)", rep.OK, len(rep.Results))
		}
		if res, _ := rep.Result(verify.CheckAuthService); res.Status != verify.Skip {
			t.Errorf("auth-service without --auth-service: %s %s", res.Status, res.Reason)
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
	t.Run("calls expected", func(t *testing.T) {
		// Dendrite announces no call backend in its client .well-known.
		args := append(base, "--expect-rtc-focus", "example.test")
		code, stdout, _ := runCLI(ctx, args)
		if code != exitFailed {
			t.Errorf("exit %d, want %d", code, exitFailed)
		}
		for _, want := range []string{"rtc-focus", `has no "org.matrix.msc4143.rtc_foci"`, "matrix:calls element-call", "1 check(s) failed"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, stdout)
			}
		}
	})
	t.Run("untrusted CA", func(t *testing.T) {
		// Without --ca-file only the system roots are trusted, and the
		// test CA is not one of them. The .well-known cannot be read
		// then, so discovery falls back to example.test:8448, which is
		// sent to Dendrite too for federation-tls to see its chain.
		args := []string{"--connect-to", "example.test:8448:" + srv.HTTPSAddr}
		for i := 0; i < len(base); i++ {
			if base[i] == "--ca-file" {
				i++
				continue
			}
			args = append(args, base[i])
		}
		code, stdout, _ := runCLI(ctx, append(args, "example.test"))
		if code != exitFailed {
			t.Errorf("exit %d, want %d", code, exitFailed)
		}
		want := `signed by an unknown authority: "matrix-on-aws test CA" is not a trusted root`
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	})
	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{},
			{"--registration", "maybe", "example.test"},
			{"--auth-service", "--registration", "closed", "example.test"},
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

// TestPassword checks where the round-trip password comes from: the
// environment or --password-file, never the command line.
func TestPassword(t *testing.T) {
	parse := func(args ...string) (*options, error) {
		return parseArgs(append(args, "example.test"), io.Discard)
	}
	t.Run("environment", func(t *testing.T) {
		t.Setenv(passwordEnv, "from env")
		o, err := parse("--user", "bob")
		if err != nil || o.cfg.Password != "from env" {
			t.Fatalf("password %q, err %v; want the environment's", passwordOf(o), err)
		}
	})
	t.Run("file wins over environment", func(t *testing.T) {
		t.Setenv(passwordEnv, "from env")
		// One line break is stripped; other whitespace belongs to the
		// password.
		f := writePasswordFile(t, " from file \r\n", 0o600)
		o, err := parse("--user", "bob", "--password-file", f)
		if err != nil || o.cfg.Password != " from file " {
			t.Fatalf("password %q, err %v; want the file's", passwordOf(o), err)
		}
	})
	t.Run("no password flag", func(t *testing.T) {
		t.Setenv(passwordEnv, "")
		if _, err := parse("--user", "bob", "--password", "secret"); err == nil || !strings.Contains(err.Error(), "-password") {
			t.Errorf("--password accepted (err %v)", err)
		}
	})
	bad := []struct {
		name, content string
		mode          os.FileMode
		want          string
	}{
		{"readable by others", "secret\n", 0o604, "mode 0604, readable by group or others"},
		{"readable by group", "secret\n", 0o640, "mode 0640, readable by group or others"},
		{"empty", "\n", 0o600, "is empty"},
		{"several lines", "secret\nmore\n", 0o600, "more than one line"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && tc.mode&0o044 != 0 {
				t.Skip("no group/other permission bits on Windows")
			}
			f := writePasswordFile(t, tc.content, tc.mode)
			_, err := parse("--user", "bob", "--password-file", f)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		if _, err := parse("--user", "bob", "--password-file", filepath.Join(t.TempDir(), "nope")); err == nil {
			t.Error("missing password file accepted")
		}
	})
	t.Run("refusal is a usage error", func(t *testing.T) {
		f := writePasswordFile(t, "secret\n", 0o644)
		code, _, stderr := runCLI(context.Background(), []string{"--user", "bob", "--password-file", f, "example.test"})
		if code != exitUsage || !strings.Contains(stderr, "chmod 600") {
			t.Errorf("exit %d, stderr %q; want %d and a chmod hint", code, stderr, exitUsage)
		}
	})
}

// writePasswordFile writes content to a new file with mode perm (set with
// Chmod, which the umask does not narrow) and returns its path.
func writePasswordFile(t *testing.T, content string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

func passwordOf(o *options) string {
	if o == nil {
		return ""
	}
	return o.cfg.Password
}
