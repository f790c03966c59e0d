package ess

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChartPathDefaultAndOverride(t *testing.T) {
	path, err := ChartPath()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv(ChartEnv) == "" && !strings.HasSuffix(filepath.ToSlash(path), "/shared/ess-helm/matrix-stack-26.8.1.tgz") {
		t.Errorf("ChartPath() = %s, want ../shared/ess-helm/matrix-stack-26.8.1.tgz beside the repository", path)
	}
	missing := filepath.Join(t.TempDir(), "chart.tgz")
	t.Setenv(ChartEnv, missing)
	if _, err := ChartPath(); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), ChartEnv) {
		t.Errorf("missing chart: %v, want the path and %s", err, ChartEnv)
	}
}

// Only the pinned archive is rendered: another file, even a valid chart,
// is refused by its digest.
func TestLoadChartChecksTheDigest(t *testing.T) {
	path, err := ChartPath()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "chart.tgz")
	if err := os.WriteFile(other, append(b, 0), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadChart(other); err == nil || !strings.Contains(err.Error(), "not the pinned matrix-stack 26.8.1") {
		t.Errorf("LoadChart(altered copy): %v", err)
	}
}
