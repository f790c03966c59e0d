// Package policy holds the invariants every stack must keep, checked on
// what the program declares (the synth result), so a pull request that
// breaks one fails its tests before anyone runs `pulumi preview`.
package policy

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"gopkg.in/yaml.v3"
)

// Violation is one broken invariant.
type Violation struct {
	Rule     string
	Resource string // "type::name", or "" for the stack as a whole
	Detail   string
}

func (v Violation) String() string {
	if v.Resource == "" {
		return v.Rule + ": " + v.Detail
	}
	return v.Rule + ": " + v.Resource + ": " + v.Detail
}

// Rule names, one per invariant.
const (
	RuleSSH          = "ssh-not-from-anywhere"
	RuleNoSSHPort    = "no-port-22-with-ssm"
	RuleIMDSv2       = "imdsv2-required"
	RuleEncrypted    = "volumes-encrypted"
	RuleProdProtect  = "prod-data-protected"
	RuleProdClosed   = "prod-registration-not-open"
	RuleSecretsPlain = "no-plain-secrets"
	RuleTagged       = "resources-tagged"
	RuleDBEncrypted  = "database-encrypted"
	RuleS3Encrypted  = "buckets-encrypted-private"
	RuleProdAlerting = "prod-alerting-on"
	RuleMailSender   = "mail-sender-least-privilege"
)

// Stack is what the checks look at: the run, the stack's name and its
// configuration as the engine passed it.
type Stack struct {
	Name   string
	Config map[string]string
	Result *synth.Result
}

// ProdStacks are the stacks held to the production rules.
var ProdStacks = []string{"prod", "production"}

// Check returns every violation, sorted.
func Check(s Stack) []Violation {
	var vs []Violation
	for _, check := range []func(Stack) []Violation{ssh, imds, encrypted, prodProtected, prodRegistration, plainSecrets, tagged, dbEncrypted, bucketsEncrypted, prodAlerting, mailSender} {
		vs = append(vs, check(s)...)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].String() < vs[j].String() })
	return vs
}

func id(r mock.Resource) string { return r.Type + "::" + r.Name }

var get = mock.Get

func isTrue(v resource.PropertyValue) bool { return v.IsBool() && v.BoolValue() }

// ssh checks every source that may reach port 22 with infra.CheckSSHSources,
// the check config validation applies to matrix:sshAllowedCidrs: not the
// whole internet however it is spelt (0.0.0.0/1 plus 128.0.0.0/1, or many
// /9s), unless the stack opts in, and never an address no connection can
// come from.
func ssh(s Stack) []Violation {
	anywhere, _ := strconv.ParseBool(s.Config["matrix:allowSshFromAnywhere"])
	var sources []netip.Prefix
	rulesOf := map[netip.Prefix][]string{}
	var vs []Violation
	for _, r := range s.Result.Cloud.Find("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") {
		from, to := get(r.Inputs, "fromPort"), get(r.Inputs, "toPort")
		proto := get(r.Inputs, "ipProtocol").StringValue()
		covers22 := proto == "-1" || (from.IsNumber() && to.IsNumber() && from.NumberValue() <= 22 && to.NumberValue() >= 22 && proto == "tcp")
		for _, key := range []string{"cidrIpv4", "cidrIpv6"} {
			c := get(r.Inputs, key)
			if !covers22 || !c.IsString() {
				continue
			}
			p, err := netip.ParsePrefix(c.StringValue())
			if err != nil {
				vs = append(vs, Violation{RuleSSH, id(r), fmt.Sprintf("%s %q is not a CIDR", key, c.StringValue())})
				continue
			}
			p = p.Masked() // AWS applies the rule to the whole prefix
			if _, seen := rulesOf[p]; !seen {
				sources = append(sources, p)
			}
			rulesOf[p] = append(rulesOf[p], id(r))
		}
	}
	// With matrix:access ssm (the default; the ha topology always) the host
	// is reached through Session Manager: nothing may reach port 22.
	if access := s.Config["matrix:access"]; access != string(infra.AccessSSH) {
		for _, p := range sources {
			for _, r := range rulesOf[p] {
				vs = append(vs, Violation{RuleNoSSHPort, r, "port 22 is open to " + p.String() + ", but the host is reached through Session Manager (matrix:access ssm)"})
			}
		}
	}
	for _, p := range infra.CheckSSHSources(sources, anywhere) {
		if !p.Prefix.IsValid() {
			vs = append(vs, Violation{RuleSSH, "", "SSH sources: " + p.Message})
			continue
		}
		for _, r := range rulesOf[p.Prefix] {
			vs = append(vs, Violation{RuleSSH, r, "SSH source " + p.Prefix.String() + " " + p.Message})
		}
	}
	return vs
}

func imds(s Stack) []Violation {
	var vs []Violation
	for _, r := range s.Result.Cloud.Find("aws:ec2/instance:Instance") {
		if get(r.Inputs, "metadataOptions", "httpTokens").StringValue() != "required" {
			vs = append(vs, Violation{RuleIMDSv2, id(r), "metadataOptions.httpTokens is not \"required\""})
		}
	}
	for _, r := range s.Result.Cloud.Find("aws:ec2/launchTemplate:LaunchTemplate") {
		if get(r.Inputs, "metadataOptions", "httpTokens").StringValue() != "required" {
			vs = append(vs, Violation{RuleIMDSv2, id(r), "metadataOptions.httpTokens is not \"required\""})
		}
	}
	return vs
}

func encrypted(s Stack) []Violation {
	var vs []Violation
	for _, r := range s.Result.Cloud.Find("aws:ebs/volume:Volume") {
		if !isTrue(get(r.Inputs, "encrypted")) {
			vs = append(vs, Violation{RuleEncrypted, id(r), "volume is not encrypted"})
		}
	}
	for _, r := range s.Result.Cloud.Find("aws:ec2/launchTemplate:LaunchTemplate") {
		bd := get(r.Inputs, "blockDeviceMappings")
		if !bd.IsArray() || len(bd.ArrayValue()) == 0 {
			vs = append(vs, Violation{RuleEncrypted, id(r), "launch template does not declare its (encrypted) root volume"})
			continue
		}
		for _, d := range bd.ArrayValue() {
			// The launch template spells the flag as a string.
			if e := get(d.ObjectValue(), "ebs", "encrypted"); !isTrue(e) && !(e.IsString() && e.StringValue() == "true") {
				vs = append(vs, Violation{RuleEncrypted, id(r), "a launch template block device is not encrypted"})
			}
		}
	}
	for _, r := range s.Result.Cloud.Find("aws:ec2/instance:Instance") {
		if !isTrue(get(r.Inputs, "rootBlockDevice", "encrypted")) {
			vs = append(vs, Violation{RuleEncrypted, id(r), "root volume is not encrypted"})
		}
		if bd := get(r.Inputs, "ebsBlockDevices"); bd.IsArray() {
			for _, d := range bd.ArrayValue() {
				if !isTrue(get(d.ObjectValue(), "encrypted")) {
					vs = append(vs, Violation{RuleEncrypted, id(r), "an EBS block device is not encrypted"})
				}
			}
		}
	}
	return vs
}

func isProd(s Stack) bool {
	for _, p := range ProdStacks {
		if s.Name == p {
			return true
		}
	}
	return false
}

func prodProtected(s Stack) []Violation {
	if !isProd(s) {
		return nil
	}
	var vs []Violation
	for _, r := range s.Result.Cloud.Find("aws:ebs/volume:Volume") {
		if !r.Protect || !r.RetainOnDelete {
			vs = append(vs, Violation{RuleProdProtect, id(r), "data volume is not protected and retained on delete (set matrix:protect true)"})
		}
	}
	for _, r := range s.Result.Cloud.Find("aws:rds/instance:Instance") {
		if !r.Protect || !isTrue(get(r.Inputs, "deletionProtection")) {
			vs = append(vs, Violation{RuleProdProtect, id(r), "database is not protected, with deletion protection (set matrix:protect true)"})
		}
	}
	for _, r := range s.Result.Cloud.Find("aws:s3/bucketV2:BucketV2") {
		if r.Name == "media" && (!r.Protect || !r.RetainOnDelete) {
			vs = append(vs, Violation{RuleProdProtect, id(r), "media bucket is not protected and retained on delete (set matrix:protect true)"})
		}
	}
	for _, r := range s.Result.Cloud.Find("aws:ec2/instance:Instance") {
		if !isTrue(get(r.Inputs, "disableApiTermination")) {
			vs = append(vs, Violation{RuleProdProtect, id(r), "instance has no termination protection (set matrix:protect true)"})
		}
	}
	return vs
}

// prodRegistration reads the rendered vars.yml, which is what the
// playbook will apply, rather than the config key.
func prodRegistration(s Stack) []Violation {
	if !isProd(s) {
		return nil
	}
	var vs []Violation
	for path, f := range s.Result.Files {
		if !strings.HasSuffix(path, "/vars.yml") {
			continue
		}
		text, _ := f.Value.(string)
		var vars map[string]any
		if err := yaml.Unmarshal([]byte(text), &vars); err != nil {
			return []Violation{{RuleProdClosed, path, fmt.Sprintf("cannot read: %v", err)}}
		}
		if vars["matrix_synapse_enable_registration"] == true && vars["matrix_synapse_registration_requires_token"] != true {
			vs = append(vs, Violation{RuleProdClosed, path, "anyone can register; use matrix:registration closed or token"})
		}
		// With the Matrix Authentication Service, registration is MAS's.
		if vars["matrix_authentication_service_enabled"] == true &&
			vars["matrix_authentication_service_config_account_password_registration_enabled"] != false &&
			vars["matrix_authentication_service_config_account_registration_token_required"] != true {
			vs = append(vs, Violation{RuleProdClosed, path, "anyone can register with the Matrix Authentication Service; use matrix:registration closed or token"})
		}
	}
	return vs
}

// plainSecrets looks for the value of every secret the run generated in
// every place that is not itself secret: resource inputs (command lines
// included) and stack outputs. Generated secrets are secret outputs a
// resource computes; inputs a provider marks secret on the way back (the
// SSH connection of a remote command) are not generated there.
func plainSecrets(s Stack) []Violation {
	var secrets []string
	for _, r := range s.Result.Cloud.Resources() {
		for k, v := range r.Outputs {
			if _, echoed := r.Inputs[k]; !echoed {
				collectSecrets(v, &secrets)
			}
		}
	}
	var vs []Violation
	for _, r := range s.Result.Cloud.Resources() {
		for _, plain := range plainStrings(resource.NewObjectProperty(r.Inputs)) {
			if leaked := containsAny(plain, secrets); leaked {
				vs = append(vs, Violation{RuleSecretsPlain, id(r), "an input that is not secret holds a secret value"})
				break
			}
		}
	}
	for name, o := range s.Result.Outputs {
		if o.Secret {
			continue
		}
		for _, plain := range plainStrings(resource.NewPropertyValue(o.Value)) {
			if containsAny(plain, secrets) {
				vs = append(vs, Violation{RuleSecretsPlain, "", "stack output " + name + " holds a secret value in plain text"})
				break
			}
		}
	}
	return vs
}

func collectSecrets(v resource.PropertyValue, out *[]string) {
	switch {
	case v.IsSecret():
		for _, s := range plainStrings(v.SecretValue().Element) {
			if len(s) >= 8 { // shorter strings would match by chance
				*out = append(*out, strings.TrimSpace(s))
			}
		}
	case v.IsArray():
		for _, e := range v.ArrayValue() {
			collectSecrets(e, out)
		}
	case v.IsObject():
		for _, e := range v.ObjectValue() {
			collectSecrets(e, out)
		}
	}
}

// plainStrings returns the strings in v that are not under a secret.
func plainStrings(v resource.PropertyValue) []string {
	switch {
	case v.IsSecret():
		return nil
	case v.IsString():
		return []string{v.StringValue()}
	case v.IsArray():
		var out []string
		for _, e := range v.ArrayValue() {
			out = append(out, plainStrings(e)...)
		}
		return out
	case v.IsObject():
		var out []string
		for _, e := range v.ObjectValue() {
			out = append(out, plainStrings(e)...)
		}
		return out
	}
	return nil
}

func containsAny(s string, needles []string) bool {
	for _, n := range needles {
		if n != "" && strings.Contains(s, n) {
			return true
		}
	}
	return false
}

// requiredTags are the default tags every AWS resource gets.
var requiredTags = []string{"Project", "Stack", "ManagedBy"}

// tagged checks that every AWS resource goes through a provider whose
// default tags carry Project, Stack and ManagedBy.
func tagged(s Stack) []Violation {
	providers := map[string]resource.PropertyMap{}
	for _, r := range s.Result.Cloud.Find("pulumi:providers:aws") {
		providers[r.Name] = r.Inputs
	}
	var vs []Violation
	for _, r := range s.Result.Cloud.Resources() {
		if !strings.HasPrefix(r.Type, "aws:") {
			continue
		}
		parts := strings.Split(r.Provider, "::")
		if len(parts) < 2 {
			vs = append(vs, Violation{RuleTagged, id(r), "uses the default provider, which sets no default tags"})
			continue
		}
		inputs, ok := providers[parts[len(parts)-2]]
		if !ok {
			vs = append(vs, Violation{RuleTagged, id(r), "uses an unknown provider " + r.Provider})
			continue
		}
		for _, tag := range requiredTags {
			if v := get(inputs, "defaultTags", "tags", tag); !v.IsString() || v.StringValue() == "" {
				vs = append(vs, Violation{RuleTagged, id(r), "its provider does not set the " + tag + " tag"})
			}
		}
	}
	return vs
}

// dbEncrypted: RDS storage (and so its snapshots and backups) is
// encrypted, and the database is not reachable from the internet.
func dbEncrypted(s Stack) []Violation {
	var vs []Violation
	for _, r := range s.Result.Cloud.Find("aws:rds/instance:Instance") {
		if !isTrue(get(r.Inputs, "storageEncrypted")) {
			vs = append(vs, Violation{RuleDBEncrypted, id(r), "storageEncrypted is not true"})
		}
		if isTrue(get(r.Inputs, "publiclyAccessible")) {
			vs = append(vs, Violation{RuleDBEncrypted, id(r), "the database is publicly accessible"})
		}
	}
	return vs
}

// bucketsEncrypted: every bucket has default encryption, a public access
// block with all four settings on, and ownership enforced (no ACLs).
func bucketsEncrypted(s Stack) []Violation {
	byBucket := func(typ string, ok func(resource.PropertyMap) bool) map[string]bool {
		out := map[string]bool{}
		for _, r := range s.Result.Cloud.Find(typ) {
			if b := get(r.Inputs, "bucket"); b.IsString() && ok(r.Inputs) {
				out[b.StringValue()] = true
			}
		}
		return out
	}
	encryptedBuckets := byBucket("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2", func(in resource.PropertyMap) bool {
		rules := get(in, "rules")
		if !rules.IsArray() || len(rules.ArrayValue()) == 0 {
			return false
		}
		for _, rule := range rules.ArrayValue() {
			algo := get(rule.ObjectValue(), "applyServerSideEncryptionByDefault", "sseAlgorithm")
			if !algo.IsString() || (algo.StringValue() != "AES256" && algo.StringValue() != "aws:kms" && algo.StringValue() != "aws:kms:dsse") {
				return false
			}
		}
		return true
	})
	blocked := byBucket("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", func(in resource.PropertyMap) bool {
		return isTrue(get(in, "blockPublicAcls")) && isTrue(get(in, "blockPublicPolicy")) && isTrue(get(in, "ignorePublicAcls")) && isTrue(get(in, "restrictPublicBuckets"))
	})
	enforced := byBucket("aws:s3/bucketOwnershipControls:BucketOwnershipControls", func(in resource.PropertyMap) bool {
		return get(in, "rule", "objectOwnership").StringValue() == "BucketOwnerEnforced"
	})
	var vs []Violation
	for _, r := range s.Result.Cloud.Find("aws:s3/bucketV2:BucketV2") {
		// The settings name the bucket by its ID, its name in S3; in a
		// preview the name is unknown, and so are the references.
		name := get(r.Outputs, "bucket")
		if !name.IsString() {
			continue
		}
		b := name.StringValue()
		if !encryptedBuckets[b] {
			vs = append(vs, Violation{RuleS3Encrypted, id(r), "no default encryption (AES256 or aws:kms)"})
		}
		if !blocked[b] {
			vs = append(vs, Violation{RuleS3Encrypted, id(r), "public access is not blocked by all four settings"})
		}
		if !enforced[b] {
			vs = append(vs, Violation{RuleS3Encrypted, id(r), "object ownership is not BucketOwnerEnforced (ACLs stay on)"})
		}
	}
	return vs
}

// prodAlerting: a production stack tells someone when it breaks. Someone
// is subscribed by e-mail, the public endpoints are checked from outside,
// and every alarm notifies a topic on ALARM and on OK.
func prodAlerting(s Stack) []Violation {
	if !isProd(s) {
		return nil
	}
	var vs []Violation
	subscribed := false
	for _, r := range s.Result.Cloud.Find("aws:sns/topicSubscription:TopicSubscription") {
		if get(r.Inputs, "protocol").StringValue() == "email" && get(r.Inputs, "endpoint").StringValue() != "" {
			subscribed = true
		}
	}
	if !subscribed {
		vs = append(vs, Violation{RuleProdAlerting, "", "no one is subscribed to the alarms (set matrix:alertEmail)"})
	}
	if len(s.Result.Cloud.Find("aws:route53/healthCheck:HealthCheck")) == 0 {
		vs = append(vs, Violation{RuleProdAlerting, "", "the public endpoints are not health-checked from outside (set matrix:alertEmail)"})
	}
	for _, r := range s.Result.Cloud.Find("aws:cloudwatch/metricAlarm:MetricAlarm") {
		for _, key := range []string{"alarmActions", "okActions"} {
			if !notifiesTopic(get(r.Inputs, key)) {
				vs = append(vs, Violation{RuleProdAlerting, id(r), key + " notify no SNS topic (set matrix:alertEmail)"})
			}
		}
	}
	return vs
}

// mailSender holds the relay's IAM user (matrix:email ses) to the one
// permission it needs: every statement of every user policy allows only
// ses:SendRawEmail, on SES identities rather than "*", with a From address
// condition; and nothing attaches managed policies to a user.
func mailSender(s Stack) []Violation {
	var vs []Violation
	for _, r := range s.Result.Cloud.Find("aws:iam/userPolicyAttachment:UserPolicyAttachment") {
		vs = append(vs, Violation{RuleMailSender, id(r), "attaches a managed policy to a user; the relay's user has its one inline policy"})
	}
	for _, r := range s.Result.Cloud.Find("aws:iam/userPolicy:UserPolicy") {
		doc := get(r.Inputs, "policy")
		if !doc.IsString() {
			continue // unknown in a preview
		}
		if msg := mailPolicyProblem(doc.StringValue()); msg != "" {
			vs = append(vs, Violation{RuleMailSender, id(r), msg})
		}
	}
	return vs
}

// notifiesTopic says whether actions name an SNS topic; unknown ARNs (a
// preview) count.
func notifiesTopic(actions resource.PropertyValue) bool {
	if !actions.IsArray() {
		return actions.ContainsUnknowns()
	}
	for _, a := range actions.ArrayValue() {
		if a.ContainsUnknowns() || (a.IsString() && strings.Contains(a.StringValue(), ":sns:")) {
			return true
		}
	}
	return false
}

func mailPolicyProblem(doc string) string {
	var p struct {
		Statement []struct {
			Effect    string
			Action    any
			Resource  any
			Condition map[string]map[string]any
		}
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil || len(p.Statement) == 0 {
		return "the policy is not an IAM policy document"
	}
	for _, st := range p.Statement {
		if st.Effect != "Allow" {
			continue
		}
		if fmt.Sprint(st.Action) != "ses:SendRawEmail" {
			return fmt.Sprintf("allows %v; the relay needs ses:SendRawEmail only", st.Action)
		}
		res, ok := st.Resource.(string)
		if !ok || !strings.HasPrefix(res, "arn:") || !strings.Contains(res, ":ses:") || !strings.Contains(res, ":identity/") || strings.Contains(res, "*") {
			return fmt.Sprintf("sends through %v; allow the domain's SES identity only", st.Resource)
		}
		if _, ok := st.Condition["StringLike"]["ses:FromAddress"]; !ok {
			return "has no ses:FromAddress condition; restrict the sender to the domain"
		}
	}
	return ""
}
