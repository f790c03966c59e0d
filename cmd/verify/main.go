// Command verify checks a live Matrix homeserver: delegation, server
// discovery, TLS, the federation and client APIs, the registration mode,
// optionally a client round trip and DNS records. It prints a table (or
// JSON with --json) and exits non-zero when any check fails.
//
// Usage:
//
//	verify [flags] SERVER_NAME
//
// See README.md in this directory for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"time"

	"github.com/matrix-on-aws/homeserver/internal/verify"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed command line.
type options struct {
	cfg    verify.Config
	retry  verify.Retry
	asJSON bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "verify: %v\n", err)
		return exitUsage
	}
	if !opts.asJSON {
		opts.retry.OnAttempt = func(r *verify.Report) {
			fmt.Fprintf(stderr, "verify: attempt %d: %d check(s) failed, retrying in %s\n",
				r.Attempts, len(r.Failed()), opts.retry.Every)
		}
	}
	rep, err := verify.RunUntilPass(ctx, opts.cfg, opts.retry)
	if err != nil {
		fmt.Fprintf(stderr, "verify: %v\n", err)
		return exitUsage
	}
	if opts.asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "verify: write report: %v\n", err)
		return exitFailed
	}
	if !rep.OK {
		return exitFailed
	}
	return exitOK
}

func parseArgs(args []string, stderr io.Writer) (*options, error) {
	var (
		o                     options
		resolves, connectTo   listFlag
		caFiles               listFlag
		ipv4, ipv6, dnsNames  listFlag
		dnsServer, serverName string
		passwordFile          string
	)
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: verify [flags] SERVER_NAME")
		fs.PrintDefaults()
	}
	fs.StringVar(&serverName, "server-name", "", "Matrix server name (base domain); or give it as the argument")
	fs.BoolVar(&o.asJSON, "json", false, "print the report as JSON")
	fs.DurationVar(&o.retry.Timeout, "timeout", time.Minute, "bound on one run of all checks")
	fs.DurationVar(&o.cfg.ProbeTimeout, "probe-timeout", 10*time.Second, "bound on each single check")
	fs.DurationVar(&o.retry.For, "retry-for", 0, "repeat failed runs until they pass or this window ends (0: run once)")
	fs.DurationVar(&o.retry.Every, "retry-every", 15*time.Second, "pause between runs with --retry-for")
	fs.IntVar(&o.cfg.MinCertDays, "min-cert-days", 14, "fail when a certificate expires within this many days")
	fs.StringVar(&o.cfg.Registration, "registration", "", "expected registration mode: closed, token or open (empty: not checked)")
	fs.BoolVar(&o.cfg.AuthService, "auth-service", false, "expect the Matrix Authentication Service: check that the server advertises it (auth_metadata, client .well-known); registration is then MAS's and not checked")
	fs.StringVar(&o.cfg.Username, "user", "", "user (localpart or @user:server) for the round trip")
	// There is deliberately no --password: a command line is readable by
	// every local user (ps, /proc/PID/cmdline) and lands in shell history.
	fs.StringVar(&passwordFile, "password-file", "", "file holding the password for the round trip, not readable by group or others (default $"+passwordEnv+")")
	fs.Var(&ipv4, "expect-ipv4", "expected IPv4 address of the DNS names (repeatable, comma-separated)")
	fs.Var(&ipv6, "expect-ipv6", "expected IPv6 address of the DNS names (repeatable, comma-separated)")
	fs.BoolVar(&o.cfg.ExpectRTCFocus, "expect-rtc-focus", false, "check that /.well-known/matrix/client announces a LiveKit focus for group calls (org.matrix.msc4143.rtc_foci)")
	fs.Var(&dnsNames, "dns-name", "name for the DNS check (repeatable; default SERVER_NAME and matrix.SERVER_NAME)")
	fs.Var(&caFiles, "ca-file", "PEM file of extra trusted CA certificates (repeatable)")
	fs.Var(&resolves, "resolve", "host:port:addr, connect to addr for host:port like curl (repeatable)")
	fs.Var(&connectTo, "connect-to", "host:port:addr:port2, connect to addr:port2 for host:port like curl (repeatable)")
	fs.StringVar(&dnsServer, "dns-server", "", "host:port of the DNS server for SRV and address lookups (default: system)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	name, err := pickServerName(serverName, fs.Args())
	if err != nil {
		return nil, err
	}
	o.cfg.ServerName = name
	// An explicit --password-file wins over the environment, as flags
	// usually do.
	if passwordFile != "" {
		if o.cfg.Password, err = readPasswordFile(passwordFile); err != nil {
			return nil, err
		}
	} else {
		o.cfg.Password = os.Getenv(passwordEnv)
	}
	o.cfg.DNSNames = dnsNames
	if o.cfg.ExpectIPv4, err = parseAddrs(ipv4); err != nil {
		return nil, err
	}
	if o.cfg.ExpectIPv6, err = parseAddrs(ipv6); err != nil {
		return nil, err
	}
	if err := configureNetwork(&o.cfg.Network, caFiles, resolves, connectTo, dnsServer); err != nil {
		return nil, err
	}
	return &o, o.cfg.Validate()
}

// passwordEnv names the environment variable holding the round-trip
// password; the Pulumi program's post-deploy step sets it.
const passwordEnv = "MATRIX_VERIFY_PASSWORD"

// readPasswordFile returns the password in path without its trailing line
// break. It refuses a file that group or others may read: the flag exists
// so that the password stays private to the user running verify, and a
// world-readable file would expose it as widely as the command line did
// (OpenSSH and libpq's .pgpass refuse such files for the same reason).
// Where permissions cannot be set, use the environment variable.
func readPasswordFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	defer f.Close()
	// Stat the opened file, not the path, so the permissions checked are
	// those of the file read.
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("password file %s is not a regular file", path)
	}
	// Windows has no group/other permission bits to check.
	if perm := fi.Mode().Perm(); perm&0o044 != 0 && runtime.GOOS != "windows" {
		return "", fmt.Errorf("password file %s has mode %04o, readable by group or others; chmod 600 it", path, perm)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	// Only one line break is stripped: other whitespace may be part of
	// the password.
	pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if pw == "" {
		return "", fmt.Errorf("password file %s is empty", path)
	}
	if strings.ContainsAny(pw, "\r\n") {
		return "", fmt.Errorf("password file %s has more than one line", path)
	}
	return pw, nil
}

func pickServerName(flagValue string, args []string) (string, error) {
	switch {
	case len(args) > 1:
		return "", fmt.Errorf("want one server name, got %q", args)
	case len(args) == 1 && flagValue != "" && args[0] != flagValue:
		return "", fmt.Errorf("server name given twice: %q and %q", flagValue, args[0])
	case len(args) == 1:
		return args[0], nil
	case flagValue == "":
		return "", errors.New("no server name given")
	}
	return flagValue, nil
}

func configureNetwork(n *verify.Network, caFiles, resolves, connectTo []string, dnsServer string) error {
	for _, f := range caFiles {
		if err := n.AddCAFile(f); err != nil {
			return err
		}
	}
	for _, r := range resolves {
		if err := n.AddResolve(r); err != nil {
			return err
		}
	}
	for _, c := range connectTo {
		if err := n.AddConnectTo(c); err != nil {
			return err
		}
	}
	if dnsServer != "" {
		n.Resolver = verify.ResolverFor(dnsServer)
	}
	return nil
}

func parseAddrs(list []string) ([]netip.Addr, error) {
	out := make([]netip.Addr, 0, len(list))
	for _, s := range list {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("expected address: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}
