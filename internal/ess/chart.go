package ess

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/matrix-on-aws/homeserver/internal/chartrender"
	"github.com/matrix-on-aws/homeserver/internal/snapshot"
)

// The pinned chart: element-hq/ess-helm tag 26.8.1, packaged offline as
// ../shared/ess-helm/README.md describes (that file gives its provenance
// and this digest).
const (
	ChartName    = "matrix-stack"
	ChartVersion = "26.8.1"
	ChartSHA256  = "88207e9329b51dd6e6c294b390014e60104d8d16f395cd6e736bd8f7c9ecc0c9"
)

// ChartEnv names the environment variable that overrides where ChartPath
// finds the archive.
const ChartEnv = "MATRIX_ESS_CHART"

// KubeVersion is the EKS version the chart is rendered for, and the eks
// topology's default (matrix:kubernetesVersion): the newest in EKS standard
// support on the price snapshot's date, which internal/cost's support
// calendar checks (an older one would bill extended support, six times the
// cluster-hour, from the first day).
const KubeVersion = "1.35"

// ChartPath returns the packaged chart: the file named by $MATRIX_ESS_CHART,
// else <repo root>/../shared/ess-helm/matrix-stack-<version>.tgz, the repo
// root found from the working directory. Its contents are never committed.
func ChartPath() (string, error) {
	path := os.Getenv(ChartEnv)
	if path == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("ess: %w", err)
		}
		root, err := snapshot.RepoRoot(wd)
		if err != nil {
			return "", fmt.Errorf("ess: %w (or set %s)", err, ChartEnv)
		}
		path = filepath.Join(filepath.Dir(root), "shared", "ess-helm", ChartName+"-"+ChartVersion+".tgz")
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("ess: %s not found: put the packaged chart there (shared/ beside the repository) or set %s", path, ChartEnv)
		}
		return "", fmt.Errorf("ess: %w", err)
	}
	return path, nil
}

// LoadChart loads the archive at path after checking it is the pinned one,
// byte for byte.
func LoadChart(path string) (*chart.Chart, error) {
	return chartrender.LoadPinned(path, chartrender.Pin{Name: ChartName, Version: ChartVersion, SHA256: ChartSHA256})
}

// RenderOptions are the release the eks topology installs.
func RenderOptions() chartrender.Options {
	return chartrender.Options{ReleaseName: "ess", Namespace: "matrix", KubeVersion: KubeVersion}
}

// Render renders the pinned chart archive at path with values as Helm does
// before it installs (the chart's schema, then its validation templates)
// and decodes every manifest strictly into its Kubernetes type.
func Render(ctx context.Context, path string, values map[string]any) ([]chartrender.Object, error) {
	c, err := LoadChart(path)
	if err != nil {
		return nil, err
	}
	ms, err := chartrender.Render(ctx, c, values, RenderOptions())
	if err != nil {
		return nil, err
	}
	return chartrender.NewDecoder().Decode(ms)
}
