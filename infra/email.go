package infra

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/inventory"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sesv2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Facts of SES and its DNS, from the SES developer guide
// (https://docs.aws.amazon.com/ses/latest/dg/send-email-authentication-dkim-easy.html,
// .../mail-from.html, .../send-email-authentication-dmarc.html) and the
// SMTP endpoints of https://docs.aws.amazon.com/general/latest/gr/ses.html.
const (
	// MailFromLabel names the custom MAIL FROM domain, bounce.<domain>:
	// bounces come back there, and its SPF record lets SES send for it,
	// so SPF aligns with the From domain for DMARC. bounce rather than
	// mail, which many domains already use for webmail or their own MX.
	MailFromLabel = "bounce"
	// SPFValue authorises SES to send for the MAIL FROM domain.
	SPFValue = "v=spf1 include:amazonses.com ~all"
	// DMARCValue is the monitoring-only policy the big mailbox providers
	// require of senders; anything stricter is the operator's to choose.
	DMARCValue = "v=DMARC1; p=none"
	// SMTPPort is SES's submission port with STARTTLS, the relay's
	// default protocol ("smtp") and port.
	SMTPPort = 587
	// DKIMKeyLength is Easy DKIM's longer key; SES's default is 1024 bits.
	DKIMKeyLength = "RSA_2048_BIT"
	// DKIMTokens is how many CNAME records Easy DKIM asks for.
	DKIMTokens = 3
)

// SMTPEndpoint is the region's SES SMTP interface.
func SMTPEndpoint(region, dnsSuffix string) string {
	return "email-smtp." + region + "." + dnsSuffix
}

// MailFromMX is the MX record of the MAIL FROM domain: the region's
// feedback endpoint, which receives the bounces.
func MailFromMX(region string) string {
	return "10 feedback-smtp." + region + ".amazonses.com"
}

// Mail holds what matrix:email ses declares: the domain identity in SES,
// its DNS records, and the IAM user whose access key logs the relay in.
type Mail struct {
	Identity *sesv2.EmailIdentity
	MailFrom *sesv2.EmailIdentityMailFromAttributes
	User     *iam.User
	Policy   *iam.UserPolicy
	Key      *iam.AccessKey
	Records  map[string]*route53.Record
	// DMARC says what became of _dmarc.<domain>.
	DMARC string
	// Relay is what the exim relay is told: the endpoint, the sender and
	// the SMTP credentials (secrets).
	Relay *Relay
}

// Relay is the relay's part of vars.yml with its two secrets still
// outputs.
type Relay struct {
	Settings inventory.EmailSettings // without Username and Password
	Username pulumi.StringOutput     // the access key ID
	Password pulumi.StringOutput     // the SMTP password SES derives from the secret key
}

func newMail(ctx *pulumi.Context, cfg Config, facts Facts, opts ...pulumi.ResourceOption) (*Mail, error) {
	m := &Mail{}
	var err error
	if m.Identity, err = sesv2.NewEmailIdentity(ctx, "mail", &sesv2.EmailIdentityArgs{
		EmailIdentity: pulumi.String(cfg.Domain),
		DkimSigningAttributes: sesv2.EmailIdentityDkimSigningAttributesArgs{
			NextSigningKeyLength: pulumi.String(DKIMKeyLength),
		},
		Tags: NameTag(ctx, "mail"),
	}, opts...); err != nil {
		return nil, fmt.Errorf("mail: identity: %w", err)
	}
	// USE_DEFAULT_VALUE keeps mail flowing (with SES's own MAIL FROM, still
	// DKIM-aligned) while the MX record is missing or propagating;
	// REJECT_MESSAGE would drop every password reset until then.
	if m.MailFrom, err = sesv2.NewEmailIdentityMailFromAttributes(ctx, "mail", &sesv2.EmailIdentityMailFromAttributesArgs{
		EmailIdentity:       m.Identity.EmailIdentity,
		MailFromDomain:      pulumi.String(MailFromLabel + "." + cfg.Domain),
		BehaviorOnMxFailure: pulumi.String("USE_DEFAULT_VALUE"),
	}, opts...); err != nil {
		return nil, fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	if m.Records, m.DMARC, err = newMailRecords(ctx, cfg, facts, m.Identity, opts...); err != nil {
		return nil, err
	}
	if err = m.newSender(ctx, cfg, opts...); err != nil {
		return nil, err
	}
	m.Relay = &Relay{
		Settings: inventory.EmailSettings{
			SenderAddress: cfg.EmailFrom,
			RelayHost:     SMTPEndpoint(cfg.Region, facts.DNSSuffix),
			RelayPort:     SMTPPort,
		},
		Username: pulumi.ToSecret(m.Key.ID().ToStringOutput()).(pulumi.StringOutput),
		Password: pulumi.ToSecret(m.Key.SesSmtpPasswordV4).(pulumi.StringOutput),
	}
	return m, nil
}

// newSender declares the IAM user the relay logs in as, allowed to send
// from the domain's addresses through its identity and nothing else.
func (m *Mail) newSender(ctx *pulumi.Context, cfg Config, opts ...pulumi.ResourceOption) error {
	var err error
	if m.User, err = iam.NewUser(ctx, "mail", &iam.UserArgs{
		Path: pulumi.String("/matrix/"),
		Tags: NameTag(ctx, "mail"),
	}, opts...); err != nil {
		return fmt.Errorf("mail: user: %w", err)
	}
	doc := m.Identity.Arn.ApplyT(func(arn string) (string, error) {
		return SenderPolicy(arn, cfg.Domain)
	}).(pulumi.StringOutput)
	if m.Policy, err = iam.NewUserPolicy(ctx, "mail", &iam.UserPolicyArgs{
		User:   m.User.Name,
		Policy: doc,
	}, opts...); err != nil {
		return fmt.Errorf("mail: policy: %w", err)
	}
	// The provider derives the SMTP password of the provider's region
	// from the secret key (sesSmtpPasswordV4); both stay secrets.
	if m.Key, err = iam.NewAccessKey(ctx, "mail", &iam.AccessKeyArgs{
		User: m.User.Name,
	}, opts...); err != nil {
		return fmt.Errorf("mail: access key: %w", err)
	}
	return nil
}

// SenderPolicy is the relay's only permission: ses:SendRawEmail, which
// the SMTP interface authorises, on the domain's identity, with a From
// address at the domain.
func SenderPolicy(identityArn, domain string) (string, error) {
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "SendAsTheDomain",
			"Effect":    "Allow",
			"Action":    "ses:SendRawEmail",
			"Resource":  identityArn,
			"Condition": map[string]any{"StringLike": map[string]any{"ses:FromAddress": "*@" + domain}},
		}},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("mail: policy: %w", err)
	}
	return string(b), nil
}

// MailDNS is what the zone already holds at the names matrix:email ses
// publishes, looked up before anything is declared.
type MailDNS struct {
	DMARC string // the value of an existing _dmarc.<domain> record, "" when none
}

// lookUpMail reads the zone's records at _dmarc.<domain>,
// _domainkey.<domain> and bounce.<domain>. An existing DMARC record is kept
// (the stack publishes none then); records at the MAIL FROM domain other
// than the ones the stack publishes would make SES's custom MAIL FROM fail,
// and are refused. So is a name the zone delegates to other name servers:
// records the stack put there would never be served, and the identity
// would never verify.
func lookUpMail(ctx *pulumi.Context, cfg Config, zoneID string, opts ...pulumi.InvokeOption) (MailDNS, error) {
	var out MailDNS
	pattern := `^(_dmarc|_domainkey|` + MailFromLabel + `)\.` + regexp.QuoteMeta(cfg.Domain) + `\.?$`
	res, err := route53.GetRecords(ctx, &route53.GetRecordsArgs{ZoneId: zoneID, NameRegex: pulumi.StringRef(pattern)}, opts...)
	if err != nil {
		return out, fmt.Errorf("looking up the records at _dmarc.%s and %s.%s in zone %s: %w", cfg.Domain, MailFromLabel, cfg.Domain, zoneID, err)
	}
	mailFrom := MailFromLabel + "." + cfg.Domain
	var conflicts []string
	for _, set := range res.ResourceRecordSets {
		name := strings.TrimSuffix(strings.ToLower(set.Name), ".")
		value := recordValue(set)
		switch {
		case set.Type == "NS":
			return out, fmt.Errorf("%s is delegated to other name servers (%s) in zone %s, so the records SES needs there would never be served: remove the delegation, or use matrix:email none",
				name, value, zoneID)
		case name == "_dmarc."+cfg.Domain && (set.Type == "TXT" || set.Type == "CNAME"):
			out.DMARC = value
		case name != mailFrom:
		case set.Type == "MX" && value == MailFromMX(cfg.Region), set.Type == "TXT" && value == SPFValue:
			// The stack's own, from an earlier run.
		case set.Type == "MX" || set.Type == "TXT" || set.Type == "CNAME":
			conflicts = append(conflicts, fmt.Sprintf("%s %q", set.Type, value))
		}
	}
	if len(conflicts) > 0 {
		return out, fmt.Errorf("%s already holds %s in zone %s; SES's custom MAIL FROM domain needs only its own MX (%s) and SPF (%q) records there: remove those records, or use matrix:email none",
			mailFrom, strings.Join(conflicts, ", "), zoneID, MailFromMX(cfg.Region), SPFValue)
	}
	return out, nil
}

// recordValue joins a record set's values, and the quoted strings of a
// TXT value, as resolvers hand them to DMARC and SPF checks.
func recordValue(set route53.GetRecordsResourceRecordSet) string {
	var parts []string
	for _, r := range set.ResourceRecords {
		v := r.Value
		if set.Type == "TXT" {
			v = unquoteTXT(v)
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, " ")
}

var txtString = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)

func unquoteTXT(v string) string {
	m := txtString.FindAllStringSubmatch(v, -1)
	if m == nil {
		return v
	}
	var b strings.Builder
	for _, s := range m {
		b.WriteString(strings.ReplaceAll(s[1], `\"`, `"`))
	}
	return b.String()
}

// Relayed is the relay of matrix:email ses, nil without it.
func (m *Mail) Relayed() *Relay {
	if m == nil {
		return nil
	}
	return m.Relay
}

// Vars are the relay's settings without the credentials, nil without
// a relay.
func (r *Relay) Vars() *inventory.EmailSettings {
	if r == nil {
		return nil
	}
	s := r.Settings
	return &s
}

// Credentials are the relay's login, or empty strings without a relay, so
// that vars.yml waits on the same outputs either way.
func (r *Relay) Credentials() (user, password pulumi.StringOutput) {
	if r == nil {
		empty := pulumi.String("").ToStringOutput()
		return empty, empty
	}
	return r.Username, r.Password
}

func WithCredentials(e *inventory.EmailSettings, user, password string) *inventory.EmailSettings {
	if e == nil {
		return nil
	}
	out := *e
	out.Username, out.Password = user, password
	return &out
}

// mailOutputs adds what an operator needs to follow SES: the sender, the
// identity to watch in the console, and what became of DMARC.
func (hs *Homeserver) mailOutputs(out map[string]pulumi.Input) {
	m := hs.Mail
	if m == nil {
		return
	}
	out["emailFrom"] = pulumi.String(hs.Config.EmailFrom)
	out["emailIdentityArn"] = m.Identity.Arn
	out["emailSmtpEndpoint"] = pulumi.String(m.Relay.Settings.RelayHost)
	out["emailDmarc"] = pulumi.String(m.DMARC)
}
