package verify

import (
	"context"
	"time"
)

// Retry says how RunUntilPass repeats runs.
type Retry struct {
	// For is the window in which failed runs are repeated; zero runs once.
	For time.Duration
	// Every is the pause between attempts; zero means 15 seconds.
	Every time.Duration
	// Timeout bounds each attempt; zero leaves only ctx as the bound.
	Timeout time.Duration
	// OnAttempt, if set, is called with the report of each failed attempt
	// that will be retried.
	OnAttempt func(*Report)
}

// RunUntilPass runs the checks until they all pass, the retry window ends
// or ctx is done, and returns the last report with the number of attempts.
func RunUntilPass(ctx context.Context, cfg Config, retry Retry) (*Report, error) {
	every := retry.Every
	if every <= 0 {
		every = 15 * time.Second
	}
	deadline := time.Now().Add(retry.For)
	for attempt := 1; ; attempt++ {
		rep, err := runAttempt(ctx, cfg, retry.Timeout)
		if err != nil {
			return nil, err
		}
		rep.Attempts = attempt
		if rep.OK || time.Now().Add(every).After(deadline) || ctx.Err() != nil {
			return rep, nil
		}
		if retry.OnAttempt != nil {
			retry.OnAttempt(rep)
		}
		select {
		case <-ctx.Done():
			return rep, nil
		case <-time.After(every):
		}
	}
}

func runAttempt(ctx context.Context, cfg Config, timeout time.Duration) (*Report, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return Run(ctx, cfg)
}
