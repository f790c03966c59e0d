package mock

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func mailArgs(typ, name string, in map[string]any) pulumi.MockResourceArgs {
	return pulumi.MockResourceArgs{TypeToken: typ, Name: name, Inputs: resource.NewPropertyMapFromMap(in), Custom: true}
}

// TestMailResourcesRefuseWhatAWSRefuses: the mail resources fail as AWS
// fails them, so a program that forgets an input or mixes DKIM modes does
// not pass under the mocks.
func TestMailResourcesRefuseWhatAWSRefuses(t *testing.T) {
	const (
		identity = "aws:sesv2/emailIdentity:EmailIdentity"
		mailFrom = "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes"
	)
	for _, tc := range []struct {
		name, typ string
		in        map[string]any
		want      string
	}{
		{"identity without name", identity, map[string]any{}, `missing required argument "emailIdentity"`},
		{"easy and byo dkim", identity, map[string]any{"emailIdentity": "example.org", "dkimSigningAttributes": map[string]any{
			"nextSigningKeyLength": "RSA_2048_BIT", "domainSigningPrivateKey": "k", "domainSigningSelector": "s"}}, "exclude each other"},
		{"key length", identity, map[string]any{"emailIdentity": "example.org", "dkimSigningAttributes": map[string]any{"nextSigningKeyLength": "RSA_4096_BIT"}}, "invalid NextSigningKeyLength"},
		{"mail from outside", mailFrom, map[string]any{"emailIdentity": "example.org", "mailFromDomain": "bounce.example.net"}, "must be a subdomain of the identity"},
		{"mail from is the identity", mailFrom, map[string]any{"emailIdentity": "example.org", "mailFromDomain": "example.org"}, "must be a subdomain of the identity"},
		{"reject without domain", mailFrom, map[string]any{"emailIdentity": "example.org", "behaviorOnMxFailure": "REJECT_MESSAGE"}, "mailFromDomain is required"},
		{"user policy not json", "aws:iam/userPolicy:UserPolicy", map[string]any{"user": "u", "policy": "allow all"}, "MalformedPolicyDocument"},
		{"user policy without user", "aws:iam/userPolicy:UserPolicy", map[string]any{"policy": `{"Version":"2012-10-17","Statement":[{}]}`}, `missing required argument "user"`},
		{"access key without user", "aws:iam/accessKey:AccessKey", map[string]any{}, `missing required argument "user"`},
	} {
		_, _, err := New(nil).NewResource(mailArgs(tc.typ, "mail", tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestMailOutputs: the identity comes back with Easy DKIM's three tokens
// and the key length asked for; the access key with its secret and the
// SMTP password SES derives from it, both secret.
func TestMailOutputs(t *testing.T) {
	c := New(nil)
	_, out, err := c.NewResource(mailArgs("aws:sesv2/emailIdentity:EmailIdentity", "mail", map[string]any{
		"emailIdentity": "example.org", "dkimSigningAttributes": map[string]any{"nextSigningKeyLength": "RSA_2048_BIT"}}))
	if err != nil {
		t.Fatal(err)
	}
	tokens := Get(out, "dkimSigningAttributes", "tokens").ArrayValue()
	if len(tokens) != 3 || Get(out, "dkimSigningAttributes", "currentSigningKeyLength").StringValue() != "RSA_2048_BIT" ||
		Get(out, "dkimSigningAttributes", "nextSigningKeyLength").StringValue() != "RSA_2048_BIT" || out["arn"].StringValue() != "arn:aws:ses:us-east-1:123456789012:identity/example.org" {
		t.Errorf("identity outputs: %v", out)
	}
	for _, tok := range tokens {
		if s := tok.StringValue(); len(s) != 32 || strings.ToLower(s) != s {
			t.Errorf("DKIM token %q is not 32 lower-case characters", s)
		}
	}
	id, key, err := c.NewResource(mailArgs("aws:iam/accessKey:AccessKey", "mail", map[string]any{"user": "mail-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "AKIA") || len(id) != 20 {
		t.Errorf("access key ID %q", id)
	}
	secret, password := key["secret"], key["sesSmtpPasswordV4"]
	if !secret.IsSecret() || !password.IsSecret() {
		t.Fatalf("the secret key and the SMTP password must be secrets: %v", key)
	}
	if got := password.SecretValue().Element.StringValue(); got != SMTPPassword(secret.SecretValue().Element.StringValue(), "us-east-1") {
		t.Errorf("SMTP password %q is not derived from the secret key", got)
	}
}

// TestSMTPPassword: the derivation's shape as AWS documents it (version
// byte 4, then a 32-byte HMAC-SHA256), differing per region and key.
func TestSMTPPassword(t *testing.T) {
	p := SMTPPassword("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "eu-central-1")
	raw, err := base64.StdEncoding.DecodeString(p)
	if err != nil || len(raw) != 33 || raw[0] != 0x04 {
		t.Errorf("SMTP password %q: %d bytes, %v", p, len(raw), err)
	}
	if p == SMTPPassword("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1") || p == SMTPPassword("other", "eu-central-1") {
		t.Error("the password does not depend on the region and the key")
	}
}

// TestGetRecords: the zone's records as Route 53 lists them, filtered by
// the name regex; an unknown zone fails.
func TestGetRecords(t *testing.T) {
	c := New(map[string]string{"example.org": "Z1"})
	c.SetExisting(Existing{Records: []ExistingRecord{
		{ZoneID: "Z1", Name: "_dmarc.example.org.", Type: "TXT", Values: []string{`"v=DMARC1; p=reject"`}},
		{ZoneID: "Z2", Name: "_dmarc.example.org.", Type: "TXT", Values: []string{`"other zone"`}},
		{ZoneID: "Z1", Name: "www.example.org.", Type: "A", Values: []string{"192.0.2.1"}},
	}})
	call := func(args map[string]any) (resource.PropertyMap, error) {
		return c.Call(pulumi.MockCallArgs{Token: "aws:route53/getRecords:getRecords", Args: resource.NewPropertyMapFromMap(args)})
	}
	out, err := call(map[string]any{"zoneId": "Z1", "nameRegex": `^_dmarc\.example\.org\.?$`})
	if err != nil {
		t.Fatal(err)
	}
	sets := out["resourceRecordSets"].ArrayValue()
	if len(sets) != 1 || Get(sets[0].ObjectValue(), "type").StringValue() != "TXT" ||
		Get(sets[0].ObjectValue(), "resourceRecords").ArrayValue()[0].ObjectValue()["value"].StringValue() != `"v=DMARC1; p=reject"` {
		t.Errorf("records: %v", sets)
	}
	out, err = call(map[string]any{"zoneId": "Z1", "nameRegex": `^example\.org\.$`})
	if err != nil || len(out["resourceRecordSets"].ArrayValue()) != 2 {
		t.Errorf("the apex holds NS and SOA: %v %v", out, err)
	}
	if _, err := call(map[string]any{"zoneId": "Z9"}); err == nil || !strings.Contains(err.Error(), "NoSuchHostedZone") {
		t.Errorf("unknown zone: %v", err)
	}
}
