package single_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
)

var (
	config = synth.ExampleConfig
	// sshConfig is config with matrix:access ssh.
	sshConfig = synth.ExampleSSHConfig
	modes     = synthtest.Modes()
	run       = synthtest.Run
	one       = synthtest.One
	get       = mock.Get
	strOf     = synthtest.Str
)

const (
	ruleType   = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	recType    = "aws:route53/record:Record"
	instType   = "aws:ec2/instance:Instance"
	volType    = "aws:ebs/volume:Volume"
	subType    = "aws:ec2/subnet:Subnet"
	eipType    = "aws:ec2/eip:Eip"
	keyType    = "tls:index/privateKey:PrivateKey"
	policyType = "aws:iam/rolePolicy:RolePolicy"
)

// TestFirewall checks the declared rules: every public port for each IP
// family the host has, SSH only from the configured sources with
// matrix:access ssh and from nowhere with ssm (the default), all described.
func TestFirewall(t *testing.T) {
	for _, m := range modes {
		for _, tc := range []struct {
			ipv6, turn, calls bool
			access            string
		}{{true, false, false, "ssh"}, {false, false, false, "ssh"}, {true, true, false, "ssh"}, {false, true, false, "ssh"}, {true, false, true, "ssh"}, {false, true, true, "ssh"}, {true, false, false, "ssm"}, {false, true, true, "ssm"}} {
			t.Run(fmt.Sprintf("%s/ipv6=%v/turn=%v/calls=%v/access=%s", m.Name, tc.ipv6, tc.turn, tc.calls, tc.access), func(t *testing.T) {
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
				res := run(t, m.DryRun, raw)
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
				for _, p := range synthtest.PlaybookPorts(tc.turn, tc.calls) {
					want = append(want, p+" 0.0.0.0/0")
					if tc.ipv6 {
						want = append(want, p+" ::/0")
					}
				}
				if !synthtest.SameSet(public, want) {
					t.Errorf("public rules:\n got %v\nwant %v", public, want)
				}
				var wantSSH []string
				if tc.access == "ssh" {
					wantSSH = []string{"203.0.113.7/32", "198.51.100.0/24"}
					if tc.ipv6 {
						wantSSH = append(wantSSH, "2001:db8::/64")
					}
				}
				if !synthtest.SameSet(sshSources, wantSSH) {
					t.Errorf("ssh sources %v, want %v", sshSources, wantSSH)
				}
			})
		}
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
			t.Run(m.Name+"/"+strings.Join(tc.kv, "="), func(t *testing.T) {
				res := run(t, m.DryRun, config(append(tc.kv, "matrix:dnsTtl", "120")...))
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
					case typ == "A" && !m.DryRun && value.StringValue() != res.Outputs["publicIpv4"].Value:
						t.Errorf("%s points at %v, not the Elastic IP %v", r.Name, value, res.Outputs["publicIpv4"].Value)
					case typ == "AAAA" && !m.DryRun && value.StringValue() != res.Outputs["publicIpv6"].Value:
						t.Errorf("%s points at %v, not the host's IPv6 %v", r.Name, value, res.Outputs["publicIpv6"].Value)
					case typ != "CNAME" && m.DryRun && !value.IsComputed():
						t.Errorf("%s: address %v should be unknown in preview", r.Name, value)
					}
				}
				if !synthtest.SameSet(got, tc.want) {
					t.Errorf("records\n got %v\nwant %v", got, tc.want)
				}
			})
		}
	}
}

func TestOutputs(t *testing.T) {
	for _, m := range modes {
		t.Run(m.Name, func(t *testing.T) {
			res := run(t, m.DryRun, config())
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
			calls := run(t, m.DryRun, config("matrix:calls", "element-call"))
			if got := calls.Outputs["elementCallUrl"].Value; got != "https://call.element.example.org" {
				t.Errorf("elementCallUrl = %v with matrix:calls element-call", got)
			}
			if res.Outputs["adminUserId"].Value != "@admin:example.org" {
				t.Errorf("adminUserId %v", res.Outputs["adminUserId"].Value)
			}
			if res.Outputs["playbookCommand"].Value != "pulumi stack output --stack test --show-secrets --json ansibleEnvironment | go run ./cmd/playbook --tags=self-check" {
				t.Errorf("playbookCommand %v", res.Outputs["playbookCommand"].Value)
			}
			if m.DryRun {
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
