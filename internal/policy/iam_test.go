package policy

// The IAM policies of the CI roles (iam/*.json, docs/ci.md) checked against
// what the program actually calls. A preview role that lacks one read
// action fails every `pulumi preview` in CI with AccessDenied, and nothing
// else would notice before a pull request hits it; so the required actions
// are derived here from the invokes the program makes under mocks, for
// every committed stack, through an explicit table. A new lookup without a
// table entry fails the test instead of going unauthorised.

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/stackfile"
	"github.com/matrix-on-aws/homeserver/internal/synth"
)

// invokeActions maps every invoke token the program may call to the IAM
// actions the AWS provider's data source needs for it. An empty list means
// the provider answers from its own configuration (no AWS API call).
var invokeActions = map[string][]string{
	"aws:lb/getLoadBalancer:getLoadBalancer":                    {"elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeTags"},
	"aws:index/getPartition:getPartition":                       nil,
	"aws:index/getRegion:getRegion":                             nil,
	"aws:index/getAvailabilityZones:getAvailabilityZones":       {"ec2:DescribeAvailabilityZones"},
	"aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": {"ec2:DescribeInstanceTypeOfferings"},
	"aws:ec2/getAmi:getAmi":                                     {"ec2:DescribeImages"},
	"aws:ebs/getEbsVolumes:getEbsVolumes":                       {"ec2:DescribeVolumes"},
	"aws:rds/getInstances:getInstances":                         {"rds:DescribeDBInstances"},
	"aws:rds/getInstance:getInstance":                           {"rds:DescribeDBInstances"},
	"aws:ebs/getVolume:getVolume":                               {"ec2:DescribeVolumes"},
	"aws:ebs/getSnapshot:getSnapshot":                           {"ec2:DescribeSnapshots"},
	// The aws_route53_zone data source finds a zone by name by listing the
	// hosted zones, reads it (name servers) and its tags.
	// The aws_route53_records data source lists the zone's record sets
	// (matrix:email ses looks for DMARC and MAIL FROM records).
	"aws:route53/getRecords:getRecords": {"route53:ListResourceRecordSets"},
	"aws:route53/getZone:getZone": {
		"route53:GetHostedZone", "route53:ListHostedZones", "route53:ListHostedZonesByName",
		"route53:ListTagsForResource",
	},
}

// providerActions are needed by every run whatever the program does: the
// AWS provider asks STS for the account ID when it is configured.
var providerActions = []string{"sts:GetCallerIdentity"}

// resourceActions maps every AWS resource type the program declares to the
// actions that create it, which a deploy role needs at the least (deleting,
// updating and reading go with them in deploy-policy.json). Like
// invokeActions, a new type without an entry fails the test.
var resourceActions = map[string][]string{
	"aws:eks/cluster:Cluster":                                                   {"eks:CreateCluster", "eks:DescribeCluster", "eks:UpdateClusterConfig", "eks:UpdateClusterVersion", "eks:DeleteCluster", "eks:TagResource"},
	"aws:eks/nodeGroup:NodeGroup":                                               {"eks:CreateNodegroup", "eks:DescribeNodegroup", "eks:UpdateNodegroupConfig", "eks:UpdateNodegroupVersion", "eks:DeleteNodegroup"},
	"aws:eks/addon:Addon":                                                       {"eks:CreateAddon", "eks:DescribeAddon", "eks:UpdateAddon", "eks:DeleteAddon"},
	"aws:iam/openIdConnectProvider:OpenIdConnectProvider":                       {"iam:CreateOpenIDConnectProvider", "iam:GetOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam:TagOpenIDConnectProvider"},
	"aws:ec2/tag:Tag":                                                           {"ec2:CreateTags", "ec2:DeleteTags"},
	"aws:acm/certificate:Certificate":                                           {"acm:RequestCertificate", "acm:DescribeCertificate", "acm:DeleteCertificate"},
	"aws:acm/certificateValidation:CertificateValidation":                       {"acm:DescribeCertificate"},
	"aws:autoscaling/group:Group":                                               {"autoscaling:CreateAutoScalingGroup", "autoscaling:UpdateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup"},
	"aws:cloudwatch/metricAlarm:MetricAlarm":                                    {"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"},
	"aws:dlm/lifecyclePolicy:LifecyclePolicy":                                   {"dlm:CreateLifecyclePolicy", "dlm:DeleteLifecyclePolicy"},
	"aws:ebs/volume:Volume":                                                     {"ec2:CreateVolume", "ec2:ModifyVolume", "ec2:DeleteVolume", "ec2:CreateSnapshot"},
	"aws:ec2/eip:Eip":                                                           {"ec2:AllocateAddress", "ec2:ReleaseAddress"},
	"aws:ec2/eipAssociation:EipAssociation":                                     {"ec2:AssociateAddress", "ec2:DisassociateAddress"},
	"aws:ec2/instance:Instance":                                                 {"ec2:RunInstances", "ec2:TerminateInstances", "ec2:StopInstances", "ec2:StartInstances"},
	"aws:ec2/internetGateway:InternetGateway":                                   {"ec2:CreateInternetGateway", "ec2:AttachInternetGateway"},
	"aws:ec2/keyPair:KeyPair":                                                   {"ec2:ImportKeyPair", "ec2:DeleteKeyPair"},
	"aws:ec2/launchTemplate:LaunchTemplate":                                     {"ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion"},
	"aws:ec2/routeTable:RouteTable":                                             {"ec2:CreateRouteTable", "ec2:CreateRoute"},
	"aws:ec2/routeTableAssociation:RouteTableAssociation":                       {"ec2:AssociateRouteTable"},
	"aws:ec2/securityGroup:SecurityGroup":                                       {"ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup"},
	"aws:ec2/subnet:Subnet":                                                     {"ec2:CreateSubnet", "ec2:ModifySubnetAttribute"},
	"aws:ec2/volumeAttachment:VolumeAttachment":                                 {"ec2:AttachVolume", "ec2:DetachVolume"},
	"aws:ec2/vpc:Vpc":                                                           {"ec2:CreateVpc", "ec2:ModifyVpcAttribute", "ec2:CreateTags"},
	"aws:iam/accessKey:AccessKey":                                               {"iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys"},
	"aws:iam/instanceProfile:InstanceProfile":                                   {"iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile"},
	"aws:iam/role:Role":                                                         {"iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:PassRole"},
	"aws:iam/rolePolicy:RolePolicy":                                             {"iam:PutRolePolicy", "iam:DeleteRolePolicy"},
	"aws:iam/rolePolicyAttachment:RolePolicyAttachment":                         {"iam:AttachRolePolicy", "iam:DetachRolePolicy"},
	"aws:iam/user:User":                                                         {"iam:CreateUser", "iam:GetUser", "iam:DeleteUser", "iam:TagUser"},
	"aws:iam/userPolicy:UserPolicy":                                             {"iam:PutUserPolicy", "iam:GetUserPolicy", "iam:DeleteUserPolicy"},
	"aws:lb/listener:Listener":                                                  {"elasticloadbalancing:CreateListener"},
	"aws:lb/loadBalancer:LoadBalancer":                                          {"elasticloadbalancing:CreateLoadBalancer", "iam:CreateServiceLinkedRole"},
	"aws:lb/targetGroup:TargetGroup":                                            {"elasticloadbalancing:CreateTargetGroup"},
	"aws:rds/instance:Instance":                                                 {"rds:CreateDBInstance", "rds:ModifyDBInstance", "rds:DeleteDBInstance"},
	"aws:rds/subnetGroup:SubnetGroup":                                           {"rds:CreateDBSubnetGroup"},
	"aws:route53/healthCheck:HealthCheck":                                       {"route53:CreateHealthCheck", "route53:GetHealthCheck", "route53:UpdateHealthCheck", "route53:DeleteHealthCheck", "route53:ChangeTagsForResource"},
	"aws:route53/record:Record":                                                 {"route53:ChangeResourceRecordSets", "route53:GetChange", "route53:ListResourceRecordSets"},
	"aws:s3/bucketObjectv2:BucketObjectv2":                                      {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"},
	"aws:s3/bucketOwnershipControls:BucketOwnershipControls":                    {"s3:PutBucketOwnershipControls"},
	"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":                    {"s3:PutBucketPublicAccessBlock"},
	"aws:sesv2/emailIdentity:EmailIdentity":                                     {"ses:CreateEmailIdentity", "ses:GetEmailIdentity", "ses:DeleteEmailIdentity", "ses:TagResource"},
	"aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes": {"ses:PutEmailIdentityMailFromAttributes", "ses:GetEmailIdentity"},
	"aws:sns/topic:Topic":                                                       {"sns:CreateTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:DeleteTopic", "sns:TagResource"},
	"aws:sns/topicSubscription:TopicSubscription":                               {"sns:Subscribe", "sns:GetSubscriptionAttributes", "sns:Unsubscribe"},
	"aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": {"s3:PutEncryptionConfiguration"},
	"aws:s3/bucketV2:BucketV2":                                  {"s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketTagging"},
	"aws:s3/bucketVersioningV2:BucketVersioningV2":              {"s3:PutBucketVersioning"},
	"aws:ssm/association:Association":                           {"ssm:CreateAssociation", "ssm:DeleteAssociation"},
	"aws:ssm/parameter:Parameter":                               {"ssm:PutParameter", "ssm:DeleteParameter", "ssm:GetParameter"},
	"aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule":   {"ec2:AuthorizeSecurityGroupEgress", "ec2:RevokeSecurityGroupEgress"},
	"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": {"ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"},
}

// iamDir is where the policy files live, relative to this package.
const iamDir = "../../docs/iam"

// run is one committed stack under mocks.
type run struct {
	stack   string
	preview bool
	tokens  []string // invoke tokens, deduplicated
	types   []string // declared resource types, deduplicated
}

// committedRuns runs every committed stack (Pulumi.*.yaml at the root) in
// preview mode and, for the deploy role, in update mode too (`pulumi up`
// previews, then updates).
func committedRuns(t *testing.T) []run {
	t.Helper()
	stacks, err := stackfile.Stacks("../..")
	if err != nil || len(stacks) == 0 {
		t.Fatalf("no committed stack files (%v)", err)
	}
	var runs []run
	for _, stack := range stacks {
		cfg, err := stackfile.Load("../..", "matrix", stack)
		if err != nil {
			t.Fatal(err)
		}
		for _, preview := range []bool{true, false} {
			res, err := synth.Run(synth.Options{
				Project: "matrix", Stack: stack, Config: cfg.Values,
				SecretKeys: cfg.SecretKeys, SecretPaths: cfg.SecretPaths, DryRun: preview,
			})
			if err != nil {
				t.Fatalf("%s (preview %v): %v", stack, preview, err)
			}
			r := run{stack: stack, preview: preview, tokens: uniq(res.Cloud.Calls())}
			for _, d := range res.Cloud.Resources() {
				r.types = append(r.types, d.Type)
			}
			r.types = uniq(r.types)
			if len(r.tokens) == 0 {
				t.Fatalf("%s: no invokes recorded; the mock no longer records them?", stack)
			}
			runs = append(runs, r)
		}
		runs = append(runs, recoveryRuns(t, stack, cfg)...)
	}
	return runs
}

// recoveryRuns run a committed stack as it is once deployed and being
// recovered, which makes the look-ups a new stack does not: the data
// volume's zone and snapshot, the snapshot to move from
// (matrix:dataVolumeSnapshotId), the database to restore from
// (matrix:dbRestore).
func recoveryRuns(t *testing.T, stack string, cfg stackfile.Config) []run {
	t.Helper()
	const snap = "snap-0123456789abcdef0"
	values := maps.Clone(cfg.Values)
	tag := map[string]string{"matrix-snapshots": "matrix-" + stack}
	e := mock.Existing{
		Volumes:   []mock.ExistingVolume{{ID: "vol-0123456789abcdef0", Tags: tag, SnapshotID: snap, Size: 1}},
		Snapshots: []mock.ExistingSnapshot{{ID: snap, VolumeID: "vol-0123456789abcdef0", Size: 1, Tags: tag}},
	}
	if values["matrix:topology"] == "ha" || values["matrix:topology"] == "eks" {
		id := infra.DBIdentifier("matrix", stack)
		tags := map[string]string{"Name": id + "-db", infra.TopologyTag: values["matrix:topology"]}
		e = mock.Existing{DBs: []mock.ExistingDB{{ID: id, Tags: tags}}}
		values["matrix:dbRestore"] = `{"time":"latest"}`
		values["matrix:protect"] = "false" // a restore replaces the database
	} else {
		values["matrix:dataVolumeSnapshotId"] = snap
	}
	var runs []run
	for _, preview := range []bool{true, false} {
		c := mock.New(synth.DefaultZones(infra.Config{Domain: values["matrix:domain"]}))
		c.SetExisting(e)
		res, err := synth.Run(synth.Options{
			Project: "matrix", Stack: stack, Config: values,
			SecretKeys: cfg.SecretKeys, SecretPaths: cfg.SecretPaths, DryRun: preview, Cloud: c,
		})
		if err != nil {
			t.Fatalf("%s recovering (preview %v): %v", stack, preview, err)
		}
		r := run{stack: stack + " (recovering)", preview: preview, tokens: uniq(res.Cloud.Calls())}
		for _, d := range res.Cloud.Resources() {
			r.types = append(r.types, d.Type)
		}
		runs = append(runs, r)
	}
	return runs
}

func uniq(xs []string) []string {
	out := slices.Clone(xs)
	sort.Strings(out)
	return slices.Compact(out)
}

// requiredForInvokes is the union of the table's actions for the tokens of
// runs (preview runs only when previewOnly), plus providerActions. It
// reports a token missing from the table as an error.
func requiredForInvokes(t *testing.T, runs []run, previewOnly bool) map[string][]string {
	t.Helper()
	need := map[string][]string{} // action -> what needs it
	for _, a := range providerActions {
		need[a] = []string{"the AWS provider"}
	}
	for _, r := range runs {
		if previewOnly && !r.preview {
			continue
		}
		for _, tok := range r.tokens {
			actions, ok := invokeActions[tok]
			if !ok {
				t.Errorf("stack %s calls invoke %s, which has no entry in invokeActions (iam_test.go): add the IAM actions its data source needs, then allow them in iam/preview-policy.json and iam/deploy-policy.json", r.stack, tok)
				continue
			}
			for _, a := range actions {
				need[a] = append(need[a], r.stack+": "+tok)
			}
		}
	}
	return need
}

func TestPreviewPolicyAllowsProgramLookups(t *testing.T) {
	doc := loadPolicy(t, "preview-policy.json")
	need := requiredForInvokes(t, committedRuns(t), true)
	for _, a := range sortedKeys(need) {
		// Describe/List/Get of look-ups take no resource ARN: only a
		// statement on "*" authorises them.
		if !doc.allows(a, "*") {
			t.Errorf("docs/iam/preview-policy.json does not allow %s on \"*\", needed by %v", a, uniq(need[a]))
		}
	}
}

func TestDeployPolicyAllowsProgramLookupsAndResources(t *testing.T) {
	doc := loadPolicy(t, "deploy-policy.json")
	runs := committedRuns(t)
	need := requiredForInvokes(t, runs, false)
	for _, a := range sortedKeys(need) {
		if !doc.allows(a, "*") {
			t.Errorf("docs/iam/deploy-policy.json does not allow %s on \"*\", needed by %v", a, uniq(need[a]))
		}
	}
	for _, r := range runs {
		for _, typ := range r.types {
			if !strings.HasPrefix(typ, "aws:") {
				continue // random, tls, command, providers, components: no AWS call
			}
			actions, ok := resourceActions[typ]
			if !ok {
				t.Errorf("stack %s declares %s, which has no entry in resourceActions (iam_test.go): add the actions that create it, then allow them in iam/deploy-policy.json", r.stack, typ)
				continue
			}
			for _, a := range actions {
				// Resource-scoped statements (roles, buckets, the zone)
				// carry placeholders; any resource will do here.
				if !doc.allows(a, "") {
					t.Errorf("docs/iam/deploy-policy.json does not allow %s, needed for %s (stack %s)", a, typ, r.stack)
				}
			}
		}
	}
}

// TestDeployPolicyAllowsSessions: with matrix:access ssm, the deploy role
// runs the wrapper, whose ssh starts a Session Manager session to the
// instance with the AWS-StartSSHSession document (ssm:StartSession on
// both) and ends it (ssm:TerminateSession, ssm:ResumeSession on its own
// sessions), and nothing wider: no other document, no one else's session.
func TestDeployPolicyAllowsSessions(t *testing.T) {
	doc := loadPolicy(t, "deploy-policy.json")
	const instance = "arn:aws:ec2:eu-central-1:123456789012:instance/i-0123456789abcdef0"
	for _, tc := range []struct {
		action, resource string
		want             bool
	}{
		{"ssm:StartSession", instance, true},
		{"ssm:StartSession", "arn:aws:ssm:eu-central-1::document/AWS-StartSSHSession", true},
		{"ssm:TerminateSession", "arn:aws:ssm:eu-central-1:123456789012:session/AROAEXAMPLE:deploy-0123456789abcdef0", true},
		{"ssm:ResumeSession", "arn:aws:ssm:eu-central-1:123456789012:session/AROAEXAMPLE:deploy-0123456789abcdef0", true},
		{"ssm:StartSession", "*", false},
		{"ssm:StartSession", "arn:aws:ssm:eu-central-1::document/AWS-StartPortForwardingSessionToRemoteHost", false},
		{"ssm:StartSession", "arn:aws:ssm:eu-central-1:123456789012:document/SSM-SessionManagerRunShell", false},
		{"ssm:SendCommand", instance, false},
		{"ssm:TerminateSession", "*", false},
	} {
		if got := doc.allows(tc.action, tc.resource); got != tc.want {
			t.Errorf("deploy-policy.json allows %s on %s: %v, want %v", tc.action, tc.resource, got, tc.want)
		}
	}
	// The instance grant holds only for the program's hosts, by the tags
	// every resource gets from the provider's default tags.
	for _, s := range doc.Statement {
		if slices.Contains(s.Action, "ssm:StartSession") && slices.ContainsFunc(s.Resource, func(r string) bool { return strings.Contains(r, ":instance/") }) {
			if got := s.Condition["StringEquals"]["ssm:resourceTag/Project"]; !slices.Equal(got, []string{"matrix"}) {
				t.Errorf("statement %s: sessions to instances not limited to Project=matrix (%v)", s.Sid, got)
			}
		}
	}
}

// TestTrustPolicies: the deploy roles trust only their environment's jobs
// on main, the preview role only pull requests. The subjects assume the
// repository's OIDC subject template repo,context,ref (docs/ci.md).
func TestTrustPolicies(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		subs := trustSubjects(t, "trust-deploy-"+env+".json")
		want := "repo:<org>/<repo>:environment:" + env + ":ref:refs/heads/main"
		if len(subs["StringEquals"]) != 1 || subs["StringEquals"][0] != want || len(subs["StringLike"]) != 0 {
			t.Errorf("trust-deploy-%s.json: sub conditions %v, want exactly StringEquals %q", env, subs, want)
		}
	}
	subs := trustSubjects(t, "trust-preview.json")
	all := append(slices.Clone(subs["StringEquals"]), subs["StringLike"]...)
	if len(all) == 0 {
		t.Errorf("trust-preview.json: no sub condition")
	}
	for _, s := range all {
		if !strings.HasPrefix(s, "repo:<org>/<repo>:pull_request") {
			t.Errorf("trust-preview.json: sub %q is not a pull_request subject", s)
		}
	}
}

func TestPolicyMatcher(t *testing.T) {
	doc := policyDoc{Statement: []statement{
		{Effect: "Allow", Action: []string{"ec2:Describe*", "route53:Get?ostedZone"}, Resource: []string{"*"}},
		{Effect: "Allow", Action: []string{"iam:PassRole"}, Resource: []string{"arn:aws:iam::<account>:role/host-*"}},
		{Effect: "Deny", Action: []string{"ec2:DescribeVolumes"}, Resource: []string{"*"}},
	}}
	for _, c := range []struct {
		action, resource string
		want             bool
	}{
		{"ec2:DescribeImages", "*", true},
		{"EC2:describeimages", "*", true}, // actions are case-insensitive
		{"ec2:DescribeVolumes", "*", false},
		{"route53:GetHostedZone", "*", true},
		{"route53:GetHostedZones", "*", false},
		{"rds:DescribeDBInstances", "*", false},
		{"iam:PassRole", "*", false},
		{"iam:PassRole", "", true},
	} {
		if got := doc.allows(c.action, c.resource); got != c.want {
			t.Errorf("allows(%s, %q) = %v, want %v", c.action, c.resource, got, c.want)
		}
	}
}

// policyDoc is an IAM policy document; Action and Resource may be a string
// or a list.
type policyDoc struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

type statement struct {
	Sid       string                           `json:"Sid"`
	Effect    string                           `json:"Effect"`
	Principal json.RawMessage                  `json:"Principal"`
	Action    stringList                       `json:"Action"`
	NotAction stringList                       `json:"NotAction"`
	Resource  stringList                       `json:"Resource"`
	Condition map[string]map[string]stringList `json:"Condition"`
}

type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

func loadPolicy(t *testing.T, name string) policyDoc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(iamDir, name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var doc policyDoc
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
		t.Fatalf("%s: want Version 2012-10-17 and statements", name)
	}
	for _, s := range doc.Statement {
		if len(s.NotAction) > 0 {
			// allows would have to invert the match; keep the files simple.
			t.Fatalf("%s: statement %q uses NotAction, which this test does not evaluate", name, s.Sid)
		}
		if s.Effect != "Allow" && s.Effect != "Deny" {
			t.Fatalf("%s: statement %q: Effect %q", name, s.Sid, s.Effect)
		}
	}
	return doc
}

// allows reports whether an Allow statement matches action and no Deny
// statement does. resource "*" asks for a statement on "*" (what actions
// without resource-level permissions need); "" accepts any Resource.
// Conditions are not evaluated: they narrow a grant, as intended.
func (d policyDoc) allows(action, resource string) bool {
	allowed := false
	for _, s := range d.Statement {
		if !slices.ContainsFunc(s.Action, func(p string) bool { return globMatch(p, action) }) {
			continue
		}
		onResource := resource == "" || slices.Contains(s.Resource, "*") ||
			resource != "*" && slices.ContainsFunc(s.Resource, func(p string) bool { return resourceMatch(p, resource) })
		switch {
		case s.Effect == "Deny" && onResource:
			return false
		case s.Effect == "Allow" && onResource:
			allowed = true
		}
	}
	return allowed
}

// resourceMatch matches a resource ARN pattern of the policy files, whose
// placeholders (<account>, and the caller's ${aws:userid}) stand for any
// value.
func resourceMatch(pattern, arn string) bool {
	pattern = strings.NewReplacer("<account>", "*", "${aws:userid}", "*").Replace(pattern)
	return globMatch(pattern, arn)
}

// globMatch matches an IAM action pattern: * any run, ? one character,
// case-insensitive.
func globMatch(pattern, s string) bool {
	var re strings.Builder
	re.WriteString("(?i)^")
	for _, r := range pattern {
		switch r {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(s)
}

// trustSubjects returns the token.actions.githubusercontent.com:sub values
// of a trust policy by condition operator, after checking the audience.
func trustSubjects(t *testing.T, name string) map[string][]string {
	t.Helper()
	doc := loadPolicy(t, name)
	out := map[string][]string{}
	for _, s := range doc.Statement {
		if s.Effect != "Allow" || !slices.Equal(s.Action, []string{"sts:AssumeRoleWithWebIdentity"}) {
			t.Errorf("%s: statement %q is not an AssumeRoleWithWebIdentity grant", name, s.Sid)
			continue
		}
		if aud := s.Condition["StringEquals"]["token.actions.githubusercontent.com:aud"]; !slices.Equal(aud, []string{"sts.amazonaws.com"}) {
			t.Errorf("%s: aud %v, want sts.amazonaws.com", name, aud)
		}
		for op, kv := range s.Condition {
			if sub, ok := kv["token.actions.githubusercontent.com:sub"]; ok {
				out[op] = append(out[op], sub...)
			}
		}
	}
	return out
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
