package verify_test

import (
	"testing"
	"time"

	"github.com/matrix-on-aws/homeserver/internal/verify"
)

// BenchmarkRun runs all checks, including the round trip, against a real
// Dendrite and reports how the run's wall time compares with its slowest
// probe and with the probes' summed time. total/slowest near 1 and
// sum/total well above 1 mean the probes overlap; the dependency chains
// (.well-known or discovery before the checks that need them) keep
// total/slowest above 1.
func BenchmarkRun(b *testing.B) {
	f := newFixture(b)
	cfg := f.config(b, f.routes(b), zone())
	b.Run("all", func(b *testing.B) { benchmarkRun(b, cfg) })
	cfg.Username, cfg.Password = "", ""
	b.Run("no-round-trip", func(b *testing.B) { benchmarkRun(b, cfg) })
}

func benchmarkRun(b *testing.B, cfg verify.Config) {
	var total, slowest, sum time.Duration
	for b.Loop() {
		rep := run(b, cfg)
		if !rep.OK {
			b.Fatalf("run failed: %+v", rep.Failed())
		}
		total += time.Duration(rep.Elapsed)
		var max time.Duration
		for _, res := range rep.Results {
			d := time.Duration(res.Elapsed)
			sum += d
			if d > max {
				max = d
			}
		}
		slowest += max
	}
	n := float64(b.N)
	b.ReportMetric(float64(total.Milliseconds())/n, "total-ms/op")
	b.ReportMetric(float64(slowest.Milliseconds())/n, "slowest-probe-ms/op")
	b.ReportMetric(float64(sum.Milliseconds())/n, "sum-probes-ms/op")
	b.ReportMetric(total.Seconds()/slowest.Seconds(), "total/slowest")
	b.ReportMetric(sum.Seconds()/total.Seconds(), "sum/total")
}
