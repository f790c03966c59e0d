package infra

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// CertificateNames are the names the load balancer's certificate covers:
// every name Records publishes.
func CertificateNames(cfg Config) []string {
	var out []string
	for _, r := range Records(cfg) {
		name := r.Name(cfg.Domain)
		if !containsString(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// RecordLabel names a DNS name's resources: its label under the domain, or
// "base" for the domain itself.
func RecordLabel(name, domain string) string {
	if name == domain {
		return "base"
	}
	return strings.TrimSuffix(name, "."+domain)
}

// NewCertificate requests an ACM certificate for names (the first is its
// subject) and validates it through DNS records in the stack's zone.
func NewCertificate(ctx *pulumi.Context, cfg Config, facts Facts, names []string, opts ...pulumi.ResourceOption) (*acm.Certificate, *acm.CertificateValidation, error) {
	var sans pulumi.StringArray
	for _, n := range names[1:] {
		sans = append(sans, pulumi.String(n))
	}
	cert, err := acm.NewCertificate(ctx, "tls", &acm.CertificateArgs{
		DomainName:              pulumi.String(names[0]),
		SubjectAlternativeNames: sans,
		ValidationMethod:        pulumi.String("DNS"),
		Tags:                    NameTag(ctx, "tls"),
	}, opts...)
	if err != nil {
		return nil, nil, err
	}
	var fqdns pulumi.StringArray
	for _, name := range names {
		opt := cert.DomainValidationOptions.ApplyT(func(all []acm.CertificateDomainValidationOption) (acm.CertificateDomainValidationOption, error) {
			for _, o := range all {
				if o.DomainName != nil && *o.DomainName == name {
					return o, nil
				}
			}
			return acm.CertificateDomainValidationOption{}, fmt.Errorf("certificate has no validation record for %s", name)
		}).(acm.CertificateDomainValidationOptionOutput)
		rec, err := route53.NewRecord(ctx, "validation-"+RecordLabel(name, cfg.Domain), &route53.RecordArgs{
			ZoneId:         pulumi.String(facts.ZoneID),
			Name:           opt.ResourceRecordName().Elem(),
			Type:           opt.ResourceRecordType().Elem(),
			Records:        pulumi.StringArray{opt.ResourceRecordValue().Elem()},
			Ttl:            pulumi.Int(60),
			AllowOverwrite: pulumi.Bool(true),
		}, opts...)
		if err != nil {
			return nil, nil, fmt.Errorf("validation record of %s: %w", name, err)
		}
		fqdns = append(fqdns, rec.Fqdn)
	}
	validation, err := acm.NewCertificateValidation(ctx, "tls", &acm.CertificateValidationArgs{
		CertificateArn:        cert.Arn,
		ValidationRecordFqdns: fqdns,
	}, opts...)
	return cert, validation, err
}
