// Package cost estimates what a stack costs a month from the resources the
// program declares (a synth run), with one table of list prices per region.
// The README's figures are this package's output, kept equal by a test.
package cost

import (
	"fmt"
	"sort"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// HoursPerMonth is AWS's convention for monthly prices.
const HoursPerMonth = 730

// Prices are on-demand list prices of one region in USD.
type Prices struct {
	Region           string
	Source           string
	InstanceHour     map[string]float64 // EC2, Linux
	GP3GiBMonth      float64
	SnapshotGiBMonth float64
	PublicIPv4Hour   float64
	AlarmMonth       float64
	ALBHour          float64
	LCUHour          float64
	RDSHour          map[string]float64 // PostgreSQL, single-AZ; Multi-AZ costs twice
	RDSGP3GiBMonth   float64
	S3GiBMonth       float64
	// SSMAdvancedParameterMonth is the storage of one Advanced-tier SSM
	// parameter (over 4 KiB); Standard ones are free.
	SSMAdvancedParameterMonth float64
}

// Usage assumptions for what a price table cannot know.
const (
	// SnapshotShare is the share of the data volume that daily snapshots
	// keep in changed blocks over the retention period.
	SnapshotShare = 1.0
	// ALBLCUs is the average load balancer capacity units of a small server.
	ALBLCUs = 0.5
	// MediaGiB is the media a small server keeps in S3.
	MediaGiB = 10
)

// EUCentral1 are the prices of eu-central-1 (Frankfurt) from the AWS pricing
// pages: aws.amazon.com/ec2/pricing/on-demand, /ebs/pricing, /vpc/pricing
// (public IPv4), /cloudwatch/pricing, /elasticloadbalancing/pricing,
// /rds/postgresql/pricing, /s3/pricing and /systems-manager/pricing
// (Parameter Store), as read in 2026. Prices change:
// check them before budgeting.
var EUCentral1 = Prices{
	Region: "eu-central-1",
	Source: "AWS on-demand list prices, eu-central-1",
	InstanceHour: map[string]float64{
		"t3.small": 0.024, "t3.medium": 0.048, "t3.large": 0.096,
		"t3a.small": 0.0216, "t3a.medium": 0.0432,
		"t4g.small": 0.0192, "t4g.medium": 0.0384, "t4g.large": 0.0768,
	},
	GP3GiBMonth:               0.0952,
	SnapshotGiBMonth:          0.054,
	PublicIPv4Hour:            0.005,
	AlarmMonth:                0.10,
	ALBHour:                   0.027,
	LCUHour:                   0.008,
	RDSHour:                   map[string]float64{"db.t4g.micro": 0.018, "db.t4g.small": 0.036, "db.t4g.medium": 0.072},
	RDSGP3GiBMonth:            0.137,
	S3GiBMonth:                0.0245,
	SSMAdvancedParameterMonth: 0.05,
}

// Tables lists the regions with prices.
var Tables = map[string]Prices{EUCentral1.Region: EUCentral1}

// Line is one item of an estimate.
type Line struct {
	Item    string
	Basis   string
	Monthly float64
}

// Estimate is a stack's monthly cost.
type Estimate struct {
	Region string
	Lines  []Line
	// Unpriced names what the table has no price for; the total leaves it out.
	Unpriced []string
}

// Total is the sum of the lines.
func (e Estimate) Total() float64 {
	var t float64
	for _, l := range e.Lines {
		t += l.Monthly
	}
	return t
}

var get = mock.Get

// number reads a numeric input; an unknown or missing one counts as 0.
func number(v resource.PropertyValue) float64 {
	if v.IsNumber() {
		return v.NumberValue()
	}
	return 0
}

// FromResources prices the declared resources.
func FromResources(region string, resources []mock.Resource) (Estimate, error) {
	p, ok := Tables[region]
	if !ok {
		return Estimate{}, fmt.Errorf("cost: no price table for %s (have %v)", region, regions())
	}
	e := Estimate{Region: region}
	hourly := func(item, basis string, perHour float64) {
		e.Lines = append(e.Lines, Line{item, basis, perHour * HoursPerMonth})
	}
	monthly := func(item, basis string, amount float64) {
		e.Lines = append(e.Lines, Line{item, basis, amount})
	}
	instance := func(typ string) {
		if price, ok := p.InstanceHour[typ]; ok {
			hourly("EC2 "+typ, fmt.Sprintf("$%.4f/h", price), price)
		} else {
			e.Unpriced = append(e.Unpriced, "EC2 "+typ)
		}
	}
	gp3 := func(item string, gib float64) {
		monthly(item, fmt.Sprintf("%.0f GiB gp3 at $%.4f/GiB-month", gib, p.GP3GiBMonth), gib*p.GP3GiBMonth)
	}
	ipv4 := func(item string, n int) {
		hourly(item, fmt.Sprintf("%d public IPv4 at $%.3f/h", n, p.PublicIPv4Hour), float64(n)*p.PublicIPv4Hour)
	}
	for _, r := range resources {
		in := r.Inputs
		switch r.Type {
		case "aws:ec2/instance:Instance":
			instance(get(in, "instanceType").StringValue())
			gp3("Root volume", number(get(in, "rootBlockDevice", "volumeSize")))
		case "aws:ec2/launchTemplate:LaunchTemplate":
			instance(get(in, "instanceType").StringValue())
			for _, d := range get(in, "blockDeviceMappings").ArrayValue() {
				gp3("Root volume", number(get(d.ObjectValue(), "ebs", "volumeSize")))
			}
			// The host's own address, for outbound traffic without a NAT gateway.
			ipv4("Public IPv4 of the host", 1)
		case "aws:ebs/volume:Volume":
			size := number(get(in, "size"))
			gp3("Data volume", size)
			monthly("Daily snapshots", fmt.Sprintf("~%.0f GiB of changed blocks at $%.3f/GiB-month", size*SnapshotShare, p.SnapshotGiBMonth), size*SnapshotShare*p.SnapshotGiBMonth)
		case "aws:ec2/eip:Eip":
			ipv4("Elastic IP", 1)
		case "aws:cloudwatch/metricAlarm:MetricAlarm":
			monthly("CloudWatch alarm", fmt.Sprintf("$%.2f/alarm-month", p.AlarmMonth), p.AlarmMonth)
		case "aws:lb/loadBalancer:LoadBalancer":
			hourly("Application Load Balancer", fmt.Sprintf("$%.4f/h", p.ALBHour), p.ALBHour)
			hourly("Load balancer capacity units", fmt.Sprintf("~%.1f LCU at $%.3f/LCU-h", ALBLCUs, p.LCUHour), ALBLCUs*p.LCUHour)
			ipv4("Public IPv4 of the load balancer", len(get(in, "subnets").ArrayValue()))
		case "aws:rds/instance:Instance":
			class, copies := get(in, "instanceClass").StringValue(), 1.0
			basis := "single-AZ"
			if get(in, "multiAz").IsBool() && get(in, "multiAz").BoolValue() {
				copies, basis = 2, "Multi-AZ"
			}
			if price, ok := p.RDSHour[class]; ok {
				hourly("RDS PostgreSQL "+class, fmt.Sprintf("$%.4f/h, %s", price, basis), price*copies)
			} else {
				e.Unpriced = append(e.Unpriced, "RDS "+class)
			}
			gib := number(get(in, "allocatedStorage"))
			monthly("RDS storage", fmt.Sprintf("%.0f GiB gp3 at $%.3f/GiB-month, %s", gib, p.RDSGP3GiBMonth, basis), gib*p.RDSGP3GiBMonth*copies)
		case "aws:ssm/parameter:Parameter":
			if get(in, "tier").IsString() && get(in, "tier").StringValue() == "Advanced" {
				monthly("SSM parameter "+r.Name, fmt.Sprintf("Advanced tier (over 4 KiB) at $%.2f/month", p.SSMAdvancedParameterMonth), p.SSMAdvancedParameterMonth)
			}
		case "aws:s3/bucketV2:BucketV2":
			if r.Name == "media" {
				monthly("S3 media", fmt.Sprintf("~%d GiB at $%.4f/GiB-month", MediaGiB, p.S3GiBMonth), MediaGiB*p.S3GiBMonth)
			}
		}
	}
	sort.SliceStable(e.Lines, func(i, j int) bool { return e.Lines[i].Monthly > e.Lines[j].Monthly })
	return e, nil
}

func regions() []string {
	var out []string
	for r := range Tables {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Markdown renders the estimate as the README shows it.
func (e Estimate) Markdown() string {
	var b strings.Builder
	b.WriteString("| Item | Basis | Monthly |\n|---|---|---|\n")
	for _, l := range e.Lines {
		fmt.Fprintf(&b, "| %s | %s | $%.2f |\n", l.Item, l.Basis, l.Monthly)
	}
	fmt.Fprintf(&b, "| **Total** | %s, %d h/month | **$%.2f** |\n", Tables[e.Region].Source, HoursPerMonth, e.Total())
	for _, u := range e.Unpriced {
		fmt.Fprintf(&b, "\n(no price for %s: not in the total)\n", u)
	}
	return b.String()
}
