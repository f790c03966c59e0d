package ha

import (
	"fmt"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Watch adds the ha topology's alarms: the group's hosts, the load
// balancer's targets and the database.
func (ha *HA) Watch(ctx *pulumi.Context, hs *infra.Homeserver, a *infra.Alerting) error {
	cfg := hs.Config
	if err := a.WatchInstances(ctx, cfg, pulumi.StringMap{"AutoScalingGroupName": ha.Group.Name}, true); err != nil {
		return err
	}
	targets := []struct {
		name, what string
		arnSuffix  pulumi.StringOutput
	}{
		{"web-unhealthy", "HTTPS (client API, Element, well-known)", ha.WebTarget.ArnSuffix},
		{"federation-unhealthy", "federation", ha.FedTarget.ArnSuffix},
	}
	for _, t := range targets {
		if err := a.Alarm(ctx, infra.AlarmSpec{
			Name: t.name,
			Description: fmt.Sprintf("The load balancer's %s target group of %s reports an unhealthy host for 5 minutes: its health check through Traefik to Synapse (port %d, %s) fails. The group replaces a host that stays unhealthy past its grace period. Follow %s, \"Unhealthy host behind the load balancer\".",
				t.what, cfg.MatrixHost(), infra.TraefikHealthPort, infra.HealthPath, infra.Runbook),
			Namespace: "AWS/ApplicationELB", Metric: "UnHealthyHostCount", Statistic: "Maximum",
			Dims:   pulumi.StringMap{"TargetGroup": t.arnSuffix, "LoadBalancer": ha.LoadBalancer.ArnSuffix},
			Period: 60, Evaluations: 5, Comparison: "GreaterThanThreshold", Threshold: 0,
			// The balancer reports nothing while no target is registered,
			// which the external health checks cover.
			Missing: "notBreaching",
			Topic:   a.Topic,
		}); err != nil {
			return err
		}
	}
	return a.WatchDatabase(ctx, cfg, ha.Database)
}
