package upstreamcheck_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/upstreamcheck"
)

// Wall time of one Validate run (one ansible-playbook process), e.g.
//
//	go test ./internal/upstreamcheck/ -run '^$' -bench Validate -benchtime 1x
func BenchmarkValidate1(b *testing.B)  { benchmarkValidate(b, 1) }
func BenchmarkValidate20(b *testing.B) { benchmarkValidate(b, 20) }

func benchmarkValidate(b *testing.B, n int) {
	root := upstream.Root(b)
	invs := make([]upstreamcheck.Inventory, n)
	for i := range invs {
		c := cases[i%len(cases)]
		invs[i] = upstreamcheck.Inventory{Name: fmt.Sprintf("%02d %s", i, c.name), Hosts: c.hosts, Vars: c.vars}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := upstreamcheck.Validate(context.Background(), root, invs); err != nil {
			b.Fatal(err)
		}
	}
}
