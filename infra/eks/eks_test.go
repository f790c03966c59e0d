package eks_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/infra/eks"
	"github.com/matrix-on-aws/homeserver/internal/chartrender"
	"github.com/matrix-on-aws/homeserver/internal/ess"
	"github.com/matrix-on-aws/homeserver/internal/stackfile"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
	networkingv1 "k8s.io/api/networking/v1"
)

const releaseType = "kubernetes:helm.sh/v3:Release"

func run(t *testing.T, raw map[string]string, secret ...string) *synth.Result {
	t.Helper()
	res, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: raw, SecretKeys: secret})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

var find = synthtest.One

// values are the chart values the program hands the matrix-stack release.
func values(t *testing.T, res *synth.Result) map[string]any {
	t.Helper()
	v, err := res.ChartValues()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func render(t *testing.T, values map[string]any) []chartrender.Object {
	t.Helper()
	objs, err := renderErr(t, values)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func renderErr(t *testing.T, values map[string]any) ([]chartrender.Object, error) {
	t.Helper()
	path, err := ess.ChartPath()
	if err != nil {
		t.Fatal(err)
	}
	return ess.Render(context.Background(), path, values)
}

// configurations are the committed eks stacks and a matrix of the keys
// that change the chart's values.
func configurations(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{
		"minimal":         synth.ExampleEKSConfig(),
		"mas":             synth.ExampleEKSConfig("matrix:auth", "mas"),
		"calls":           synth.ExampleEKSConfig("matrix:calls", "element-call"),
		"workers":         synth.ExampleEKSConfig("matrix:eksWorkers", `{"event-persister": 2, "client-reader": 3, "federation-sender": 1}`),
		"no-element-ipv4": synth.ExampleEKSConfig("matrix:element", "false", "matrix:ipv6", "false", "matrix:serveBaseDomain", "false"),
		"operator-values": synth.ExampleEKSConfig("matrix:helmValues", `{"synapse": {"resources": {"requests": {"memory": "2Gi"}}}}`),
		"everything":      synth.ExampleEKSConfig("matrix:auth", "mas", "matrix:calls", "element-call", "matrix:eksWorkers", `{"event-persister": 2}`, "matrix:eksNodesPerZone", "2"),
	}
	stacks, err := stackfile.Stacks("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, stack := range stacks {
		cfg, err := stackfile.Load("../..", infra.Namespace, stack)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Values["matrix:topology"] == string(infra.TopologyEKS) {
			out["stack "+stack] = cfg.Values
		}
	}
	if _, ok := out["stack eks"]; !ok {
		t.Fatal("no committed eks stack (Pulumi.eks.yaml)")
	}
	return out
}

// TestChartRendersFromStackValues renders the pinned chart offline from
// the values the program derives, for every configuration: the chart's
// schema and validation templates pass, and every manifest decodes
// strictly into the Kubernetes API types.
func TestChartRendersFromStackValues(t *testing.T) {
	for name, raw := range configurations(t) {
		t.Run(name, func(t *testing.T) {
			res := run(t, raw)
			objs := render(t, values(t, res))
			cfg := res.Homeserver.Config
			// Every host the chart serves has its record and a name on
			// the certificate, and the ALB is the one the records find.
			want := eks.CertificateNames(cfg)
			var hosts []string
			for _, o := range objs {
				ing, ok := o.Object.(*networkingv1.Ingress)
				if !ok {
					continue
				}
				if got := ing.Annotations["alb.ingress.kubernetes.io/load-balancer-name"]; got != eks.ALBName("matrix", "test") {
					t.Errorf("ingress %s: ALB name %q, the records look up %q", ing.Name, got, eks.ALBName("matrix", "test"))
				}
				for _, r := range ing.Spec.Rules {
					if !slices.Contains(hosts, r.Host) {
						hosts = append(hosts, r.Host)
					}
				}
			}
			slices.Sort(hosts)
			slices.Sort(want)
			if !slices.Equal(hosts, want) {
				t.Errorf("ingress hosts %v, certificate and records %v", hosts, want)
			}
		})
	}
}

// TestBadOperatorValuesFailWithChartMessage: matrix:helmValues the
// program cannot judge (they are the chart's) reach the release as given,
// and the pinned chart refuses them with its own message, as Helm does
// in pulumi preview.
func TestBadOperatorValuesFailWithChartMessage(t *testing.T) {
	for name, tc := range map[string]struct{ values, want string }{
		"schema type":      {`{"elementWeb": {"replicas": "two"}}`, "elementWeb.replicas"},
		"unknown value":    {`{"synapse": {"replica": 2}}`, "synapse: Additional property replica is not allowed"},
		"validation rules": {`{"synapse": {"additional": {"limits.yaml": {"config": "max_upload_size: [50M"}}}}`, "synapse.additional['limits.yaml'] is invalid"},
	} {
		t.Run(name, func(t *testing.T) {
			res := run(t, synth.ExampleEKSConfig("matrix:calls", "element-call", "matrix:helmValues", tc.values))
			_, err := renderErr(t, values(t, res))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("rendering %s: %v, want the chart's %q", tc.values, err, tc.want)
			}
		})
	}
}

// TestWorkersForAuthAgreeWithChart: the worker types the config refuses
// for a login are the ones the chart's validation refuses, so the
// problem shows before any resource is declared.
func TestWorkersForAuthAgreeWithChart(t *testing.T) {
	for _, worker := range []string{"sso-login", "mas-helper", "event-persister"} {
		for _, auth := range []infra.Auth{infra.AuthSynapse, infra.AuthMAS} {
			raw := synth.ExampleEKSConfig("matrix:auth", string(auth), "matrix:eksWorkers", `{"`+worker+`": 1}`)
			_, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: raw})
			refused := err != nil
			if refused && !strings.Contains(err.Error(), "matrix:eksWorkers."+worker) {
				t.Errorf("%s with auth %s: %v does not name matrix:eksWorkers.%s", worker, auth, err, worker)
			}
			// The chart's verdict, on the values of the same login
			// with the worker added behind the config's back.
			v := values(t, run(t, synth.ExampleEKSConfig("matrix:auth", string(auth))))
			synapse := v["synapse"].(map[string]any)
			workers, _ := synapse["workers"].(map[string]any)
			if workers == nil {
				workers = map[string]any{}
				synapse["workers"] = workers
			}
			workers[worker] = map[string]any{"enabled": true}
			_, err = renderErr(t, v)
			chartRefused := err != nil
			if refused != chartRefused {
				t.Errorf("%s with auth %s: config refuses %v, chart refuses %v", worker, auth, refused, chartRefused)
			}
		}
	}
}
