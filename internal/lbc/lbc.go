// Package lbc derives the values of the AWS Load Balancer Controller's Helm
// chart (aws/eks-charts, stable/aws-load-balancer-controller) for the eks
// topology, and gives the controller's IAM policy.
//
// The controller is what turns the ESS chart's Ingresses (class alb) into
// one ALB with the ACM certificate, and the LiveKit SFU's LoadBalancer
// Service into an NLB (see internal/ess). The eks topology installs it
// before the ESS release, from the public chart repository
// (ChartRepository) at ChartVersion, as a helm.v3.Release named
// ReleaseName in Namespace, with:
//
//	values, err := lbc.Values(lbc.Input{...})  // every problem in Input at once
//	policy, err := lbc.IAMPolicy(partition)    // the IRSA role's policy
//
// The tests render the very same chart offline: ChartPath finds the pinned
// archive, byte-identical to the one the repository publishes (ChartSHA256
// is the digest of its index.yaml), which LoadChart checks before
// internal/chartrender renders it.
package lbc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"helm.sh/helm/v3/pkg/chart"

	"github.com/matrix-on-aws/homeserver/internal/chartrender"
	"github.com/matrix-on-aws/homeserver/internal/ess"
	"github.com/matrix-on-aws/homeserver/internal/snapshot"
)

// The pinned chart: eks-charts commit 5239609242f3 (tag v0.0.242, the
// commit that released it), chart 3.5.0 of controller v3.5.0, which
// supports every Kubernetes from 1.22 on, so ess.KubeVersion
// (docs/deploy/installation.md at the controller's tag v3.5.0). It is the
// newest chart that commit holds.
const (
	ChartName       = "aws-load-balancer-controller"
	ChartVersion    = "3.5.0"
	AppVersion      = "v3.5.0"
	ChartRepository = "https://aws.github.io/eks-charts"
	// ChartSHA256 is the digest of the archive the repository publishes
	// (its gh-pages index.yaml), so the archive the tests render and the
	// one the cluster installs are the same bytes.
	ChartSHA256 = "45051f634b33e10baccb3354d0681b7de787c60445e599fa276e0c9aedd4ccd5"
)

// Where the controller runs. kube-system and this service account name are
// those of the controller's installation guide; the IRSA role trusts
// exactly IRSASubject, so the name is set in the values rather than left to
// the chart's naming helpers.
const (
	ReleaseName        = "aws-load-balancer-controller"
	Namespace          = "kube-system"
	ServiceAccountName = "aws-load-balancer-controller"
	IRSASubject        = "system:serviceaccount:" + Namespace + ":" + ServiceAccountName
)

// DirEnv names the environment variable that overrides the directory where
// ChartPath (and the tests' upstream IAM policies) are found.
const DirEnv = "MATRIX_LBC_DIR"

// Dir returns the directory holding the pinned archive and the controller's
// published IAM policies: $MATRIX_LBC_DIR, else
// <repo root>/../shared/aws-load-balancer-controller, the repo root found
// from the working directory. Like the other upstream snapshots, its
// contents are never committed.
func Dir() (string, error) {
	if dir := os.Getenv(DirEnv); dir != "" {
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("lbc: %w", err)
	}
	root, err := snapshot.RepoRoot(wd)
	if err != nil {
		return "", fmt.Errorf("lbc: %w (or set %s)", err, DirEnv)
	}
	return filepath.Join(filepath.Dir(root), "shared", ChartName), nil
}

// ChartPath returns the pinned archive, <Dir>/aws-load-balancer-controller-<version>.tgz.
func ChartPath() (string, error) {
	dir, err := Dir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, ChartName+"-"+ChartVersion+".tgz")
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("lbc: %s not found: put the packaged chart there (shared/%s beside the repository) or set %s", path, ChartName, DirEnv)
		}
		return "", fmt.Errorf("lbc: %w", err)
	}
	return path, nil
}

// LoadChart loads the archive at path after checking it is the pinned one,
// byte for byte.
func LoadChart(path string) (*chart.Chart, error) {
	return chartrender.LoadPinned(path, chartrender.Pin{Name: ChartName, Version: ChartVersion, AppVersion: AppVersion, SHA256: ChartSHA256})
}

// RenderOptions are the release the eks topology installs, on a cluster of
// the version the ESS chart is rendered for.
func RenderOptions() chartrender.Options {
	return chartrender.Options{ReleaseName: ReleaseName, Namespace: Namespace, KubeVersion: ess.KubeVersion}
}
