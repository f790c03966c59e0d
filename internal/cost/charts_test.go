package cost

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/matrix-on-aws/homeserver/internal/chartrender"
	"github.com/matrix-on-aws/homeserver/internal/ess"
)

// count is how many of item a line prices ("3 × ..." or one).
func count(e Estimate, item string) int {
	for _, l := range e.Lines {
		if l.Item != item {
			continue
		}
		if n, _, ok := strings.Cut(l.Basis, " × "); ok {
			i, _ := strconv.Atoi(n)
			return i
		}
		return 1
	}
	return 0
}

// TestMatrixStackRender checks the matrix-stack rule against the chart
// itself: it renders the pinned chart (the version the rule names) with
// the values internal/ess derives, for configurations with and without
// calls and with operator values that add or remove volumes, and checks
// that the estimate prices one ALB per Ingress group, one NLB per
// LoadBalancer Service, Synapse's media claim at its size, and reports
// every other claim rather than leaving it free.
func TestMatrixStackRender(t *testing.T) {
	if MatrixStackVersion != ess.ChartVersion {
		t.Fatalf("the matrix-stack rule was checked against %s, internal/ess pins %s: render the new chart below, check what it creates in AWS and update MatrixStackVersion", MatrixStackVersion, ess.ChartVersion)
	}
	path, err := ess.ChartPath()
	if err != nil {
		t.Fatal(err)
	}
	chart, err := ess.LoadChart(path)
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot(t)
	for _, c := range []struct {
		name     string
		calls    bool
		operator map[string]any
	}{
		{name: "minimal"},
		{name: "calls", calls: true},
		{name: "hookshot encryption", operator: map[string]any{"hookshot": map[string]any{"enabled": true, "enableEncryption": true}}},
		{name: "existing media claim", calls: true, operator: map[string]any{"synapse": map[string]any{"media": map[string]any{"storage": map[string]any{"existingClaim": "media-2024"}}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			values := essValues(t, c.calls, c.operator)
			ms, err := chartrender.Render(context.Background(), chart, values, ess.RenderOptions())
			if err != nil {
				t.Fatal(err)
			}
			objs, err := chartrender.NewDecoder().Decode(ms)
			if err != nil {
				t.Fatal(err)
			}
			groups, nlbs := map[string]bool{}, 0
			var media string
			var other []string
			for _, o := range objs {
				switch obj := o.Object.(type) {
				case *networkingv1.Ingress:
					g := obj.Annotations[albGroupName]
					if g == "" { // an Ingress without a group is a load balancer of its own
						g = "ingress " + obj.Name
					}
					groups[g] = true
				case *corev1.Service:
					if obj.Spec.Type == corev1.ServiceTypeLoadBalancer {
						nlbs++
					}
				case *corev1.PersistentVolumeClaim:
					if strings.HasSuffix(obj.Name, "-synapse-media") {
						media = obj.Spec.Resources.Requests.Storage().String()
						continue
					}
					other = append(other, obj.Name)
				}
			}
			e, err := FromResources(s, "us-east-1", append(elbSubnets(), storageClass(nil), release("matrix-stack", MatrixStackVersion, values)))
			if err != nil {
				t.Fatal(err)
			}
			if got := count(e, "Application Load Balancer"); got != len(groups) {
				t.Errorf("%d ALBs priced, the chart's Ingresses make %d (%v)", got, len(groups), groups)
			}
			if got := count(e, "Network Load Balancer (calls)"); got != nlbs {
				t.Errorf("%d NLBs priced, the chart has %d LoadBalancer Services", got, nlbs)
			}
			vol := byItem(e)["Synapse media volume"]
			switch gib, err := gibibytes(media); {
			case media == "" && vol.Monthly != 0:
				t.Errorf("media priced (%s) where the chart makes no claim", vol.Basis)
			case media != "" && (err != nil || !strings.HasPrefix(vol.Basis, fmt.Sprintf("%.0f GiB gp3", gib))):
				t.Errorf("media claim of %s priced as %q", media, vol.Basis)
			}
			var volumes []string
			for _, u := range e.Unpriced {
				if strings.Contains(u, "keeps a volume") {
					volumes = append(volumes, u)
				}
			}
			if len(volumes) != len(other) {
				t.Errorf("the chart's other claims %v, reported unpriced %v", other, volumes)
			}
			t.Logf("%d manifests: ALB groups %v, %d NLBs, media %q, other claims %v; unpriced %v", len(objs), groups, nlbs, media, other, e.Unpriced)
		})
	}
}
