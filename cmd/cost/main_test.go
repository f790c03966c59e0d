package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/cost"
	"github.com/matrix-on-aws/homeserver/internal/stackfile"
	"github.com/matrix-on-aws/homeserver/internal/synth"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestREADMECostTable keeps the README's cost table equal to this
// command's output for the committed dev stack.
func TestREADMECostTable(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"--dir", "../..", "--stack", "dev"}, &out); err != nil {
		t.Fatal(err)
	}
	s := readme(t)
	const start, end = "<!-- cost:dev:start -->", "<!-- cost:dev:end -->"
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %s ... %s section", start, end)
	}
	if got, want := strings.TrimSpace(s[i+len(start):j]), strings.TrimSpace(out.String()); got != want {
		t.Errorf("README.md cost table is out of date; replace it with the output of go run ./cmd/cost --stack dev:\n%s", want)
	}
}

// TestRegionsDocumented keeps the regions the README and docs/cost.md
// name equal to those the snapshot prices.
func TestRegionsDocumented(t *testing.T) {
	snap, err := cost.Load()
	if err != nil {
		t.Fatal(err)
	}
	names := snap.RegionNames()
	want := "holds " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	for _, path := range []string{"../../README.md", "../../docs/cost.md"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(strings.Fields(string(b)), " "), "snapshot "+want) {
			t.Errorf("%s should say the snapshot %s", path, want)
		}
	}
}

// TestREADMETopologyCosts checks the rounded totals the README and
// docs/topologies.md compare.
func TestREADMETopologyCosts(t *testing.T) {
	total := func(stack string, overrides map[string]string) int {
		e, err := Stack("../..", stack, overrides)
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Unpriced) > 0 {
			t.Fatalf("%s: unpriced %v", stack, e.Unpriced)
		}
		return int(math.Round(e.Total()))
	}
	single, ha := total("dev", nil), total("ha", nil)
	multi := total("ha", map[string]string{"matrix:dbMultiAz": "true"})
	eks := total("eks", nil)
	want := fmt.Sprintf("| about $%d | about $%d (about $%d with Multi-AZ RDS) | about $%d:", single, ha, multi, eks)
	if !strings.Contains(readme(t), want) {
		t.Errorf("README.md's topology table should read %q", want)
	}
	doc, err := os.ReadFile("../../docs/topologies.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("| Total a month | about $%d | about $%d | about $%d | about $%d |", single, ha, multi, eks); !strings.Contains(string(doc), want) {
		t.Errorf("docs/topologies.md's cost table should read %q", want)
	}
	if !(single < ha && ha < multi && multi < eks) {
		t.Errorf("single $%d, ha $%d, Multi-AZ $%d, eks $%d: each must cost more than the one before", single, ha, multi, eks)
	}
}

// TestEveryTypePriced runs the program under the mocks for every committed
// stack (every Pulumi.<stack>.yaml) and a matrix of configurations, and
// checks that every resource type it declares has a price rule (a price,
// or free with the reason), so a new resource type cannot go unpriced,
// that every Helm chart it installs has one (the estimate fails
// otherwise), and that in the committed stacks' region every price the
// estimate needs is in the snapshot.
func TestEveryTypePriced(t *testing.T) {
	snap, err := cost.Load()
	if err != nil {
		t.Fatal(err)
	}
	rules := cost.TypeRules()
	seen := map[string]bool{}
	check := func(name string, res *synth.Result) {
		t.Helper()
		for _, r := range res.Cloud.Resources() {
			seen[r.Type] = true
			if _, ok := rules.For(r.Type); !ok {
				t.Errorf("%s: %s (%s) has no price rule: add it to cost.TypeRules, priced or free with the reason", name, r.Type, r.Name)
			}
		}
		e, err := cost.FromResources(snap, res.Homeserver.Config.Region, res.Cloud.Resources())
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Unpriced) > 0 {
			t.Errorf("%s: unpriced %v", name, e.Unpriced)
		}
	}
	stacks := committedStacks(t)
	if len(stacks) < 3 {
		t.Errorf("committed stacks %v: is the glob finding Pulumi.<stack>.yaml?", stacks)
	}
	for _, stack := range stacks {
		project, cfg := stackConfig(t, stack)
		res, err := synth.Run(synth.Options{Project: project, Stack: stack, Config: cfg.Values, SecretKeys: cfg.SecretKeys, SecretPaths: cfg.SecretPaths})
		if err != nil {
			t.Fatalf("%s: %v", stack, err)
		}
		check(stack, res)
	}
	for name, raw := range map[string]map[string]string{
		"single":              synth.ExampleConfig(),
		"single turn":         synth.ExampleConfig("matrix:turn", "true"),
		"single protect":      synth.ExampleConfig("matrix:protect", "true"),
		"single no ipv6":      synth.ExampleConfig("matrix:ipv6", "false"),
		"single own key":      synth.ExampleConfig("matrix:sshPublicKey", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJ1hMHBwbTrBqdBkVWbUfzPpNFZ5dlj9i6hWKtJ5b1r op@example"),
		"single no provision": synth.ExampleConfig("matrix:provision", "false", "matrix:element", "false", "matrix:serveBaseDomain", "false"),
		"ha":                  synth.ExampleHAConfig(),
		"ha multi-az":         synth.ExampleHAConfig("matrix:dbMultiAz", "true"),
		"ha protect":          synth.ExampleHAConfig("matrix:protect", "true"),
		"ha no ipv6":          synth.ExampleHAConfig("matrix:ipv6", "false"),
		"eks":                 synth.ExampleEKSConfig(),
		// The snapshot has no NLB price for eu-central-1 (its "missing"
		// says why), so LiveKit's NLB is priced where it has one.
		"eks calls us-east-1": synth.ExampleEKSConfig("matrix:calls", "element-call", "aws:region", "us-east-1"),
		"eks mas":             synth.ExampleEKSConfig("matrix:auth", "mas"),
		"eks workers":         synth.ExampleEKSConfig("matrix:eksWorkers", `{"synchrotron": 2, "event-creator": 1}`),
		"eks no ipv6":         synth.ExampleEKSConfig("matrix:ipv6", "false"),
	} {
		res, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: raw})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		check(name, res)
	}
	if len(seen) < 40 {
		t.Errorf("only %d resource types declared: is the matrix running the program?", len(seen))
	}
}

// committedStacks names every Pulumi.<stack>.yaml of the repository, so a
// new stack (a new topology's) is priced by the tests without a change
// here.
func committedStacks(t *testing.T) []string {
	t.Helper()
	stacks, err := stackfile.Stacks("../..")
	if err != nil {
		t.Fatal(err)
	}
	return stacks
}

func stackConfig(t *testing.T, stack string) (string, stackfile.Config) {
	t.Helper()
	project, err := stackfile.LoadProject("../..")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := stackfile.Load("../..", project.Name, stack)
	if err != nil {
		t.Fatal(err)
	}
	return project.Name, cfg
}
