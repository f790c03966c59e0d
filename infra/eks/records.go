package eks

import (
	"fmt"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// newRecords points every name at the ALB the controller created for the
// chart's Ingresses. The program does not create that ALB, so it finds it
// by the name it gave it (ess.Ingress.LoadBalancerName) once the release
// is installed: the release waits for Synapse to be ready, by which time
// the controller has long created the ALB from the Ingresses.
func (e *EKS) newRecords(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) (map[infra.Record]*route53.Record, error) {
	cfg, name := hs.Config, ALBName(ctx.Project(), ctx.Stack())
	alb := lb.LookupLoadBalancerOutput(ctx, lb.LookupLoadBalancerOutputArgs{
		Name: e.Release.Status.Status().ApplyT(func(string) string { return name }).(pulumi.StringOutput),
	}, pulumi.Provider(hs.Provider))
	out := map[infra.Record]*route53.Record{}
	for _, r := range Records(cfg) {
		label := r.Label
		if label == "" {
			label = "base"
		}
		rec, err := route53.NewRecord(ctx, label+"-"+r.Type, &route53.RecordArgs{
			ZoneId: pulumi.String(hs.Facts.ZoneID),
			Name:   pulumi.String(r.Name(cfg.Domain)),
			Type:   pulumi.String(r.Type),
			Aliases: route53.RecordAliasArray{route53.RecordAliasArgs{
				Name:                 alb.DnsName(),
				ZoneId:               alb.ZoneId(),
				EvaluateTargetHealth: pulumi.Bool(true),
			}},
		}, opts...)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.Type, r.Name(cfg.Domain), err)
		}
		out[r] = rec
	}
	return out, nil
}

// newVerify ends pulumi up with cmd/verify, as in the other topologies,
// after every new revision of the release. The chart creates no user, so
// there is no login round trip.
func (e *EKS) newVerify(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) (*local.Command, error) {
	after := []pulumi.Resource{e.Release}
	for _, r := range e.Records {
		after = append(after, r)
	}
	trigger := pulumi.Sprintf("%s-%d", e.Release.Status.Version().Elem(), e.Release.Status.Revision().Elem())
	return infra.NewVerify(ctx, hs.Config, nil, nil, after, trigger, opts...)
}
