package ess

import (
	"context"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/chartrender"
)

// Known-bad values fail with the chart's own message: its schema, and its
// validation template (templates/z_validation/validation.txt).
func TestChartRefuses(t *testing.T) {
	mas := exampleInput()
	mas.Auth = AuthMAS
	for _, tc := range []struct {
		name     string
		in       Input
		operator map[string]any
		edit     func(map[string]any) // simulates a bug in Values
		want     []string
	}{
		{
			name:     "schema violation through matrix:helmValues",
			in:       exampleInput(),
			operator: map[string]any{"elementWeb": map[string]any{"replicas": "two"}},
			want:     []string{"values don't meet the specifications of the schema", "elementWeb.replicas"},
		},
		{
			name:     "unknown chart value through matrix:helmValues",
			in:       exampleInput(),
			operator: map[string]any{"synapse": map[string]any{"replica": 2}},
			want:     []string{"synapse: Additional property replica is not allowed"},
		},
		{
			name: "missing serverName",
			in:   exampleInput(),
			edit: func(v map[string]any) { delete(v, "serverName") },
			want: []string{"serverName is required when synapse.enabled=true"},
		},
		{
			name: "missing Synapse host",
			in:   exampleInput(),
			edit: func(v map[string]any) { delete(v["synapse"].(map[string]any), "ingress") },
			want: []string{"synapse.ingress.host is required when synapse.enabled=true"},
		},
		{
			name: "Synapse and MAS in one database",
			in: func() Input {
				in := mas
				in.Postgres.MAS.Name = in.Postgres.Synapse.Name
				return in
			}(),
			want: []string{"synapse.postgres is using the same database as matrixAuthenticationService.postgres"},
		},
		{
			name: "sso-login worker with MAS",
			in: func() Input {
				in := mas
				in.Workers = map[string]int{"sso-login": 1}
				return in
			}(),
			want: []string{"synapse.workers.sso-login can't be enabled when matrixAuthenticationService.enabled=true"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			values, err := Values(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(values)
			}
			if values, err = Merge(values, tc.operator); err != nil {
				t.Fatal(err)
			}
			_, err = chartrender.Render(context.Background(), pinnedChart(t), values, RenderOptions())
			if err == nil {
				t.Fatal("the chart rendered")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

// The chart renders its ServiceMonitors only for a cluster that serves the
// Prometheus Operator's API; the strict decoder has no type for them and
// refuses them by kind rather than letting them through unchecked.
func TestServiceMonitorsAreRefusedByKind(t *testing.T) {
	values, err := Values(exampleInput())
	if err != nil {
		t.Fatal(err)
	}
	opts := RenderOptions()
	opts.APIVersions = []string{"monitoring.coreos.com/v1/ServiceMonitor"}
	ms, err := chartrender.Render(context.Background(), pinnedChart(t), values, opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = chartrender.NewDecoder().Decode(ms)
	if err == nil || !strings.Contains(err.Error(), `no kind "ServiceMonitor" is registered`) || !strings.Contains(err.Error(), "synapse_service_monitor.yaml") {
		t.Fatalf("decoding ServiceMonitors: %v", err)
	}
}
