package upstreamcheck_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matrix-on-aws/homeserver/internal/upstreamcheck"
)

// upstream is the snapshot, unpacked once for the tests of this package.
var upstream upstreamcheck.Fixture

func TestMain(m *testing.M) {
	code := m.Run()
	if err := upstream.Close(); err != nil {
		println(err.Error())
		code = 1
	}
	os.Exit(code)
}

// baseline is the minimal vars.yml the upstream accepts.
const baseline = `matrix_playbook_migration_validated_version: v2026.05.18.0
matrix_domain: example.org
matrix_homeserver_implementation: synapse
matrix_homeserver_generic_secret_key: 6d0Pq2ZrV8mXc4LuA1sKfT9yBn3WjHe7Gi5Ro0Ql2Ux8Zs4Dv6Nb1Ma3Ct7Yw9Ek
matrix_playbook_reverse_proxy_type: playbook-managed-traefik
devture_systemd_docker_base_ipv6_enabled: true
postgres_connection_password: Pg3x9Lm2Qa7Wz4Rt
`

// with returns baseline with lines replaced (key: value, matched on the
// key) or added; a value of "-" removes the key.
func with(lines ...string) string {
	out := strings.Split(strings.TrimSuffix(baseline, "\n"), "\n")
	for _, l := range lines {
		key, value, _ := strings.Cut(l, ":")
		i := slices.IndexFunc(out, func(o string) bool { return strings.HasPrefix(o, key+":") })
		switch {
		case strings.TrimSpace(value) == "-":
			if i >= 0 {
				out = slices.Delete(out, i, i+1)
			}
		case i >= 0:
			out[i] = l
		default:
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

const hostsFile = `[matrix_servers]
matrix.example.org ansible_host=203.0.113.10 ansible_ssh_user=ubuntu ansible_become=true ansible_become_user=root ansible_python_interpreter=/usr/bin/python3
`

// verdict is what a case expects: accepted, or refused by a task whose
// name contains task with a message containing msg.
type verdict struct {
	ok   bool
	task string
	msg  string
}

var accepted = verdict{ok: true}

func refused(task, msg string) verdict { return verdict{task: task, msg: msg} }

// cases are all validated in one ansible-playbook run (TestValidate).
var cases = []struct {
	name  string
	hosts string
	vars  string
	want  verdict
}{
	{"baseline", "", baseline, accepted},
	{"baseline with hosts file", hostsFile, baseline, accepted},
	{"renamed variable", "", with("matrix_vars_yml_snapshotting_enabled: true"),
		refused("matrix_playbook_migration", "Please rename the variable (`matrix_vars_yml_snapshotting_enabled` -> `devture_playbook_state_preserver_vars_preservation_enabled`)")},
	{"no migration version", "", with("matrix_playbook_migration_validated_version: -"),
		refused("Fail if migration version is not validated", "you haven't configured the `matrix_playbook_migration_validated_version` variable yet")},
	{"empty generic secret key", "", with(`matrix_homeserver_generic_secret_key: ""`),
		refused("Fail if matrix_homeserver_generic_secret_key is undefined", "The `matrix_homeserver_generic_secret_key` variable must be defined")},
	{"uppercase domain", "", with("matrix_domain: Example.org"),
		refused("Fail if uppercase domain used", "uppercase domain name - `Example.org`")},
	{"bad reverse proxy type", "", with("matrix_playbook_reverse_proxy_type: nginx"),
		refused("matrix_playbook_reverse_proxy_type", "(current value: `nginx`) appears to be set incorrectly")},

	{"ntfy", "", with("ntfy_enabled: true"), accepted},
	{"ntfy without hostname", "", with("ntfy_enabled: true", `ntfy_hostname: ""`),
		refused("Fail if required ntfy settings not defined", "required configuration setting (`ntfy_hostname`)")},
	// ntfy's validation runs only when ntfy_enabled (tasks/main.yml).
	{"ntfy disabled without hostname", "", with(`ntfy_hostname: ""`), accepted},

	{"mautrix-telegram", "", with("matrix_bridge_mautrix_telegram_enabled: true", "matrix_bridge_mautrix_telegram_api_id: 12345", "matrix_bridge_mautrix_telegram_api_hash: 0123456789abcdef0123456789abcdef"), accepted},
	{"mautrix-telegram without api_id", "", with("matrix_bridge_mautrix_telegram_enabled: true", "matrix_bridge_mautrix_telegram_api_hash: 0123456789abcdef0123456789abcdef"),
		refused("Fail if required mautrix-telegram settings not defined", "required configuration setting (`matrix_bridge_mautrix_telegram_api_id`)")},
	{"mautrix-whatsapp", "", with("matrix_bridge_mautrix_whatsapp_enabled: true"), accepted},

	{"synapse workers", "", with("matrix_synapse_workers_enabled: true", "matrix_synapse_workers_preset: one-of-each"), accepted},
	{"synapse two appservice workers", "", with("matrix_synapse_workers_enabled: true", "matrix_synapse_workers_preset: one-of-each", "matrix_synapse_workers_appservice_workers_count: 2"),
		refused("Fail if asking for more than 1 instance of single-instance workers", "matrix_synapse_workers_appservice_workers_count")},

	// The relay through SES as matrix:email ses renders it, and the one
	// setting the exim relay role itself requires.
	{"exim relay through ses", "", with("exim_relay_enabled: true", "exim_relay_sender_address: matrix@example.org", "exim_relay_relay_use: true",
		"exim_relay_relay_host_name: email-smtp.eu-central-1.amazonaws.com", "exim_relay_relay_host_port: 587", "exim_relay_relay_protocol: smtp",
		"exim_relay_relay_auth: true", "exim_relay_relay_auth_username: AKIAEXAMPLE0000000000", "exim_relay_relay_auth_password: BExampleSmtpPassword"), accepted},
	{"exim relay without sender", "", with(`exim_relay_sender_address: ""`),
		refused("Fail if required exim-relay settings not defined", "required configuration setting (`exim_relay_sender_address`)")},

	{"postgres backup", "", with("postgres_backup_enabled: true"), accepted},
	{"postgres backup without password", "", with("postgres_backup_enabled: true", `postgres_backup_connection_password: ""`),
		refused("Fail if required postgres-backup settings not defined", "required configuration setting (`postgres_backup_connection_password`)")},
}

// TestValidate checks every case in one Validate call, that is one
// ansible-playbook run.
func TestValidate(t *testing.T) {
	root := upstream.Root(t)
	invs := make([]upstreamcheck.Inventory, len(cases))
	for i, c := range cases {
		invs[i] = upstreamcheck.Inventory{Name: c.name, Hosts: c.hosts, Vars: c.vars}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	reports, err := upstreamcheck.Validate(ctx, root, invs)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if len(reports) != len(cases) {
		t.Fatalf("%d reports for %d inventories", len(reports), len(cases))
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkReport(t, reports[i], c.name, c.want)
		})
	}
}

func checkReport(t *testing.T, r upstreamcheck.Report, name string, want verdict) {
	t.Helper()
	if r.Name != name {
		t.Fatalf("report for %q, want %q", r.Name, name)
	}
	if want.ok {
		if !r.OK || len(r.Failures) > 0 {
			t.Fatalf("upstream refused it: %+v", r.Failures)
		}
		return
	}
	if r.OK || len(r.Failures) == 0 {
		t.Fatalf("upstream accepted it, want a refusal by %q: %q", want.task, want.msg)
	}
	for _, f := range r.Failures {
		if strings.Contains(f.Task, want.task) && strings.Contains(f.Message, want.msg) {
			return
		}
	}
	t.Fatalf("no failure of a task like %q with %q; got %+v", want.task, want.msg, r.Failures)
}

// TestValidateRunErrors checks that a run which gives no verdict is an
// error, not a refusal: an undefined variable the configuration refers to
// where upstream does not guard against it (matrix_domain would not do:
// matrix-base checks it with default(”) and refuses it properly), and a
// vars.yml Ansible cannot parse.
func TestValidateRunErrors(t *testing.T) {
	root := upstream.Root(t)
	for _, c := range []struct {
		name, vars, want string
		wholeRun         bool // ansible-playbook stops for every configuration
	}{
		{"undefined variable", with(`matrix_playbook_reverse_proxy_type: "{{ no_such_variable }}"`), "no_such_variable", false},
		{"invalid YAML", baseline + "matrix_domain: [unclosed\n", "vars.yml", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			reports, err := upstreamcheck.Validate(context.Background(), root, []upstreamcheck.Inventory{
				{Name: "good", Vars: baseline},
				{Name: "bad", Vars: c.vars},
			})
			var runErr *upstreamcheck.RunError
			if !errors.As(err, &runErr) {
				t.Fatalf("Validate: got %v (%+v), want a *RunError", err, reports)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error does not mention %q:\n%v", c.want, err)
			}
			if _, ok := runErr.Hosts["good"]; ok && !c.wholeRun {
				t.Errorf("the good configuration is blamed: %v", err)
			}
			t.Logf("%.600s", err)
			for _, r := range reports {
				if len(r.Failures) > 0 {
					t.Errorf("%s: reported as refused: %+v", r.Name, r.Failures)
				}
			}
		})
	}
}

func TestValidateRejectsBadInput(t *testing.T) {
	root := upstream.Root(t)
	for _, invs := range [][]upstreamcheck.Inventory{
		nil,
		{{Name: "", Vars: baseline}},
		{{Name: "a", Vars: baseline}, {Name: "a", Vars: baseline}},
		{{Name: "a", Vars: baseline, Hosts: "[matrix_servers]\none\ntwo\n"}},
	} {
		if _, err := upstreamcheck.Validate(context.Background(), root, invs); err == nil {
			t.Errorf("Validate(%+v) did not fail", invs)
		}
	}
}

// TestPlanFindsValidations compares the plan with the snapshot's files: each
// role of setup.yml that has a tasks/validate_config.yml must be in the
// plan with it, except the roles listed here (with why).
func TestPlanFindsValidations(t *testing.T) {
	root := upstream.Root(t)
	notRunBySetupAll := map[string]string{
		// Its validation is included under the start/restart/stop tags only.
		"galaxy/systemd_service_manager": "start tags only",
	}
	roles, err := upstreamcheck.Plan(root)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]upstreamcheck.Role{}
	for _, r := range roles {
		byName[r.Name] = r
	}
	expected := 0
	for _, r := range roles {
		if _, err := os.Stat(filepath.Join(root, "roles", r.Name, "tasks", "validate_config.yml")); err != nil {
			continue
		}
		if _, ok := notRunBySetupAll[r.Name]; ok {
			if len(r.Checks) > 0 {
				t.Errorf("%s: planned %+v, but setup-all does not run it", r.Name, r.Checks)
			}
			continue
		}
		expected++
		if !slices.ContainsFunc(r.Checks, func(c upstreamcheck.Check) bool { return c.File == "validate_config.yml" }) {
			t.Errorf("%s: validate_config.yml not planned (checks %+v)", r.Name, r.Checks)
		}
	}
	withChecks := 0
	for _, r := range roles {
		if len(r.Checks) > 0 {
			withChecks++
		}
	}
	if expected == 0 || withChecks < expected {
		t.Errorf("%d roles with validations planned, want at least %d (roles of setup.yml with a validate_config.yml)", withChecks, expected)
	}
	t.Logf("%d roles in setup.yml, %d with validations planned", len(roles), withChecks)
}

// TestPlanConditions checks that the plan carries main.yml's conditions.
func TestPlanConditions(t *testing.T) {
	root := upstream.Root(t)
	roles, err := upstreamcheck.Plan(root)
	if err != nil {
		t.Fatal(err)
	}
	checks := func(name string) []upstreamcheck.Check {
		i := slices.IndexFunc(roles, func(r upstreamcheck.Role) bool { return r.Name == name })
		if i < 0 {
			t.Fatalf("role %s not in the plan", name)
		}
		return roles[i].Checks
	}
	for _, c := range []struct {
		role string
		want []upstreamcheck.Check
	}{
		// A block's when (galaxy roles).
		{"galaxy/ntfy", []upstreamcheck.Check{{File: "validate_config.yml", When: []string{"ntfy_enabled | bool"}}}},
		// A task's when, and the migration gate (tagged always) first.
		{"custom/matrix_playbook_migration", []upstreamcheck.Check{{File: "validate_migration_version.yml"}, {File: "validate_config.yml"}}},
		{"custom/matrix-bot-buscarron", []upstreamcheck.Check{{File: "validate_config.yml", When: []string{"run_setup | bool and matrix_bot_buscarron_enabled | bool"}}}},
		// Followed through the files main.yml includes, conditions nested.
		{"custom/matrix-synapse", []upstreamcheck.Check{
			{File: "validate_config.yml", When: []string{"matrix_synapse_enabled | bool"}},
			{File: "ext/synapse-http-antispam/validate_config.yml", When: []string{"matrix_synapse_enabled | bool", "matrix_synapse_ext_synapse_http_antispam_enabled  | bool"}},
			{File: "ext/s3-storage-provider/validate_config.yml", When: []string{"matrix_synapse_enabled | bool", "matrix_synapse_ext_synapse_s3_storage_provider_enabled | bool"}},
			{File: "reverse_proxy_companion/validate_config.yml", When: []string{"matrix_synapse_reverse_proxy_companion_enabled | bool"}},
		}},
	} {
		got := checks(c.role)
		if !slices.EqualFunc(got, c.want, func(a, b upstreamcheck.Check) bool {
			return a.File == b.File && slices.Equal(a.When, b.When)
		}) {
			t.Errorf("%s: checks\n%+v\nwant\n%+v", c.role, got, c.want)
		}
	}
	i := slices.IndexFunc(roles, func(r upstreamcheck.Role) bool { return r.Name == "galaxy/docker" })
	if i < 0 || !slices.Equal(roles[i].When, []string{"matrix_playbook_docker_installation_enabled | bool"}) {
		t.Errorf("galaxy/docker: setup.yml's when not read: %+v", roles[i])
	}
	if j := slices.IndexFunc(roles, func(r upstreamcheck.Role) bool { return r.Name == "galaxy/playbook_help" }); j < 0 || roles[j].Excluded == "" {
		t.Errorf("galaxy/playbook_help is not excluded")
	}
}
