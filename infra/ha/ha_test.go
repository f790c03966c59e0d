package ha_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/infra/ha"
	"github.com/matrix-on-aws/homeserver/internal/inventory"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"gopkg.in/yaml.v3"
)

var (
	config   = synth.ExampleConfig
	haConfig = synth.ExampleHAConfig
	modes    = synthtest.Modes()
	run      = synthtest.Run
	one      = synthtest.One
	get      = mock.Get
	strOf    = synthtest.Str
)

const (
	asgType    = "aws:autoscaling/group:Group"
	ltType     = "aws:ec2/launchTemplate:LaunchTemplate"
	sgType     = "aws:ec2/securityGroup:SecurityGroup"
	ruleType   = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
	egressType = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
	dbType     = "aws:rds/instance:Instance"
	bucketType = "aws:s3/bucketV2:BucketV2"
	tgType     = "aws:lb/targetGroup:TargetGroup"
	lstType    = "aws:lb/listener:Listener"
	paramType  = "aws:ssm/parameter:Parameter"
	assocType  = "aws:ssm/association:Association"
	policyType = "aws:iam/rolePolicy:RolePolicy"
	recType    = "aws:route53/record:Record"
)

func num(v resource.PropertyValue) int {
	if v.IsNumber() {
		return int(v.NumberValue())
	}
	return -1
}

// TestHATopology checks the shape of the ha topology in both modes.
func TestHATopology(t *testing.T) {
	for _, m := range modes {
		t.Run(m.Name, func(t *testing.T) {
			res := run(t, m.DryRun, haConfig())
			c := res.Cloud
			for _, typ := range []string{"aws:ec2/instance:Instance", "aws:ebs/volume:Volume", "aws:ec2/eip:Eip", "tls:index/privateKey:PrivateKey", "aws:ec2/keyPair:KeyPair", "aws:dlm/lifecyclePolicy:LifecyclePolicy", synthtest.LocalCommand + "-none"} {
				if len(c.Find(typ)) > 0 {
					t.Errorf("ha declares %s", typ)
				}
			}
			for _, cmd := range c.Find(synthtest.LocalCommand) {
				if cmd.Name != "verify" {
					t.Errorf("ha runs the local command %s: the host configures itself", cmd.Name)
				}
			}
			if len(c.Find(synthtest.RemoteCommand)) > 0 {
				t.Error("ha connects to the host over SSH")
			}

			asg := one(t, c, asgType, "host")
			for _, k := range []string{"minSize", "maxSize", "desiredCapacity"} {
				if got := num(get(asg.Inputs, k)); got != 1 {
					t.Errorf("group %s = %d, want 1", k, got)
				}
			}
			if got := get(asg.Inputs, "vpcZoneIdentifiers"); !got.IsArray() || len(got.ArrayValue()) != 2 {
				t.Errorf("group spans %v, want the two public subnets", got)
			}
			if get(asg.Inputs, "healthCheckType").StringValue() != "ELB" || num(get(asg.Inputs, "waitForElbCapacity")) != 1 {
				t.Errorf("group does not heal on, or wait for, the load balancer's health: %v", asg.Inputs)
			}
			pref := get(asg.Inputs, "instanceRefresh", "preferences")
			if get(asg.Inputs, "instanceRefresh", "strategy").StringValue() != "Rolling" || num(get(pref.ObjectValue(), "minHealthyPercentage")) != 0 || num(get(pref.ObjectValue(), "maxHealthyPercentage")) != 100 {
				t.Errorf("instance refresh %v: must replace the one host without ever running two", get(asg.Inputs, "instanceRefresh"))
			}
			if n := len(get(asg.Inputs, "targetGroupArns").ArrayValue()); n != 2 {
				t.Errorf("group in %d target groups", n)
			}

			lt := one(t, c, ltType, "host")
			md := get(lt.Inputs, "metadataOptions").ObjectValue()
			if md["httpTokens"].StringValue() != "required" || num(md["httpPutResponseHopLimit"]) != 2 {
				t.Errorf("metadata options %v: IMDSv2 with two hops for containers", md)
			}
			ebs := get(lt.Inputs, "blockDeviceMappings").ArrayValue()[0].ObjectValue()["ebs"].ObjectValue()
			if ebs["encrypted"].StringValue() != "true" || ebs["volumeType"].StringValue() != "gp3" || num(ebs["volumeSize"]) != 20 {
				t.Errorf("root volume %v", ebs)
			}
			if !slices.Contains(lt.IgnoreChanges, "imageId") {
				t.Error("a newer Ubuntu image would replace the host")
			}

			db := one(t, c, dbType, "db")
			for k, want := range map[string]any{
				"engine": "postgres", "instanceClass": "db.t4g.micro", "storageType": "gp3", "identifier": "matrix-test",
				"storageEncrypted": true, "publiclyAccessible": false, "multiAz": false, "deletionProtection": false,
				"skipFinalSnapshot": false, "finalSnapshotIdentifier": "matrix-test-final",
				"backupRetentionPeriod": 7.0, "allocatedStorage": 20.0, "port": float64(infra.PostgresPort),
				"deleteAutomatedBackups": false,
			} {
				if got := get(db.Inputs, k); fmt.Sprint(got.V) != fmt.Sprint(want) {
					t.Errorf("database %s = %v, want %v", k, got.V, want)
				}
			}
			if db.Protect {
				t.Error("database protected without matrix:protect")
			}
			if pw := get(db.Inputs, "password"); !pw.IsSecret() && !pw.IsComputed() && !(pw.IsOutput() && pw.OutputValue().Secret) {
				t.Errorf("database password is not secret: %v", pw)
			}

			// Listeners and target groups from the one port table.
			listeners := map[int]string{}
			for _, l := range c.Find(lstType) {
				listeners[num(get(l.Inputs, "port"))] = get(l.Inputs, "protocol").StringValue()
			}
			if fmt.Sprint(listeners) != fmt.Sprint(map[int]string{80: "HTTP", 443: "HTTPS", 8448: "HTTPS"}) {
				t.Errorf("listeners %v", listeners)
			}
			redirect := get(one(t, c, lstType, "http").Inputs, "defaultActions").ArrayValue()[0].ObjectValue()
			if redirect["type"].StringValue() != "redirect" || get(redirect, "redirect", "port").StringValue() != "443" {
				t.Errorf("80 does not redirect to 443: %v", redirect)
			}
			for name, port := range map[string]int{"web": infra.TraefikWebPort, "federation": infra.TraefikFederationPort} {
				tg := one(t, c, tgType, name)
				hc := get(tg.Inputs, "healthCheck").ObjectValue()
				if num(get(tg.Inputs, "port")) != port || hc["path"].StringValue() != infra.HealthPath || hc["port"].StringValue() != fmt.Sprint(infra.TraefikHealthPort) || hc["matcher"].StringValue() != "200" {
					t.Errorf("target group %s: port %v health %v", name, get(tg.Inputs, "port"), hc)
				}
			}
			alb := one(t, c, "aws:lb/loadBalancer:LoadBalancer", "alb")
			if get(alb.Inputs, "ipAddressType").StringValue() != "dualstack" || len(get(alb.Inputs, "subnets").ArrayValue()) != 2 {
				t.Errorf("load balancer %v", alb.Inputs)
			}

			// Certificate names, validated through Route 53.
			cert := one(t, c, "aws:acm/certificate:Certificate", "tls")
			var certNames []string
			certNames = append(certNames, get(cert.Inputs, "domainName").StringValue())
			for _, s := range get(cert.Inputs, "subjectAlternativeNames").ArrayValue() {
				certNames = append(certNames, s.StringValue())
			}
			if !synthtest.SameSet(certNames, []string{"matrix.example.org", "element.example.org", "example.org"}) {
				t.Errorf("certificate for %v", certNames)
			}
			var validations int
			for _, r := range c.Find(recType) {
				if strings.HasPrefix(r.Name, "validation-") {
					validations++
				}
			}
			if validations != 3 || len(c.Find("aws:acm/certificateValidation:CertificateValidation")) != 1 {
				t.Errorf("%d validation records", validations)
			}

			// Buckets and parameters.
			media := one(t, c, bucketType, "media")
			if media.Protect || get(media.Inputs, "forceDestroy").BoolValue() {
				t.Errorf("media bucket: protect %v forceDestroy %v", media.Protect, get(media.Inputs, "forceDestroy"))
			}
			ver := one(t, c, "aws:s3/bucketVersioningV2:BucketVersioningV2", "media")
			if get(ver.Inputs, "versioningConfiguration", "status").StringValue() != "Enabled" {
				t.Error("media bucket not versioned")
			}
			for _, name := range []string{"vars", "redact", "signing-key"} {
				p := one(t, c, paramType, name)
				if get(p.Inputs, "type").StringValue() != "SecureString" || get(p.Inputs, "name").StringValue() != "/matrix/test/"+name {
					t.Errorf("parameter %s: %v", name, p.Inputs)
				}
				if v := get(p.Inputs, "value"); !v.IsSecret() && !v.IsComputed() && !(v.IsOutput() && v.OutputValue().Secret) {
					t.Errorf("parameter %s holds its value in plain text", name)
				}
				// The redact list holds the ~130 secrets the upstream
				// derives from ours: over 4 KiB, so Advanced (priced by
				// cmd/cost); the others fit the free Standard tier.
				wantTier := map[string]string{"redact": "Advanced"}[name]
				if wantTier == "" {
					wantTier = "Standard"
				}
				if !m.DryRun && get(p.Inputs, "tier").StringValue() != wantTier {
					t.Errorf("parameter %s tier %v, want %s", name, get(p.Inputs, "tier"), wantTier)
				}
			}
		})
	}
}

func TestHAProtect(t *testing.T) {
	res := run(t, false, haConfig("matrix:protect", "true", "matrix:dbMultiAz", "true", "matrix:dbBackupRetentionDays", "30"))
	db := one(t, res.Cloud, dbType, "db")
	if !db.Protect || !db.RetainOnDelete || !get(db.Inputs, "deletionProtection").BoolValue() || !get(db.Inputs, "multiAz").BoolValue() || num(get(db.Inputs, "backupRetentionPeriod")) != 30 {
		t.Errorf("database: protect %v retain %v inputs %v", db.Protect, db.RetainOnDelete, db.Inputs)
	}
	media := one(t, res.Cloud, bucketType, "media")
	if !media.Protect || !media.RetainOnDelete {
		t.Error("media bucket not protected")
	}
	if boot := one(t, res.Cloud, bucketType, "bootstrap"); boot.Protect {
		t.Error("bootstrap bucket protected: it holds nothing that cannot be rebuilt")
	}
	if !get(one(t, res.Cloud, "aws:lb/loadBalancer:LoadBalancer", "alb").Inputs, "enableDeletionProtection").BoolValue() {
		t.Error("load balancer without deletion protection")
	}
}

// groupIDs maps security group IDs to their names (IDs are in their ARNs).
func groupIDs(c *mock.Cloud) map[string]string {
	out := map[string]string{}
	for _, g := range c.Find(sgType) {
		arn := g.Outputs["arn"].StringValue()
		out[arn[strings.LastIndex(arn, "/")+1:]] = g.Name
	}
	return out
}

// TestHASecurityGroupGraph: only ALB -> host on the Traefik and health
// ports, only host -> database on 5432; the ALB alone is public.
func TestHASecurityGroupGraph(t *testing.T) {
	for _, ipv6 := range []string{"true", "false"} {
		res := run(t, false, haConfig("matrix:ipv6", ipv6))
		ids := groupIDs(res.Cloud)
		if len(ids) != 3 {
			t.Fatalf("security groups %v", ids)
		}
		edges := map[string][]string{}
		for _, r := range res.Cloud.Find(ruleType) {
			to := ids[strOf(get(r.Inputs, "securityGroupId"))]
			from := ids[strOf(get(r.Inputs, "referencedSecurityGroupId"))]
			for _, k := range []string{"cidrIpv4", "cidrIpv6"} {
				if v := get(r.Inputs, k); v.IsString() {
					from = v.StringValue()
				}
			}
			edges[to] = append(edges[to], fmt.Sprintf("%s %s/%v-%v", from, get(r.Inputs, "ipProtocol").StringValue(), get(r.Inputs, "fromPort").V, get(r.Inputs, "toPort").V))
		}
		want := map[string][]string{
			"host": {"alb tcp/81-81", "alb tcp/8449-8449", "alb tcp/8008-8008"},
			"db":   {"host tcp/5432-5432"},
		}
		for _, fam := range []string{"0.0.0.0/0", "::/0"} {
			if fam == "::/0" && ipv6 == "false" {
				continue
			}
			for _, p := range []string{"80", "443", "8448"} {
				want["alb"] = append(want["alb"], fmt.Sprintf("%s tcp/%s-%s", fam, p, p))
			}
		}
		for g := range ids {
			name := ids[g]
			if !synthtest.SameSet(edges[name], want[name]) {
				t.Errorf("ipv6=%s: into %s: %v, want %v", ipv6, name, edges[name], want[name])
			}
		}
		var dbOut []string
		for _, r := range res.Cloud.Find(egressType) {
			if g := ids[strOf(get(r.Inputs, "securityGroupId"))]; g == "db" {
				dbOut = append(dbOut, r.Name)
			} else if g == "alb" && ids[strOf(get(r.Inputs, "referencedSecurityGroupId"))] != "host" {
				t.Errorf("load balancer sends elsewhere than the host: %s", r.Name)
			}
		}
		if len(dbOut) > 0 {
			t.Errorf("database has egress rules %v", dbOut)
		}
	}
}

// TestHAIAMLeastPrivilege parses the host's inline policy.
func TestHAIAMLeastPrivilege(t *testing.T) {
	res := run(t, false, haConfig())
	c := res.Cloud
	var doc infra.HostPolicy
	if err := json.Unmarshal([]byte(get(one(t, c, policyType, "host").Inputs, "policy").StringValue()), &doc); err != nil {
		t.Fatal(err)
	}
	media := one(t, c, bucketType, "media").Outputs["arn"].StringValue()
	boot := one(t, c, bucketType, "bootstrap").Outputs["arn"].StringValue()
	vars := one(t, c, paramType, "vars").Outputs["arn"].StringValue()
	redact := one(t, c, paramType, "redact").Outputs["arn"].StringValue()
	signing := one(t, c, paramType, "signing-key").Outputs["arn"].StringValue()
	allowed := map[string][]string{
		"s3:ListBucket":    {media},
		"s3:GetObject":     {media + "/*", boot + "/" + infra.TreeObjectKey},
		"s3:PutObject":     {media + "/*"},
		"s3:DeleteObject":  {media + "/*"},
		"ssm:GetParameter": {vars, redact, signing},
	}
	granted := map[string][]string{}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement %s: effect %s", st.Sid, st.Effect)
		}
		for _, r := range st.Resource {
			if strings.Contains(r, "*") && !strings.HasSuffix(r, ":::"+strings.TrimPrefix(media, "arn:aws:s3:::")+"/*") {
				t.Errorf("statement %s grants a wildcard resource %s", st.Sid, r)
			}
		}
		for _, a := range st.Action {
			if strings.Contains(a, "*") {
				t.Errorf("statement %s grants a wildcard action %s", st.Sid, a)
			}
			granted[a] = append(granted[a], st.Resource...)
		}
	}
	if len(granted) != len(allowed) {
		t.Errorf("actions %v, want exactly %v", granted, allowed)
	}
	for a, want := range allowed {
		if !synthtest.SameSet(granted[a], want) {
			t.Errorf("%s on %v, want %v", a, granted[a], want)
		}
	}
	var managed []string
	for _, r := range c.Find("aws:iam/rolePolicyAttachment:RolePolicyAttachment") {
		if r.Name == "host-ssm" {
			managed = append(managed, get(r.Inputs, "policyArn").StringValue())
		}
	}
	if !slices.Equal(managed, []string{"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"}) {
		t.Errorf("managed policies %v", managed)
	}
	profile := one(t, c, "aws:iam/instanceProfile:InstanceProfile", "host")
	lt := one(t, c, ltType, "host")
	if get(lt.Inputs, "iamInstanceProfile", "arn").StringValue() != profile.Outputs["arn"].StringValue() {
		t.Error("launch template does not use the host's instance profile")
	}
}

func haVars(t *testing.T, raw map[string]string) (string, map[string]any) {
	t.Helper()
	return haVarsIn(t, run(t, false, raw).Cloud)
}

// TestHARenderedVars checks the vars the hosts apply against the values of
// the declared resources. That each name exists at the pinned upstream
// commit is cmd/upstreamvars' check (TestCommittedFactsAndRenderedNames),
// against internal/upstream's facts.
func TestHARenderedVars(t *testing.T) {
	res := run(t, false, haConfig())
	_, vars := haVars(t, haConfig())
	db := one(t, res.Cloud, dbType, "db").Outputs
	bucket := one(t, res.Cloud, bucketType, "media").Outputs["bucket"].StringValue()
	dbPassword := one(t, res.Cloud, "random:index/randomPassword:RandomPassword", "db-password").Outputs["result"].SecretValue().Element.StringValue()
	want := map[string]any{
		"postgres_enabled":                                                                     false,
		"matrix_synapse_database_host":                                                         db["address"].StringValue(),
		"matrix_synapse_database_user":                                                         "synapse",
		"matrix_synapse_database_password":                                                     dbPassword,
		"matrix_synapse_database_database":                                                     "synapse",
		"matrix_synapse_ext_synapse_s3_storage_provider_enabled":                               true,
		"matrix_synapse_ext_synapse_s3_storage_provider_config_bucket":                         bucket,
		"matrix_synapse_ext_synapse_s3_storage_provider_config_region_name":                    "eu-central-1",
		"matrix_synapse_ext_synapse_s3_storage_provider_config_endpoint_url":                   "https://s3.eu-central-1.amazonaws.com",
		"matrix_synapse_ext_synapse_s3_storage_provider_config_ec2_instance_profile":           true,
		"matrix_playbook_ssl_enabled":                                                          true,
		"traefik_config_entrypoint_web_secure_enabled":                                         false,
		"traefik_container_web_host_bind_port":                                                 fmt.Sprintf("0.0.0.0:%d", infra.TraefikWebPort),
		"traefik_config_entrypoint_web_forwardedHeaders_trustedIPs":                            []any{"10.42.0.0/16"},
		"matrix_playbook_public_matrix_federation_api_traefik_entrypoint_host_bind_port":       fmt.Sprintf("0.0.0.0:%d", infra.TraefikFederationPort),
		"matrix_playbook_public_matrix_federation_api_traefik_entrypoint_config_http3_enabled": false,
		"matrix_playbook_public_matrix_federation_api_traefik_entrypoint_config_custom":        map[string]any{"forwardedHeaders": map[string]any{"trustedIPs": []any{"10.42.0.0/16"}}},
		"matrix_playbook_internal_matrix_client_api_traefik_entrypoint_host_bind_port":         fmt.Sprintf("0.0.0.0:%d", infra.TraefikHealthPort),
		"matrix_playbook_reverse_proxy_type":                                                   "playbook-managed-traefik",
		"coturn_enabled":                                                                       false,
	}
	for k, w := range want {
		if fmt.Sprint(vars[k]) != fmt.Sprint(w) {
			t.Errorf("%s = %v, want %v", k, vars[k], w)
		}
	}
	if _, ok := vars["coturn_turn_external_ip_addresses"]; ok {
		t.Error("coturn addresses rendered in ha")
	}
	// The reviewer's copy masks the secrets but shows where things are.
	masked := res.Files["inventory/host_vars/matrix.example.org/vars.yml"].Value.(string)
	if strings.Contains(masked, dbPassword) || !strings.Contains(masked, "matrix_synapse_database_password: '[secret]'") || !strings.Contains(masked, bucket) {
		t.Errorf("masked vars:\n%s", masked)
	}
	if hosts := res.Files["inventory/hosts"].Value.(string); !strings.Contains(hosts, "matrix.example.org ansible_connection=local ") || strings.Contains(hosts, "ansible_host=") {
		t.Errorf("hosts: %q", hosts)
	}
}

// TestHAMAS: in ha, MAS has its own role and database on RDS, reached over
// TLS, with a generated password the host masks.
func TestHAMAS(t *testing.T) {
	res := run(t, false, haConfig("matrix:auth", "mas"))
	_, vars := haVars(t, haConfig("matrix:auth", "mas"))
	db := one(t, res.Cloud, "aws:rds/instance:Instance", "db").Outputs
	pw := synthtest.Generated(t, res.Cloud, "mas-db-password")
	for k, want := range map[string]any{
		"matrix_authentication_service_config_database_host":     db["address"].StringValue(),
		"matrix_authentication_service_config_database_username": inventory.MASDatabaseUser,
		"matrix_authentication_service_config_database_database": inventory.MASDatabaseName,
		"matrix_authentication_service_config_database_password": pw,
		"matrix_authentication_service_config_database_ssl_mode": "require",
	} {
		if vars[k] != want {
			t.Errorf("%s = %v, want %v", k, vars[k], want)
		}
	}
	redact := get(one(t, res.Cloud, paramType, "redact").Inputs, "value").SecretValue().Element.StringValue()
	if !slices.Contains(strings.Split(redact, "\n"), pw) {
		t.Error("the MAS database password is not in the host's redaction list")
	}
	if pw == synthtest.Generated(t, res.Cloud, "db-password") {
		t.Error("MAS shares Synapse's database password")
	}
	// Without MAS nothing of it is declared or rendered.
	plain := run(t, false, haConfig())
	for _, r := range plain.Cloud.Resources() {
		if strings.HasPrefix(r.Name, "mas-") {
			t.Errorf("%s %s declared without matrix:auth mas", r.Type, r.Name)
		}
	}
}

func userData(t *testing.T, c *mock.Cloud) (string, map[string]any) {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(get(one(t, c, ltType, "host").Inputs, "userData").StringValue())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return string(b), doc
}

func TestHAUserData(t *testing.T) {
	res := run(t, false, haConfig("matrix:playbookVars", `{"ntfy_enabled":true}`))
	text, doc := userData(t, res.Cloud)
	if !strings.HasPrefix(text, "#cloud-config\n") || len(text) > ha.UserDataLimit {
		t.Errorf("user data: %d bytes, starts %q", len(text), text[:20])
	}
	if fmt.Sprint(doc["packages"]) != fmt.Sprint([]any{"ansible", "git", "python3-boto3", "postgresql-client"}) {
		t.Errorf("packages %v", doc["packages"])
	}
	script := doc["runcmd"].([]any)[0].([]any)[2].(string)
	boot := one(t, res.Cloud, bucketType, "bootstrap").Outputs["bucket"].StringValue()
	for _, want := range []string{
		"flock 8", boot, "'" + infra.TreeObjectKey + "'", "/opt/matrix-on-aws/ansible/bootstrap-host",
		"'--vars-parameter' '/matrix/test/vars'", "'--redact-parameter' '/matrix/test/redact'",
		"'--signing-key-parameter' '/matrix/test/signing-key'",
		"'--health-port' '8008'", "'--setup-tags' 'setup-all'", "'--start-tags' 'ensure-matrix-users-created,start'",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("boot script lacks %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, "cloud-init status --wait") || strings.Contains(script, "--expect-vars-sha256") {
		t.Errorf("boot script waits for itself or pins inputs it cannot know:\n%s", script)
	}
	// The user data holds no secret: it is readable by anyone who may
	// describe the launch template.
	for _, r := range res.Cloud.Find("random:index/randomPassword:RandomPassword") {
		if strings.Contains(text, r.Outputs["result"].SecretValue().Element.StringValue()) {
			t.Errorf("user data holds the %s secret", r.Name)
		}
	}
	// New vars must not replace the host: the user data does not change.
	other, _ := userData(t, run(t, false, haConfig("matrix:registration", "token", "matrix:playbookVars", `{"ntfy_enabled":true}`)).Cloud)
	if other != text {
		t.Error("user data changes with the vars")
	}
}

// TestHAApply: the association re-runs the playbook exactly when the vars
// or the tree change, waits for success, and verify follows it.
func TestHAApply(t *testing.T) {
	res := run(t, false, haConfig())
	c := res.Cloud
	a := one(t, c, assocType, "playbook")
	asg := one(t, c, asgType, "host")
	target := get(a.Inputs, "targets").ArrayValue()[0].ObjectValue()
	if target["key"].StringValue() != "tag:aws:autoscaling:groupName" || target["values"].ArrayValue()[0].StringValue() != asg.Outputs["name"].StringValue() {
		t.Errorf("association targets %v", target)
	}
	if get(a.Inputs, "name").StringValue() != "AWS-RunShellScript" || num(get(a.Inputs, "waitForSuccessTimeoutSeconds")) <= 0 {
		t.Errorf("association %v", a.Inputs)
	}
	// The provider waits for success only on create: new inputs must
	// replace the association, the old one gone first.
	if !slices.Contains(a.ReplaceOnChanges, "parameters") || !a.DeleteBeforeReplace {
		t.Errorf("association replaceOnChanges %v deleteBeforeReplace %v", a.ReplaceOnChanges, a.DeleteBeforeReplace)
	}
	commands := get(a.Inputs, "parameters", "commands").StringValue()
	text, _ := haVars(t, haConfig())
	sum := sha256.Sum256([]byte(text))
	tree, err := infra.TreeArchive()
	if err != nil {
		t.Fatal(err)
	}
	treeSum := sha256.Sum256(tree)
	for _, want := range []string{
		"cloud-init status --wait", "'--expect-vars-sha256' '" + hex.EncodeToString(sum[:]) + "'",
		"'--expect-tree-sha256' '" + hex.EncodeToString(treeSum[:]) + "'",
	} {
		if !strings.Contains(commands, want) {
			t.Errorf("association commands lack %q:\n%s", want, commands)
		}
	}
	if strings.Index(commands, "cloud-init status --wait") > strings.Index(commands, "flock 8") {
		t.Error("the association takes the lock before cloud-init ends: it would deadlock with the boot run")
	}
	if !synthtest.DependsOn(a, "host") || !synthtest.DependsOn(a, "vars") || !synthtest.DependsOn(a, "ansible-tree") {
		t.Errorf("association depends on %v", a.DependsOn)
	}
	v := one(t, c, synthtest.LocalCommand, "verify")
	create := get(v.Inputs, "create").StringValue()
	if create != "go run ./cmd/verify --retry-for 20m --registration closed --user admin example.org" {
		t.Errorf("verify runs %q", create)
	}
	if !synthtest.DependsOn(v, "playbook") {
		t.Error("verify does not wait for the playbook run")
	}
	// Other vars: other commands; the same vars: the same commands.
	again := get(one(t, run(t, false, haConfig()).Cloud, assocType, "playbook").Inputs, "parameters", "commands").StringValue()
	other := get(one(t, run(t, false, haConfig("matrix:registration", "token")).Cloud, assocType, "playbook").Inputs, "parameters", "commands").StringValue()
	if again != commands || other == commands {
		t.Error("association commands do not follow the vars")
	}

	none := run(t, false, haConfig("matrix:provision", "false"))
	if len(none.Cloud.Find(assocType)) != 0 || len(none.Cloud.Find(synthtest.LocalCommand)) != 0 {
		t.Error("matrix:provision false still re-runs or verifies")
	}
	if len(none.Cloud.Find(asgType)) != 1 {
		t.Error("no host without provisioning")
	}
}

func TestHAOutputs(t *testing.T) {
	for _, m := range modes {
		res := run(t, m.DryRun, haConfig())
		var got []string
		for k := range res.Outputs {
			got = append(got, k)
		}
		sort.Strings(got)
		want := []string{"adminPassword", "adminUserId", "amiName", "autoScalingGroup", "databaseEndpoint", "databaseIdentifier", "elementUrl", "homeserverUrl",
			"hostedZoneId", "loadBalancerDns", "mediaBucket", "nameServers", "sessionCommand", "topology", "userIdFormat", "varsParameter"}
		if !slices.Equal(got, want) {
			t.Errorf("%s: outputs %v, want %v", m.Name, got, want)
		}
		if !res.Outputs["adminPassword"].Secret {
			t.Error("adminPassword not secret")
		}
	}
}

func TestHARecords(t *testing.T) {
	res := run(t, false, haConfig("matrix:playbookVars", `{"ntfy_enabled":true}`))
	alb := one(t, res.Cloud, "aws:lb/loadBalancer:LoadBalancer", "alb").Outputs
	var got []string
	for _, r := range res.Cloud.Find(recType) {
		if strings.HasPrefix(r.Name, "validation-") {
			continue
		}
		got = append(got, r.Name)
		typ := get(r.Inputs, "type").StringValue()
		if typ == "CNAME" {
			if get(r.Inputs, "records").ArrayValue()[0].StringValue() != "matrix.example.org" {
				t.Errorf("%s points at %v", r.Name, get(r.Inputs, "records"))
			}
			continue
		}
		alias := get(r.Inputs, "aliases").ArrayValue()[0].ObjectValue()
		if alias["name"].StringValue() != alb["dnsName"].StringValue() || alias["zoneId"].StringValue() != alb["zoneId"].StringValue() {
			t.Errorf("%s aliases %v", r.Name, alias)
		}
	}
	if !synthtest.SameSet(got, []string{"matrix-A", "matrix-AAAA", "base-A", "base-AAAA", "element-CNAME", "ntfy-CNAME"}) {
		t.Errorf("records %v", got)
	}
	// The service's name is on the load balancer's certificate too.
	var sans []string
	for _, s := range get(one(t, res.Cloud, "aws:acm/certificate:Certificate", "tls").Inputs, "subjectAlternativeNames").ArrayValue() {
		sans = append(sans, s.StringValue())
	}
	if !slices.Contains(sans, "ntfy.example.org") {
		t.Errorf("certificate names %v lack ntfy.example.org", sans)
	}
}

// TestHASigningKey: the key Synapse signs with is made once and kept with
// the stack, in Synapse's key file format, so a replaced host keeps the
// server's identity in federation.
func TestHASigningKey(t *testing.T) {
	res := run(t, false, haConfig())
	v := get(one(t, res.Cloud, paramType, "signing-key").Inputs, "value")
	if !v.IsSecret() {
		t.Fatalf("signing key parameter value is not secret: %v", v)
	}
	key := v.SecretValue().Element.StringValue()
	f := strings.Fields(key)
	if len(f) != 3 || f[0] != "ed25519" || !regexp.MustCompile(`^a_[a-z0-9]{4}$`).MatchString(f[1]) || !strings.HasSuffix(key, "\n") {
		t.Fatalf("signing key %q is not in Synapse's format", key)
	}
	seed, err := base64.RawStdEncoding.DecodeString(f[2])
	if err != nil || len(seed) != ed25519.SeedSize {
		t.Errorf("seed decodes to %d bytes (%v), want an unpadded %d-byte ed25519 seed", len(seed), err, ed25519.SeedSize)
	}
	again := run(t, false, haConfig())
	if get(one(t, again.Cloud, paramType, "signing-key").Inputs, "value").SecretValue().Element.StringValue() != key {
		t.Error("the signing key is not stable across runs")
	}
}

// TestHAMediaEndpointFollowsPartition: the S3 endpoint is the region's own,
// in its partition's DNS suffix, not the aws partition's everywhere.
func TestHAMediaEndpointFollowsPartition(t *testing.T) {
	for region, want := range map[string]string{
		"eu-central-1":  "https://s3.eu-central-1.amazonaws.com",
		"cn-north-1":    "https://s3.cn-north-1.amazonaws.com.cn",
		"us-gov-west-1": "https://s3.us-gov-west-1.amazonaws.com",
	} {
		_, vars := haVars(t, haConfig("aws:region", region))
		if got := vars["matrix_synapse_ext_synapse_s3_storage_provider_config_endpoint_url"]; got != want {
			t.Errorf("%s: endpoint %v, want %s", region, got, want)
		}
	}
}

// TestHAHealthCheckThroughTraefik: the target groups check the way users'
// requests go, through Traefik to Synapse, so a host whose Traefik is down
// fails its health check and is replaced. A check of Synapse's own port
// passed with Traefik dead. bootstrap-host waits for the same check, so a
// host it calls done is one the load balancer calls healthy.
func TestHAHealthCheckThroughTraefik(t *testing.T) {
	res := run(t, false, haConfig())
	_, vars := haVars(t, haConfig())
	// Synapse must not be reachable from the load balancer but through
	// Traefik: the health check cannot go around it.
	if v, ok := vars["matrix_synapse_container_client_api_host_bind_port"]; ok {
		t.Errorf("Synapse's client API is bound on the host at %v: the health check can skip Traefik", v)
	}
	_, script := userDataScript(t, res.Cloud)
	for _, name := range []string{"web", "federation"} {
		hc := get(one(t, res.Cloud, tgType, name).Inputs, "healthCheck").ObjectValue()
		port, path := hc["port"].StringValue(), hc["path"].StringValue()
		// Traefik's internal client API entrypoint is the one that routes
		// without a Host header (which a health check cannot send), and
		// it routes /_matrix to Synapse.
		if got := vars["matrix_playbook_internal_matrix_client_api_traefik_entrypoint_host_bind_port"]; got != "0.0.0.0:"+port {
			t.Errorf("target group %s checks port %s; Traefik's internal entrypoint is bound at %v", name, port, got)
		}
		if !strings.HasPrefix(path, "/_matrix/") {
			t.Errorf("target group %s checks %s, which Traefik's internal entrypoint does not route to Synapse", name, path)
		}
		for _, want := range []string{"'--health-port' '" + port + "'", "'--health-path' '" + path + "'"} {
			if !strings.Contains(script, want) {
				t.Errorf("bootstrap-host does not wait for the target group %s's check: no %q in\n%s", name, want, script)
			}
		}
	}
}

// userDataScript is the shell script the user data runs at first boot.
func userDataScript(t *testing.T, c *mock.Cloud) (text, script string) {
	t.Helper()
	text, doc := userData(t, c)
	return text, doc["runcmd"].([]any)[0].([]any)[2].(string)
}

// TestHASwap: an ha host gets the swap file ansible/prepare.yml gives a
// single host (which never runs on ha) before the playbook builds
// Synapse's image. The script's own text runs here, with its paths moved
// into a temporary directory and mkswap and swapon replaced.
func TestHASwap(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	res := run(t, false, haConfig())
	_, boot := userDataScript(t, res.Cloud)
	again := get(one(t, res.Cloud, assocType, "playbook").Inputs, "parameters", "commands").StringValue()
	var block string
	for name, script := range map[string]string{"boot": boot, "association": again} {
		start := strings.Index(script, "mem_mib=")
		end := strings.Index(script[max(start, 0):], "\nfi\n")
		if start < 0 || end < 0 {
			t.Fatalf("%s script adds no swap:\n%s", name, script)
		}
		if start > strings.Index(script, "bootstrap-host") {
			t.Errorf("%s script adds swap after the playbook runs", name)
		}
		block = script[start : start+end+len("\nfi\n")]
	}

	// setup makes a host of memKiB in a temporary directory: its meminfo,
	// fstab, and mkswap and swapon that only log their calls (swapon
	// --show prints $ACTIVE).
	setup := func(t *testing.T, memKiB int) string {
		t.Helper()
		dir := t.TempDir()
		bin := filepath.Join(dir, "bin")
		if err := os.Mkdir(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, body := range map[string]string{"mkswap": "", "swapon": `[ "$1" = --show=NAME ] && printf '%s' "$ACTIVE"` + "\n"} {
			if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\necho \""+name+" $*\" >>\"$CALLS\"\n"+body+"exit 0\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "meminfo"), []byte(fmt.Sprintf("MemTotal:       %d kB\nMemFree:        1 kB\n", memKiB)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "fstab"), []byte("LABEL=cloudimg-rootfs / ext4 defaults 0 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// runSwap runs the block on the host in dir, under the default umask,
	// and returns the calls of mkswap and swapon.
	runSwap := func(t *testing.T, dir, active string) string {
		t.Helper()
		s := strings.NewReplacer("/proc/meminfo", dir+"/meminfo", "/etc/fstab", dir+"/fstab", "/swapfile", dir+"/swapfile",
			"count=2048", "count=1").Replace(block)
		os.Remove(filepath.Join(dir, "calls"))
		cmd := exec.Command("bash", "-c", "set -eu\numask 022\n"+s)
		cmd.Env = append(os.Environ(), "PATH="+dir+"/bin:"+os.Getenv("PATH"), "CALLS="+dir+"/calls", "ACTIVE="+active)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("swap script: %v\n%s\n%s", err, out, s)
		}
		calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
		return string(calls)
	}

	t.Run("2GiB", func(t *testing.T) {
		dir := setup(t, 2*1024*1024)
		calls := runSwap(t, dir, "")
		fi, err := os.Stat(filepath.Join(dir, "swapfile"))
		if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 1<<20 {
			t.Errorf("swap file %v, %v: want 1 MiB (the test's size), mode 0600", fi, err)
		}
		fstab, _ := os.ReadFile(filepath.Join(dir, "fstab"))
		if !strings.Contains(string(fstab), dir+"/swapfile none swap sw 0 0\n") {
			t.Errorf("fstab:\n%s", fstab)
		}
		if !strings.Contains(calls, "mkswap "+dir+"/swapfile.partial\n") || !strings.Contains(calls, "swapon "+dir+"/swapfile\n") {
			t.Errorf("calls:\n%s", calls)
		}
		// The next run finds the file in use: nothing is recreated,
		// re-enabled or added twice.
		calls = runSwap(t, dir, dir+"/swapfile\n")
		if strings.Contains(calls, "mkswap") || strings.Contains(calls, "swapon "+dir) {
			t.Errorf("second run recreated or re-enabled the swap file:\n%s", calls)
		}
		fstab, _ = os.ReadFile(filepath.Join(dir, "fstab"))
		if n := strings.Count(string(fstab), "/swapfile "); n != 1 {
			t.Errorf("fstab has %d swap lines:\n%s", n, fstab)
		}
	})
	t.Run("8GiB", func(t *testing.T) {
		dir := setup(t, 8*1024*1024)
		calls := runSwap(t, dir, "")
		if _, err := os.Stat(filepath.Join(dir, "swapfile")); !errors.Is(err, os.ErrNotExist) || calls != "" {
			t.Errorf("a host with 8 GiB got swap: %v, calls %v", err, calls)
		}
	})
}
