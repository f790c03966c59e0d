package infra_test

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// TestMASRenderedVars: with matrix:auth mas, vars.yml turns MAS on with
// the stack's generated secrets, the signing keys are real keys, and every
// secret is in the redaction list and masked for reviewers.
func TestMASRenderedVars(t *testing.T) {
	res := run(t, false, config("matrix:auth", "mas"))
	vars := renderedVars(t, config("matrix:auth", "mas"))
	if vars["matrix_authentication_service_enabled"] != true || vars["matrix_authentication_service_key_management_enabled"] != false {
		t.Errorf("MAS enabled %v, key management %v", vars["matrix_authentication_service_enabled"], vars["matrix_authentication_service_key_management_enabled"])
	}
	enc, _ := vars["matrix_authentication_service_config_secrets_encryption"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(enc) {
		t.Errorf("encryption key %q is not 64 hex digits", enc)
	}
	if _, ok := vars["matrix_authentication_service_config_database_host"]; ok {
		t.Error("a single host renders a MAS database host; the playbook's PostgreSQL is MAS's")
	}
	keys, _ := vars["matrix_authentication_service_config_secrets_keys"].([]any)
	var kids []string
	redact := get(synthtest.Commands(res.Cloud)["playbook"].Inputs, "environment", ansible.EnvRedact).SecretValue().Element.StringValue()
	lines := strings.Split(redact, "\n")
	if !slices.Contains(lines, enc) {
		t.Error("the MAS encryption key is not redacted")
	}
	for _, k := range keys {
		m := k.(map[string]any)
		kids = append(kids, m["kid"].(string))
		block, _ := pem.Decode([]byte(m["key"].(string)))
		if block == nil {
			t.Fatalf("%s: no PEM", m["kid"])
		}
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", m["kid"], err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			if k.N.BitLen() != 2048 {
				t.Errorf("RSA key of %d bits", k.N.BitLen())
			}
		case *ecdsa.PrivateKey:
			if k.Curve.Params().Name != "P-256" {
				t.Errorf("ECDSA key on %s", k.Curve.Params().Name)
			}
		}
		for _, l := range strings.Split(strings.TrimSpace(m["key"].(string)), "\n") {
			if !strings.HasPrefix(l, "-----") && !slices.Contains(lines, l) {
				t.Errorf("%s: PEM line %q is not redacted", m["kid"], l)
			}
		}
	}
	if !slices.Equal(kids, []string{"default-rsa", "default-ecdsa-p256"}) {
		t.Errorf("signing keys %v", kids)
	}
	for _, r := range res.Cloud.Resources() {
		for _, props := range []resource.PropertyMap{r.Inputs, r.Outputs} {
			if leaksPlain(resource.NewObjectProperty(props), enc) {
				t.Errorf("%s %s: the MAS encryption key is in plain text", r.Type, r.Name)
			}
		}
	}
}

// TestMASRegistration: matrix:registration moves to MAS.
func TestMASRegistration(t *testing.T) {
	for mode, want := range map[string]string{
		"closed": "false <nil> <nil>",
		"token":  "true false true",
		"open":   "true false <nil>",
	} {
		vars := renderedVars(t, config("matrix:auth", "mas", "matrix:registration", mode))
		got := fmt.Sprint(vars["matrix_authentication_service_config_account_password_registration_enabled"], " ",
			vars["matrix_authentication_service_config_account_password_registration_email_required"], " ",
			vars["matrix_authentication_service_config_account_registration_token_required"])
		if got != want {
			t.Errorf("%s: password registration, e-mail, token = %s, want %s", mode, got, want)
		}
		// The upstream refuses Synapse's registration beside MAS.
		if vars["matrix_synapse_enable_registration"] != false {
			t.Errorf("%s: Synapse registration %v beside MAS", mode, vars["matrix_synapse_enable_registration"])
		}
	}
}

func TestMASVerifyStep(t *testing.T) {
	for _, tc := range []struct {
		kv   []string
		want string
	}{
		{[]string{"matrix:auth", "mas"}, " --auth-service --user admin "},
		{[]string{"matrix:auth", "mas", "matrix:registration", "token", "matrix:playbookVars", `{"matrix_authentication_service_migration_in_progress":true}`}, " --registration closed --user admin "},
	} {
		res := run(t, false, config(tc.kv...))
		if got := get(synthtest.Commands(res.Cloud)["verify"].Inputs, "create").StringValue(); !strings.Contains(got, tc.want) {
			t.Errorf("%v: verify runs %q, want %q in it", tc.kv, got, tc.want)
		}
	}
}

// TestMASAndWorkersOwnTheirVars: the keys own the upstream variables.
func TestMASAndWorkersOwnTheirVars(t *testing.T) {
	for name, key := range map[string]string{
		"matrix_authentication_service_enabled":                   "matrix:auth",
		"matrix_authentication_service_config_secrets_encryption": "matrix:auth",
		"matrix_synapse_workers_enabled":                          "matrix:synapseWorkers",
		"matrix_synapse_workers_preset":                           "matrix:synapseWorkers",
	} {
		_, err := infra.ParseConfig(config("matrix:playbookVars", fmt.Sprintf(`{%q: true}`, name)))
		want := "matrix:playbookVars." + name + ": is set by the program: use " + key
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want %q", name, err, want)
		}
	}
	_, err := infra.ParseConfig(config("matrix:auth", "oidc"))
	if err == nil || !strings.Contains(err.Error(), `matrix:auth: "oidc" is not an authentication mode; use synapse (default) or mas`) {
		t.Errorf("bad auth: %v", err)
	}
	_, err = infra.ParseConfig(config("matrix:synapseWorkers", "many"))
	if err == nil || !strings.Contains(err.Error(), `matrix:synapseWorkers: "many" is not a worker preset; use none, one-of-each, specialized-workers`) {
		t.Errorf("bad preset: %v", err)
	}
}
