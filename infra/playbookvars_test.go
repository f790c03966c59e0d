package infra_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"gopkg.in/yaml.v3"
)

// TestPlaybookVarsKeepTheirTypes: what the stack file says reaches vars.yml
// with its YAML type, beside the program's own variables.
func TestPlaybookVarsKeepTheirTypes(t *testing.T) {
	given := map[string]any{
		"ntfy_enabled":                                true,
		"matrix_synapse_presence_enabled":             false,
		"matrix_synapse_max_upload_size_mb":           1024,
		"matrix_synapse_auto_join_rooms":              []any{"#welcome:example.org"},
		"matrix_synapse_configuration_extension_yaml": "presence:\n  enabled: false\n",
		"matrix_synapse_container_extra_arguments":    []any{},
		"matrix_synapse_federation_domain_whitelist":  []any{"example.net", "example.com"},
	}
	raw, err := json.Marshal(given)
	if err != nil {
		t.Fatal(err)
	}
	vars := renderedVars(t, config("matrix:playbookVars", string(raw)))
	for k, want := range given {
		got := vars[k]
		if n, ok := want.(int); ok {
			want = n // yaml.v3 decodes integers as int
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v (%T), want %#v (%T)", k, got, got, want, want)
		}
	}
	if vars["matrix_domain"] != "example.org" {
		t.Errorf("the program's variables are gone: matrix_domain = %v", vars["matrix_domain"])
	}
}

// TestAdminUserDeclared: the admin account is created by the playbook's
// matrix-user-creator role from vars.yml, in the same run; no step runs
// register-user, and the password is on no command line.
func TestAdminUserDeclared(t *testing.T) {
	res := run(t, false, config("matrix:adminUser", "ops"))
	env := get(synthtest.Commands(res.Cloud)["playbook"].Inputs, "environment").ObjectValue()
	vars := decodeYAML(t, env[ansible.EnvInventoryVars].SecretValue().Element.StringValue())
	users, _ := vars["matrix_user_creator_users_additional"].([]any)
	pw := res.Outputs["adminPassword"]
	if len(users) != 1 || !pw.Secret {
		t.Fatalf("users %v, password output %+v", users, pw)
	}
	u := users[0].(map[string]any)
	if u["username"] != "ops" || u["initial_type"] != "admin" || u["initial_password"] != pw.Value {
		t.Errorf("admin user entry %v", u)
	}
	for name, c := range synthtest.Commands(res.Cloud) {
		create := get(c.Inputs, "create").StringValue()
		if strings.Contains(create, "register-user") || strings.Contains(create, pw.Value.(string)) {
			t.Errorf("%s runs %q", name, create)
		}
	}
	masked := res.Files["inventory/host_vars/matrix.example.org/vars.yml"].Value.(string)
	if strings.Contains(masked, pw.Value.(string)) || !strings.Contains(masked, "initial_password: '[secret]'") {
		t.Errorf("reviewers' vars.yml does not mask the admin password:\n%s", masked)
	}
}

const secretToken = "s3cr3t-telegram-api-hash-4711"

// TestSecretPlaybookVars: a value set with --secret --path stays secret
// end to end: masked for reviewers, in vars.yml only as a secret, handed
// to the wrapper for redaction, and nowhere in plain inputs or outputs.
func TestSecretPlaybookVars(t *testing.T) {
	vars := `{"matrix_bridge_mautrix_telegram_enabled":true,"matrix_bridge_mautrix_telegram_api_id":"12345","matrix_bridge_mautrix_telegram_api_hash":"` + secretToken + `"}`
	for _, m := range modes {
		t.Run(m.Name, func(t *testing.T) {
			opts := synth.Options{Project: "matrix", Stack: "test", DryRun: m.DryRun,
				Config:      config("matrix:playbookVars", vars),
				SecretKeys:  []string{"matrix:playbookVars"},
				SecretPaths: []string{"matrix:playbookVars.matrix_bridge_mautrix_telegram_api_hash"}}
			res, err := synth.Run(opts)
			if err != nil {
				t.Fatal(err)
			}
			doc, err := json.Marshal(res.Document(opts))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(doc), secretToken) {
				t.Error("the secret appears in the rendered stack (resources, outputs or files)")
			}
			masked, _ := res.Files["inventory/host_vars/matrix.example.org/vars.yml"].Value.(string)
			if !strings.Contains(masked, "matrix_bridge_mautrix_telegram_api_hash: '[secret]'") || !strings.Contains(masked, `matrix_bridge_mautrix_telegram_api_id: "12345"`) {
				t.Errorf("reviewers' vars.yml masks the wrong values:\n%s", masked)
			}
			if m.DryRun {
				return
			}
			for _, r := range res.Cloud.Resources() {
				if leaksPlain(resource.NewObjectProperty(r.Inputs), secretToken) {
					t.Errorf("%s %s: the secret is in a plain input", r.Type, r.Name)
				}
			}
			env := get(synthtest.Commands(res.Cloud)["playbook"].Inputs, "environment").ObjectValue()
			redact := env[ansible.EnvRedact]
			if !redact.IsSecret() || !slices.Contains(strings.Split(redact.SecretValue().Element.StringValue(), "\n"), secretToken) {
				t.Error("the wrapper is not told to redact the secret playbook variable")
			}
			if !strings.Contains(env[ansible.EnvInventoryVars].SecretValue().Element.StringValue(), secretToken) {
				t.Error("vars.yml lacks the secret value")
			}
		})
	}
}

// leaksPlain reports a string holding s outside a secret.
func leaksPlain(v resource.PropertyValue, s string) bool {
	switch {
	case v.IsSecret():
		return false
	case v.IsOutput():
		return !v.OutputValue().Secret && leaksPlain(v.OutputValue().Element, s)
	case v.IsString():
		return strings.Contains(v.StringValue(), s)
	case v.IsArray():
		return slices.ContainsFunc(v.ArrayValue(), func(e resource.PropertyValue) bool { return leaksPlain(e, s) })
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			if leaksPlain(e, s) {
				return true
			}
		}
	}
	return false
}

// TestHostnamesFollowServices: a service enabled in playbookVars brings its
// DNS name, at the upstream's default or where the operator moved it; a
// disabled one brings none.
func TestHostnamesFollowServices(t *testing.T) {
	for _, tc := range []struct {
		name string
		kv   []string
		want []string
	}{
		{"defaults", nil, []string{"element"}},
		{"element off", []string{"matrix:element", "false"}, nil},
		{"ntfy", []string{"matrix:playbookVars", `{"ntfy_enabled":true}`}, []string{"element", "ntfy"}},
		{"ntfy off", []string{"matrix:playbookVars", `{"ntfy_enabled":false}`}, []string{"element"}},
		{"grafana", []string{"matrix:playbookVars", `{"grafana_enabled":true,"prometheus_enabled":true}`}, []string{"element", "stats"}},
		{"moved by hostname", []string{"matrix:playbookVars", `{"ntfy_enabled":true,"ntfy_hostname":"push.example.org"}`}, []string{"element", "push"}},
		{"moved by fqn", []string{"matrix:element", "false", "matrix:playbookVars", `{"ntfy_enabled":true,"matrix_server_fqn_ntfy":"Push.Team.example.org."}`}, []string{"push.team"}},
		{"element moved", []string{"matrix:playbookVars", `{"matrix_server_fqn_element":"chat.example.org"}`}, []string{"chat"}},
		// Hostnames built on another: Element Call lives under Element's.
		// LiveKit and its JWT service are served on matrix.<domain>.
		{"element call", []string{"matrix:calls", "element-call"}, []string{"call.element", "element"}},
		{"element call without element", []string{"matrix:calls", "element-call", "matrix:element", "false"}, []string{"call.element"}},
		{"element call follows element", []string{"matrix:calls", "element-call", "matrix:playbookVars", `{"matrix_server_fqn_element":"chat.example.org"}`}, []string{"call.chat", "chat"}},
		{"element call moved", []string{"matrix:calls", "element-call", "matrix:playbookVars", `{"matrix_element_call_hostname":"meet.example.org"}`}, []string{"element", "meet"}},
		{"commet", []string{"matrix:playbookVars", `{"matrix_client_commet_enabled":true}`}, []string{"commet", "element"}},
		{"wsproxy named", []string{"matrix:playbookVars", `{"matrix_bridge_mautrix_wsproxy_enabled":true,"matrix_bridge_mautrix_wsproxy_hostname":"wsproxy.example.org"}`}, []string{"element", "wsproxy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := infra.ParseConfig(config(tc.kv...))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range infra.Records(cfg) {
				if r.Type == "CNAME" {
					got = append(got, r.Label)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("CNAMEs %q, want %q", got, tc.want)
			}
		})
	}
}

// TestPortsFollowServices: a service that needs a public port gets it from
// the one port table when, and only when, it is enabled.
func TestPortsFollowServices(t *testing.T) {
	open := func(kv ...string) []string {
		cfg, err := infra.ParseConfig(config(kv...))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range infra.PublicPorts(cfg) {
			out = append(out, p.String())
		}
		return out
	}
	if got := open(); slices.Contains(got, "10000/udp") || slices.Contains(got, "3478/udp") {
		t.Errorf("default stack opens %v", got)
	}
	if got := open("matrix:playbookVars", `{"jitsi_enabled":true}`); !slices.Contains(got, "10000/udp") {
		t.Errorf("jitsi enabled, ports %v", got)
	}
	if got := open("matrix:turn", "true"); !slices.Contains(got, "49152-49172/udp") {
		t.Errorf("turn enabled, ports %v", got)
	}
	if got := open(); slices.Contains(got, "7882/udp") {
		t.Errorf("calls off, ports %v", got)
	}
	if got := open("matrix:calls", "element-call"); !slices.Contains(got, "7882/udp") || !slices.Contains(got, "30000-30020/udp") {
		t.Errorf("calls on, ports %v", got)
	}
}

func decodeYAML(t *testing.T, s string) map[string]any {
	t.Helper()
	var out map[string]any
	if err := yaml.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}
