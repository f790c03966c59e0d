package cost

import (
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

type customResource struct{ pulumi.CustomResourceState }

type eipResource struct {
	pulumi.CustomResourceState
	AllocationID pulumi.StringOutput `pulumi:"allocationId"`
}

// toInput turns decoded values into Pulumi inputs, so parts of them can
// be replaced by outputs.
func toInput(v any) pulumi.Input {
	switch v := v.(type) {
	case map[string]any:
		m := pulumi.Map{}
		for k, e := range v {
			m[k] = toInput(e)
		}
		return m
	case []any:
		a := pulumi.Array{}
		for _, e := range v {
			a = append(a, toInput(e))
		}
		return a
	case string:
		return pulumi.String(v)
	case bool:
		return pulumi.Bool(v)
	case int:
		return pulumi.Int(v)
	case float64:
		return pulumi.Float64(v)
	}
	return pulumi.Any(v)
}

// TestPreviewUnknownValues prices a pulumi preview, whose inputs hold
// values unknown until apply, as the engine sends them (mock.Preview): the
// Elastic IPs' allocation IDs in the NLB's annotations, a whole part of
// the chart's values computed from another resource's output, a node
// group's size. What is known is priced; what is not is named, and the
// total reads "at least".
func TestPreviewUnknownValues(t *testing.T) {
	cloud := mock.New(nil)
	program := func(ctx *pulumi.Context) error {
		var eip eipResource
		if err := ctx.RegisterResource("aws:ec2/eip:Eip", "rtc-a", pulumi.Map{"domain": pulumi.String("vpc")}, &eip); err != nil {
			return err
		}
		unknown := eip.AllocationID
		values := essValues(t, true, nil)
		v := toInput(values).(pulumi.Map)
		// Known values with an unknown leaf: the EIPs the NLB takes.
		v["matrixRTC"].(pulumi.Map)["sfu"].(pulumi.Map)["exposedServices"].(pulumi.Map)["rtcMuxedUdp"].(pulumi.Map)["annotations"].(pulumi.Map)[nlbEIPs] = unknown
		// A part computed from an output: the ingress annotations.
		ingress := values["ingress"]
		v["ingress"] = unknown.ApplyT(func(string) map[string]any { return ingress.(map[string]any) })
		resources := []struct {
			typ, name string
			props     pulumi.Map
		}{
			{"aws:ec2/subnet:Subnet", "public-a", pulumi.Map{"availabilityZone": pulumi.String("us-east-1a"), "tags": pulumi.StringMap{"kubernetes.io/role/elb": pulumi.String("1")}}},
			{"kubernetes:storage.k8s.io/v1:StorageClass", "gp3", pulumi.Map{"metadata": pulumi.Map{"name": pulumi.String("gp3")}, "provisioner": pulumi.String("ebs.csi.aws.com")}},
			{"kubernetes:helm.sh/v3:Release", "matrix", pulumi.Map{"chart": pulumi.String("matrix-stack"), "version": pulumi.String(MatrixStackVersion), "values": v}},
			{"aws:eks/nodeGroup:NodeGroup", "nodes-a", pulumi.Map{"instanceTypes": pulumi.StringArray{pulumi.String("t3.medium")},
				"scalingConfig": pulumi.Map{"desiredSize": unknown.ApplyT(func(string) int { return 2 }), "minSize": pulumi.Int(1), "maxSize": pulumi.Int(3)}}},
			{"aws:eks/nodeGroup:NodeGroup", "nodes-b", pulumi.Map{"instanceTypes": pulumi.StringArray{pulumi.String("t3.medium")},
				"scalingConfig": pulumi.Map{"desiredSize": pulumi.Int(1), "minSize": pulumi.Int(1), "maxSize": pulumi.Int(3)}}},
			{"kubernetes:helm.sh/v3:Release", "other", pulumi.Map{"chart": unknown, "version": pulumi.String("1.0.0")}},
		}
		for _, r := range resources {
			var res customResource
			if err := ctx.RegisterResource(r.typ, r.name, r.props, &res); err != nil {
				return err
			}
		}
		return nil
	}
	if err := mock.Preview(cloud, "matrix", "test", program, func(info *pulumi.RunInfo) { info.Config = map[string]string{"aws:region": "us-east-1"} }); err != nil {
		t.Fatal(err)
	}
	e, err := FromResources(snapshot(t), "us-east-1", cloud.Resources())
	if err != nil {
		t.Fatal(err)
	}
	lines, md := byItem(e), e.Markdown()
	for _, item := range []string{"Network Load Balancer (calls)", "Load balancer capacity units (calls)", "Synapse media volume", "Daily snapshots", "EKS node t3.medium", "Elastic IP"} {
		if lines[item].Monthly == 0 {
			t.Errorf("the preview does not price %s:\n%s", item, md)
		}
	}
	if l := lines["EKS node t3.medium"]; strings.Contains(l.Basis, "×") {
		t.Errorf("the group of unknown size is priced: %+v", l)
	}
	for _, item := range []string{"Application Load Balancer", "Public IPv4 of the load balancer"} {
		if _, ok := lines[item]; ok {
			t.Errorf("%s priced from unknown annotations:\n%s", item, md)
		}
	}
	for _, w := range []string{
		"Application Load Balancer (Helm release matrix): values.ingress.annotations is unknown until the stack is applied",
		"EKS node group nodes-a: its instance type, desired size or disk size is unknown until the stack is applied",
		"Helm release other: its chart is unknown until the stack is applied",
		"**at least $",
	} {
		if !strings.Contains(md, w) {
			t.Errorf("the preview's estimate lacks %q:\n%s", w, md)
		}
	}
	if len(e.Unpriced) != 3 {
		t.Errorf("unpriced %v", e.Unpriced)
	}
}
