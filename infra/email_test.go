package infra_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"gopkg.in/yaml.v3"
)

const (
	identityType = "aws:sesv2/emailIdentity:EmailIdentity"
	mailFromType = "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes"
	userType     = "aws:iam/user:User"
	userPolType  = "aws:iam/userPolicy:UserPolicy"
	accessKey    = "aws:iam/accessKey:AccessKey"
)

// mailRecords returns the records matrix:email ses publishes, by name.
func mailRecords(c *mock.Cloud) map[string]mock.Resource {
	out := map[string]mock.Resource{}
	for _, r := range c.Find(recType) {
		if strings.HasPrefix(r.Name, "dkim-") || strings.HasPrefix(r.Name, "bounce-") || strings.HasPrefix(r.Name, "dmarc-") {
			out[r.Name] = r
		}
	}
	return out
}

// TestMailResources: matrix:email ses declares the domain identity with
// 2048-bit Easy DKIM, the MAIL FROM domain, the DNS records SES asks for
// in the stack's zone, and the IAM user of the relay; none of it without.
func TestMailResources(t *testing.T) {
	for _, m := range modes {
		t.Run(m.Name, func(t *testing.T) {
			res := run(t, m.DryRun, config("matrix:email", "ses"))
			c := res.Cloud
			id := inputs(t, c, identityType, "mail")
			if get(id, "emailIdentity").StringValue() != "example.org" || get(id, "dkimSigningAttributes", "nextSigningKeyLength").StringValue() != "RSA_2048_BIT" {
				t.Errorf("identity inputs: %v", id)
			}
			mf := inputs(t, c, mailFromType, "mail")
			if get(mf, "mailFromDomain").StringValue() != "bounce.example.org" || get(mf, "behaviorOnMxFailure").StringValue() != "USE_DEFAULT_VALUE" {
				t.Errorf("MAIL FROM inputs: %v", mf)
			}
			if p := inputs(t, c, userType, "mail"); get(p, "path").StringValue() != "/matrix/" {
				t.Errorf("user inputs: %v", p)
			}
			recs := mailRecords(c)
			var names []string
			for n := range recs {
				names = append(names, n)
			}
			slices.Sort(names)
			want := []string{"bounce-MX", "bounce-TXT", "dkim-1-CNAME", "dkim-2-CNAME", "dkim-3-CNAME", "dmarc-TXT"}
			if !slices.Equal(names, want) {
				t.Fatalf("mail records %v, want %v", names, want)
			}
			zone := synth.DefaultZones(infra.Config{Domain: "example.org"})["example.org"]
			for name, value := range map[string][2]string{
				"bounce-MX":  {"bounce.example.org", "10 feedback-smtp.eu-central-1.amazonses.com"},
				"bounce-TXT": {"bounce.example.org", "v=spf1 include:amazonses.com ~all"},
				"dmarc-TXT":  {"_dmarc.example.org", "v=DMARC1; p=none"},
			} {
				in := recs[name].Inputs
				if get(in, "name").StringValue() != value[0] || get(in, "records").ArrayValue()[0].StringValue() != value[1] || get(in, "zoneId").StringValue() != zone {
					t.Errorf("%s: %v", name, in)
				}
			}
			if r := recs["dmarc-TXT"]; !r.RetainOnDelete || !get(r.Inputs, "allowOverwrite").BoolValue() {
				t.Errorf("the DMARC record must be retained on delete and adopt an identical one: %+v", r)
			}
			if m.DryRun {
				return
			}
			tokens := get(one(t, c, identityType, "mail").Outputs, "dkimSigningAttributes", "tokens").ArrayValue()
			for i, tok := range tokens {
				in := recs["dkim-"+string(rune('1'+i))+"-CNAME"].Inputs
				if get(in, "name").StringValue() != tok.StringValue()+"._domainkey.example.org" ||
					get(in, "records").ArrayValue()[0].StringValue() != tok.StringValue()+".dkim.amazonses.com" {
					t.Errorf("DKIM record %d: %v (token %s)", i+1, in, tok.StringValue())
				}
			}
		})
	}
	res := run(t, false, config())
	for _, typ := range []string{identityType, mailFromType, userType, userPolType, accessKey} {
		if len(res.Cloud.Find(typ)) != 0 {
			t.Errorf("matrix:email none declares %s", typ)
		}
	}
	if recs := mailRecords(res.Cloud); len(recs) != 0 {
		t.Errorf("matrix:email none publishes mail records: %v", recs)
	}
}

// TestSenderPolicy: the relay's credentials may do one thing: send raw
// mail through the domain's identity, from an address at the domain.
func TestSenderPolicy(t *testing.T) {
	res := run(t, false, config("matrix:email", "ses"))
	doc := get(inputs(t, res.Cloud, userPolType, "mail"), "policy").StringValue()
	want := `{"Statement":[{"Action":"ses:SendRawEmail","Condition":{"StringLike":{"ses:FromAddress":"*@example.org"}},"Effect":"Allow","Resource":"arn:aws:ses:eu-central-1:123456789012:identity/example.org","Sid":"SendAsTheDomain"}],"Version":"2012-10-17"}`
	if doc != want {
		t.Errorf("policy:\n got %s\nwant %s", doc, want)
	}
	user := one(t, res.Cloud, userType, "mail").Outputs["name"].StringValue()
	for _, typ := range []string{userPolType, accessKey} {
		if got := get(inputs(t, res.Cloud, typ, "mail"), "user").StringValue(); got != user {
			t.Errorf("%s is for user %q, want %q", typ, got, user)
		}
	}
}

// TestMailSecretsNeverPlain: the access key ID and the SMTP password reach
// vars.yml, the wrapper's redact list and the ha host's parameters as
// secrets only: never a plain input, output or reviewers' file.
func TestMailSecretsNeverPlain(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  map[string]string
	}{{"single", config("matrix:email", "ses")}, {"ha", haConfig("matrix:email", "ses")}} {
		t.Run(tc.name, func(t *testing.T) {
			opts := synth.Options{Project: "matrix", Stack: "test", Config: tc.raw}
			res, err := synth.Run(opts)
			if err != nil {
				t.Fatal(err)
			}
			key := one(t, res.Cloud, accessKey, "mail")
			password := key.Outputs["sesSmtpPasswordV4"].SecretValue().Element.StringValue()
			secretKey := key.Outputs["secret"].SecretValue().Element.StringValue()
			if password != mock.SMTPPassword(secretKey, "eu-central-1") {
				t.Fatalf("the mock's SMTP password is not derived from the secret key")
			}
			user := keyID(t, res)
			doc, err := json.Marshal(res.Document(opts))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{password, user, secretKey} {
				if strings.Contains(string(doc), s) {
					t.Errorf("%q appears in the rendered stack (resources, outputs or files)", s)
				}
				for _, r := range res.Cloud.Resources() {
					if leaksPlain(resource.NewObjectProperty(r.Inputs), s) {
						t.Errorf("%s %s: %q is in a plain input", r.Type, r.Name, s)
					}
				}
			}
			masked, _ := res.Files["inventory/host_vars/"+hostOf(tc.raw)+"/vars.yml"].Value.(string)
			for _, line := range []string{"exim_relay_relay_auth_username: '[secret]'", "exim_relay_relay_auth_password: '[secret]'"} {
				if !strings.Contains(masked, line) {
					t.Errorf("reviewers' vars.yml lacks %q:\n%s", line, masked)
				}
			}
			vars, redact := renderedSecrets(t, res)
			var v map[string]any
			if err := yaml.Unmarshal([]byte(vars), &v); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"exim_relay_enabled": true, "exim_relay_sender_address": "matrix@" + tc.raw["matrix:domain"],
				"exim_relay_relay_use": true, "exim_relay_relay_host_name": "email-smtp.eu-central-1.amazonaws.com",
				"exim_relay_relay_host_port": 587, "exim_relay_relay_protocol": "smtp", "exim_relay_relay_auth": true,
				"exim_relay_relay_auth_username": user, "exim_relay_relay_auth_password": password,
			}
			for k, w := range want {
				if v[k] != w {
					t.Errorf("vars.yml %s = %#v, want %#v", k, v[k], w)
				}
			}
			lines := strings.Split(redact, "\n")
			for _, s := range []string{user, password} {
				if !slices.Contains(lines, s) {
					t.Errorf("the redact list lacks %q", s)
				}
			}
		})
	}
}

func hostOf(raw map[string]string) string { return "matrix." + raw["matrix:domain"] }

// keyID is the access key's ID, the relay's SMTP user name, as the secret
// vars.yml holds it.
func keyID(t *testing.T, res *synth.Result) string {
	t.Helper()
	vars, _ := renderedSecrets(t, res)
	var v map[string]any
	if err := yaml.Unmarshal([]byte(vars), &v); err != nil {
		t.Fatal(err)
	}
	id, _ := v["exim_relay_relay_auth_username"].(string)
	if !strings.HasPrefix(id, "AKIA") || len(id) != 20 {
		t.Fatalf("the relay's user name %q is no access key ID", id)
	}
	return id
}

// renderedSecrets returns vars.yml and the redact list as the playbook
// gets them: the upstream step's environment on a single host, the SSM
// parameters in ha. Both must be secrets.
func renderedSecrets(t *testing.T, res *synth.Result) (vars, redact string) {
	t.Helper()
	secret := func(what string, v resource.PropertyValue) string {
		if !v.IsSecret() {
			t.Fatalf("%s is not a secret", what)
		}
		return v.SecretValue().Element.StringValue()
	}
	if res.Homeserver.Config.Topology == infra.TopologyHA {
		return secret("the vars parameter", get(one(t, res.Cloud, paramType, "vars").Inputs, "value")),
			secret("the redact parameter", get(one(t, res.Cloud, paramType, "redact").Inputs, "value"))
	}
	env := get(synthtest.Commands(res.Cloud)["playbook"].Inputs, "environment").ObjectValue()
	return secret("vars.yml", env[ansible.EnvInventoryVars]), secret("the redact list", env[ansible.EnvRedact])
}

// TestMailDNSLookup: before declaring anything, the zone is read at
// _dmarc.<domain> and bounce.<domain>. A DMARC record of the operator's
// is kept; one equal to the stack's is adopted; records at the MAIL FROM
// domain other than the stack's own are refused.
func TestMailDNSLookup(t *testing.T) {
	const zone = "Z0EXAMPLE"
	rec := func(name, typ string, values ...string) mock.ExistingRecord {
		return mock.ExistingRecord{ZoneID: zone, Name: name, Type: typ, Values: values}
	}
	for _, tc := range []struct {
		name    string
		raw     map[string]string
		records []mock.ExistingRecord
		dmarc   string // the emailDmarc output; "" when refused
		want    string // the problem when refused
	}{
		{"empty zone", config("matrix:email", "ses"), nil, `published: "v=DMARC1; p=none"`, ""},
		{"operator's dmarc", config("matrix:email", "ses"), []mock.ExistingRecord{rec("_dmarc.example.org.", "TXT", `"v=DMARC1; p=reject; " "rua=mailto:d@example.org"`)},
			`kept the zone's own: "v=DMARC1; p=reject; rua=mailto:d@example.org"`, ""},
		{"delegated dmarc", config("matrix:email", "ses"), []mock.ExistingRecord{rec("_dmarc.example.org.", "CNAME", "example.org._dmarc.provider.example.")},
			`kept the zone's own: "example.org._dmarc.provider.example."`, ""},
		{"identical dmarc", config("matrix:email", "ses"), []mock.ExistingRecord{rec("_dmarc.example.org.", "TXT", `"v=DMARC1; p=none"`)}, `published: "v=DMARC1; p=none"`, ""},
		{"dmarc off", config("matrix:email", "ses", "matrix:emailDmarc", "false"), nil, "not managed (matrix:emailDmarc false)", ""},
		{"other names untouched", config("matrix:email", "ses"), []mock.ExistingRecord{rec("_dmarc.example.org.example.org.", "TXT", `"x"`), rec("mail.example.org.", "MX", "10 mx.example.net.")}, `published: "v=DMARC1; p=none"`, ""},
		{"own mail from records", config("matrix:email", "ses"), []mock.ExistingRecord{
			rec("bounce.example.org.", "MX", "10 feedback-smtp.eu-central-1.amazonses.com"), rec("bounce.example.org.", "TXT", `"v=spf1 include:amazonses.com ~all"`)}, `published: "v=DMARC1; p=none"`, ""},
		{"foreign spf", config("matrix:email", "ses"), []mock.ExistingRecord{rec("bounce.example.org.", "TXT", `"v=spf1 -all"`)}, "",
			`matrix:email: bounce.example.org already holds TXT "v=spf1 -all" in zone Z0EXAMPLE; SES's custom MAIL FROM domain needs only its own MX (10 feedback-smtp.eu-central-1.amazonses.com) and SPF ("v=spf1 include:amazonses.com ~all") records there: remove those records, or use matrix:email none`},
		{"cname at mail from", config("matrix:email", "ses"), []mock.ExistingRecord{rec("bounce.example.org.", "CNAME", "bounces.example.net.")}, "",
			`matrix:email: bounce.example.org already holds CNAME "bounces.example.net." in zone Z0EXAMPLE; SES's custom MAIL FROM domain needs only its own MX (10 feedback-smtp.eu-central-1.amazonses.com) and SPF ("v=spf1 include:amazonses.com ~all") records there: remove those records, or use matrix:email none`},
		{"mx of another region", config("matrix:email", "ses"), []mock.ExistingRecord{rec("bounce.example.org.", "MX", "10 feedback-smtp.us-east-1.amazonses.com")}, "",
			`matrix:email: bounce.example.org already holds MX "10 feedback-smtp.us-east-1.amazonses.com" in zone Z0EXAMPLE; SES's custom MAIL FROM domain needs only its own MX (10 feedback-smtp.eu-central-1.amazonses.com) and SPF ("v=spf1 include:amazonses.com ~all") records there: remove those records, or use matrix:email none`},
		{"delegated dkim names", config("matrix:email", "ses"), []mock.ExistingRecord{rec("_domainkey.example.org.", "NS", "ns1.dkim.example.net.")}, "",
			`matrix:email: _domainkey.example.org is delegated to other name servers (ns1.dkim.example.net.) in zone Z0EXAMPLE, so the records SES needs there would never be served: remove the delegation, or use matrix:email none`},
		{"delegated mail from", config("matrix:email", "ses"), []mock.ExistingRecord{rec("bounce.example.org.", "NS", "ns1.example.net.")}, "",
			`matrix:email: bounce.example.org is delegated to other name servers (ns1.example.net.) in zone Z0EXAMPLE, so the records SES needs there would never be served: remove the delegation, or use matrix:email none`},
	} {
		for _, m := range modes {
			t.Run(m.Name+"/"+tc.name, func(t *testing.T) {
				c := mock.New(map[string]string{"example.org": zone})
				c.SetExisting(mock.Existing{Records: tc.records})
				res, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: tc.raw, DryRun: m.DryRun, Cloud: c})
				if tc.want != "" {
					synthtest.RefusedBeforeDeclaring(t, err, c, tc.want)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := res.Outputs["emailDmarc"].Value; got != tc.dmarc {
					t.Errorf("emailDmarc output %q, want %q", got, tc.dmarc)
				}
				_, declared := mailRecords(c)["dmarc-TXT"]
				if want := strings.HasPrefix(tc.dmarc, "published"); declared != want {
					t.Errorf("DMARC record declared %v, want %v", declared, want)
				}
			})
		}
	}
}

// TestRelayVarsFreeWithoutSES: with matrix:email none the program renders
// nothing for the relay, so an operator's own smarthost passes through
// matrix:playbookVars; with ses those variables are the program's.
func TestRelayVarsFreeWithoutSES(t *testing.T) {
	own := `{"exim_relay_relay_use":true,"exim_relay_relay_host_name":"smtp.example.net","exim_relay_sender_address":"matrix@example.org"}`
	res := run(t, false, config("matrix:playbookVars", own))
	vars, _ := renderedSecrets(t, res)
	for _, line := range []string{"exim_relay_relay_use: true", "exim_relay_relay_host_name: smtp.example.net", "exim_relay_sender_address: matrix@example.org"} {
		if !strings.Contains(vars, line) {
			t.Errorf("vars.yml lacks the operator's %q:\n%s", line, vars)
		}
	}
	if strings.Contains(vars, "exim_relay_relay_auth") || strings.Contains(vars, "exim_relay_enabled") {
		t.Errorf("matrix:email none renders relay settings of its own:\n%s", vars)
	}
}

// TestEmailFromRendered: matrix:emailFrom becomes the relay's sender.
func TestEmailFromRendered(t *testing.T) {
	res := run(t, false, config("matrix:email", "ses", "matrix:emailFrom", "Noreply@Example.ORG"))
	vars, _ := renderedSecrets(t, res)
	if !strings.Contains(vars, "exim_relay_sender_address: Noreply@example.org") {
		t.Errorf("vars.yml:\n%s", vars)
	}
	if got := res.Outputs["emailFrom"].Value; got != "Noreply@example.org" {
		t.Errorf("emailFrom output %q", got)
	}
}
