package ha

import (
	"strings"
	"testing"
)

func TestParameterTier(t *testing.T) {
	for n, want := range map[int]string{1: "Standard", 4096: "Standard", 4097: "Advanced", 8192: "Advanced", 8193: ""} {
		got, err := parameterTier(strings.Repeat("x", n))
		if got != want || (want == "") != (err != nil) {
			t.Errorf("%d bytes: %q %v, want %q", n, got, err, want)
		}
	}
}
