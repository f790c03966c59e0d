package ha

import (
	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Outputs are the load balancer, the group, the data and the way in.
func (ha *HA) Outputs(hs *infra.Homeserver) map[string]pulumi.Input {
	cfg := hs.Config
	out := map[string]pulumi.Input{
		"topology":         pulumi.String(string(infra.TopologyHA)),
		"amiName":          pulumi.String(hs.Facts.AMIName),
		"loadBalancerDns":  ha.LoadBalancer.DnsName,
		"autoScalingGroup": ha.Group.Name,
		"databaseEndpoint": ha.Database.Endpoint,
		// What a point-in-time restore names as its source.
		"databaseIdentifier": ha.Database.Identifier,
		"mediaBucket":        ha.MediaBucket.Bucket,
		"varsParameter":      ha.VarsParameter.Name,
		// No SSH in ha: a shell on the current host through Session Manager.
		"sessionCommand": pulumi.Sprintf("aws ssm start-session --region %s --target \"$(aws autoscaling describe-auto-scaling-groups --region %s --auto-scaling-group-names %s --query 'AutoScalingGroups[0].Instances[0].InstanceId' --output text)\"",
			cfg.Region, cfg.Region, ha.Group.Name),
	}
	return out
}
