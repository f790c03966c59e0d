package cost

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func res(typ, name string, inputs map[string]any) mock.Resource {
	return mock.Resource{Type: typ, Name: name, Inputs: resource.NewPropertyMapFromMap(inputs)}
}

func snapshot(t *testing.T) *Snapshot {
	t.Helper()
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func usd(t *testing.T, s *Snapshot, region, key string) float64 {
	t.Helper()
	p, err := s.Lookup(region, key)
	if err != nil {
		t.Fatal(err)
	}
	return p.USD
}

func TestFromResources(t *testing.T) {
	s := snapshot(t)
	const r = "eu-central-1"
	e, err := FromResources(s, r, []mock.Resource{
		res("aws:ec2/instance:Instance", "host", map[string]any{"instanceType": "t3.small", "rootBlockDevice": map[string]any{"volumeSize": 30.0}}),
		res("aws:ebs/volume:Volume", "data", map[string]any{"size": 100.0}),
		res("aws:ec2/eip:Eip", "ip", nil),
		res("aws:rds/instance:Instance", "db", map[string]any{"instanceClass": "db.t4g.micro", "allocatedStorage": 50.0, "multiAz": true}),
		res("aws:lb/loadBalancer:LoadBalancer", "alb", map[string]any{"subnets": []any{"a", "b"}}),
		res("aws:s3/bucketV2:BucketV2", "bootstrap", nil), // not media: no line
		res("aws:ec2/vpc:Vpc", "vpc", nil),                // free
	})
	if err != nil {
		t.Fatal(err)
	}
	gp3, ip := usd(t, s, r, KeyGP3), usd(t, s, r, KeyPublicIPv4)
	want := usd(t, s, r, "ec2:t3.small")*730 + 30*gp3 + 100*gp3 + 100*usd(t, s, r, KeySnapshot) + ip*730 +
		2*usd(t, s, r, "rds:postgresql:db.t4g.micro")*730 + 2*50*usd(t, s, r, KeyRDSGP3) +
		usd(t, s, r, KeyALBHour)*730 + LCUs*usd(t, s, r, KeyALBLCU)*730 + 2*ip*730
	if math.Abs(e.Total()-want) > 1e-9 || len(e.Unpriced) > 0 {
		t.Errorf("total %.4f, want %.4f:\n%s", e.Total(), want, e.Markdown())
	}
	for i := 1; i < len(e.Lines); i++ {
		if e.Lines[i].Monthly > e.Lines[i-1].Monthly {
			t.Errorf("lines not sorted by cost: %v", e.Lines)
		}
	}
	if md := e.Markdown(); !strings.Contains(md, "snapshot of "+s.Date) || !strings.Contains(md, s.Source) {
		t.Errorf("the estimate hides the snapshot's date or source:\n%s", md)
	}
}

func TestUnpriced(t *testing.T) {
	s := snapshot(t)
	e, err := FromResources(s, "eu-central-1", []mock.Resource{
		res("aws:ec2/instance:Instance", "host", map[string]any{"instanceType": "x9.huge"}),
		res("aws:ec2/transitGateway:TransitGateway", "tgw", nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	md := e.Markdown()
	for _, w := range []string{"no price for EC2 x9.huge", "aws:ec2/transitGateway:TransitGateway tgw: no price rule for its type", "**at least $"} {
		if !strings.Contains(md, w) {
			t.Errorf("markdown lacks %q:\n%s", w, md)
		}
	}
	if _, err := FromResources(s, "mars-north-1", nil); err == nil || !strings.Contains(err.Error(), "no prices for mars-north-1; it has ap-southeast-1, eu-central-1, eu-west-1, us-east-1, us-west-2") {
		t.Errorf("err %v", err)
	}
}

// TestAlertingAndMail prices the types other work adds: health checks by
// their options, email alerts (their free allowance named, not deducted),
// SES sending.
func TestAlertingAndMail(t *testing.T) {
	s := snapshot(t)
	e, err := FromResources(s, "us-east-1", []mock.Resource{
		res("aws:route53/healthCheck:HealthCheck", "hc", map[string]any{"type": "HTTPS_STR_MATCH", "requestInterval": 30.0}),
		res("aws:sns/topic:Topic", "alerts", nil),
		res("aws:sns/topicSubscription:TopicSubscription", "mail", map[string]any{"protocol": "email"}),
		res("aws:sesv2/emailIdentity:EmailIdentity", "domain", nil),
		res("aws:cloudwatch/metricAlarm:MetricAlarm", "fast", map[string]any{"period": 10.0}),
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]Line{}
	for _, l := range e.Lines {
		lines[l.Item] = l
	}
	if l := lines["Route 53 health check options"]; l.Monthly != 2*usd(t, s, Global, KeyHealthOptAWS) || !strings.Contains(l.Basis, "HTTPS, string matching") {
		t.Errorf("options %+v", l)
	}
	if l := lines["SNS email alerts"]; math.Abs(l.Monthly-AlertEmails*usd(t, s, "us-east-1", KeySNSEmail)) > 1e-12 || !strings.Contains(l.Basis, "the first 1000 a month are free per account") {
		t.Errorf("email alerts %+v", l)
	}
	if l := lines["SES email"]; math.Abs(l.Monthly-SentEmails*usd(t, s, "us-east-1", KeySESEmail)) > 1e-9 {
		t.Errorf("SES %+v", l)
	}
	if len(e.Unpriced) != 1 || !strings.Contains(e.Unpriced[0], "high resolution") {
		t.Errorf("unpriced %v", e.Unpriced)
	}
}

// TestSnapshotChecks: a snapshot that does not match the rules is refused
// with every problem named.
func TestSnapshotChecks(t *testing.T) {
	var raw map[string]any
	if err := json.Unmarshal(pricesJSON, &raw); err != nil {
		t.Fatal(err)
	}
	regions := raw["regions"].(map[string]any)
	euc1 := regions["eu-central-1"].(map[string]any)
	delete(euc1, "ec2:t3.small")
	euc1["ec2:t9.tiny"] = map[string]any{"usd": 1, "unit": "Hrs", "source": "previous"}
	euc1["ebs:gp3"].(map[string]any)["unit"] = "GB"
	euc1["ebs:snapshot"].(map[string]any)["source"] = "hearsay"
	b, _ := json.Marshal(raw)
	_, err := Parse(b)
	for _, w := range []string{
		"eu-central-1: ec2:t3.small neither priced nor stated missing",
		"eu-central-1: ec2:t9.tiny is no rule's key",
		`eu-central-1: ebs:gp3 is per "GB", the rule expects "GB-Mo"`,
		`eu-central-1: ebs:snapshot cites unknown source "hearsay"`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("err %v lacks %q", err, w)
		}
	}
	if _, err := Parse([]byte(`{"regions":{}}`)); err == nil || !strings.Contains(err.Error(), "lacks its date or source") {
		t.Errorf("undated snapshot: %v", err)
	}
}

// TestSnapshotCoversTheDefaults: in eu-central-1, the region of the
// committed stacks, every price the default resources need is there.
func TestSnapshotCoversTheDefaults(t *testing.T) {
	s := snapshot(t)
	for _, key := range []string{InstanceKey("t3.small"), InstanceKey("t3.medium"), KeyGP3, KeySnapshot, KeyPublicIPv4, KeyAlarm,
		KeyALBHour, KeyALBLCU, RDSKey("db.t4g.micro"), KeyRDSGP3, KeyS3Standard, KeySSMAdvanced,
		// The eks topology's, but for the calls NLB (docs/cost.md).
		KeyEKSCluster, KeyEKSExtended, KeyGP2} {
		if _, err := s.Lookup("eu-central-1", key); err != nil {
			t.Error(err)
		}
	}
}

// TestGroupedLines keeps repeated resources on one line with their count,
// and the total unchanged.
func TestGroupedLines(t *testing.T) {
	in := []Line{{"Alarm", "$0.10", 0.1}, {"EC2", "$1/h", 730}, {"Alarm", "$0.10", 0.1}}
	got := grouped(in)
	want := []Line{{"Alarm", "2 × $0.10", 0.2}, {"EC2", "$1/h", 730}}
	if len(got) != len(want) {
		t.Fatalf("grouped = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Item != want[i].Item || got[i].Basis != want[i].Basis || math.Abs(got[i].Monthly-want[i].Monthly) > 1e-9 {
			t.Errorf("grouped[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}
