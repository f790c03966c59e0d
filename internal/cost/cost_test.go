package cost

import (
	"math"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func res(typ, name string, inputs map[string]any) mock.Resource {
	return mock.Resource{Type: typ, Name: name, Inputs: resource.NewPropertyMapFromMap(inputs)}
}

func TestFromResources(t *testing.T) {
	e, err := FromResources("eu-central-1", []mock.Resource{
		res("aws:ec2/instance:Instance", "host", map[string]any{"instanceType": "t3.small", "rootBlockDevice": map[string]any{"volumeSize": 30.0}}),
		res("aws:ebs/volume:Volume", "data", map[string]any{"size": 100.0}),
		res("aws:ec2/eip:Eip", "ip", nil),
		res("aws:rds/instance:Instance", "db", map[string]any{"instanceClass": "db.t4g.micro", "allocatedStorage": 50.0, "multiAz": true}),
		res("aws:lb/loadBalancer:LoadBalancer", "alb", map[string]any{"subnets": []any{"a", "b"}}),
		res("aws:s3/bucketV2:BucketV2", "bootstrap", nil), // not media: no line
	})
	if err != nil {
		t.Fatal(err)
	}
	p := EUCentral1
	want := 0.024*730 + 30*p.GP3GiBMonth + 100*p.GP3GiBMonth + 100*p.SnapshotGiBMonth + 0.005*730 +
		2*0.018*730 + 2*50*p.RDSGP3GiBMonth + p.ALBHour*730 + ALBLCUs*p.LCUHour*730 + 2*0.005*730
	if math.Abs(e.Total()-want) > 1e-9 {
		t.Errorf("total %.4f, want %.4f:\n%s", e.Total(), want, e.Markdown())
	}
	for i := 1; i < len(e.Lines); i++ {
		if e.Lines[i].Monthly > e.Lines[i-1].Monthly {
			t.Errorf("lines not sorted by cost: %v", e.Lines)
		}
	}
}

func TestUnpricedAndUnknownRegion(t *testing.T) {
	e, err := FromResources("eu-central-1", []mock.Resource{res("aws:ec2/instance:Instance", "host", map[string]any{"instanceType": "x9.huge"})})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Unpriced) != 1 || !strings.Contains(e.Markdown(), "no price for EC2 x9.huge") {
		t.Errorf("unpriced %v\n%s", e.Unpriced, e.Markdown())
	}
	if _, err := FromResources("mars-north-1", nil); err == nil || !strings.Contains(err.Error(), "no price table for mars-north-1") {
		t.Errorf("err %v", err)
	}
}
