package mock

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// createAlerting answers the resource types of alerting: SNS topics and
// subscriptions, and Route 53 health checks.
func (c *Cloud) createAlerting(typ, name string, in resource.PropertyMap, region string, h func(int) string) (string, resource.PropertyMap, bool) {
	switch typ {
	case "aws:sns/topic:Topic":
		topic := str(in, "name")
		if topic == "" {
			topic = name + "-" + h(7)
		}
		id := arnString("sns", region, topic)
		return id, resource.NewPropertyMapFromMap(props{"arn": id, "name": topic, "owner": Account}), true
	case "aws:sns/topicSubscription:TopicSubscription":
		// The provider subscribes with ReturnSubscriptionArn, so even a
		// subscription awaiting confirmation has its ARN; e-mail and HTTP
		// endpoints stay pending until the recipient confirms.
		id := str(in, "topic") + ":" + uuidOf(h)
		pending := slices.Contains([]string{"email", "email-json", "http", "https"}, str(in, "protocol"))
		return id, resource.NewPropertyMapFromMap(props{
			"arn": id, "pendingConfirmation": pending, "confirmationWasAuthenticated": false, "ownerId": Account,
		}), true
	case "aws:route53/healthCheck:HealthCheck":
		id := uuidOf(h)
		return id, resource.NewPropertyMapFromMap(props{"arn": "arn:aws:route53:::healthcheck/" + id}), true
	}
	return "", nil, false
}

// checkInputs refuses what AWS refuses for the alerting types: missing
// required inputs, values out of their ranges, and an SNS topic in another
// region than the alarm or subscription that names it. Unknown values (a
// preview) pass.
func checkInputs(typ string, in resource.PropertyMap, region string) error {
	known := func(key string) (string, bool) {
		v := in[resource.PropertyKey(key)]
		return str(in, key), v.IsString()
	}
	missing := func(keys ...string) error {
		for _, k := range keys {
			v := in[resource.PropertyKey(k)]
			if v.IsNull() || (v.IsString() && v.StringValue() == "") {
				return fmt.Errorf("mock: %s: missing required argument %q", typ, k)
			}
		}
		return nil
	}
	switch typ {
	case "aws:sns/topicSubscription:TopicSubscription":
		if err := missing("topic", "protocol", "endpoint"); err != nil {
			return err
		}
		if p, ok := known("protocol"); ok && !slices.Contains([]string{"application", "email", "email-json", "firehose", "http", "https", "lambda", "sms", "sqs"}, p) {
			return fmt.Errorf("mock: InvalidParameter: Invalid parameter: Protocol %q", p)
		}
		if e, ok := known("endpoint"); ok && str(in, "protocol") == "email" && strings.Count(e, "@") != 1 {
			return fmt.Errorf("mock: InvalidParameter: Invalid parameter: Email address %q", e)
		}
		if t, ok := known("topic"); ok && arnRegion(t) != region {
			return fmt.Errorf("mock: InvalidParameter: Invalid parameter: TopicArn %s is not in %s", t, region)
		}
	case "aws:route53/healthCheck:HealthCheck":
		if err := missing("type"); err != nil {
			return err
		}
		t, _ := known("type")
		if strings.HasPrefix(t, "HTTP") || t == "TCP" {
			if in["fqdn"].IsNull() && in["ipAddress"].IsNull() {
				return fmt.Errorf("mock: InvalidInput: a %s health check needs fqdn or ipAddress", t)
			}
		}
		if v := in["requestInterval"]; v.IsNumber() && v.NumberValue() != 10 && v.NumberValue() != 30 {
			return fmt.Errorf("mock: InvalidInput: RequestInterval must be 10 or 30")
		}
		if v := in["failureThreshold"]; v.IsNumber() && (v.NumberValue() < 1 || v.NumberValue() > 10) {
			return fmt.Errorf("mock: InvalidInput: FailureThreshold must be 1 to 10")
		}
		if p, ok := known("resourcePath"); ok && !strings.HasPrefix(p, "/") {
			return fmt.Errorf("mock: InvalidInput: ResourcePath must start with /")
		}
	case "aws:cloudwatch/metricAlarm:MetricAlarm":
		if err := missing("comparisonOperator", "evaluationPeriods"); err != nil {
			return err
		}
		// CloudWatch notifies topics of the alarm's own region only.
		for _, key := range []string{"alarmActions", "okActions", "insufficientDataActions"} {
			actions := in[resource.PropertyKey(key)]
			if !actions.IsArray() {
				continue
			}
			for _, a := range actions.ArrayValue() {
				if a.IsString() && strings.Contains(a.StringValue(), ":sns:") && arnRegion(a.StringValue()) != region {
					return fmt.Errorf("mock: ValidationError: Invalid region %s specified. Only %s is supported", arnRegion(a.StringValue()), region)
				}
			}
		}
	}
	return nil
}

// arnRegion is the region field of an ARN.
func arnRegion(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) < 4 {
		return ""
	}
	return parts[3]
}
