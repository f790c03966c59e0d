// Package synthtest runs the program under mocks for the tests of infra and
// of its topologies, and reads what the run declared: the helpers those
// packages' tests share, so that each topology's tests can live beside its
// code.
package synthtest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Type tokens of pulumi-command's steps.
const (
	LocalCommand  = "command:local:Command"
	RemoteCommand = "command:remote:Command"
)

// Mode is one of the engine's two modes.
type Mode struct {
	Name   string
	DryRun bool
}

// Modes are preview (computed values unknown, as `pulumi preview` sees
// them) and update, for a test to run in both.
func Modes() []Mode {
	return []Mode{{"preview", true}, {"update", false}}
}

// Run runs the program of stack matrix/test with raw in the default
// account, and fails the test on an error.
func Run(t testing.TB, dryRun bool, raw map[string]string) *synth.Result {
	t.Helper()
	res, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: raw, DryRun: dryRun})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// RunIn runs the program in an account holding the example.org zone and
// e, and returns the account with the result, for a test to inspect what
// was declared before an error.
func RunIn(t testing.TB, dryRun bool, raw map[string]string, e mock.Existing) (*synth.Result, *mock.Cloud, error) {
	t.Helper()
	c := mock.New(map[string]string{"example.org": "Z0EXAMPLE"})
	c.SetExisting(e)
	res, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: raw, DryRun: dryRun, Cloud: c})
	return res, c, err
}

// One is the resource of type typ named name; the test fails without it.
func One(t testing.TB, c *mock.Cloud, typ, name string) mock.Resource {
	t.Helper()
	for _, r := range c.Find(typ) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s named %q", typ, name)
	return mock.Resource{}
}

// Str is v's string, or "" when v is no string (null, unknown, secret).
func Str(v resource.PropertyValue) string {
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// Generated is the value of the generated password name, which must be a
// secret.
func Generated(t testing.TB, c *mock.Cloud, name string) string {
	t.Helper()
	v := One(t, c, "random:index/randomPassword:RandomPassword", name).Outputs["result"]
	if !v.IsSecret() {
		t.Fatalf("%s is not a secret", name)
	}
	return v.SecretValue().Element.StringValue()
}

// Commands are the pulumi-command steps, by name.
func Commands(c *mock.Cloud) map[string]mock.Resource {
	out := map[string]mock.Resource{}
	for _, typ := range []string{LocalCommand, RemoteCommand} {
		for _, r := range c.Find(typ) {
			out[r.Name] = r
		}
	}
	return out
}

// DependsOn reports whether r depends on a resource named name.
func DependsOn(r mock.Resource, name string) bool {
	for _, urn := range r.DependsOn {
		if strings.HasSuffix(urn, "::"+name) {
			return true
		}
	}
	return false
}

// RefusedBeforeDeclaring checks that err is the configuration error with
// exactly the one problem want, and that nothing was declared before it.
func RefusedBeforeDeclaring(t testing.TB, err error, c *mock.Cloud, want string) {
	t.Helper()
	var ce *infra.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 1 || ce.Problems[0].String() != want {
		t.Errorf("error:\n%v\nwant the one problem\n%s", err, want)
	}
	DeclaredNothing(t, c)
}

// DeclaredNothing checks that c holds no resource but the engine's own.
func DeclaredNothing(t testing.TB, c *mock.Cloud) {
	t.Helper()
	for _, r := range c.Resources() {
		if !strings.HasPrefix(r.Type, "pulumi:") {
			t.Errorf("declared %s %s before refusing", r.Type, r.Name)
		}
	}
}

// SameSet reports whether a and b hold the same strings, in any order.
func SameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// PlaybookPorts is the firewall list of the playbook's docs at the pinned
// commit: what must be open for the playbook's services to work
// (docs/prerequisites.md; docs/configuring-playbook-turn.md for coturn;
// docs/configuring-playbook-livekit-server.md, "Adjusting firewall rules",
// for the LiveKit Server behind Element Call).
func PlaybookPorts(turn, calls bool) []string {
	out := []string{"80/tcp", "443/tcp", "443/udp", "8448/tcp", "8448/udp"}
	if turn {
		out = append(out, "3478/tcp", "3478/udp", "5349/tcp", "5349/udp", "49152-49172/udp")
	}
	if calls {
		out = append(out, "7881/tcp", "7882/udp", "3479/udp", "5350/tcp", "30000-30020/udp")
	}
	return out
}
