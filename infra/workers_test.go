package infra

import (
	"fmt"
	"strings"
	"testing"
)

func TestMemoryTable(t *testing.T) {
	for typ, want := range map[string]int{
		// The EC2 instance type tables.
		"t3.small": 2048, "t3.medium": 4096, "t3a.large": 8192, "t4g.xlarge": 16384, "t2.2xlarge": 32768,
		"m7i.large": 8192, "m6g.xlarge": 16384, "m5.4xlarge": 65536, "m7i-flex.2xlarge": 32768,
		"c6i.large": 4096, "c7g.2xlarge": 16384, "r6i.large": 16384, "r7g.medium": 8192,
	} {
		if got, ok := memoryMiB(typ); !ok || got != want {
			t.Errorf("memoryMiB(%s) = %d, %v; want %d", typ, got, ok, want)
		}
	}
	for _, typ := range []string{"m4.metal", "x2gd.large", "m3.large", "i4i.large", "not a type"} {
		if got, ok := memoryMiB(typ); ok {
			t.Errorf("memoryMiB(%s) = %d, want unknown", typ, got)
		}
	}
}

func TestWorkersMemoryRule(t *testing.T) {
	if got := WorkersMemoryMiB("one-of-each"); got != 2048+16*512 {
		t.Errorf("one-of-each needs %d MiB, want 10240", got)
	}
	if got := WorkersMemoryMiB("specialized-workers"); got != 2048+19*512 {
		t.Errorf("specialized-workers needs %d MiB, want 11776", got)
	}
	for _, tc := range []struct {
		preset, typ, fix string // fix "": accepted
	}{
		{"one-of-each", "t3.small", "t3.xlarge"},
		{"one-of-each", "t3.large", "t3.xlarge"},
		{"specialized-workers", "m7i.large", "m7i.xlarge"},
		{"specialized-workers", "c6i.xlarge", "c6i.2xlarge"},
		{"one-of-each", "t3.xlarge", ""},
		{"specialized-workers", "r6i.large", ""},
		// No memory known: the operator's call.
		{"one-of-each", "x2gd.large", ""},
		{"none", "t3.small", ""},
	} {
		raw := map[string]string{
			"aws:region": "eu-central-1", "matrix:domain": "example.org",
			"matrix:synapseWorkers": tc.preset, "matrix:instanceType": tc.typ,
		}
		cfg, err := ParseConfig(raw)
		if tc.fix == "" {
			if err != nil || cfg.SynapseWorkers != tc.preset {
				t.Errorf("%s on %s: %v (preset %q)", tc.preset, tc.typ, err, cfg.SynapseWorkers)
			}
			continue
		}
		want := fmt.Sprintf("matrix:synapseWorkers: %s runs", tc.preset)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "set matrix:instanceType "+tc.fix+",") {
			t.Errorf("%s on %s: %v; want a refusal naming matrix:synapseWorkers and %s", tc.preset, tc.typ, err, tc.fix)
		}
	}
}
