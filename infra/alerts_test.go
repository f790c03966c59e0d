package infra_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const (
	alarmType  = "aws:cloudwatch/metricAlarm:MetricAlarm"
	topicType  = "aws:sns/topic:Topic"
	subType2   = "aws:sns/topicSubscription:TopicSubscription"
	checkType  = "aws:route53/healthCheck:HealthCheck"
	alertEmail = "ops@example.org"
)

// providerOf is the name of the provider a resource was created with.
func providerOf(r mock.Resource) string {
	parts := strings.Split(r.Provider, "::")
	if len(parts) < 2 {
		return ""
	}
	return parts[len(parts)-2]
}

func byName(rs []mock.Resource) map[string]mock.Resource {
	out := map[string]mock.Resource{}
	for _, r := range rs {
		out[r.Name] = r
	}
	return out
}

// regionOf is the region of a named provider in the run.
func regionOf(t *testing.T, c *mock.Cloud, provider string) string {
	t.Helper()
	for _, p := range c.Find(provType) {
		if p.Name == provider {
			return get(p.Inputs, "region").StringValue()
		}
	}
	t.Fatalf("no provider %q", provider)
	return ""
}

func stringsOf(v resource.PropertyValue) []string {
	var out []string
	if v.IsArray() {
		for _, e := range v.ArrayValue() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

// wantAlarm is what one alarm must watch.
type wantAlarm struct {
	namespace, metric, statistic, comparison string
	threshold                                float64
	dims                                     map[string]string // dimension -> the output it must equal
	region                                   string
}

// checkAlarms compares the declared alarms (all but the single host's
// recovery alarm) with want, and checks that each notifies, on ALARM and
// on OK, the topic of its own region and only it.
func checkAlarms(t *testing.T, res *synth.Result, want map[string]wantAlarm) {
	t.Helper()
	c := res.Cloud
	topics := map[string]string{} // region -> topic ARN
	for _, tp := range c.Find(topicType) {
		topics[regionOf(t, c, providerOf(tp))] = tp.Outputs["arn"].StringValue()
	}
	alarms := byName(c.Find(alarmType))
	delete(alarms, "recover")
	var names []string
	for n := range alarms {
		names = append(names, n)
	}
	for n := range want {
		if _, ok := alarms[n]; !ok {
			t.Errorf("no alarm %s (have %v)", n, names)
		}
	}
	for name, a := range alarms {
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected alarm %s", name)
			continue
		}
		in := a.Inputs
		if get(in, "namespace").StringValue() != w.namespace || get(in, "metricName").StringValue() != w.metric ||
			get(in, "statistic").StringValue() != w.statistic || get(in, "comparisonOperator").StringValue() != w.comparison ||
			get(in, "threshold").NumberValue() != w.threshold {
			t.Errorf("alarm %s: %s/%s %s %s %v, want %+v", name, get(in, "namespace"), get(in, "metricName"), get(in, "statistic"),
				get(in, "comparisonOperator"), get(in, "threshold"), w)
		}
		dims := get(in, "dimensions").ObjectValue()
		if len(dims) != len(w.dims) {
			t.Errorf("alarm %s: dimensions %v, want %v", name, dims, w.dims)
		}
		for k, v := range w.dims {
			if d := dims[resource.PropertyKey(k)]; !d.IsString() || d.StringValue() != v || v == "" {
				t.Errorf("alarm %s: dimension %s = %v, want %q", name, k, d, v)
			}
		}
		if region := regionOf(t, c, providerOf(a)); region != w.region {
			t.Errorf("alarm %s is in %s, want %s", name, region, w.region)
		}
		topic := topics[w.region]
		for _, key := range []string{"alarmActions", "okActions"} {
			if got := stringsOf(get(in, key)); !slices.Equal(got, []string{topic}) || topic == "" {
				t.Errorf("alarm %s: %s %v, want the %s topic %q", name, key, got, w.region, topic)
			}
		}
		desc := get(in, "alarmDescription").StringValue()
		if !strings.Contains(desc, "docs/troubleshooting.md") || len(desc) > 1024 {
			t.Errorf("alarm %s: description must point to the runbook and fit 1024 characters: %q", name, desc)
		}
		if n := get(in, "name").StringValue(); n != "matrix-test-"+name {
			t.Errorf("alarm %s is named %q; the name is the e-mail's subject and must say which stack", name, n)
		}
	}
}

func output(t *testing.T, c *mock.Cloud, typ, name, key string) string {
	t.Helper()
	for _, r := range c.Find(typ) {
		if r.Name == name {
			return r.Outputs[resource.PropertyKey(key)].StringValue()
		}
	}
	t.Fatalf("no %s %s", typ, name)
	return ""
}

// healthAlarms are the two external checks' alarms, in us-east-1.
func healthAlarms(c *mock.Cloud) map[string]wantAlarm {
	out := map[string]wantAlarm{}
	for _, hc := range c.Find(checkType) {
		out[hc.Name+"-down"] = wantAlarm{"AWS/Route53", "HealthCheckStatus", "Minimum", "LessThanThreshold", 1,
			map[string]string{"HealthCheckId": strings.TrimPrefix(hc.Outputs["arn"].StringValue(), "arn:aws:route53:::healthcheck/")}, "us-east-1"}
	}
	return out
}

func TestAlertingSingle(t *testing.T) {
	res := run(t, false, config("matrix:alertEmail", alertEmail))
	c := res.Cloud
	want := healthAlarms(c)
	if len(want) != 2 {
		t.Fatalf("health checks: %v", c.Find(checkType))
	}
	instance := res.Outputs["instanceId"].Value.(string)
	want["instance-status"] = wantAlarm{"AWS/EC2", "StatusCheckFailed_Instance", "Maximum", "GreaterThanThreshold", 0, map[string]string{"InstanceId": instance}, "eu-central-1"}
	want["cpu-credits"] = wantAlarm{"AWS/EC2", "CPUCreditBalance", "Minimum", "LessThanThreshold", 24, map[string]string{"InstanceId": instance}, "eu-central-1"}
	checkAlarms(t, res, want)

	// The recovery alarm keeps recovering, and tells.
	rec := byName(c.Find(alarmType))["recover"].Inputs
	topic := output(t, c, topicType, "alerts", "arn")
	if got := stringsOf(get(rec, "alarmActions")); !slices.Equal(got, []string{"arn:aws:automate:eu-central-1:ec2:recover", topic}) {
		t.Errorf("recovery alarm actions %v", got)
	}
	if got := stringsOf(get(rec, "okActions")); !slices.Equal(got, []string{topic}) {
		t.Errorf("recovery alarm OK actions %v", got)
	}
	if get(rec, "metricName").StringValue() != "StatusCheckFailed_System" || get(rec, "dimensions", "InstanceId").StringValue() != instance {
		t.Errorf("recovery alarm %v", rec)
	}
}

// TestAlertingHA: in ha the host's alarms follow the Auto Scaling Group
// (the instance changes), and the load balancer's targets and the database
// are watched too.
func TestAlertingHA(t *testing.T) {
	res := run(t, false, synth.ExampleHAConfig("matrix:alertEmail", alertEmail, "matrix:dbAllocatedGiB", "50"))
	c := res.Cloud
	want := healthAlarms(c)
	group := map[string]string{"AutoScalingGroupName": output(t, c, "aws:autoscaling/group:Group", "host", "name")}
	lb := output(t, c, "aws:lb/loadBalancer:LoadBalancer", "alb", "arnSuffix")
	db := map[string]string{"DBInstanceIdentifier": output(t, c, "aws:rds/instance:Instance", "db", "identifier")}
	const region = "eu-central-1"
	want["instance-status"] = wantAlarm{"AWS/EC2", "StatusCheckFailed_Instance", "Maximum", "GreaterThanThreshold", 0, group, region}
	want["system-status"] = wantAlarm{"AWS/EC2", "StatusCheckFailed_System", "Maximum", "GreaterThanThreshold", 0, group, region}
	want["cpu-credits"] = wantAlarm{"AWS/EC2", "CPUCreditBalance", "Minimum", "LessThanThreshold", 24, group, region}
	want["web-unhealthy"] = wantAlarm{"AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", "GreaterThanThreshold", 0,
		map[string]string{"LoadBalancer": lb, "TargetGroup": output(t, c, "aws:lb/targetGroup:TargetGroup", "web", "arnSuffix")}, region}
	want["federation-unhealthy"] = wantAlarm{"AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", "GreaterThanThreshold", 0,
		map[string]string{"LoadBalancer": lb, "TargetGroup": output(t, c, "aws:lb/targetGroup:TargetGroup", "federation", "arnSuffix")}, region}
	want["db-storage"] = wantAlarm{"AWS/RDS", "FreeStorageSpace", "Minimum", "LessThanThreshold", 5 << 30, db, region}
	want["db-cpu"] = wantAlarm{"AWS/RDS", "CPUUtilization", "Average", "GreaterThanThreshold", 80, db, region}
	want["db-connections"] = wantAlarm{"AWS/RDS", "DatabaseConnections", "Maximum", "GreaterThanThreshold", 78, db, region}
	checkAlarms(t, res, want)
	if _, ok := byName(c.Find(alarmType))["recover"]; ok {
		t.Error("ha has no instance to recover; the group replaces it")
	}
}

// TestCPUCreditAlarmOnlyWhenBurstable: a type without CPU credits gets no
// alarm on them; each burstable family gets one at an hour of its earnings.
func TestCPUCreditAlarmOnlyWhenBurstable(t *testing.T) {
	for itype, want := range map[string]float64{"m7i.large": 0, "c7g.large": 0, "t4g.small": 24, "t3.large": 36, "t2.medium": 24, "t3a.xlarge": 96} {
		for _, raw := range []map[string]string{
			config("matrix:alertEmail", alertEmail, "matrix:instanceType", itype),
			synth.ExampleHAConfig("matrix:alertEmail", alertEmail, "matrix:instanceType", itype),
		} {
			res := run(t, false, raw)
			alarm, ok := byName(res.Cloud.Find(alarmType))["cpu-credits"]
			switch {
			case want == 0 && ok:
				t.Errorf("%s (%s): CPU credit alarm on a type without credits", itype, raw["matrix:topology"])
			case want != 0 && !ok:
				t.Errorf("%s (%s): no CPU credit alarm", itype, raw["matrix:topology"])
			case ok && get(alarm.Inputs, "threshold").NumberValue() != want:
				t.Errorf("%s: threshold %v, want %v", itype, get(alarm.Inputs, "threshold"), want)
			}
		}
	}
}

// TestHealthChecks: both public endpoints are checked over HTTPS with SNI
// from the internet, and their alarms live in us-east-1 with a topic
// there, through a provider of that region carrying the stack's tags.
func TestHealthChecks(t *testing.T) {
	for _, m := range modes {
		t.Run(m.Name, func(t *testing.T) {
			res := run(t, m.DryRun, config("matrix:alertEmail", alertEmail))
			c := res.Cloud
			checks := byName(c.Find(checkType))
			for name, want := range map[string][2]any{"client-api": {443.0, "/_matrix/client/versions"}, "federation": {8448.0, "/_matrix/federation/v1/version"}} {
				in := checks[name].Inputs
				if get(in, "type").StringValue() != "HTTPS" || get(in, "fqdn").StringValue() != "matrix.example.org" ||
					get(in, "port").NumberValue() != want[0] || get(in, "resourcePath").StringValue() != want[1] || !get(in, "enableSni").BoolValue() {
					t.Errorf("health check %s: %v", name, in)
				}
				if regionOf(t, c, providerOf(checks[name])) != "us-east-1" {
					t.Errorf("health check %s not through the us-east-1 provider", name)
				}
			}
			for _, a := range c.Find(alarmType) {
				if get(a.Inputs, "namespace").StringValue() == "AWS/Route53" && regionOf(t, c, providerOf(a)) != "us-east-1" {
					t.Errorf("alarm %s on Route 53 metrics outside us-east-1, where they do not exist", a.Name)
				}
			}
			var regions []string
			for _, tp := range c.Find(topicType) {
				regions = append(regions, regionOf(t, c, providerOf(tp)))
			}
			slices.Sort(regions)
			if !slices.Equal(regions, []string{"eu-central-1", "us-east-1"}) {
				t.Errorf("topics in %v", regions)
			}
			for _, p := range c.Find(provType) {
				if p.Name == "aws-us-east-1" && get(p.Inputs, "defaultTags", "tags", "Stack").StringValue() != "test" {
					t.Errorf("us-east-1 provider without the stack's default tags: %v", p.Inputs)
				}
			}
		})
	}
	// A stack in us-east-1 needs no second provider or topic.
	res := run(t, false, config("matrix:alertEmail", alertEmail, "aws:region", "us-east-1"))
	if n, p := len(res.Cloud.Find(topicType)), len(res.Cloud.Find(provType)); n != 1 || p != 1 {
		t.Errorf("us-east-1 stack: %d topics, %d providers", n, p)
	}
}

// TestAlertSubscriptions: the address is subscribed by e-mail to each
// topic, and the outputs say the subscriptions wait for confirmation.
func TestAlertSubscriptions(t *testing.T) {
	for _, raw := range []map[string]string{config("matrix:alertEmail", alertEmail), synth.ExampleHAConfig("matrix:alertEmail", alertEmail)} {
		res := run(t, false, raw)
		subs := res.Cloud.Find(subType2)
		if len(subs) != 2 {
			t.Fatalf("%d subscriptions, want one per topic", len(subs))
		}
		for _, s := range subs {
			if get(s.Inputs, "protocol").StringValue() != "email" || get(s.Inputs, "endpoint").StringValue() != alertEmail ||
				get(s.Inputs, "topic").StringValue() != output(t, res.Cloud, topicType, s.Name, "arn") {
				t.Errorf("subscription %s: %v", s.Name, s.Inputs)
			}
		}
		status, _ := res.Outputs["alertSubscription"].Value.(string)
		if !strings.HasPrefix(status, "pending confirmation: 2 e-mail(s)") || !strings.Contains(status, alertEmail) {
			t.Errorf("alertSubscription output %q", status)
		}
		if arns, _ := res.Outputs["alertTopicArns"].Value.([]any); len(arns) != 2 {
			t.Errorf("alertTopicArns %v", res.Outputs["alertTopicArns"].Value)
		}
	}
}

// TestAlertingComponent: every alerting resource is a child of the
// Alerting component (its alarms, topics, checks and the provider).
func TestAlertingComponent(t *testing.T) {
	for _, m := range modes {
		res := run(t, m.DryRun, synth.ExampleHAConfig("matrix:alertEmail", alertEmail))
		for _, typ := range []string{topicType, subType2, checkType, alarmType} {
			for _, r := range res.Cloud.Find(typ) {
				if !strings.Contains(r.Parent, "matrix:aws:Alerting::alerting") {
					t.Errorf("%s: %s %s has parent %q", m.Name, typ, r.Name, r.Parent)
				}
			}
		}
		if n := len(res.Cloud.Find(alarmType)); n != 10 {
			t.Errorf("%s: %d alarms, want 10", m.Name, n)
		}
	}
}

// TestNoAlertingWithoutKey: without matrix:alertEmail nothing of alerting
// is declared, and the recovery alarm only recovers.
func TestNoAlertingWithoutKey(t *testing.T) {
	for _, raw := range []map[string]string{config(), synth.ExampleHAConfig(), config("matrix:alertEmail", " ")} {
		res := run(t, false, raw)
		for _, typ := range []string{topicType, subType2, checkType, "matrix:aws:Alerting"} {
			if n := len(res.Cloud.Find(typ)); n != 0 {
				t.Errorf("%v: %d %s", raw, n, typ)
			}
		}
		for _, a := range res.Cloud.Find(alarmType) {
			if a.Name != "recover" || len(stringsOf(get(a.Inputs, "alarmActions"))) != 1 || !get(a.Inputs, "okActions").IsNull() {
				t.Errorf("%v: alarm %s %v", raw, a.Name, a.Inputs)
			}
		}
		if len(res.Cloud.Find(provType)) != 1 {
			t.Errorf("%v: extra providers", raw)
		}
		for name := range res.Outputs {
			if strings.HasPrefix(name, "alert") {
				t.Errorf("%v: output %s", raw, name)
			}
		}
	}
}

// TestAlarmsDocumented: the README's "What you receive" lists every alarm
// either topology declares, and every section an alarm's description
// sends the reader to is a heading of docs/troubleshooting.md.
func TestAlarmsDocumented(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, receive, _ := strings.Cut(string(readme), "## What you receive")
	receive, _, _ = strings.Cut(receive, "\n## ")
	doc, err := os.ReadFile("../docs/troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	_, alerts, _ := strings.Cut(string(doc), "\n## Alerts\n")
	section := regexp.MustCompile(`section "Alerts", "([^"]+)"`)
	for _, raw := range []map[string]string{
		config("matrix:alertEmail", alertEmail),
		synth.ExampleHAConfig("matrix:alertEmail", alertEmail),
	} {
		for _, a := range run(t, false, raw).Cloud.Find(alarmType) {
			name := a.Name
			if name == "recover" {
				name = "recover-..."
			}
			if !strings.Contains(receive, "`"+name+"`") {
				t.Errorf("README.md, What you receive, does not list alarm %s", name)
			}
			m := section.FindStringSubmatch(get(a.Inputs, "alarmDescription").StringValue())
			if m == nil {
				t.Errorf("alarm %s names no section of the runbook", a.Name)
				continue
			}
			if !strings.Contains(alerts, "\n### "+m[1]+"\n") {
				t.Errorf("alarm %s sends the reader to %q, which docs/troubleshooting.md, Alerts, does not have", a.Name, m[1])
			}
		}
	}
}
