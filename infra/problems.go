package infra

import (
	"fmt"
	"sort"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/suggest"
)

// Problem is one thing wrong with the stack's configuration.
type Problem struct {
	Key     string // fully qualified, e.g. "matrix:domain"
	Message string // what is wrong and how to fix it
}

func (p Problem) String() string { return p.Key + ": " + p.Message }

// ConfigError carries every problem found, so an operator fixes them in one go.
type ConfigError struct {
	Problems []Problem
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("invalid stack configuration (fix with `pulumi config set <key> <value>` or edit Pulumi.<stack>.yaml):")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Problems collects what is wrong, so every problem is reported at once.
type Problems []Problem

// Add records one problem with key.
func (ps *Problems) Add(key, format string, args ...any) {
	*ps = append(*ps, Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// Err is a *ConfigError holding every problem, sorted by key, or nil.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	sorted := append([]Problem(nil), ps...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	return &ConfigError{Problems: sorted}
}

// closest returns the candidate nearest to s, ignoring case, or "" when
// none is near enough to be a plausible typo.
func closest(s string, candidates []string) string {
	return suggest.Closest(s, candidates, len(s)/2+2, nil)
}
