package single

import (
	"fmt"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func newRecords(ctx *pulumi.Context, cfg infra.Config, facts infra.Facts, host *Host, opts ...pulumi.ResourceOption) (map[infra.Record]*route53.Record, error) {
	out := map[infra.Record]*route53.Record{}
	for _, r := range infra.Records(cfg) {
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
