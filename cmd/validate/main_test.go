package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/snapshot"
	"github.com/matrix-on-aws/homeserver/internal/stackfile"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/matrix-on-aws/homeserver/internal/upstreamcheck"
)

var base = synth.ExampleConfig

var ha = synth.ExampleHAConfig

func vars(m map[string]any) string {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// matrix is every toggle, every registration mode, both topologies, calls,
// MAS (with each registration mode, migrating, on its own hostname, in ha),
// each Synapse worker preset, mail through SES or an own relay, and
// playbookVars that enable a bridge, ntfy and the PostgreSQL backup, as the
// program renders them.
var matrix = []struct {
	name string
	raw  map[string]string
}{
	{"defaults", base()},
	{"ipv6-off", base("matrix:ipv6", "false")},
	{"element-off", base("matrix:element", "false")},
	{"base-domain-elsewhere", base("matrix:serveBaseDomain", "false")},
	{"turn", base("matrix:turn", "true")},
	{"calls", base("matrix:calls", "element-call")},
	{"calls-element-off-turn", base("matrix:calls", "element-call", "matrix:element", "false", "matrix:turn", "true")},
	{"calls-moved", base("matrix:calls", "element-call", "matrix:playbookVars", vars(map[string]any{
		"matrix_element_call_hostname": "meet.example.org", "matrix_synapse_allow_guest_access": true}))},
	{"registration-token", base("matrix:registration", "token")},
	{"registration-open", base("matrix:registration", "open")},
	{"admin-user", base("matrix:adminUser", "ops")},
	{"ha-defaults", ha()},
	{"email-ses", base("matrix:email", "ses")},
	{"email-ses-from", base("matrix:email", "ses", "matrix:emailFrom", "noreply@example.org", "matrix:emailDmarc", "false")},
	{"ha-email-ses", ha("matrix:email", "ses")},
	{"email-own-relay", base("matrix:playbookVars", vars(map[string]any{
		"exim_relay_relay_use": true, "exim_relay_relay_host_name": "smtp.example.net", "exim_relay_relay_auth": true,
		"exim_relay_relay_auth_username": "matrix", "exim_relay_relay_auth_password": "s3cret"}))},
	{"ha-token-workers", ha("matrix:registration", "token", "matrix:synapseWorkers", "one-of-each", "matrix:instanceType", "t3.xlarge")},
	{"ntfy", base("matrix:playbookVars", vars(map[string]any{"ntfy_enabled": true}))},
	{"workers-one-of-each", base("matrix:synapseWorkers", "one-of-each", "matrix:instanceType", "t3.xlarge")},
	{"workers-specialized", base("matrix:synapseWorkers", "specialized-workers", "matrix:instanceType", "m7i.xlarge")},
	{"mas", base("matrix:auth", "mas")},
	{"mas-registration-token", base("matrix:auth", "mas", "matrix:registration", "token")},
	{"mas-registration-open", base("matrix:auth", "mas", "matrix:registration", "open")},
	{"mas-migrating", base("matrix:auth", "mas", "matrix:playbookVars", vars(map[string]any{"matrix_authentication_service_migration_in_progress": true}))},
	{"mas-own-hostname", base("matrix:auth", "mas", "matrix:playbookVars", vars(map[string]any{
		"matrix_authentication_service_hostname": "auth.example.org", "matrix_authentication_service_path_prefix": "/"}))},
	{"mas-workers", base("matrix:auth", "mas", "matrix:synapseWorkers", "specialized-workers", "matrix:instanceType", "t3.xlarge")},
	{"ha-mas", ha("matrix:auth", "mas")},
	{"postgres-backup", base("matrix:playbookVars", vars(map[string]any{"postgres_backup_enabled": true}))},
	{"bridge-telegram", base("matrix:playbookVars", vars(map[string]any{
		"matrix_bridge_mautrix_telegram_enabled": true,
		"matrix_bridge_mautrix_telegram_api_id":  "12345", "matrix_bridge_mautrix_telegram_api_hash": "0123456789abcdef0123456789abcdef"}))},
	{"everything", base("matrix:turn", "true", "matrix:calls", "element-call", "matrix:registration", "token", "matrix:auth", "mas",
		"matrix:synapseWorkers", "one-of-each", "matrix:instanceType", "t3.xlarge", "matrix:playbookVars", vars(map[string]any{
			"ntfy_enabled": true, "postgres_backup_enabled": true, "jitsi_enabled": true,
			"matrix_bridge_mautrix_whatsapp_enabled": true, "matrix_bot_draupnir_enabled": false}))},
}

// refused are configurations the program accepts and the upstream's own
// validation refuses, with the upstream's message: proof that the harness
// can fail.
var refused = []struct {
	name, message string
	raw           map[string]string
}{
	{"bridge-without-api", "You need to define a required configuration setting (`matrix_bridge_mautrix_telegram_api_id`).",
		base("matrix:playbookVars", vars(map[string]any{"matrix_bridge_mautrix_telegram_enabled": true}))},
	// MAS's own validation runs on what the program renders for it.
	{"mas-bad-mail-transport", "matrix_authentication_service_config_email_transport must be one of: blackhole, smtp, or aws_ses",
		base("matrix:auth", "mas", "matrix:playbookVars", vars(map[string]any{"matrix_authentication_service_config_email_transport": "sendmail"}))},
}

func inventory(t *testing.T, name string, raw map[string]string) upstreamcheck.Inventory {
	t.Helper()
	res, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: raw})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	hosts, vars, err := res.Inventory()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return upstreamcheck.Inventory{Name: name, Hosts: hosts, Vars: vars}
}

// TestUpstreamValidation runs the pinned playbook's validation tasks on
// every committed stack and the matrix, in one ansible-playbook run.
func TestUpstreamValidation(t *testing.T) {
	root := upstreamcheck.UnpackForTest(t)
	stacks, err := stackfile.Stacks("../..")
	if err != nil {
		t.Fatal(err)
	}
	invs, charts, err := render("../..", stacks, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(invs) < 3 || len(charts) < 1 {
		t.Fatalf("%d stacks for the playbook, %d for the chart: is the glob finding Pulumi.<stack>.yaml?", len(invs), len(charts))
	}
	for _, m := range matrix {
		invs = append(invs, inventory(t, m.name, m.raw))
	}
	for _, r := range refused {
		invs = append(invs, inventory(t, r.name, r.raw))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	reports, err := upstreamcheck.Validate(ctx, root, invs)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]upstreamcheck.Report{}
	for _, r := range reports {
		byName[r.Name] = r
	}
	for _, inv := range invs[:len(invs)-len(refused)] {
		if r := byName[inv.Name]; !r.OK {
			t.Errorf("the upstream refuses %s: %+v", inv.Name, r.Failures)
		}
	}
	for _, want := range refused {
		r := byName[want.name]
		var msgs []string
		for _, f := range r.Failures {
			msgs = append(msgs, f.Message)
		}
		if r.OK || !strings.Contains(strings.Join(msgs, "\n"), want.message) {
			t.Errorf("%s: ok=%v, failures %q; want the upstream's %q", want.name, r.OK, msgs, want.message)
		}
	}
	var out bytes.Buffer
	if err := report(&out, reports); err == nil || !strings.Contains(out.String(), "REFUSED  bridge-without-api:") {
		t.Errorf("report: %v\n%s", err, out.String())
	}
}

func TestCheckoutMustBeAtThePin(t *testing.T) {
	dir := t.TempDir()
	if err := checkCheckout(dir); err == nil || !strings.Contains(err.Error(), "no roles/galaxy") {
		t.Errorf("checkout without roles: %v", err)
	}
	if _, _, err := playbookRoot("a", "b"); err == nil {
		t.Error("both --upstream and --snapshot accepted")
	}
	// The wrapper's cache, at another commit than the pin.
	cache := t.TempDir()
	t.Setenv("MATRIX_CACHE_DIR", cache)
	repo := filepath.Join(cache, "upstream")
	if err := os.MkdirAll(filepath.Join(repo, "roles", "galaxy"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init", "-q"}, {"-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "--allow-empty", "-m", "other"}} {
		if out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if _, _, err := playbookRoot("", ""); err == nil || !strings.Contains(err.Error(), "but the pin") {
		t.Errorf("a cache at another commit: %v", err)
	}
}

// TestCommand runs the operator's command on the dev stack from the
// snapshot, as `go run ./cmd/validate --stack dev --snapshot FILE` does.
func TestCommand(t *testing.T) {
	pin, err := ansible.LoadPin()
	if err != nil {
		t.Fatal(err)
	}
	tarball, err := snapshot.Path(pin.Commit)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"--dir", "../..", "--stack", "dev", "--snapshot", tarball}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "ok       dev: the upstream playbook's validation accepts it") {
		t.Errorf("output:\n%s", out.String())
	}
	err = run([]string{"--dir", "../..", "--stack", "dev", "--snapshot", tarball,
		"--config", `matrix:playbookVars={"matrix_bridge_mautrix_telegram_enabled":true}`}, &out)
	if err == nil || !strings.Contains(out.String(), "REFUSED  dev:") || !strings.Contains(out.String(), "matrix_bridge_mautrix_telegram_api_id") {
		t.Errorf("a refused stack: %v\n%s", err, out.String())
	}
}

// TestChartCommand checks an eks stack against the pinned chart, as
// `go run ./cmd/validate --stack eks` does: the committed stack passes,
// a known-bad matrix:helmValues is refused with the chart's message, and
// --source tells the preview workflow which stacks need the playbook.
func TestChartCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"--dir", "../..", "--stack", "eks"}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.HasPrefix(out.String(), "ok       eks: the chart matrix-stack 26.8.1 accepts it (") {
		t.Errorf("output:\n%s", out.String())
	}
	out.Reset()
	err := run([]string{"--dir", "../..", "--stack", "eks", "--config", `matrix:helmValues={"elementWeb":{"replicas":"two"}}`}, &out)
	if err == nil || !strings.Contains(out.String(), "REFUSED  eks:") || !strings.Contains(out.String(), "elementWeb.replicas") {
		t.Errorf("a refused stack: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run([]string{"--dir", "../..", "--stack", "eks", "--stack", "dev", "--source"}, &out); err != nil || out.String() != "dev playbook\neks chart\n" {
		t.Errorf("--source: %v\n%q", err, out.String())
	}
}
