package infra_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
	"github.com/matrix-on-aws/homeserver/internal/upstream"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// derivedToken is what the upstream computes as the mautrix-telegram
// appservice token from key, and all it derives from key, in the order of
// the facts.
func derivedToken(t *testing.T, key string) (token string, all []string) {
	t.Helper()
	facts, err := upstream.Load()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(facts.DerivedSecrets, func(d upstream.DerivedSecret) bool {
		return d.Variable == "matrix_bridge_mautrix_telegram_appservice_token"
	})
	if i < 0 {
		t.Fatal("the facts hold no formula of the mautrix-telegram appservice token")
	}
	if token, err = facts.DerivedSecrets[i].Value(key); err != nil {
		t.Fatal(err)
	}
	if all, err = facts.DerivedValues(map[string]string{"matrix_homeserver_generic_secret_key": key}); err != nil {
		t.Fatal(err)
	}
	if len(all) < 100 {
		t.Fatalf("only %d values derived from the generic secret key", len(all))
	}
	return token, all
}

// TestDerivedSecretsAreRedacted: the wrapper is told the secrets the
// upstream derives from the generated key (a failing task shows them as
// they are), after the generated secrets and in the order of the facts,
// and only as a secret.
func TestDerivedSecretsAreRedacted(t *testing.T) {
	res := run(t, false, config())
	key := synthtest.Generated(t, res.Cloud, "generic-secret-key")
	token, derived := derivedToken(t, key)

	redact := get(synthtest.Commands(res.Cloud)["playbook"].Inputs, "environment", ansible.EnvRedact)
	if !redact.IsSecret() {
		t.Fatalf("%s is not a secret", ansible.EnvRedact)
	}
	lines := strings.Split(redact.SecretValue().Element.StringValue(), "\n")
	if !slices.Contains(lines, token) {
		t.Errorf("%s lacks the mautrix-telegram appservice token derived from the generic secret key", ansible.EnvRedact)
	}
	want := append([]string{key, synthtest.Generated(t, res.Cloud, "postgres-password"), synthtest.Generated(t, res.Cloud, "admin-password")}, derived...)
	if !slices.Equal(lines, want) {
		t.Errorf("%s has %d lines, want the 3 generated secrets then the %d derived values in order", ansible.EnvRedact, len(lines), len(derived))
	}
	for _, r := range res.Cloud.Resources() {
		for _, props := range []resource.PropertyMap{r.Inputs, r.Outputs} {
			if leaksPlain(resource.NewObjectProperty(props), token) {
				t.Errorf("%s %s: a derived secret is in plain text", r.Type, r.Name)
			}
		}
	}
}

// TestHADerivedSecretsAreRedacted: the ha host reads its redaction list
// from a parameter; it holds the derived secrets as well.
func TestHADerivedSecretsAreRedacted(t *testing.T) {
	res := run(t, false, haConfig())
	token, derived := derivedToken(t, synthtest.Generated(t, res.Cloud, "generic-secret-key"))
	v := get(one(t, res.Cloud, paramType, "redact").Inputs, "value")
	if !v.IsSecret() {
		t.Fatal("the redact parameter's value is not a secret")
	}
	lines := strings.Split(v.SecretValue().Element.StringValue(), "\n")
	if !slices.Contains(lines, token) {
		t.Error("the redact parameter lacks the mautrix-telegram appservice token derived from the generic secret key")
	}
	for _, d := range derived {
		if !slices.Contains(lines, d) {
			t.Errorf("the redact parameter lacks a derived secret (%.8s...)", d)
		}
	}
}

// TestLiveKitSecretsAreRedacted: with matrix:calls, LiveKit Server and its
// JWT service share an API key and secret that the upstream derives from
// the generic secret key (group_vars/matrix_servers,
// matrix_livekit_jwt_service_environment_variable_livekit_*); the wrapper
// redacts both.
func TestLiveKitSecretsAreRedacted(t *testing.T) {
	res := run(t, false, config("matrix:calls", "element-call"))
	key := synthtest.Generated(t, res.Cloud, "generic-secret-key")
	facts, err := upstream.Load()
	if err != nil {
		t.Fatal(err)
	}
	redact := get(synthtest.Commands(res.Cloud)["playbook"].Inputs, "environment", ansible.EnvRedact)
	lines := strings.Split(redact.SecretValue().Element.StringValue(), "\n")
	for _, name := range []string{"matrix_livekit_jwt_service_environment_variable_livekit_key", "matrix_livekit_jwt_service_environment_variable_livekit_secret"} {
		i := slices.IndexFunc(facts.DerivedSecrets, func(d upstream.DerivedSecret) bool { return d.Variable == name })
		if i < 0 {
			t.Fatalf("the facts hold no formula of %s", name)
		}
		v, err := facts.DerivedSecrets[i].Value(key)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(lines, v) {
			t.Errorf("%s lacks %s", ansible.EnvRedact, name)
		}
	}
}
