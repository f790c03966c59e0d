package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/stackfile"
)

// TestPulumiYAMLDeclaresEveryKey keeps Pulumi.yaml's config block equal to
// infra.Keys(): same keys, types, defaults and descriptions.
func TestPulumiYAMLDeclaresEveryKey(t *testing.T) {
	p, err := stackfile.LoadProject(".")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != infra.Namespace || p.Runtime != "go" {
		t.Errorf("Pulumi.yaml: name %q runtime %v; the name must be %q so it may declare matrix:* keys", p.Name, p.Runtime, infra.Namespace)
	}
	declared := map[string]bool{}
	for _, k := range infra.Keys() {
		key := infra.Namespace + ":" + k.Name
		declared[key] = true
		d, ok := p.Config[key]
		if !ok {
			t.Errorf("Pulumi.yaml does not declare %s", key)
			continue
		}
		if d.Type != k.Type || d.Description != k.Description {
			t.Errorf("Pulumi.yaml %s: type %q description %q; infra/keys.go says %q %q", key, d.Type, d.Description, k.Type, k.Description)
		}
		if k.Type == "array" && (d.Items == nil || d.Items.Type != "string") {
			t.Errorf("Pulumi.yaml %s: items must be of type string", key)
		}
		if !sameDefault(d.Default, k.Default) {
			t.Errorf("Pulumi.yaml %s: default %#v; infra/keys.go says %#v", key, d.Default, k.Default)
		}
	}
	for key := range p.Config {
		if !declared[key] {
			t.Errorf("Pulumi.yaml declares %s, which the program does not read", key)
		}
	}
}

func sameDefault(yamlValue, goValue any) bool {
	a, _ := json.Marshal(yamlValue)
	b, _ := json.Marshal(goValue)
	if goValue == nil {
		return yamlValue == nil
	}
	return string(a) == string(b) || reflect.DeepEqual(yamlValue, goValue)
}

const refStart, refEnd = "<!-- config-reference:start -->", "<!-- config-reference:end -->"

// configReference renders the README's reference table from infra.Keys().
func configReference() string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
	for _, k := range infra.Keys() {
		def := "none"
		if k.Default != nil {
			v, _ := json.Marshal(k.Default)
			def = "`" + string(v) + "`"
		}
		fmt.Fprintf(&b, "| `%s:%s` | %s | %s | %s |\n", infra.Namespace, k.Name, k.Type, def, strings.ReplaceAll(k.Description, "|", "\\|"))
	}
	return b.String()
}

func TestREADMEConfigReference(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, refStart), strings.Index(s, refEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %s ... %s section", refStart, refEnd)
	}
	got := strings.TrimSpace(s[i+len(refStart) : j])
	if want := strings.TrimSpace(configReference()); got != want {
		t.Errorf("README.md config reference is out of date; replace it with:\n%s", want)
	}
}

// TestCommittedStacksAreValid parses every committed stack file with the
// program's own validation.
func TestCommittedStacksAreValid(t *testing.T) {
	for _, stack := range []string{"dev", "prod", "ha"} {
		cfg, err := stackfile.Load(".", infra.Namespace, stack)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := infra.ParseConfig(cfg.Values); err != nil {
			t.Errorf("Pulumi.%s.yaml: %v", stack, err)
		}
	}
}
