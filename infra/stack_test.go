package infra_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

var config = synth.ExampleConfig

// sshConfig is config with matrix:access ssh.
var sshConfig = synth.ExampleSSHConfig

// modes runs a test in both engine modes: preview (computed values unknown,
// as `pulumi preview` sees them) and update.
var modes = []struct {
	name   string
	dryRun bool
}{{"preview", true}, {"update", false}}

func run(t *testing.T, dryRun bool, raw map[string]string) *synth.Result {
	t.Helper()
	res, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: raw, DryRun: dryRun})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

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

var get = mock.Get

const (
	ruleType  = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	recType   = "aws:route53/record:Record"
	instType  = "aws:ec2/instance:Instance"
	volType   = "aws:ebs/volume:Volume"
	subType   = "aws:ec2/subnet:Subnet"
	vpcType   = "aws:ec2/vpc:Vpc"
	eipType   = "aws:ec2/eip:Eip"
	provType  = "pulumi:providers:aws"
	keyType   = "tls:index/privateKey:PrivateKey"
	routeType = "aws:ec2/routeTable:RouteTable"
)

// playbookPorts is the firewall list of the playbook's docs at the pinned
// commit: what must be open for the playbook's services to work
// (docs/prerequisites.md; docs/configuring-playbook-turn.md for coturn;
// docs/configuring-playbook-livekit-server.md, "Adjusting firewall rules",
// for the LiveKit Server behind Element Call).
func playbookPorts(turn, calls bool) []string {
	out := []string{"80/tcp", "443/tcp", "443/udp", "8448/tcp", "8448/udp"}
	if turn {
		out = append(out, "3478/tcp", "3478/udp", "5349/tcp", "5349/udp", "49152-49172/udp")
	}
	if calls {
		out = append(out, "7881/tcp", "7882/udp", "3479/udp", "5350/tcp", "30000-30020/udp")
	}
	return out
}

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
			if want := playbookPorts(turn, calls != "none"); !sameSet(got, want) {
				t.Errorf("turn=%v calls=%s: ports %v, playbook documents %v", turn, calls, got, want)
			}
		}
	}
}

// TestFirewall checks the declared rules: every public port for each IP
// family the host has, SSH only from the configured sources with
// matrix:access ssh and from nowhere with ssm (the default), all described.
func TestFirewall(t *testing.T) {
	for _, m := range modes {
		for _, tc := range []struct {
			ipv6, turn, calls bool
			access            string
		}{{true, false, false, "ssh"}, {false, false, false, "ssh"}, {true, true, false, "ssh"}, {false, true, false, "ssh"}, {true, false, true, "ssh"}, {false, true, true, "ssh"}, {true, false, false, "ssm"}, {false, true, true, "ssm"}} {
			t.Run(fmt.Sprintf("%s/ipv6=%v/turn=%v/calls=%v/access=%s", m.name, tc.ipv6, tc.turn, tc.calls, tc.access), func(t *testing.T) {
				calls := "none"
				if tc.calls {
					calls = "element-call"
				}
				ssh := `["203.0.113.7/32","198.51.100.0/24"]`
				if tc.ipv6 {
					ssh = `["203.0.113.7/32","198.51.100.0/24","2001:db8::/64"]`
				}
				raw := config("matrix:ipv6", fmt.Sprint(tc.ipv6), "matrix:turn", fmt.Sprint(tc.turn), "matrix:calls", calls)
				if tc.access == "ssh" {
					raw = sshConfig("matrix:ipv6", fmt.Sprint(tc.ipv6), "matrix:turn", fmt.Sprint(tc.turn), "matrix:calls", calls, "matrix:sshAllowedCidrs", ssh)
				}
				res := run(t, m.dryRun, raw)
				var public, sshSources []string
				for _, r := range res.Cloud.Find(ruleType) {
					port := fmt.Sprintf("%v/%s", get(r.Inputs, "fromPort").NumberValue(), get(r.Inputs, "ipProtocol").StringValue())
					if to := get(r.Inputs, "toPort").NumberValue(); to != get(r.Inputs, "fromPort").NumberValue() {
						port = fmt.Sprintf("%v-%v/%s", get(r.Inputs, "fromPort").NumberValue(), to, get(r.Inputs, "ipProtocol").StringValue())
					}
					src := get(r.Inputs, "cidrIpv4")
					if src.IsNull() {
						src = get(r.Inputs, "cidrIpv6")
					}
					if get(r.Inputs, "description").StringValue() == "" {
						t.Errorf("rule %s has no description", r.Name)
					}
					if port == "22/tcp" {
						sshSources = append(sshSources, src.StringValue())
						continue
					}
					if s := src.StringValue(); s != "0.0.0.0/0" && s != "::/0" {
						t.Errorf("public rule %s from %s", r.Name, s)
					}
					public = append(public, port+" "+src.StringValue())
				}
				var want []string
				for _, p := range playbookPorts(tc.turn, tc.calls) {
					want = append(want, p+" 0.0.0.0/0")
					if tc.ipv6 {
						want = append(want, p+" ::/0")
					}
				}
				if !sameSet(public, want) {
					t.Errorf("public rules:\n got %v\nwant %v", public, want)
				}
				var wantSSH []string
				if tc.access == "ssh" {
					wantSSH = []string{"203.0.113.7/32", "198.51.100.0/24"}
					if tc.ipv6 {
						wantSSH = append(wantSSH, "2001:db8::/64")
					}
				}
				if !sameSet(sshSources, wantSSH) {
					t.Errorf("ssh sources %v, want %v", sshSources, wantSSH)
				}
			})
		}
	}
}

func TestNetwork(t *testing.T) {
	for _, m := range modes {
		for _, ipv6 := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/ipv6=%v", m.name, ipv6), func(t *testing.T) {
				res := run(t, m.dryRun, config("matrix:ipv6", fmt.Sprint(ipv6), "matrix:vpcCidr", "10.8.0.0/16"))
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
					case ipv6 && m.dryRun && !v6.IsComputed():
						t.Errorf("subnet %s IPv6 block %v should be unknown in preview", s.Name, v6)
					case ipv6 && !m.dryRun && !strings.HasSuffix(v6.StringValue(), "::/64"):
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

func TestHost(t *testing.T) {
	for _, m := range modes {
		for _, protect := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/protect=%v", m.name, protect), func(t *testing.T) {
				res := run(t, m.dryRun, config("matrix:protect", fmt.Sprint(protect), "matrix:rootVolumeGiB", "30", "matrix:dataVolumeGiB", "50"))
				inst := res.Cloud.Find(instType)[0]
				if got := get(inst.Inputs, "metadataOptions", "httpTokens").StringValue(); got != "required" {
					t.Errorf("IMDS tokens %q, want required (IMDSv2)", got)
				}
				root := get(inst.Inputs, "rootBlockDevice").ObjectValue()
				if !get(root, "encrypted").BoolValue() || get(root, "volumeType").StringValue() != "gp3" || get(root, "volumeSize").NumberValue() != 30 {
					t.Errorf("root device %v", root)
				}
				if get(inst.Inputs, "disableApiTermination").BoolValue() != protect {
					t.Errorf("termination protection %v, want %v", get(inst.Inputs, "disableApiTermination"), protect)
				}
				if !slices.Contains(inst.IgnoreChanges, "ami") {
					t.Errorf("instance ignoreChanges %v: a newer AMI would replace the host", inst.IgnoreChanges)
				}
				if att := res.Cloud.Find("aws:ec2/volumeAttachment:VolumeAttachment")[0]; !att.DeleteBeforeReplace {
					t.Error("the data volume attachment is not deleted before it is replaced; a new host could not attach the volume")
				}
				if get(inst.Inputs, "ami").StringValue() != res.Homeserver.Facts.AMI || !strings.HasPrefix(res.Homeserver.Facts.AMI, "ami-0") {
					t.Errorf("instance AMI %v, looked up %q", get(inst.Inputs, "ami"), res.Homeserver.Facts.AMI)
				}
				ud := get(inst.Inputs, "userData").StringValue()
				if !strings.HasPrefix(ud, "#cloud-config\n") || !strings.Contains(ud, "fqdn: matrix.example.org") || strings.Contains(ud, "packages") || strings.Contains(ud, "runcmd") {
					t.Errorf("user data does more than name the host:\n%s", ud)
				}
				vol := res.Cloud.Find(volType)[0]
				if !get(vol.Inputs, "encrypted").BoolValue() || get(vol.Inputs, "type").StringValue() != "gp3" || get(vol.Inputs, "size").NumberValue() != 50 {
					t.Errorf("data volume %v", vol.Inputs)
				}
				if get(vol.Inputs, "availabilityZone").StringValue() != res.Homeserver.Facts.Zones[0] {
					t.Errorf("data volume in %v, host subnet in %s", get(vol.Inputs, "availabilityZone"), res.Homeserver.Facts.Zones[0])
				}
				if vol.Protect != protect || vol.RetainOnDelete != protect {
					t.Errorf("data volume protect=%v retain=%v, want %v", vol.Protect, vol.RetainOnDelete, protect)
				}
				att := res.Cloud.Find("aws:ec2/volumeAttachment:VolumeAttachment")[0]
				if get(att.Inputs, "deviceName").StringValue() != infra.DataDevice {
					t.Errorf("attached at %v", get(att.Inputs, "deviceName"))
				}
				if len(res.Cloud.Find("aws:ec2/eipAssociation:EipAssociation")) != 1 {
					t.Error("elastic IP not associated")
				}
			})
		}
	}
}

func TestSnapshotsAndRecovery(t *testing.T) {
	res := run(t, false, config("matrix:snapshotRetentionDays", "14"))
	pol := res.Cloud.Find("aws:dlm/lifecyclePolicy:LifecyclePolicy")[0].Inputs
	sched := get(pol, "policyDetails", "schedules").ArrayValue()[0].ObjectValue()
	if get(sched, "retainRule", "interval").NumberValue() != 14 || get(sched, "retainRule", "intervalUnit").StringValue() != "DAYS" {
		t.Errorf("retain rule %v", get(sched, "retainRule"))
	}
	if get(sched, "createRule", "interval").NumberValue() != 24 {
		t.Errorf("create rule %v", get(sched, "createRule"))
	}
	target := get(pol, "policyDetails", "targetTags").ObjectValue()
	vol := res.Cloud.Find(volType)[0].Inputs
	for k, v := range target {
		if get(vol, "tags", string(k)).StringValue() != v.StringValue() {
			t.Errorf("policy targets %s=%v, the data volume is not tagged so", k, v)
		}
	}
	if len(target) == 0 {
		t.Error("policy has no target tags")
	}
	alarm := res.Cloud.Find("aws:cloudwatch/metricAlarm:MetricAlarm")[0].Inputs
	if get(alarm, "metricName").StringValue() != "StatusCheckFailed_System" ||
		get(alarm, "alarmActions").ArrayValue()[0].StringValue() != "arn:aws:automate:eu-central-1:ec2:recover" ||
		get(alarm, "dimensions", "InstanceId").StringValue() != res.Outputs["instanceId"].Value {
		t.Errorf("recovery alarm %v", alarm)
	}
}

func TestPinnedAMI(t *testing.T) {
	res := run(t, false, config("matrix:amiId", "ami-0123456789abcdef0"))
	inst := res.Cloud.Find(instType)[0]
	if get(inst.Inputs, "ami").StringValue() != "ami-0123456789abcdef0" || slices.Contains(inst.IgnoreChanges, "ami") {
		t.Errorf("pinned AMI: ami %v, ignoreChanges %v", get(inst.Inputs, "ami"), inst.IgnoreChanges)
	}
	if res.Outputs["amiId"].Value != "ami-0123456789abcdef0" || res.Outputs["latestAmiId"].Value != res.Homeserver.Facts.AMI {
		t.Errorf("outputs amiId %v latestAmiId %v", res.Outputs["amiId"].Value, res.Outputs["latestAmiId"].Value)
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

func TestDNSPerToggle(t *testing.T) {
	for _, m := range modes {
		for _, tc := range []struct {
			kv   []string
			want []string
		}{
			{nil, []string{"A example.org", "AAAA example.org", "A matrix.example.org", "AAAA matrix.example.org", "CNAME element.example.org"}},
			{[]string{"matrix:ipv6", "false"}, []string{"A example.org", "A matrix.example.org", "CNAME element.example.org"}},
			{[]string{"matrix:serveBaseDomain", "false"}, []string{"A matrix.example.org", "AAAA matrix.example.org", "CNAME element.example.org"}},
			{[]string{"matrix:element", "false"}, []string{"A example.org", "AAAA example.org", "A matrix.example.org", "AAAA matrix.example.org"}},
			{[]string{"matrix:playbookVars", `{"ntfy_enabled":true,"jitsi_enabled":true}`, "matrix:element", "false", "matrix:serveBaseDomain", "false", "matrix:ipv6", "false"},
				[]string{"A matrix.example.org", "CNAME ntfy.example.org", "CNAME jitsi.example.org"}},
			// MAS is served at matrix.<domain>/auth: no name of its own,
			// until the operator gives it one.
			{[]string{"matrix:auth", "mas", "matrix:element", "false", "matrix:serveBaseDomain", "false", "matrix:ipv6", "false"}, []string{"A matrix.example.org"}},
			{[]string{"matrix:auth", "mas", "matrix:playbookVars", `{"matrix_authentication_service_hostname":"auth.example.org"}`, "matrix:element", "false", "matrix:serveBaseDomain", "false", "matrix:ipv6", "false"},
				[]string{"A matrix.example.org", "CNAME auth.example.org"}},
			{[]string{"matrix:playbookVars", `{"matrix_authentication_service_hostname":"auth.example.org"}`, "matrix:element", "false", "matrix:serveBaseDomain", "false", "matrix:ipv6", "false"},
				[]string{"A matrix.example.org"}},
		} {
			t.Run(m.name+"/"+strings.Join(tc.kv, "="), func(t *testing.T) {
				res := run(t, m.dryRun, config(append(tc.kv, "matrix:dnsTtl", "120")...))
				var got []string
				for _, r := range res.Cloud.Find(recType) {
					in := r.Inputs
					got = append(got, get(in, "type").StringValue()+" "+get(in, "name").StringValue())
					if get(in, "ttl").NumberValue() != 120 || get(in, "zoneId").StringValue() != res.Homeserver.Facts.ZoneID {
						t.Errorf("%s: ttl/zone %v %v", r.Name, get(in, "ttl"), get(in, "zoneId"))
					}
					value := get(in, "records").ArrayValue()[0]
					switch typ := get(in, "type").StringValue(); {
					case typ == "CNAME" && value.StringValue() != "matrix.example.org":
						t.Errorf("%s points at %v", r.Name, value)
					case typ == "A" && !m.dryRun && value.StringValue() != res.Outputs["publicIpv4"].Value:
						t.Errorf("%s points at %v, not the Elastic IP %v", r.Name, value, res.Outputs["publicIpv4"].Value)
					case typ == "AAAA" && !m.dryRun && value.StringValue() != res.Outputs["publicIpv6"].Value:
						t.Errorf("%s points at %v, not the host's IPv6 %v", r.Name, value, res.Outputs["publicIpv6"].Value)
					case typ != "CNAME" && m.dryRun && !value.IsComputed():
						t.Errorf("%s: address %v should be unknown in preview", r.Name, value)
					}
				}
				if !sameSet(got, tc.want) {
					t.Errorf("records\n got %v\nwant %v", got, tc.want)
				}
			})
		}
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

func TestOutputs(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			res := run(t, m.dryRun, config())
			want := map[string]any{
				"homeserverUrl": "https://matrix.example.org",
				"elementUrl":    "https://element.example.org",
				"userIdFormat":  "@user:example.org",
			}
			for k, v := range want {
				if res.Outputs[k].Value != v {
					t.Errorf("%s = %v, want %v", k, res.Outputs[k].Value, v)
				}
			}
			key := res.Outputs["sshPrivateKey"]
			if !key.Secret {
				t.Error("generated private key is not a secret output")
			}
			secrets := []string{"sshPrivateKey", "adminPassword", "ansibleEnvironment"}
			for name, o := range res.Outputs {
				if o.Secret != slices.Contains(secrets, name) {
					t.Errorf("%s: secret=%v", name, o.Secret)
				}
				if s, ok := o.Value.(string); ok && strings.Contains(s, "PRIVATE KEY") && !o.Secret {
					t.Errorf("%s carries key material", name)
				}
			}
			if _, ok := res.Outputs["elementCallUrl"]; ok {
				t.Error("elementCallUrl without matrix:calls")
			}
			calls := run(t, m.dryRun, config("matrix:calls", "element-call"))
			if got := calls.Outputs["elementCallUrl"].Value; got != "https://call.element.example.org" {
				t.Errorf("elementCallUrl = %v with matrix:calls element-call", got)
			}
			if res.Outputs["adminUserId"].Value != "@admin:example.org" {
				t.Errorf("adminUserId %v", res.Outputs["adminUserId"].Value)
			}
			if res.Outputs["playbookCommand"].Value != "pulumi stack output --stack test --show-secrets --json ansibleEnvironment | go run ./cmd/playbook --tags=self-check" {
				t.Errorf("playbookCommand %v", res.Outputs["playbookCommand"].Value)
			}
			if m.dryRun {
				return
			}
			if !strings.Contains(key.Value.(string), "BEGIN OPENSSH PRIVATE KEY") {
				t.Errorf("private key output is not an OpenSSH key")
			}
			// Through Session Manager, to the instance ID (matrix:access
			// ssm, the default).
			id := res.Outputs["instanceId"].Value.(string)
			proxy := "aws ssm start-session --target " + id + " --document-name AWS-StartSSHSession --parameters portNumber=%p --region eu-central-1"
			if res.Outputs["sshCommand"].Value != "(umask 077 && rm -f matrix-ssh.key && pulumi stack output sshPrivateKey --show-secrets > matrix-ssh.key) && ssh -i matrix-ssh.key -o ProxyCommand='"+proxy+"' ubuntu@"+id {
				t.Errorf("ssh command %v", res.Outputs["sshCommand"].Value)
			}
			if got, want := res.Outputs["sessionCommand"].Value, "aws ssm start-session --target "+id+" --region eu-central-1"; got != want {
				t.Errorf("sessionCommand %v, want %v", got, want)
			}
			// With matrix:access ssh, to the address, and no session.
			ssh := run(t, false, sshConfig())
			ip := ssh.Outputs["publicIpv4"].Value.(string)
			if ssh.Outputs["sshCommand"].Value != "(umask 077 && rm -f matrix-ssh.key && pulumi stack output sshPrivateKey --show-secrets > matrix-ssh.key) && ssh -i matrix-ssh.key ubuntu@"+ip {
				t.Errorf("ssh command with access ssh %v", ssh.Outputs["sshCommand"].Value)
			}
			if _, ok := ssh.Outputs["sessionCommand"]; ok {
				t.Errorf("sessionCommand with access ssh: %v", ssh.Outputs["sessionCommand"].Value)
			}
			if ns := res.Outputs["nameServers"].Value.([]any); len(ns) != 4 {
				t.Errorf("name servers %v", ns)
			}
		})
	}
}

func TestGivenPublicKey(t *testing.T) {
	pub := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIJvGDR4Dkbc3USWRXrEcdqhHfyZ2sxG6i6A8B5hcCYm operator@laptop"
	res := run(t, false, sshConfig("matrix:sshPublicKey", pub))
	if n := len(res.Cloud.Find(keyType)); n != 0 {
		t.Errorf("%d keys generated although one was given", n)
	}
	if _, ok := res.Outputs["sshPrivateKey"]; ok {
		t.Error("sshPrivateKey exported although no key was generated")
	}
	if got := get(res.Cloud.Find("aws:ec2/keyPair:KeyPair")[0].Inputs, "publicKey").StringValue(); got != pub {
		t.Errorf("key pair holds %q", got)
	}
	if res.Outputs["sshCommand"].Value != "ssh ubuntu@"+res.Outputs["publicIpv4"].Value.(string) {
		t.Errorf("ssh command %v", res.Outputs["sshCommand"].Value)
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

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// BenchmarkProgram measures one evaluation of the whole program under
// mocks: config validation, look-ups and every resource declaration.
//
//	go test ./infra -run '^$' -bench Program -benchmem
func BenchmarkProgram(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			raw := config("matrix:turn", "true", "matrix:playbookVars", `{"ntfy_enabled":true}`)
			var n int
			for b.Loop() {
				res, err := synth.Run(synth.Options{Project: "matrix", Stack: "bench", Config: raw, DryRun: m.dryRun})
				if err != nil {
					b.Fatal(err)
				}
				n = len(res.Cloud.Resources())
			}
			b.ReportMetric(float64(n), "resources/op")
		})
	}
}
