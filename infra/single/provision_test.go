package single_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"golang.org/x/crypto/ssh"
)

// steps: the first pulumi up runs prepare and one upstream invocation,
// which creates the admin user declared in vars.yml and starts everything.
var steps = []string{"wait-ready", "prepare", "playbook", "verify"}

func TestCommandGraph(t *testing.T) {
	for _, m := range modes {
		t.Run(m.Name, func(t *testing.T) {
			res := run(t, m.DryRun, config())
			cmds := synthtest.Commands(res.Cloud)
			var names []string
			for n := range cmds {
				names = append(names, n)
			}
			if !synthtest.SameSet(names, steps) {
				t.Fatalf("commands %v, want %v", names, steps)
			}
			// matrix:access ssm (the default): the wrapper, ssh through
			// Session Manager; the script goes to the host on its stdin.
			if cmds["wait-ready"].Type != synthtest.LocalCommand {
				t.Errorf("wait-ready is %s", cmds["wait-ready"].Type)
			}
			if got := get(cmds["wait-ready"].Inputs, "create").StringValue(); got != "ansible/run-playbook --first-contact" {
				t.Errorf("wait-ready runs %q", got)
			}
			// Each step waits for the one before it, through a real
			// dependency the engine sees, never a sleep.
			for i := 1; i < len(steps); i++ {
				if !synthtest.DependsOn(cmds[steps[i]], steps[i-1]) {
					t.Errorf("%s does not depend on %s: %v", steps[i], steps[i-1], cmds[steps[i]].DependsOn)
				}
			}
			if !synthtest.DependsOn(cmds["prepare"], "data") {
				t.Error("prepare runs before the data volume is attached")
			}
			for _, rec := range []string{"matrix-A", "base-A", "element-CNAME"} {
				if !synthtest.DependsOn(cmds["playbook"], rec) {
					t.Errorf("playbook does not wait for DNS record %s (certificates need it)", rec)
				}
			}
			want := map[string]string{
				"prepare": "ansible/run-playbook --playbook prepare --tags prepare --extra-vars-env",
				// The upstream's own one-run form (docs/installing.md):
				// users are created, and so the homeserver started, with
				// start in the same invocation, never with setup alone.
				"playbook": "ansible/run-playbook --playbook upstream --tags setup-all,ensure-matrix-users-created,start",
			}
			for name, create := range want {
				if got := get(cmds[name].Inputs, "create").StringValue(); got != create {
					t.Errorf("%s runs %q, want %q", name, got, create)
				}
				if get(cmds[name].Inputs, "logging").StringValue() != "stdoutAndStderr" {
					t.Errorf("%s logging %v", name, get(cmds[name].Inputs, "logging"))
				}
			}
			wait := get(cmds["wait-ready"].Inputs, "stdin").StringValue()
			if wait != infra.FirstContactScript {
				t.Errorf("wait-ready sends %q", wait)
			}
			// matrix:access ssh: pulumi-command's own SSH to the address.
			ssh := synthtest.Commands(run(t, m.DryRun, sshConfig()).Cloud)["wait-ready"]
			if ssh.Type != synthtest.RemoteCommand {
				t.Errorf("wait-ready with access ssh is %s", ssh.Type)
			}
			if got := get(ssh.Inputs, "create").StringValue(); got != infra.FirstContactScript {
				t.Errorf("wait-ready with access ssh runs %q", got)
			}
		})
	}
}

// TestPreviewRunsNothing: in a preview the steps are declared with triggers
// that are not known yet, which the command provider shows as "create" and
// never executes; nothing in the program itself runs a process.
func TestPreviewRunsNothing(t *testing.T) {
	res := run(t, true, config())
	for name, c := range synthtest.Commands(res.Cloud) {
		tr := get(c.Inputs, "triggers")
		if !tr.IsComputed() && !(tr.IsArray() && len(tr.ArrayValue()) > 0 && containsUnknown(tr)) {
			t.Errorf("%s: triggers %v are known in a first preview", name, tr)
		}
	}
}

func containsUnknown(v resource.PropertyValue) bool {
	switch {
	case v.IsComputed():
		return true
	case v.IsSecret():
		return containsUnknown(v.SecretValue().Element)
	case v.IsArray():
		return slices.ContainsFunc(v.ArrayValue(), containsUnknown)
	}
	return false
}

func TestSecretsOnlyInEnvironment(t *testing.T) {
	res := run(t, false, config())
	var secrets []string
	for _, r := range res.Cloud.Resources() {
		for k, v := range r.Outputs {
			if v.IsSecret() && v.SecretValue().Element.IsString() && (k == "result" || k == "privateKeyOpenssh") {
				secrets = append(secrets, v.SecretValue().Element.StringValue())
			}
		}
	}
	if len(secrets) != 4 {
		t.Fatalf("found %d generated secrets, want 4 (3 passwords, 1 key)", len(secrets))
	}
	for name, c := range synthtest.Commands(res.Cloud) {
		create := get(c.Inputs, "create").StringValue()
		for _, s := range secrets {
			if strings.Contains(create, s) {
				t.Errorf("%s: a secret is on the command line", name)
			}
		}
		if c.Type == synthtest.RemoteCommand || name == "verify" {
			continue // no environment; verify's is its own password
		}
		env := get(c.Inputs, "environment")
		redact, hasRedact := env.ObjectValue()[ansible.EnvRedact]
		switch {
		case name == "prepare" && hasRedact:
			// prepare handles none of them, and any input of a command makes
			// pulumi-command run it again.
			t.Errorf("prepare is given the redact list, so a new password would re-run it")
		case name == "playbook" && (!hasRedact || !redact.IsSecret()):
			t.Errorf("%s: no secret redact list", name)
		case name == "playbook":
			// The generated secrets come first; what the upstream derives
			// from them follows (TestDerivedSecretsAreRedacted).
			lines := strings.Split(redact.SecretValue().Element.StringValue(), "\n")
			for _, s := range secrets {
				if !strings.Contains(s, "PRIVATE KEY") && !slices.Contains(lines[:min(3, len(lines))], s) {
					t.Errorf("%s: a generated password is not among the first values the wrapper redacts", name)
				}
			}
		}
		for _, key := range []string{ansible.EnvSSHPrivateKey, ansible.EnvInventoryVars, ansible.EnvExtraVars} {
			v, ok := env.ObjectValue()[resource.PropertyKey(key)]
			if ok && !v.IsSecret() && !(key == ansible.EnvExtraVars && name == "prepare") {
				t.Errorf("%s: %s is not a secret", name, key)
			}
		}
	}
	setupEnv := get(synthtest.Commands(res.Cloud)["playbook"].Inputs, "environment").ObjectValue()
	vars := setupEnv[ansible.EnvInventoryVars].SecretValue().Element.StringValue()
	if !strings.Contains(vars, secrets[0]) && !strings.Contains(vars, secrets[1]) && !strings.Contains(vars, secrets[2]) {
		t.Error("vars.yml carries none of the generated secrets")
	}
}

// triggers returns each step's trigger value after an update.
func triggers(t *testing.T, cloud *mock.Cloud, raw map[string]string) map[string]string {
	t.Helper()
	if cloud == nil {
		cloud = mock.New(map[string]string{"example.org": "ZEXAMPLE"})
	}
	if _, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: raw, Cloud: cloud}); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, c := range synthtest.Commands(cloud) {
		// Every input, not only the triggers: pulumi-command v1.2.0 runs
		// create again when any input changes (a trigger change replaces the
		// command, any other change updates it, which also runs create when
		// no update command is set).
		b, err := json.Marshal(unwrap(resource.NewObjectProperty(c.Inputs)))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = string(b)
	}
	return out
}

// unwrap turns a property value into plain data with the secrets'
// values in place, so that two runs compare by value.
func unwrap(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return map[string]any{"secret": unwrap(v.SecretValue().Element)}
	case v.IsComputed():
		return "<unknown>"
	case v.IsOutput():
		return map[string]any{"output": unwrap(v.OutputValue().Element), "secret": v.OutputValue().Secret}
	case v.IsArray():
		out := []any{}
		for _, e := range v.ArrayValue() {
			out = append(out, unwrap(e))
		}
		return out
	case v.IsObject():
		out := map[string]any{}
		for k, e := range v.ObjectValue() {
			out[string(k)] = unwrap(e)
		}
		return out
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	case v.IsNull():
		return nil
	case v.IsString() && strings.Contains(v.StringValue(), "OPENSSH PRIVATE KEY"):
		// The same key marshals differently each time (a random check
		// number); the engine keeps the tls provider's bytes in its state,
		// so the key's identity is what two runs share.
		key, err := ssh.ParseRawPrivateKey([]byte(v.StringValue()))
		if err != nil {
			return v.StringValue()
		}
		signer, err := ssh.NewSignerFromKey(key)
		if err != nil {
			return v.StringValue()
		}
		return "private key " + ssh.FingerprintSHA256(signer.PublicKey())
	}
	return v.V
}

// TestSSHSourcesTriggerNothing: editing matrix:sshAllowedCidrs (access
// ssh) changes firewall rules, never a step.
func TestSSHSourcesTriggerNothing(t *testing.T) {
	before := triggers(t, nil, sshConfig())
	after := triggers(t, nil, sshConfig("matrix:sshAllowedCidrs", `["198.51.100.0/24"]`))
	for s := range after {
		if after[s] != before[s] {
			t.Errorf("%s re-runs when the SSH sources change", s)
		}
	}
}

func TestTriggers(t *testing.T) {
	before := triggers(t, nil, config())
	for _, tc := range []struct {
		name    string
		raw     map[string]string
		replace string // logical name of a resource that gets a new ID
		changed []string
	}{
		{"no-op", config(), "", nil},
		{"dns ttl", config("matrix:dnsTtl", "60"), "", nil},
		{"registration", config("matrix:registration", "token"), "", []string{"playbook", "verify"}},
		{"turn", config("matrix:turn", "true"), "", []string{"playbook", "verify"}},
		{"calls", config("matrix:calls", "element-call"), "", []string{"playbook", "verify"}},
		{"playbookVars", config("matrix:playbookVars", `{"ntfy_enabled":true}`), "", []string{"playbook", "verify"}},
		{"admin user", config("matrix:adminUser", "root"), "", []string{"playbook", "verify"}},
		{"new instance", config(), "host", []string{"wait-ready", "prepare", "playbook", "verify"}},
		{"new data volume", config(), "data", []string{"prepare"}},
		{"data volume grew", config("matrix:dataVolumeGiB", "40"), "", []string{"prepare"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloud := mock.New(map[string]string{"example.org": "ZEXAMPLE"})
			if tc.replace != "" {
				cloud.Generation = map[string]int{tc.replace: 1}
			}
			after := triggers(t, cloud, tc.raw)
			var changed []string
			for _, s := range steps {
				if after[s] != before[s] {
					changed = append(changed, s)
				}
			}
			if !slices.Equal(changed, tc.changed) {
				t.Errorf("re-run %v, want %v", changed, tc.changed)
			}
		})
	}
}

func TestNoProvisioning(t *testing.T) {
	for _, m := range modes {
		res := run(t, m.DryRun, config("matrix:provision", "false"))
		if n := len(synthtest.Commands(res.Cloud)); n != 0 {
			t.Errorf("%s: %d commands with provision=false", m.Name, n)
		}
		if _, ok := res.Outputs["playbookCommand"]; ok {
			t.Errorf("%s: playbookCommand exported without provisioning", m.Name)
		}
	}
}

func TestVerifyStep(t *testing.T) {
	for _, tc := range []struct {
		kv   []string
		want string
	}{
		{nil, "go run ./cmd/verify --retry-for 20m --registration closed --user admin --expect-ipv4 %s --expect-ipv6 %s example.org"},
		{[]string{"matrix:ipv6", "false", "matrix:serveBaseDomain", "false", "matrix:registration", "token", "matrix:adminUser", "ops"},
			"go run ./cmd/verify --retry-for 20m --registration token --user ops --expect-ipv4 %s --dns-name matrix.example.org example.org"},
		{[]string{"matrix:ipv6", "false", "matrix:calls", "element-call"},
			"go run ./cmd/verify --retry-for 20m --registration closed --user admin --expect-ipv4 %s --expect-rtc-focus example.org"},
	} {
		res := run(t, false, config(tc.kv...))
		v := synthtest.Commands(res.Cloud)["verify"]
		want := fmt.Sprintf(tc.want, res.Outputs["publicIpv4"].Value, res.Outputs["publicIpv6"].Value)
		if strings.Count(tc.want, "%s") == 1 {
			want = fmt.Sprintf(tc.want, res.Outputs["publicIpv4"].Value)
		}
		if got := get(v.Inputs, "create").StringValue(); got != want {
			t.Errorf("verify runs\n%q\nwant\n%q", got, want)
		}
		pw := get(v.Inputs, "environment").ObjectValue()["MATRIX_VERIFY_PASSWORD"]
		if !pw.IsSecret() || pw.SecretValue().Element.StringValue() == "" {
			t.Errorf("password reaches verify as %v", pw)
		}
		if !synthtest.DependsOn(v, "playbook") {
			t.Error("verify does not wait for the playbook run")
		}
	}
	res := run(t, false, config("matrix:verify", "false"))
	if _, ok := synthtest.Commands(res.Cloud)["verify"]; ok {
		t.Error("verify declared with matrix:verify false")
	}
}

// TestPlaybookInvocations counts the ansible-playbook runs of a first
// `pulumi up` (every step runs), a vars change and a no-op (the steps whose
// trigger changed). Before one upstream run took setup, start and the admin
// user, these were 4, 2 and 0.
//
//	go test ./infra/single -run TestPlaybookInvocations -v
func TestPlaybookInvocations(t *testing.T) {
	res := run(t, false, config())
	runsPlaybook := map[string]bool{}
	for name, c := range synthtest.Commands(res.Cloud) {
		create := get(c.Inputs, "create").StringValue()
		runsPlaybook[name] = strings.Contains(create, ansible.Wrapper) && strings.Contains(create, " --playbook ")
	}
	count := func(names []string) (n int) {
		for _, s := range names {
			if runsPlaybook[s] {
				n++
			}
		}
		return n
	}
	before := triggers(t, nil, config())
	changed := func(raw map[string]string) []string {
		after := triggers(t, nil, raw)
		var out []string
		for s := range after {
			if after[s] != before[s] {
				out = append(out, s)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		steps []string
		want  int
	}{
		{"first up", steps, 2},
		{"vars change", changed(config("matrix:playbookVars", `{"ntfy_enabled":true}`)), 1},
		{"no-op", changed(config()), 0},
	} {
		got := count(tc.steps)
		t.Logf("%s: %d ansible-playbook invocation(s)", tc.name, got)
		if got != tc.want {
			t.Errorf("%s: %d ansible-playbook invocations (%v), want %d", tc.name, got, tc.steps, tc.want)
		}
	}
}
