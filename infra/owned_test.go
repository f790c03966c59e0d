package infra

import (
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/inventory"
	"github.com/matrix-on-aws/homeserver/internal/upstream"
)

// TestOwnedVarsCoverRenderedNames: every variable vars.yml can hold from
// the program is refused in matrix:playbookVars with the key that sets it,
// and every name in that table is one the pinned upstream defines.
func TestOwnedVarsCoverRenderedNames(t *testing.T) {
	owned := ownedVars()
	for _, n := range inventory.VariableNames() {
		if owned[n] == "" {
			t.Errorf("vars.yml renders %s, but matrix:playbookVars does not refuse it", n)
		}
	}
	facts, err := upstream.Load()
	if err != nil {
		t.Fatal(err)
	}
	for n := range owned {
		if !facts.Defined(n) {
			t.Errorf("owned variable %s is not defined by the pinned upstream", n)
		}
	}
}

func TestIsSecretVar(t *testing.T) {
	for _, tc := range []struct {
		keys []string
		name string
		want bool
	}{
		{nil, "a", false},
		{[]string{"matrix:playbookVars"}, "a", true},
		{[]string{"matrix:playbookVars", "matrix:playbookVars.b"}, "a", false},
		{[]string{"matrix:playbookVars", "matrix:playbookVars.b"}, "b", true},
		{[]string{"matrix:playbookVars.ab"}, "a", false},
		{[]string{"matrix:playbookVars.a.password"}, "a", true},
		{[]string{"matrix:playbookVars.a[1]"}, "a", true},
		{[]string{"matrix:other"}, "a", false},
	} {
		if got := isSecretVar(tc.name, tc.keys); got != tc.want {
			t.Errorf("isSecretVar(%q, %q) = %v", tc.name, tc.keys, got)
		}
	}
}

// TestPortTableAgainstUpstream keeps the optional services' ports equal to
// the host ports the pinned roles publish (internal/upstream's facts, read
// from the roles' systemd unit templates and defaults), and accounts for
// every port the roles publish: in the table, or left closed for a reason.
func TestPortTableAgainstUpstream(t *testing.T) {
	facts, err := upstream.Load()
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		enabled, proto string
		from, to       int
	}
	published := map[key]bool{}
	for _, p := range facts.Ports {
		published[key{p.EnabledVar, p.Protocol, p.From, p.To}] = true
	}
	inTable := map[key]bool{}
	for _, p := range portTable {
		if p.Service == "" {
			inTable[key{"", p.Protocol, p.From, p.To}] = true
			continue
		}
		k := key{p.Service, p.Protocol, p.From, p.To}
		inTable[k] = true
		if !published[k] {
			t.Errorf("port table opens %s for %s, which the pinned upstream does not publish", p, p.Service)
		}
	}
	// Published, yet not opened by this entry of the table, and why.
	why := map[key]string{
		{"traefik_enabled", "tcp", 80, 80}:            "the homeserver's own row (80/tcp)",
		{"traefik_enabled", "tcp", 443, 443}:          "the homeserver's own row (443/tcp)",
		{"traefik_enabled", "udp", 443, 443}:          "the homeserver's own row (443/udp)",
		{"matrix_synapse_enabled", "tcp", 8448, 8448}: "the homeserver's own row (8448/tcp)",
		{"traefik_enabled", "tcp", 8082, 8082}:        "Traefik's metrics entrypoint: for a local Prometheus, never public",
		{"livekit_server_enabled", "tcp", 7880, 7880}: "LiveKit's signalling, which Traefik serves on 443 of the matrix host",
		{"livekit_server_enabled", "tcp", 8081, 8081}: "LiveKit's Prometheus metrics, never public",
	}
	for k := range published {
		if !inTable[k] && why[k] == "" {
			t.Errorf("the pinned upstream publishes %d-%d/%s for %s: add it to the port table or say why it stays closed", k.from, k.to, k.proto, k.enabled)
		}
	}
}
