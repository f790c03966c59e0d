package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
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

// TestREADMETopologyCosts checks the rounded totals the README compares.
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
	want := fmt.Sprintf("| about $%d | about $%d (about $%d with Multi-AZ RDS) |", single, ha, multi)
	if !strings.Contains(readme(t), want) {
		t.Errorf("README.md's topology table should read %q", want)
	}
	if !(single < ha && ha < multi) {
		t.Errorf("single $%d, ha $%d, Multi-AZ $%d: ha must cost more, Multi-AZ most", single, ha, multi)
	}
}
