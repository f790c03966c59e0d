package pricelist

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/cost"
)

// The fixtures under testdata are offer files written by hand in the
// Bulk API's layout and format
// (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-ppslong.html):
// the offer index, each service's region index and an offer file per
// region (us-east-1, whose usage types have no prefix, and eu-west-1, whose
// have "EU-"), with twins of the priced products that must not be taken
// (Windows, Dedicated, capacity reservations, Multi-AZ, MySQL, gp2...),
// Reserved terms, and tiered prices with a free first tier.

func fixtureServer(t *testing.T) *Client {
	t.Helper()
	srv := httptest.NewServer(http.StripPrefix("/offers/v1.0/aws", http.FileServer(http.Dir("testdata/offers/v1.0/aws"))))
	t.Cleanup(srv.Close)
	return &Client{Base: srv.URL, HTTP: srv.Client()}
}

func TestBuildFromFixtures(t *testing.T) {
	c := fixtureServer(t)
	s, err := c.Build(context.Background(), cost.Rules(), []string{"us-east-1", "eu-west-1"}, "2026-11-22")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	// What the estimate loads must accept what the generator writes.
	if _, err := cost.Parse(b); err != nil {
		t.Fatalf("the generated snapshot does not load: %v", err)
	}
	want := map[string]map[string]cost.Price{
		"us-east-1": {
			"ec2:t3.small":                {USD: 0.0208, Unit: "Hrs"},
			"ec2:t4g.large":               {USD: 0.0672, Unit: "Hrs"},
			"ebs:gp3":                     {USD: 0.08, Unit: "GB-Mo"},
			"ebs:gp2":                     {USD: 0.10, Unit: "GB-Mo"},
			"eks:cluster-hour":            {USD: 0.10, Unit: "Hours"},
			"eks:cluster-hour-extended":   {USD: 0.60, Unit: "Hours"},
			"ec2:cpu-credit:t3":           {USD: 0.05, Unit: "vCPU-Hours"},
			"rds:postgresql:db.t4g.micro": {USD: 0.016, Unit: "Hrs"},
			"rds:gp3":                     {USD: 0.115, Unit: "GB-Mo"},
			"elb:alb-hour":                {USD: 0.0225, Unit: "Hrs"},
			"elb:nlb-nlcu":                {USD: 0.006, Unit: "LCU-Hrs"},
			"s3:standard":                 {USD: 0.023, Unit: "GB-Mo"},
			"sns:email":                   {USD: 0.00002, Unit: "Notifications", Free: 1000},
			"transfer:internet-out":       {USD: 0.09, Unit: "GB"},
			"cloudwatch:alarm":            {USD: 0.10, Unit: "Alarms"},
		},
		"eu-west-1": {
			"ec2:t3.small": {USD: 0.0229, Unit: "Hrs"},
			"ebs:gp3":      {USD: 0.088, Unit: "GB-Mo"},
			"ebs:gp2":      {USD: 0.11, Unit: "GB-Mo"},
			"elb:alb-hour": {USD: 0.0248, Unit: "Hrs"},
		},
		cost.Global: {
			"route53:health-check-aws":     {USD: 0.50, Unit: "Health-Check", Free: 50},
			"route53:health-check-non-aws": {USD: 0.75, Unit: "Health-Check"},
			"route53:queries":              {USD: 0.0000004, Unit: "Queries"},
		},
	}
	for region, prices := range want {
		for key, w := range prices {
			got := s.Regions[region][key]
			if got.USD != w.USD || got.Unit != w.Unit || got.Free != w.Free {
				t.Errorf("%s %s = %+v, want %+v", region, key, got, w)
			}
			if got.SKU == "" || s.Sources[got.Source] == "" {
				t.Errorf("%s %s: SKU %q, source %q not recorded", region, key, got.SKU, got.Source)
			}
		}
	}
	for _, r := range cost.Rules() {
		for _, region := range []string{"us-east-1", "eu-west-1"} {
			if r.Global {
				region = cost.Global
			}
			if _, ok := s.Regions[region][r.Key]; !ok {
				t.Errorf("%s: %s not extracted", region, r.Key)
			}
		}
	}
	if !strings.Contains(s.Source, "published 2026-11-01") || s.Date != "2026-11-22" {
		t.Errorf("source %q, date %q", s.Source, s.Date)
	}
	if src := s.Sources["AmazonEC2 eu-west-1"]; !strings.Contains(src, "version 20261101000000") {
		t.Errorf("EC2 eu-west-1 source %q", src)
	}
}

func offerFile(t *testing.T, body string) string {
	t.Helper()
	return `{"formatVersion":"v1.0","offerCode":"AmazonEC2","version":"v1","publicationDate":"2026-11-01T00:00:00Z",` + body + `}`
}

const t3small = `"P1":{"sku":"P1","productFamily":"Compute Instance","attributes":{"usagetype":"BoxUsage:t3.small","instanceType":"t3.small","operatingSystem":"Linux","tenancy":"Shared","preInstalledSw":"NA","capacitystatus":"Used","licenseModel":"No License required","operation":"RunInstances","regionCode":"us-east-1"}}`

func onDemand(sku, unit, usd string) string {
	return `"` + sku + `":{"` + sku + `.JRTCKXETXF":{"offerTermCode":"JRTCKXETXF","sku":"` + sku + `","priceDimensions":{"` + sku + `.JRTCKXETXF.6YS6EN2CT7":{"unit":"` + unit + `","beginRange":"0","endRange":"Inf","pricePerUnit":{"USD":"` + usd + `"}}}}}`
}

func TestExtractRefuses(t *testing.T) {
	rule := []cost.Rule{}
	for _, r := range cost.Rules() {
		if r.Key == "ec2:t3.small" {
			rule = append(rule, r)
		}
	}
	twin := strings.ReplaceAll(strings.ReplaceAll(t3small, `"P1"`, `"P2"`), `"sku":"P1"`, `"sku":"P2"`)
	for _, c := range []struct{ name, file, want string }{
		{"no product", offerFile(t, `"products":{},"terms":{"OnDemand":{}}`), "ec2:t3.small: no product matches"},
		{"ambiguous", offerFile(t, `"products":{`+t3small+`,`+twin+`},"terms":{"OnDemand":{`+onDemand("P1", "Hrs", "0.02")+`}}`), "2 products match (P1, P2)"},
		{"unit", offerFile(t, `"products":{`+t3small+`},"terms":{"OnDemand":{`+onDemand("P1", "Hours", "0.02")+`}}`), `unit "Hours", the rule expects "Hrs"`},
		{"no on-demand term", offerFile(t, `"products":{`+t3small+`},"terms":{"Reserved":{`+onDemand("P1", "Hrs", "0.01")+`}}`), "SKU P1 has no on-demand price"},
		{"terms first", offerFile(t, `"terms":{"OnDemand":{`+onDemand("P1", "Hrs", "0.02")+`}},"products":{`+t3small+`}`), "terms before products"},
		{"other region", strings.ReplaceAll(offerFile(t, `"products":{`+t3small+`},"terms":{"OnDemand":{`+onDemand("P1", "Hrs", "0.02")+`}}`), `"regionCode":"us-east-1"`, `"regionCode":"us-east-2"`), "no product matches"},
	} {
		_, err := Extract(strings.NewReader(c.file), "us-east-1", rule)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
	o, err := Extract(strings.NewReader(offerFile(t, `"products":{`+t3small+`},"terms":{"OnDemand":{`+onDemand("P1", "Hrs", "0.0208000000")+`}}`)), "us-east-1", rule)
	if err != nil || o.Prices["ec2:t3.small"].USD != 0.0208 || o.Version != "v1" {
		t.Errorf("offer %+v, err %v", o, err)
	}
}

func TestUsageMatches(t *testing.T) {
	for got, want := range map[string]bool{
		"BoxUsage:t3.small":           true,
		"EUC1-BoxUsage:t3.small":      true,
		"EU-BoxUsage:t3.small":        true,
		"EUC1-BoxUsage:t3.small.x":    false,
		"EUC1-DedicatedUsage:t3.smal": false,
		"Outposts-BoxUsage:t3.small":  false,
		"EUC1-TS-BoxUsage:t3.small":   false,
	} {
		if usageMatches(got, "BoxUsage:t3.small") != want {
			t.Errorf("usageMatches(%q) = %v", got, !want)
		}
	}
}

func TestDiff(t *testing.T) {
	a := &cost.Snapshot{Regions: map[string]map[string]cost.Price{"r": {"k": {USD: 1, Unit: "Hrs"}, "gone": {USD: 2}}}}
	b := &cost.Snapshot{Regions: map[string]map[string]cost.Price{"r": {"k": {USD: 1.5, Unit: "Hrs"}, "new": {USD: 3}}}}
	got := strings.Join(Diff(a, b), "\n")
	for _, w := range []string{"r gone: gone (was $2/)", "r k: $1/Hrs -> $1.5/Hrs", "r new: new, $3/"} {
		if !strings.Contains(got, w) {
			t.Errorf("diff lacks %q:\n%s", w, got)
		}
	}
	if d := Diff(a, a); len(d) != 0 {
		t.Errorf("diff of equal snapshots: %v", d)
	}
}
