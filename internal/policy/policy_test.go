package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/stackfile"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

func synthesize(t *testing.T, stack string, raw map[string]string) Stack {
	t.Helper()
	res, err := synth.Run(synth.Options{Project: "matrix", Stack: stack, Config: raw})
	if err != nil {
		t.Fatalf("%s: %v", stack, err)
	}
	return Stack{Name: stack, Config: raw, Result: res}
}

var base = synth.ExampleConfig

// sshBase is base with matrix:access ssh and its SSH source.
var sshBase = synth.ExampleSSHConfig

var haBase = synth.ExampleHAConfig

func rules(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		if !slices.Contains(out, v.Rule) {
			out = append(out, v.Rule)
		}
	}
	return out
}

func TestCommittedStacks(t *testing.T) {
	stacks, err := stackfile.Stacks("../..")
	if err != nil || len(stacks) < 2 {
		t.Fatalf("stack files: %v %v", stacks, err)
	}
	for _, stack := range stacks {
		cfg, err := stackfile.Load("../..", "matrix", stack)
		if err != nil {
			t.Fatal(err)
		}
		if vs := Check(synthesize(t, stack, cfg.Values)); len(vs) > 0 {
			t.Errorf("%s violates policy:\n%v", stack, vs)
		}
	}
}

// TestGeneratedConfigs checks the invariants over a spread of valid
// configurations: every toggle, call stack, registration mode, access
// mode, mail and alerting choice, zone and instance family.
func TestGeneratedConfigs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	for i := range 40 {
		stack := pick("dev", "staging", "prod")
		raw := base(
			"matrix:ipv6", pick("true", "false"),
			"matrix:turn", pick("true", "false"),
			"matrix:calls", pick("none", "element-call"),
			"matrix:element", pick("true", "false"),
			"matrix:serveBaseDomain", pick("true", "false"),
			"matrix:instanceType", pick("t3.small", "t3.medium", "t4g.small", "m7i.large", "m7g.large"),
			"matrix:registration", pick("closed", "token", "open"),
			"matrix:playbookVars", pick(`{}`, `{"ntfy_enabled":true}`),
			"matrix:auth", pick("synapse", "mas"),
			"matrix:synapseWorkers", pick("none", "none", "one-of-each", "specialized-workers"),
			"matrix:sshPublicKey", pick("", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIJvGDR4Dkbc3USWRXrEcdqhHfyZ2sxG6i6A8B5hcCYm op"),
			"matrix:protect", pick("true", "false"),
			"matrix:provision", pick("true", "true", "false"),
			"matrix:email", pick("none", "ses"),
			"matrix:availabilityZone", pick("", "eu-central-1a", "eu-central-1b"),
		)
		if rng.IntN(3) == 0 {
			raw["matrix:alertEmail"] = "ops@example.org"
		}
		if raw["matrix:synapseWorkers"] != "none" {
			raw["matrix:instanceType"] = pick("t3.xlarge", "m7g.xlarge")
		}
		if stack == "prod" {
			raw["matrix:alertEmail"] = pick("ops@example.org", "matrix-alerts+prod@mail.example.co.uk")
			raw["matrix:protect"] = "true"
			raw["matrix:registration"] = pick("closed", "token")
		}
		if rng.IntN(2) == 0 {
			raw["matrix:access"], raw["matrix:sshAllowedCidrs"] = "ssh", `["203.0.113.7/32"]`
			if raw["matrix:ipv6"] == "true" && rng.IntN(2) == 0 {
				raw["matrix:sshAllowedCidrs"] = `["203.0.113.7/32","2001:db8::/64"]`
			}
		}
		if rng.IntN(3) == 0 {
			delete(raw, "matrix:access")
			delete(raw, "matrix:availabilityZone")
			raw["matrix:topology"], raw["matrix:sshAllowedCidrs"], raw["matrix:turn"], raw["matrix:sshPublicKey"] = "ha", "[]", "false", ""
			raw["matrix:calls"] = "none"
			raw["matrix:dbMultiAz"] = pick("true", "false")
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if vs := Check(synthesize(t, stack, raw)); len(vs) > 0 {
				t.Errorf("%s %v violates policy:\n%v", stack, raw, vs)
			}
		})
	}
}

// Each rule is shown to catch what it exists for. Where no valid
// configuration can produce the violation (validation or the program
// prevents it), the declared resources are altered the way a regression
// in the program would alter them.
func TestEachRuleCatchesItsViolation(t *testing.T) {
	for _, tc := range []struct {
		rule  string
		stack func(t *testing.T) Stack
	}{
		{RuleSSH, func(t *testing.T) Stack {
			s := synthesize(t, "dev", sshBase("matrix:sshAllowedCidrs", `["0.0.0.0/0"]`, "matrix:allowSshFromAnywhere", "true"))
			delete(s.Config, "matrix:allowSshFromAnywhere") // the rule without the opt-in
			return s
		}},
		{RuleNoSSHPort, func(t *testing.T) Stack {
			// An ssh stack's rules, checked as the default (ssm) stack
			// they would be if the firewall ignored matrix:access.
			s := synthesize(t, "dev", sshBase())
			delete(s.Config, "matrix:access")
			return s
		}},
		{RuleIMDSv2, func(t *testing.T) Stack {
			s := synthesize(t, "dev", base())
			inst := s.Result.Cloud.Find("aws:ec2/instance:Instance")[0]
			inst.Inputs["metadataOptions"].ObjectValue()["httpTokens"] = resource.NewStringProperty("optional")
			return s
		}},
		{RuleEncrypted, func(t *testing.T) Stack {
			s := synthesize(t, "dev", base())
			s.Result.Cloud.Find("aws:ebs/volume:Volume")[0].Inputs["encrypted"] = resource.NewBoolProperty(false)
			return s
		}},
		{RuleProdProtect, func(t *testing.T) Stack {
			return synthesize(t, "prod", base("matrix:protect", "false", "matrix:alertEmail", "ops@example.org"))
		}},
		{RuleProdProtect + "/ha", func(t *testing.T) Stack {
			return synthesize(t, "prod", haBase("matrix:protect", "false", "matrix:alertEmail", "ops@example.org"))
		}},
		{RuleProdClosed, func(t *testing.T) Stack {
			return synthesize(t, "prod", base("matrix:protect", "true", "matrix:registration", "open", "matrix:alertEmail", "ops@example.org"))
		}},
		{RuleProdAlerting, func(t *testing.T) Stack {
			return synthesize(t, "prod", base("matrix:protect", "true"))
		}},
		{RuleProdAlerting + "/ha", func(t *testing.T) Stack {
			return synthesize(t, "prod", haBase("matrix:protect", "true"))
		}},
		{RuleProdAlerting + "/silent-alarm", func(t *testing.T) Stack {
			s := synthesize(t, "prod", haBase("matrix:protect", "true", "matrix:alertEmail", "ops@example.org"))
			s.Result.Cloud.Find("aws:cloudwatch/metricAlarm:MetricAlarm")[0].Inputs["okActions"] = resource.NewArrayProperty(nil)
			return s
		}},
		{RuleProdClosed + "/mas", func(t *testing.T) Stack {
			// Synapse's own registration stays closed, MAS's is opened.
			s := synthesize(t, "prod", base("matrix:protect", "true", "matrix:auth", "mas", "matrix:alertEmail", "ops@example.org"))
			for path, f := range s.Result.Files {
				if text, ok := f.Value.(string); ok && strings.HasSuffix(path, "/vars.yml") {
					f.Value = strings.Replace(text, "matrix_authentication_service_config_account_password_registration_enabled: false",
						"matrix_authentication_service_config_account_password_registration_enabled: true", 1)
					s.Result.Files[path] = f
				}
			}
			return s
		}},
		{RuleSecretsPlain, func(t *testing.T) Stack {
			s := synthesize(t, "dev", base())
			pw := s.Result.Cloud.Find("random:index/randomPassword:RandomPassword")[0].Outputs["result"].SecretValue().Element.StringValue()
			for _, c := range s.Result.Cloud.Find("command:local:Command") {
				if c.Name == "verify" {
					c.Inputs["create"] = resource.NewStringProperty(c.Inputs["create"].StringValue() + " --password " + pw)
				}
			}
			return s
		}},
		{RuleDBEncrypted, func(t *testing.T) Stack {
			s := synthesize(t, "ha", haBase())
			s.Result.Cloud.Find("aws:rds/instance:Instance")[0].Inputs["storageEncrypted"] = resource.NewBoolProperty(false)
			return s
		}},
		{RuleS3Encrypted, func(t *testing.T) Stack {
			s := synthesize(t, "ha", haBase())
			for _, r := range s.Result.Cloud.Find("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2") {
				if r.Name == "media" {
					r.Inputs["rules"] = resource.NewArrayProperty(nil)
				}
			}
			return s
		}},
		{RuleS3Encrypted + "/public", func(t *testing.T) Stack {
			s := synthesize(t, "ha", haBase())
			s.Result.Cloud.Find("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")[0].Inputs["restrictPublicBuckets"] = resource.NewBoolProperty(false)
			return s
		}},
		{RuleS3Encrypted + "/ownership", func(t *testing.T) Stack {
			s := synthesize(t, "ha", haBase())
			s.Result.Cloud.Find("aws:s3/bucketOwnershipControls:BucketOwnershipControls")[1].Inputs["rule"] = resource.NewObjectProperty(resource.PropertyMap{
				"objectOwnership": resource.NewStringProperty("ObjectWriter"),
			})
			return s
		}},
		{RuleIMDSv2 + "/launch-template", func(t *testing.T) Stack {
			s := synthesize(t, "ha", haBase())
			lt := s.Result.Cloud.Find("aws:ec2/launchTemplate:LaunchTemplate")[0]
			lt.Inputs["metadataOptions"].ObjectValue()["httpTokens"] = resource.NewStringProperty("optional")
			return s
		}},
		{RuleEncrypted + "/launch-template", func(t *testing.T) Stack {
			s := synthesize(t, "ha", haBase())
			lt := s.Result.Cloud.Find("aws:ec2/launchTemplate:LaunchTemplate")[0]
			ebs := lt.Inputs["blockDeviceMappings"].ArrayValue()[0].ObjectValue()["ebs"].ObjectValue()
			ebs["encrypted"] = resource.NewStringProperty("false")
			return s
		}},
		{RuleMailSender, func(t *testing.T) Stack {
			s := synthesize(t, "dev", base("matrix:email", "ses"))
			pol := s.Result.Cloud.Find("aws:iam/userPolicy:UserPolicy")[0]
			pol.Inputs["policy"] = resource.NewStringProperty(strings.Replace(pol.Inputs["policy"].StringValue(), `"ses:SendRawEmail"`, `"ses:*"`, 1))
			return s
		}},
		{RuleMailSender + "/resource", func(t *testing.T) Stack {
			s := synthesize(t, "dev", base("matrix:email", "ses"))
			pol := s.Result.Cloud.Find("aws:iam/userPolicy:UserPolicy")[0]
			doc, err := infra.SenderPolicy("*", "example.org")
			if err != nil {
				t.Fatal(err)
			}
			pol.Inputs["policy"] = resource.NewStringProperty(doc)
			return s
		}},
		{RuleMailSender + "/condition", func(t *testing.T) Stack {
			s := synthesize(t, "dev", base("matrix:email", "ses"))
			pol := s.Result.Cloud.Find("aws:iam/userPolicy:UserPolicy")[0]
			pol.Inputs["policy"] = resource.NewStringProperty(strings.Replace(pol.Inputs["policy"].StringValue(), `"ses:FromAddress"`, `"ses:Recipients"`, 1))
			return s
		}},
		{RuleTagged, func(t *testing.T) Stack {
			s := synthesize(t, "dev", base())
			p := s.Result.Cloud.Find("pulumi:providers:aws")[0]
			delete(p.Inputs["defaultTags"].ObjectValue()["tags"].ObjectValue(), "Stack")
			return s
		}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			rule, _, _ := strings.Cut(tc.rule, "/")
			vs := Check(tc.stack(t))
			if got := rules(vs); !slices.Equal(got, []string{rule}) {
				t.Errorf("violations %v, want only %s:\n%v", got, rule, vs)
			}
		})
	}
}

func TestSecretOutputLeakIsCaught(t *testing.T) {
	s := synthesize(t, "dev", base())
	o := s.Result.Outputs["adminPassword"]
	s.Result.Outputs["adminPassword"] = synth.Output{Value: o.Value, Known: true} // no longer secret
	if got := rules(Check(s)); !slices.Equal(got, []string{RuleSecretsPlain}) {
		t.Errorf("violations %v", got)
	}
}

// TestSSHRuleSeesThroughSpelling: the rule applies config validation's
// check (infra.CheckSSHSources), so the internet written as two halves,
// a set of sources adding up to more than one organisation's block, or a
// source no connection can come from are all caught, however the program
// came to declare them.
func TestSSHRuleSeesThroughSpelling(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stack func(t *testing.T) Stack
	}{
		{"halves v4", func(t *testing.T) Stack {
			s := synthesize(t, "dev", sshBase("matrix:sshAllowedCidrs", `["0.0.0.0/1","128.0.0.0/1"]`, "matrix:allowSshFromAnywhere", "true"))
			delete(s.Config, "matrix:allowSshFromAnywhere")
			return s
		}},
		{"halves v6", func(t *testing.T) Stack {
			s := synthesize(t, "dev", sshBase("matrix:sshAllowedCidrs", `["203.0.113.7/32","::/1","8000::/1"]`, "matrix:allowSshFromAnywhere", "true"))
			delete(s.Config, "matrix:allowSshFromAnywhere")
			return s
		}},
		{"union", func(t *testing.T) Stack {
			s := synthesize(t, "dev", sshBase("matrix:sshAllowedCidrs", `["1.0.0.0/8","2.0.0.0/8"]`, "matrix:allowSshFromAnywhere", "true"))
			delete(s.Config, "matrix:allowSshFromAnywhere")
			return s
		}},
		{"loopback despite opt-in", func(t *testing.T) Stack {
			s := synthesize(t, "dev", sshBase("matrix:sshAllowedCidrs", `["203.0.113.7/32"]`, "matrix:allowSshFromAnywhere", "true"))
			for _, r := range s.Result.Cloud.Find("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
				if c := get(r.Inputs, "cidrIpv4"); c.IsString() && c.StringValue() == "203.0.113.7/32" {
					r.Inputs["cidrIpv4"] = resource.NewStringProperty("127.0.0.1/32")
				}
			}
			return s
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := Check(tc.stack(t))
			if got := rules(vs); !slices.Equal(got, []string{RuleSSH}) {
				t.Errorf("violations %v, want only %s:\n%v", got, RuleSSH, vs)
			}
		})
	}
}
