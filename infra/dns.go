package infra

import (
	"fmt"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
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

func newRecords(ctx *pulumi.Context, cfg Config, facts Facts, host *Host, opts ...pulumi.ResourceOption) (map[Record]*route53.Record, error) {
	out := map[Record]*route53.Record{}
	for _, r := range Records(cfg) {
		var value pulumi.StringInput
		switch r.Type {
		case "A":
			value = host.IP.PublicIp
		case "AAAA":
			value = host.Instance.Ipv6Addresses.Index(pulumi.Int(0))
		default:
			value = pulumi.String(cfg.MatrixHost())
		}
		label := r.Label
		if label == "" {
			label = "base"
		}
		rec, err := route53.NewRecord(ctx, label+"-"+r.Type, &route53.RecordArgs{
			ZoneId:  pulumi.String(facts.ZoneID),
			Name:    pulumi.String(r.Name(cfg.Domain)),
			Type:    pulumi.String(r.Type),
			Ttl:     pulumi.Int(cfg.DNSTTL),
			Records: pulumi.StringArray{value},
		}, opts...)
		if err != nil {
			return nil, fmt.Errorf("dns: %s %s: %w", r.Type, r.Name(cfg.Domain), err)
		}
		out[r] = rec
	}
	return out, nil
}
