package infra_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

var (
	config   = synth.ExampleConfig
	haConfig = synth.ExampleHAConfig
	modes    = synthtest.Modes()
	run      = synthtest.Run
	one      = synthtest.One
	get      = mock.Get
)

func inputs(t *testing.T, c *mock.Cloud, typ, name string) resource.PropertyMap {
	t.Helper()
	for _, r := range c.Find(typ) {
		if r.Name == name {
			return r.Inputs
		}
	}
	t.Fatalf("no %s named %q", typ, name)
	return nil
}

const (
	recType   = "aws:route53/record:Record"
	instType  = "aws:ec2/instance:Instance"
	volType   = "aws:ebs/volume:Volume"
	subType   = "aws:ec2/subnet:Subnet"
	vpcType   = "aws:ec2/vpc:Vpc"
	provType  = "pulumi:providers:aws"
	routeType = "aws:ec2/routeTable:RouteTable"
	paramType = "aws:ssm/parameter:Parameter"
)

func TestPortTableMatchesPlaybook(t *testing.T) {
	for _, turn := range []bool{false, true} {
		for _, calls := range []string{"none", "element-call"} {
			cfg, err := infra.ParseConfig(config("matrix:turn", fmt.Sprint(turn), "matrix:calls", calls))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range infra.PublicPorts(cfg) {
				got = append(got, p.String())
				if p.Purpose == "" {
					t.Errorf("%s has no description", p)
				}
			}
			if want := synthtest.PlaybookPorts(turn, calls != "none"); !synthtest.SameSet(got, want) {
				t.Errorf("turn=%v calls=%s: ports %v, playbook documents %v", turn, calls, got, want)
			}
		}
	}
}

func TestNetwork(t *testing.T) {
	for _, m := range modes {
		for _, ipv6 := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/ipv6=%v", m.Name, ipv6), func(t *testing.T) {
				res := run(t, m.DryRun, config("matrix:ipv6", fmt.Sprint(ipv6), "matrix:vpcCidr", "10.8.0.0/16"))
				vpc := res.Cloud.Find(vpcType)
				if len(vpc) != 1 || get(vpc[0].Inputs, "cidrBlock").StringValue() != "10.8.0.0/16" || get(vpc[0].Inputs, "assignGeneratedIpv6CidrBlock").BoolValue() != ipv6 {
					t.Fatalf("vpc inputs %v", vpc)
				}
				var zones, cidrs []string
				for _, s := range res.Cloud.Find(subType) {
					zones = append(zones, get(s.Inputs, "availabilityZone").StringValue())
					cidrs = append(cidrs, get(s.Inputs, "cidrBlock").StringValue())
					v6 := get(s.Inputs, "ipv6CidrBlock")
					switch {
					case !ipv6 && !v6.IsNull():
						t.Errorf("subnet %s has IPv6 %v without matrix:ipv6", s.Name, v6)
					case ipv6 && m.DryRun && !v6.IsComputed():
						t.Errorf("subnet %s IPv6 block %v should be unknown in preview", s.Name, v6)
					case ipv6 && !m.DryRun && !strings.HasSuffix(v6.StringValue(), "::/64"):
						t.Errorf("subnet %s IPv6 block %v", s.Name, v6)
					}
				}
				// Zones come from the region's lookup, never from a list in code.
				if !reflect.DeepEqual(zones, []string{"eu-central-1a", "eu-central-1b"}) {
					t.Errorf("zones %v", zones)
				}
				if !reflect.DeepEqual(cidrs, []string{"10.8.0.0/24", "10.8.1.0/24"}) {
					t.Errorf("cidrs %v", cidrs)
				}
				routes := get(inputs(t, res.Cloud, routeType, "public"), "routes").ArrayValue()
				var dests []string
				for _, r := range routes {
					if d := get(r.ObjectValue(), "cidrBlock"); d.IsString() {
						dests = append(dests, d.StringValue())
					}
					if d := get(r.ObjectValue(), "ipv6CidrBlock"); d.IsString() {
						dests = append(dests, d.StringValue())
					}
				}
				want := []string{"0.0.0.0/0"}
				if ipv6 {
					want = append(want, "::/0")
				}
				if !reflect.DeepEqual(dests, want) {
					t.Errorf("default routes %v, want %v", dests, want)
				}
			})
		}
	}
}

func TestZonesOfferingTheType(t *testing.T) {
	// The zones stay the first two of the region whatever the type: a type
	// change must never move the subnets and the data volume.
	for _, typ := range []string{"t3.small", "m7g.large"} {
		res := run(t, false, config("matrix:instanceType", typ))
		if got := res.Homeserver.Facts.Zones; !reflect.DeepEqual(got, []string{"eu-central-1a", "eu-central-1b"}) {
			t.Errorf("%s: zones %v", typ, got)
		}
	}
	cloud := mock.New(map[string]string{"example.org": "Z1"})
	cloud.Offerings = map[string][]string{"t3.small": {"b", "c"}}
	_, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: config(), Cloud: cloud})
	wantProblem(t, err, "matrix:instanceType", "t3.small is not offered in [eu-central-1a], where the stack's subnets are ([eu-central-1a eu-central-1b]); pick another type")
	if n := len(cloud.Resources()); n > 1 {
		t.Errorf("%d resources declared before the lookup failed; only the provider may be", n)
	}
}

func TestAMIFollowsArchitecture(t *testing.T) {
	for typ, want := range map[string]string{"t3.small": "amd64", "t4g.small": "arm64", "m7g.large": "arm64", "m7i.large": "amd64"} {
		res := run(t, false, config("matrix:instanceType", typ))
		if name := res.Homeserver.Facts.AMIName; !strings.Contains(name, "ubuntu-noble-24.04-"+want+"-server") {
			t.Errorf("%s: AMI %s", typ, name)
		}
	}
	// The image is a per-region lookup, never a constant.
	a := run(t, false, config("aws:region", "eu-central-1")).Homeserver.Facts.AMI
	b := run(t, false, config("aws:region", "us-east-1")).Homeserver.Facts.AMI
	if a == b {
		t.Errorf("same AMI %s in two regions", a)
	}
}

func TestZoneLookup(t *testing.T) {
	// chat.example.org lives in the example.org zone: the nearest parent wins.
	cloud := mock.New(map[string]string{"example.org": "ZPARENT", "other.org": "ZOTHER"})
	res, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: config("matrix:domain", "chat.example.org"), Cloud: cloud})
	if err != nil {
		t.Fatal(err)
	}
	if res.Homeserver.Facts.ZoneID != "ZPARENT" {
		t.Errorf("zone %s", res.Homeserver.Facts.ZoneID)
	}
	_, err = synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: config("matrix:domain", "chat.example.org", "matrix:hostedZoneId", "ZOTHER"), Cloud: mock.New(cloud.Zones)})
	wantProblem(t, err, "matrix:hostedZoneId", "hosted zone ZOTHER is other.org, which cannot hold records for chat.example.org; give the zone of the domain or remove the key")
	empty := mock.New(nil)
	_, err = synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: config(), Cloud: empty})
	wantProblem(t, err, "matrix:domain", "no public Route 53 hosted zone for example.org or its parent domains in this account; create one (and delegate the domain to its name servers) or set matrix:hostedZoneId")
	if n := len(empty.Resources()); n > 1 {
		t.Errorf("%d resources declared before the zone lookup failed", n)
	}
}

func TestTagsAndProvider(t *testing.T) {
	res := run(t, false, config())
	p := res.Cloud.Find(provType)
	if len(p) != 1 {
		t.Fatalf("providers %v", p)
	}
	tags := get(p[0].Inputs, "defaultTags", "tags").ObjectValue()
	want := map[string]string{"Project": "matrix", "Stack": "test", "ManagedBy": "pulumi"}
	for k, v := range want {
		if tags[resource.PropertyKey(k)].StringValue() != v {
			t.Errorf("default tag %s=%v, want %s", k, tags[resource.PropertyKey(k)], v)
		}
	}
	if get(p[0].Inputs, "region").StringValue() != "eu-central-1" {
		t.Errorf("provider region %v", get(p[0].Inputs, "region"))
	}
	for _, r := range res.Cloud.Resources() {
		if r.Type != provType && r.Parent == "" {
			t.Errorf("%s %s is not parented to the component", r.Type, r.Name)
		}
	}
}

func TestBadConfigDeclaresNothing(t *testing.T) {
	cloud := mock.New(nil)
	_, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: config("matrix:domain", "matrix.example.org"), Cloud: cloud})
	var ce *infra.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v", err)
	}
	if n := len(cloud.Resources()); n != 0 {
		t.Errorf("%d resources declared for a bad config", n)
	}
}

func wantProblem(t *testing.T, err error, key, msg string) {
	t.Helper()
	var ce *infra.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v, want a ConfigError", err)
	}
	for _, p := range ce.Problems {
		if p.Key == key && p.Message == msg {
			return
		}
	}
	t.Errorf("Problems %q lack %s: %s", ce.Problems, key, msg)
}

// BenchmarkProgram measures one evaluation of the whole program under
// mocks: config validation, look-ups and every resource declaration.
//
//	go test ./infra -run '^$' -bench Program -benchmem
func BenchmarkProgram(b *testing.B) {
	for _, m := range modes {
		b.Run(m.Name, func(b *testing.B) {
			raw := config("matrix:turn", "true", "matrix:playbookVars", `{"ntfy_enabled":true}`)
			var n int
			for b.Loop() {
				res, err := synth.Run(synth.Options{Project: "matrix", Stack: "bench", Config: raw, DryRun: m.DryRun})
				if err != nil {
					b.Fatal(err)
				}
				n = len(res.Cloud.Resources())
			}
			b.ReportMetric(float64(n), "resources/op")
		})
	}
}
