package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sesv2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Record is one DNS record the stack publishes.
type Record struct {
	Label string // "" for the base domain itself
	Type  string // A, AAAA or CNAME
}

// Name is the record's fully qualified name under domain.
func (r Record) Name(domain string) string {
	if r.Label == "" {
		return domain
	}
	return r.Label + "." + domain
}

// Records lists the records this configuration publishes, in the names the
// playbook serves: matrix.<domain>, the base domain for /.well-known/matrix,
// and a CNAME for every hostname of an enabled service (Element, ntfy, ...),
// derived from the pinned upstream (Config.ServedHosts). Nothing else gets a
// name, so no record points at a service that does not run.
func Records(cfg Config) []Record {
	addr := func(label string) []Record {
		rs := []Record{{label, "A"}}
		if cfg.IPv6 {
			rs = append(rs, Record{label, "AAAA"})
		}
		return rs
	}
	rs := addr("matrix")
	if cfg.ServeBaseDomain {
		rs = append(rs, addr("")...)
	}
	for _, h := range cfg.ServedHosts {
		rs = append(rs, Record{h.Label(cfg.Domain), "CNAME"})
	}
	return rs
}

// newMailRecords publishes what matrix:email ses needs in the zone: Easy
// DKIM's three CNAMEs (<token>._domainkey.<domain> ->
// <token>.dkim.amazonses.com), which also verify the domain; the MAIL FROM
// domain's MX and SPF records; and the DMARC policy, unless the zone
// already has one (facts.Mail.DMARC) or matrix:emailDmarc is false. It
// returns what became of DMARC, for the outputs.
func newMailRecords(ctx *pulumi.Context, cfg Config, facts Facts, identity *sesv2.EmailIdentity, opts ...pulumi.ResourceOption) (map[string]*route53.Record, string, error) {
	out := map[string]*route53.Record{}
	add := func(logical string, args *route53.RecordArgs, more ...pulumi.ResourceOption) error {
		args.ZoneId, args.Ttl = pulumi.String(facts.ZoneID), pulumi.Int(cfg.DNSTTL)
		rec, err := route53.NewRecord(ctx, logical, args, WithOpts(opts, more...)...)
		if err != nil {
			return fmt.Errorf("dns: %s: %w", logical, err)
		}
		out[logical] = rec
		return nil
	}
	tokens := identity.DkimSigningAttributes.Tokens()
	for i := range DKIMTokens {
		token := tokens.Index(pulumi.Int(i))
		if err := add(fmt.Sprintf("dkim-%d-CNAME", i+1), &route53.RecordArgs{
			Name:    pulumi.Sprintf("%s._domainkey.%s", token, cfg.Domain),
			Type:    pulumi.String("CNAME"),
			Records: pulumi.StringArray{pulumi.Sprintf("%s.dkim.amazonses.com", token)},
		}); err != nil {
			return nil, "", err
		}
	}
	mailFrom := MailFromLabel + "." + cfg.Domain
	if err := add(MailFromLabel+"-MX", &route53.RecordArgs{
		Name: pulumi.String(mailFrom), Type: pulumi.String("MX"),
		Records: pulumi.StringArray{pulumi.String(MailFromMX(cfg.Region))},
	}); err != nil {
		return nil, "", err
	}
	if err := add(MailFromLabel+"-TXT", &route53.RecordArgs{
		Name: pulumi.String(mailFrom), Type: pulumi.String("TXT"),
		Records: pulumi.StringArray{pulumi.String(SPFValue)},
	}); err != nil {
		return nil, "", err
	}
	switch existing := facts.Mail.DMARC; {
	case !cfg.EmailDMARC:
		return out, "not managed (matrix:emailDmarc false)", nil
	case existing != "" && existing != DMARCValue:
		return out, fmt.Sprintf("kept the zone's own: %q", existing), nil
	}
	// Retained when the stack stops declaring it: an operator who edits
	// the record (say to p=quarantine) makes the next run find a DMARC
	// record of theirs, and that edit must survive. AllowOverwrite adopts
	// an identical record, such as one an earlier stack retained.
	if err := add("dmarc-TXT", &route53.RecordArgs{
		Name: pulumi.String("_dmarc." + cfg.Domain), Type: pulumi.String("TXT"),
		Records:        pulumi.StringArray{pulumi.String(DMARCValue)},
		AllowOverwrite: pulumi.Bool(true),
	}, pulumi.RetainOnDelete(true)); err != nil {
		return nil, "", err
	}
	return out, fmt.Sprintf("published: %q", DMARCValue), nil
}
