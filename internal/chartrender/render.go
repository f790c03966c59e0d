// Package chartrender renders a packaged Helm chart offline, the way
// `helm template` does, and decodes every rendered manifest strictly into
// the Kubernetes API types.
//
// Rendering goes through helm.sh/helm/v3's action.Install in client-only
// dry-run mode, so the chart's own values.schema.json and its validation
// templates (`fail` calls) run exactly as they will when the same chart is
// installed on a cluster. Decoding then proves that what the chart produces
// is made only of fields and kinds the pinned Kubernetes API knows: a typo
// in a value that the chart copies verbatim into a manifest (an annotation
// map where a list is expected, an unknown probe field) fails here, offline,
// instead of at apply time.
package chartrender

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

// Options says how to render.
type Options struct {
	// ReleaseName and Namespace are the Helm release's; the chart builds
	// object names from the release name.
	ReleaseName string
	Namespace   string
	// KubeVersion is the cluster version the chart is rendered for
	// ("1.33"). Helm used as a library otherwise assumes v1.20.0, which
	// charts requiring a newer cluster refuse.
	KubeVersion string
	// APIVersions are extra API versions the cluster is assumed to serve
	// ("monitoring.coreos.com/v1/ServiceMonitor"). Charts render optional
	// custom resources only when their API is present; leave it empty to
	// render for a cluster with only the built-in APIs.
	APIVersions []string
}

// Manifest is one rendered document.
type Manifest struct {
	Source string // the chart-relative template it came from
	Hook   bool   // rendered as a Helm hook (outside the release manifest)
	YAML   string
}

// Load reads a packaged chart (.tgz).
func Load(archive string) (*chart.Chart, error) {
	c, err := loader.Load(archive)
	if err != nil {
		return nil, fmt.Errorf("chartrender: load %s: %w", archive, err)
	}
	return c, nil
}

// Pin is a chart archive a package depends on, byte for byte: what the
// tests render must be what the cluster installs.
type Pin struct {
	Name, Version string
	AppVersion    string // "" when the chart declares none
	SHA256        string // of the archive
}

// LoadPinned loads the archive at path after checking its digest, name
// and versions against p.
func LoadPinned(path string, p Pin) (*chart.Chart, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("chartrender: %w", err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != p.SHA256 {
		return nil, fmt.Errorf("chartrender: %s has sha256 %x, not the pinned %s %s (%s)", path, sum, p.Name, p.Version, p.SHA256)
	}
	c, err := Load(path)
	if err != nil {
		return nil, err
	}
	if c.Name() != p.Name || c.Metadata.Version != p.Version || c.Metadata.AppVersion != p.AppVersion {
		return nil, fmt.Errorf("chartrender: %s holds %s %s (app %q), not %s %s (app %q)",
			path, c.Name(), c.Metadata.Version, c.Metadata.AppVersion, p.Name, p.Version, p.AppVersion)
	}
	return c, nil
}

// Render renders c with values, checking them against the chart's schema,
// and returns every document the chart produces, hooks included, in the
// order Helm emits them. An error carries the chart's own message (schema
// violation or validation template failure).
func Render(ctx context.Context, c *chart.Chart, values map[string]any, opts Options) ([]Manifest, error) {
	if opts.ReleaseName == "" || opts.Namespace == "" || opts.KubeVersion == "" {
		return nil, errors.New("chartrender: ReleaseName, Namespace and KubeVersion are required")
	}
	kv, err := chartutil.ParseKubeVersion(opts.KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("chartrender: kube version %q: %w", opts.KubeVersion, err)
	}
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.ClientOnly = true
	install.DryRun = true
	install.DryRunOption = "client"
	install.Replace = true
	install.IncludeCRDs = true
	install.ReleaseName = opts.ReleaseName
	install.Namespace = opts.Namespace
	install.KubeVersion = kv
	install.APIVersions = chartutil.VersionSet(opts.APIVersions)
	// Helm coalesces a copy of values with the chart's defaults.
	rel, err := install.RunWithContext(ctx, c, values)
	if err != nil {
		return nil, fmt.Errorf("chartrender: render %s %s: %w", c.Name(), c.Metadata.Version, err)
	}
	out := split(rel.Manifest, false)
	for _, h := range rel.Hooks {
		out = append(out, Manifest{Source: h.Path, Hook: true, YAML: strings.TrimSpace(h.Manifest)})
	}
	return out, nil
}

var (
	separator = regexp.MustCompile(`(?m)^---[ \t]*$`)
	source    = regexp.MustCompile(`(?m)^# Source: (.+)$`)
)

// split cuts Helm's release manifest ("---\n# Source: path\n...") into its
// documents, dropping empty ones as Helm does when applying.
func split(manifest string, hook bool) []Manifest {
	var out []Manifest
	for _, doc := range separator.Split(manifest, -1) {
		m := Manifest{Hook: hook, YAML: strings.TrimSpace(doc)}
		if s := source.FindStringSubmatch(doc); s != nil {
			m.Source = s[1]
			m.YAML = strings.TrimSpace(source.ReplaceAllString(doc, ""))
		}
		if m.YAML != "" {
			out = append(out, m)
		}
	}
	return out
}
