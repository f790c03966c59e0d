package mock

import (
	"regexp"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// alertingProgram declares a topic and an e-mail subscription in the
// region of the provider "regional", a us-east-1 provider "global", a
// health check through it, and an alarm in alarmRegion ("regional" or
// "global") notifying the regional topic.
func alertingProgram(alarmProvider string) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		regional, err := aws.NewProvider(ctx, "regional", &aws.ProviderArgs{Region: pulumi.String("eu-central-1")})
		if err != nil {
			return err
		}
		global, err := aws.NewProvider(ctx, "global", &aws.ProviderArgs{Region: pulumi.String("us-east-1")})
		if err != nil {
			return err
		}
		topic, err := sns.NewTopic(ctx, "alerts", &sns.TopicArgs{}, pulumi.Provider(regional))
		if err != nil {
			return err
		}
		if _, err := sns.NewTopicSubscription(ctx, "alerts", &sns.TopicSubscriptionArgs{
			Topic: topic.Arn, Protocol: pulumi.String("email"), Endpoint: pulumi.String("ops@example.org"),
		}, pulumi.Provider(regional)); err != nil {
			return err
		}
		if _, err := route53.NewHealthCheck(ctx, "api", &route53.HealthCheckArgs{
			Type: pulumi.String("HTTPS"), Fqdn: pulumi.String("matrix.example.org"), Port: pulumi.Int(443),
			ResourcePath: pulumi.String("/_matrix/client/versions"), RequestInterval: pulumi.Int(30), FailureThreshold: pulumi.Int(3),
		}, pulumi.Provider(global)); err != nil {
			return err
		}
		p := map[string]*aws.Provider{"regional": regional, "global": global}[alarmProvider]
		_, err = cloudwatch.NewMetricAlarm(ctx, "alarm", &cloudwatch.MetricAlarmArgs{
			ComparisonOperator: pulumi.String("LessThanThreshold"), EvaluationPeriods: pulumi.Int(1),
			MetricName: pulumi.String("HealthCheckStatus"), Namespace: pulumi.String("AWS/Route53"),
			Period: pulumi.Int(60), Statistic: pulumi.String("Minimum"), Threshold: pulumi.Float64(1),
			AlarmActions: pulumi.Array{topic.Arn},
		}, pulumi.Provider(p))
		return err
	}
}

// TestAlertingTypes: topics and subscriptions come back as SNS answers
// them (a regional ARN; an e-mail subscription pending confirmation), a
// health check with its ID, each in its provider's region.
func TestAlertingTypes(t *testing.T) {
	c := New(nil)
	run(t, c, false, alertingProgram("regional"))
	topic := c.Find("aws:sns/topic:Topic")[0].Outputs
	if !regexp.MustCompile(`^arn:aws:sns:eu-central-1:123456789012:alerts-[0-9a-f]{7}$`).MatchString(topic["arn"].StringValue()) {
		t.Errorf("topic ARN %v", topic["arn"])
	}
	sub := c.Find("aws:sns/topicSubscription:TopicSubscription")[0].Outputs
	if !sub["pendingConfirmation"].BoolValue() || sub["confirmationWasAuthenticated"].BoolValue() ||
		!strings.HasPrefix(sub["arn"].StringValue(), topic["arn"].StringValue()+":") {
		t.Errorf("subscription %v", sub)
	}
	hc := c.Find("aws:route53/healthCheck:HealthCheck")[0].Outputs
	if !regexp.MustCompile(`^arn:aws:route53:::healthcheck/[0-9a-f-]{36}$`).MatchString(hc["arn"].StringValue()) {
		t.Errorf("health check %v", hc)
	}
	if c.region("urn:pulumi:test::matrix::pulumi:providers:aws::global::id") != "us-east-1" {
		t.Error("the us-east-1 provider's region is not recorded")
	}
}

// TestAlarmActionsSameRegion: CloudWatch refuses an alarm whose SNS action
// is a topic of another region.
func TestAlarmActionsSameRegion(t *testing.T) {
	err := pulumi.RunErr(alertingProgram("global"), pulumi.WithMocks("matrix", "test", New(nil)))
	if err == nil || !strings.Contains(err.Error(), "Invalid region eu-central-1 specified. Only us-east-1 is supported") {
		t.Errorf("alarm in us-east-1 notifying an eu-central-1 topic: %v", err)
	}
}

// TestRequiredInputs: a subscription without an endpoint and a health
// check with an interval Route 53 does not offer are refused.
func TestRequiredInputs(t *testing.T) {
	for name, program := range map[string]pulumi.RunFunc{
		"subscription without endpoint": func(ctx *pulumi.Context) error {
			_, err := sns.NewTopicSubscription(ctx, "s", &sns.TopicSubscriptionArgs{
				Topic: pulumi.String("arn:aws:sns:us-east-1:123456789012:t"), Protocol: pulumi.String("email"), Endpoint: pulumi.String(""),
			})
			return err
		},
		"health check interval": func(ctx *pulumi.Context) error {
			_, err := route53.NewHealthCheck(ctx, "h", &route53.HealthCheckArgs{Type: pulumi.String("HTTPS"), Fqdn: pulumi.String("a.example.org"), RequestInterval: pulumi.Int(60)})
			return err
		},
		"health check without target": func(ctx *pulumi.Context) error {
			_, err := route53.NewHealthCheck(ctx, "h", &route53.HealthCheckArgs{Type: pulumi.String("HTTPS")})
			return err
		},
	} {
		if err := pulumi.RunErr(program, pulumi.WithMocks("matrix", "test", New(nil))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
