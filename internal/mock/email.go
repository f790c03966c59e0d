package mock

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// ExistingRecord is one record set a hosted zone holds before the program
// runs, as Route 53 lists it: the name fully qualified with its trailing
// dot, TXT values in their quotes.
type ExistingRecord struct {
	ZoneID string
	Name   string
	Type   string
	Values []string
}

// SMTPPassword derives the SES SMTP password of a secret access key for a
// region, as AWS documents it ("Obtaining Amazon SES SMTP credentials",
// https://docs.aws.amazon.com/ses/latest/dg/smtp-credentials.html) and the
// provider computes sesSmtpPasswordV4: an HMAC-SHA256 chain over a fixed
// date, the region, "ses", "aws4_request" and "SendRawEmail", prefixed with
// the version byte 0x04, in base64.
func SMTPPassword(secretKey, region string) string {
	sign := func(key []byte, msg string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	sig := []byte("AWS4" + secretKey)
	for _, part := range []string{"11111111", region, "ses", "aws4_request", "SendRawEmail"} {
		sig = sign(sig, part)
	}
	return base64.StdEncoding.EncodeToString(append([]byte{0x04}, sig...))
}

// checkMail refuses what AWS refuses of the mail resources: missing
// required inputs, both Easy DKIM and BYODKIM, an unknown key length, a
// MAIL FROM domain outside its identity, a policy that is no IAM policy.
// Unknown inputs (a preview) pass, as the engine only checks them later.
func checkMail(typ string, in resource.PropertyMap) error {
	known := func(k string) bool {
		v, ok := in[resource.PropertyKey(k)]
		return ok && v.IsString() && v.StringValue() != ""
	}
	unknown := func(k string) bool { v, ok := in[resource.PropertyKey(k)]; return ok && v.ContainsUnknowns() }
	required := func(keys ...string) error {
		for _, k := range keys {
			if !known(k) && !unknown(k) {
				return fmt.Errorf("mock: %s: missing required argument %q", typ, k)
			}
		}
		return nil
	}
	switch typ {
	case "aws:sesv2/emailIdentity:EmailIdentity":
		if err := required("emailIdentity"); err != nil {
			return err
		}
		dkim := Get(in, "dkimSigningAttributes")
		next, key := Get(in, "dkimSigningAttributes", "nextSigningKeyLength"), Get(in, "dkimSigningAttributes", "domainSigningPrivateKey")
		if dkim.IsObject() && next.IsString() && key.IsString() {
			return fmt.Errorf("mock: BadRequestException: nextSigningKeyLength (Easy DKIM) and domainSigningPrivateKey (BYODKIM) exclude each other")
		}
		if next.IsString() && !slices.Contains([]string{"RSA_1024_BIT", "RSA_2048_BIT"}, next.StringValue()) {
			return fmt.Errorf("mock: BadRequestException: invalid NextSigningKeyLength %q", next.StringValue())
		}
	case "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes":
		if err := required("emailIdentity"); err != nil {
			return err
		}
		behaviour := str(in, "behaviorOnMxFailure")
		if behaviour != "" && behaviour != "USE_DEFAULT_VALUE" && behaviour != "REJECT_MESSAGE" {
			return fmt.Errorf("mock: invalid behaviorOnMxFailure %q", behaviour)
		}
		if behaviour == "REJECT_MESSAGE" && !known("mailFromDomain") && !unknown("mailFromDomain") {
			return fmt.Errorf("mock: mailFromDomain is required with REJECT_MESSAGE")
		}
		if known("emailIdentity") && known("mailFromDomain") && !strings.HasSuffix(str(in, "mailFromDomain"), "."+str(in, "emailIdentity")) {
			return fmt.Errorf("mock: BadRequestException: the MAIL FROM domain %s must be a subdomain of the identity %s", str(in, "mailFromDomain"), str(in, "emailIdentity"))
		}
	case "aws:iam/userPolicy:UserPolicy":
		if err := required("user", "policy"); err != nil {
			return err
		}
		if known("policy") {
			var doc struct {
				Version   string
				Statement []map[string]any
			}
			if err := json.Unmarshal([]byte(str(in, "policy")), &doc); err != nil || doc.Version != "2012-10-17" || len(doc.Statement) == 0 {
				return fmt.Errorf("mock: MalformedPolicyDocument: %q", str(in, "policy"))
			}
		}
	case "aws:iam/accessKey:AccessKey":
		return required("user")
	}
	return nil
}

// createMail answers the resource types matrix:email ses declares.
func (c *Cloud) createMail(typ, name string, in resource.PropertyMap, region string, h func(int) string) (string, resource.PropertyMap, bool) {
	secret := func(s string) resource.PropertyValue { return resource.MakeSecret(resource.NewStringProperty(s)) }
	switch typ {
	case "aws:sesv2/emailIdentity:EmailIdentity":
		identity := str(in, "emailIdentity")
		out := props{
			"arn":                      fmt.Sprintf("arn:aws:ses:%s:%s:identity/%s", region, Account, identity),
			"identityType":             "DOMAIN",
			"verifiedForSendingStatus": false, // until SES finds the DKIM records
		}
		if strings.Contains(identity, "@") {
			out["identityType"] = "EMAIL_ADDRESS"
			return identity, resource.NewPropertyMapFromMap(out), true
		}
		length := "RSA_1024_BIT" // SES's default for Easy DKIM
		if v := Get(in, "dkimSigningAttributes", "nextSigningKeyLength"); v.IsString() {
			length = v.StringValue()
		}
		var tokens []any
		for i := range 3 {
			// Easy DKIM tokens: 32 lower-case letters and digits.
			tokens = append(tokens, strings.ToLower(alnum(hexID(64, "dkim", identity, h(8), fmt.Sprint(i)), 32)))
		}
		out["dkimSigningAttributes"] = props{
			"currentSigningKeyLength": length, "nextSigningKeyLength": length,
			"signingAttributesOrigin": "AWS_SES", "status": "PENDING", "tokens": tokens,
		}
		return identity, resource.NewPropertyMapFromMap(out), true
	case "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes":
		out := props{}
		if str(in, "behaviorOnMxFailure") == "" {
			out["behaviorOnMxFailure"] = "USE_DEFAULT_VALUE"
		}
		return str(in, "emailIdentity"), resource.NewPropertyMapFromMap(out), true
	case "aws:iam/user:User":
		userName := str(in, "name")
		if userName == "" {
			userName = name + "-" + h(7)
		}
		path := str(in, "path")
		if path == "" {
			path = "/"
		}
		return userName, resource.NewPropertyMapFromMap(props{
			"name": userName, "path": path, "arn": fmt.Sprintf("arn:aws:iam::%s:user%s%s", Account, path, userName),
			"uniqueId": "AIDA" + strings.ToUpper(h(17)),
		}), true
	case "aws:iam/userPolicy:UserPolicy":
		policyName := str(in, "name")
		if policyName == "" {
			policyName = name + "-" + h(7)
		}
		return str(in, "user") + ":" + policyName, resource.NewPropertyMapFromMap(props{"name": policyName}), true
	case "aws:iam/accessKey:AccessKey":
		id := "AKIA" + strings.ToUpper(alnum(h(64), 16))
		key := alnum(hexID(64, "secret", h(16)), 40)
		return id, resource.PropertyMap{
			"secret":            secret(key),
			"sesSmtpPasswordV4": secret(SMTPPassword(key, region)),
			"status":            resource.NewStringProperty("Active"),
			"createDate":        resource.NewStringProperty("2026-01-01T00:00:00Z"),
		}, true
	}
	return "", nil, false
}

// records answers the getRecords data source (ListResourceRecordSets):
// the zone's apex NS and SOA, which every zone has, and the records it
// held before the program ran, filtered by nameRegex on the names as
// Route 53 returns them (fully qualified, with the trailing dot).
func (c *Cloud) records(args resource.PropertyMap) (resource.PropertyMap, error) {
	zoneID := str(args, "zoneId")
	var zoneName string
	for n, id := range c.Zones {
		if id == zoneID {
			zoneName = n
		}
	}
	if zoneName == "" {
		return nil, fmt.Errorf("mock: NoSuchHostedZone: No hosted zone found with ID: %s", zoneID)
	}
	re, err := regexp.Compile(str(args, "nameRegex"))
	if err != nil {
		return nil, fmt.Errorf("mock: nameRegex: %w", err)
	}
	all := []ExistingRecord{
		{zoneID, zoneName + ".", "NS", []string{"ns-100.awsdns-00.com."}},
		{zoneID, zoneName + ".", "SOA", []string{"ns-100.awsdns-00.com. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"}},
	}
	all = append(all, c.existingResources().Records...)
	sets := []any{}
	for _, r := range all {
		if r.ZoneID != zoneID || !re.MatchString(r.Name) {
			continue
		}
		var values []any
		for _, v := range r.Values {
			values = append(values, props{"value": v})
		}
		sets = append(sets, props{"name": r.Name, "type": r.Type, "ttl": 300, "resourceRecords": values})
	}
	return resource.NewPropertyMapFromMap(props{"id": zoneID, "zoneId": zoneID, "nameRegex": str(args, "nameRegex"), "resourceRecordSets": sets}), nil
}
