package infra

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/cloudwatch"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/sns"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// FederationHealthPath is what the external federation check asks for: the
// server version, which every homeserver answers without authentication
// (Matrix server-server API, GET /_matrix/federation/v1/version).
const FederationHealthPath = "/_matrix/federation/v1/version"

// HealthCheckMetricsRegion is where Route 53 publishes its health checks'
// CloudWatch metrics, and so where their alarms and the topic those alarms
// notify must be: "Route 53 metrics are not available if you select any
// other region" (Route 53 Developer Guide, "Monitoring health checks using
// CloudWatch", https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-checks.html).
const HealthCheckMetricsRegion = "us-east-1"

// healthCheckRegion returns the region holding the health checks' metrics
// for a stack in region: us-east-1 for the aws partition. China and
// GovCloud have their own Route 53, which this program does not model.
func healthCheckRegion(region string) (string, bool) {
	if strings.HasPrefix(region, "cn-") || strings.HasPrefix(region, "us-gov-") {
		return "", false
	}
	return HealthCheckMetricsRegion, true
}

// Runbook is where every alarm's description sends the reader.
const Runbook = "docs/troubleshooting.md, section \"Alerts\""

// Alerting is the component that mails matrix:alertEmail when the
// homeserver breaks: SNS topics with the address subscribed, Route 53
// health checks of the public endpoints, and CloudWatch alarms on them, the
// host and (ha) the load balancer and the database.
type Alerting struct {
	pulumi.ResourceState

	// Topic is in the stack's region; the regional alarms notify it.
	Topic        *sns.Topic
	Subscription *sns.TopicSubscription
	// Global is the us-east-1 provider of the health-check alarms; nil
	// when the stack itself is in us-east-1.
	Global *aws.Provider
	// HealthTopic is in us-east-1, where the health-check alarms are:
	// CloudWatch notifies only topics of the alarm's own region. It is
	// Topic when the stack is in us-east-1.
	HealthTopic        *sns.Topic
	HealthSubscription *sns.TopicSubscription
	HealthChecks       map[string]*route53.HealthCheck
	Alarms             map[string]*cloudwatch.MetricAlarm

	email string
}

// newAlerting declares the topics, subscriptions, health checks and their
// alarms; the topology's alarms follow with watchHost and watchHA.
func newAlerting(ctx *pulumi.Context, cfg Config, opts ...pulumi.ResourceOption) (*Alerting, error) {
	a := &Alerting{HealthChecks: map[string]*route53.HealthCheck{}, Alarms: map[string]*cloudwatch.MetricAlarm{}, email: cfg.AlertEmail}
	if err := ctx.RegisterComponentResource("matrix:aws:Alerting", "alerting", a, opts...); err != nil {
		return nil, fmt.Errorf("alerting: %w", err)
	}
	child := pulumi.Parent(a)
	var err error
	if a.Topic, a.Subscription, err = newAlertTopic(ctx, cfg, "alerts", child); err != nil {
		return nil, fmt.Errorf("alerting: %w", err)
	}
	global := []pulumi.ResourceOption{child}
	a.HealthTopic, a.HealthSubscription = a.Topic, a.Subscription
	if region, _ := healthCheckRegion(cfg.Region); region != cfg.Region {
		if a.Global, err = aws.NewProvider(ctx, "aws-"+region, providerArgs(ctx, region), child); err != nil {
			return nil, fmt.Errorf("alerting: provider: %w", err)
		}
		global = append(global, pulumi.Provider(a.Global))
		if a.HealthTopic, a.HealthSubscription, err = newAlertTopic(ctx, cfg, "alerts-"+region, global...); err != nil {
			return nil, fmt.Errorf("alerting: %w", err)
		}
	}
	if err := a.newHealthChecks(ctx, cfg, global...); err != nil {
		return nil, fmt.Errorf("alerting: %w", err)
	}
	return a, nil
}

// newAlertTopic is a topic with the address subscribed. The display name is
// the sender's name of the e-mails.
func newAlertTopic(ctx *pulumi.Context, cfg Config, name string, opts ...pulumi.ResourceOption) (*sns.Topic, *sns.TopicSubscription, error) {
	topic, err := sns.NewTopic(ctx, name, &sns.TopicArgs{
		DisplayName: pulumi.String(fmt.Sprintf("%s-%s alerts", ctx.Project(), ctx.Stack())),
		Tags:        NameTag(ctx, name),
	}, opts...)
	if err != nil {
		return nil, nil, err
	}
	// AWS mails a confirmation link; nothing is delivered until it is
	// followed. The provider leaves an unconfirmed subscription behind on
	// delete (AWS cleans it up), so it is never waited for.
	sub, err := sns.NewTopicSubscription(ctx, name, &sns.TopicSubscriptionArgs{
		Topic:    topic.Arn,
		Protocol: pulumi.String("email"),
		Endpoint: pulumi.String(cfg.AlertEmail),
	}, opts...)
	return topic, sub, err
}

// healthCheck is one public endpoint checked from the internet.
type healthCheck struct {
	name, what, url string
	port            int
	path            string
	impact          string
}

func healthChecks(cfg Config) []healthCheck {
	return []healthCheck{
		{"client-api", "client API", fmt.Sprintf("https://%s%s", cfg.MatrixHost(), HealthPath), ALBHTTPSPort, HealthPath,
			"Users' apps (Element and others) cannot reach the homeserver: no messages, no logins."},
		{"federation", "federation API", fmt.Sprintf("https://%s:%d%s", cfg.MatrixHost(), ALBFederationPort, FederationHealthPath), ALBFederationPort, FederationHealthPath,
			"Other homeservers cannot reach this one: rooms shared with them stop receiving its messages until it is back (they retry)."},
	}
}

// newHealthChecks checks the endpoints users and other servers reach, the
// way they reach them: HTTPS to matrix.<domain>, through DNS, the load
// balancer (ha) and Traefik to Synapse. It catches what no metric inside
// the account shows: a dead Traefik, an expired record, a closed port.
func (a *Alerting) newHealthChecks(ctx *pulumi.Context, cfg Config, opts ...pulumi.ResourceOption) error {
	for _, hc := range healthChecks(cfg) {
		check, err := route53.NewHealthCheck(ctx, hc.name, &route53.HealthCheckArgs{
			Type:         pulumi.String("HTTPS"),
			Fqdn:         pulumi.String(cfg.MatrixHost()),
			Port:         pulumi.Int(hc.port),
			ResourcePath: pulumi.String(hc.path),
			// The certificate is issued for the name, and Traefik picks
			// it by SNI.
			EnableSni:        pulumi.Bool(true),
			RequestInterval:  pulumi.Int(30),
			FailureThreshold: pulumi.Int(3),
			Tags:             NameTag(ctx, hc.name),
		}, opts...)
		if err != nil {
			return fmt.Errorf("health check %s: %w", hc.name, err)
		}
		a.HealthChecks[hc.name] = check
		if err := a.Alarm(ctx, AlarmSpec{
			Name: hc.name + "-down",
			Description: fmt.Sprintf("The %s at %s does not answer from the internet: Route 53 health checkers around the world got no 2xx/3xx answer over HTTPS for 3 minutes. %s Open the URL, then follow %s, \"%s down\".",
				hc.what, hc.url, hc.impact, Runbook, hc.what),
			Namespace: "AWS/Route53", Metric: "HealthCheckStatus", Statistic: "Minimum",
			Dims:   pulumi.StringMap{"HealthCheckId": check.ID().ToStringOutput()},
			Period: 60, Evaluations: 3, Comparison: "LessThanThreshold", Threshold: 1,
			Topic: a.HealthTopic,
		}, opts...); err != nil {
			return err
		}
	}
	return nil
}

// AlarmSpec is one alarm; every alarm notifies on ALARM and on OK.
type AlarmSpec struct {
	Name, Description   string
	Namespace, Metric   string
	Statistic           string
	Dims                pulumi.StringMap
	Period, Evaluations int
	Comparison          string
	Threshold           float64
	Missing             string // treatMissingData; "" is CloudWatch's "missing"
	Topic               *sns.Topic
}

// Alarm declares one alarm under the component.
func (a *Alerting) Alarm(ctx *pulumi.Context, s AlarmSpec, opts ...pulumi.ResourceOption) error {
	notify := pulumi.Array{s.Topic.Arn}
	args := &cloudwatch.MetricAlarmArgs{
		// The name is the e-mail's subject: it says which stack.
		Name:               pulumi.String(fmt.Sprintf("%s-%s-%s", ctx.Project(), ctx.Stack(), s.Name)),
		AlarmDescription:   pulumi.String(s.Description),
		Namespace:          pulumi.String(s.Namespace),
		MetricName:         pulumi.String(s.Metric),
		Dimensions:         s.Dims,
		Statistic:          pulumi.String(s.Statistic),
		Period:             pulumi.Int(s.Period),
		EvaluationPeriods:  pulumi.Int(s.Evaluations),
		ComparisonOperator: pulumi.String(s.Comparison),
		Threshold:          pulumi.Float64(s.Threshold),
		AlarmActions:       notify,
		OkActions:          notify,
		Tags:               NameTag(ctx, s.Name),
	}
	if s.Missing != "" {
		args.TreatMissingData = pulumi.String(s.Missing)
	}
	// A fixed name cannot exist twice: a replacement deletes first.
	alarm, err := cloudwatch.NewMetricAlarm(ctx, s.Name, args, WithOpts(opts, pulumi.Parent(a), pulumi.DeleteBeforeReplace(true))...)
	if err != nil {
		return fmt.Errorf("alarm %s: %w", s.Name, err)
	}
	a.Alarms[s.Name] = alarm
	return nil
}

// WatchInstances adds the host's alarms. dims names the host: its
// InstanceId (single), or its Auto Scaling Group (ha), whose aggregate
// metrics follow whichever instance the group runs, so a replacement
// host needs no new alarm.
func (a *Alerting) WatchInstances(ctx *pulumi.Context, cfg Config, dims pulumi.StringMap, inGroup bool, opts ...pulumi.ResourceOption) error {
	period, evaluations, what := 60, 3, "The host"
	if inGroup {
		// Aggregates over a group come at the basic monitoring's
		// five-minute resolution.
		period, evaluations, what = 300, 1, "The host of the Auto Scaling Group"
	}
	specs := []AlarmSpec{{
		Name:        "instance-status",
		Description: fmt.Sprintf("%s of %s fails its instance status check: the operating system does not answer (out of memory, kernel panic, full disk, broken network configuration). Matrix is likely down. Follow %s, \"Instance status check failed\".", what, cfg.MatrixHost(), Runbook),
		Namespace:   "AWS/EC2", Metric: "StatusCheckFailed_Instance", Statistic: "Maximum",
		Period: period, Evaluations: evaluations, Comparison: "GreaterThanThreshold", Threshold: 0,
	}}
	if inGroup {
		// The single host has its recovery alarm on the system check,
		// which notifies too (newRecoveryAlarm).
		specs = append(specs, AlarmSpec{
			Name:        "system-status",
			Description: fmt.Sprintf("%s of %s fails its system status check: the AWS hardware or network under it is impaired. The group replaces the host after its health check fails; expect a few minutes of downtime. Follow %s, \"System status check failed\".", what, cfg.MatrixHost(), Runbook),
			Namespace:   "AWS/EC2", Metric: "StatusCheckFailed_System", Statistic: "Maximum",
			Period: period, Evaluations: evaluations, Comparison: "GreaterThanThreshold", Threshold: 0,
		})
	}
	if perHour, ok := CPUCreditsPerHour(cfg.InstanceType); ok {
		specs = append(specs, AlarmSpec{
			Name: "cpu-credits",
			Description: fmt.Sprintf("%s of %s (%s, burstable) has less than %.0f CPU credits left, what it earns in an hour: it has used more CPU than its baseline for a long time. In standard mode it is about to be throttled to the baseline; in unlimited mode (t3, t3a, t4g default) surplus credits are billed. A new host starts with few credits, so this fires and clears within its first hours. Follow %s, \"CPU credits low\".",
				what, cfg.MatrixHost(), cfg.InstanceType, perHour, Runbook),
			Namespace: "AWS/EC2", Metric: "CPUCreditBalance", Statistic: "Minimum",
			Period: 300, Evaluations: 3, Comparison: "LessThanThreshold", Threshold: perHour,
		})
	}
	for _, s := range specs {
		s.Dims, s.Topic = dims, a.Topic
		if err := a.Alarm(ctx, s, opts...); err != nil {
			return err
		}
	}
	return nil
}

// WatchDatabase alarms on the RDS instance's storage, CPU and connections.
func (a *Alerting) WatchDatabase(ctx *pulumi.Context, cfg Config, db *rds.Instance, opts ...pulumi.ResourceOption) error {
	dims := pulumi.StringMap{"DBInstanceIdentifier": db.Identifier}
	storage := DBFreeStorageThreshold(cfg.DBAllocatedGiB)
	conns, err := DBConnectionsThreshold(cfg.DBInstanceClass)
	if err != nil {
		return err
	}
	for _, s := range []AlarmSpec{
		{
			Name: "db-storage",
			Description: fmt.Sprintf("The database of %s has less than 10%% of its %d GiB free (%.1f GiB). When it is full, PostgreSQL stops and Synapse with it. Raise matrix:dbAllocatedGiB and run pulumi up; follow %s, \"Database storage low\".",
				cfg.MatrixHost(), cfg.DBAllocatedGiB, storage/(1<<30), Runbook),
			Namespace: "AWS/RDS", Metric: "FreeStorageSpace", Statistic: "Minimum",
			Period: 300, Evaluations: 1, Comparison: "LessThanThreshold", Threshold: storage,
		},
		{
			Name: "db-cpu",
			Description: fmt.Sprintf("The database of %s (%s) has used more than 80%% CPU for 15 minutes: Synapse is slow for everyone. Follow %s, \"Database CPU high\".",
				cfg.MatrixHost(), cfg.DBInstanceClass, Runbook),
			Namespace: "AWS/RDS", Metric: "CPUUtilization", Statistic: "Average",
			Period: 300, Evaluations: 3, Comparison: "GreaterThanThreshold", Threshold: 80,
		},
		{
			Name: "db-connections",
			Description: fmt.Sprintf("The database of %s (%s) has had more than %.0f connections for 10 minutes, about 80%% of what the class allows by default; at the limit Synapse's new connections fail. Follow %s, \"Database connections high\".",
				cfg.MatrixHost(), cfg.DBInstanceClass, conns, Runbook),
			Namespace: "AWS/RDS", Metric: "DatabaseConnections", Statistic: "Maximum",
			Period: 300, Evaluations: 2, Comparison: "GreaterThanThreshold", Threshold: conns,
		},
	} {
		s.Dims, s.Topic = dims, a.Topic
		if err := a.Alarm(ctx, s, opts...); err != nil {
			return err
		}
	}
	return nil
}

// Notify is what the recovery alarm adds to its actions: the topic.
func (a *Alerting) Notify() pulumi.Array {
	if a == nil {
		return nil
	}
	return pulumi.Array{a.Topic.Arn}
}

func (a *Alerting) outputs() map[string]pulumi.Input {
	topics := pulumi.StringArray{a.Topic.Arn}
	subs := []*sns.TopicSubscription{a.Subscription}
	if a.HealthTopic != a.Topic {
		topics = append(topics, a.HealthTopic.Arn)
		subs = append(subs, a.HealthSubscription)
	}
	var pending []any
	for _, s := range subs {
		pending = append(pending, s.PendingConfirmation)
	}
	email := a.email
	status := pulumi.All(pending...).ApplyT(func(vs []any) string {
		open := 0
		for _, v := range vs {
			if p, _ := v.(bool); p {
				open++
			}
		}
		if open == 0 {
			return "confirmed: alarms are mailed to " + email
		}
		return fmt.Sprintf("pending confirmation: %d e-mail(s) from AWS Notifications went to %s; click Confirm subscription in each, or no alarm is delivered (README, What you receive)", open, email)
	}).(pulumi.StringOutput)
	return map[string]pulumi.Input{
		"alertEmail":        pulumi.String(email),
		"alertTopicArns":    topics,
		"alertSubscription": status,
	}
}

// register records the component's outputs once every alarm exists.
func (a *Alerting) register(ctx *pulumi.Context) error {
	out := pulumi.Map{}
	for k, v := range a.outputs() {
		out[k] = v
	}
	if err := ctx.RegisterResourceOutputs(a, out); err != nil {
		return fmt.Errorf("alerting: %w", err)
	}
	return nil
}

// creditsPerHour are the CPU credits a burstable instance earns per hour,
// from "Key concepts and definitions for burstable performance instances"
// (EC2 User Guide, credit table,
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/burstable-credits-baseline-concepts.html).
var creditsPerHour = map[string]map[string]float64{
	"t2":  {"nano": 3, "micro": 6, "small": 12, "medium": 24, "large": 36, "xlarge": 54, "2xlarge": 81.6},
	"t3":  {"nano": 6, "micro": 12, "small": 24, "medium": 24, "large": 36, "xlarge": 96, "2xlarge": 192},
	"t3a": {"nano": 6, "micro": 12, "small": 24, "medium": 24, "large": 36, "xlarge": 96, "2xlarge": 192},
	"t4g": {"nano": 6, "micro": 12, "small": 24, "medium": 24, "large": 36, "xlarge": 96, "2xlarge": 192},
}

// CPUCreditsPerHour returns what a burstable type earns per hour, and false
// for a type that is not burstable (it has no CPU credits).
func CPUCreditsPerHour(instanceType string) (float64, bool) {
	family, size, _ := strings.Cut(instanceType, ".")
	n, ok := creditsPerHour[family][size]
	return n, ok
}

// DBFreeStorageThreshold is 10% of the allocated storage, in bytes: the
// point at which RDS storage autoscaling would act ("free available space
// is less than 10 percent of the allocated storage", RDS User Guide,
// "Managing capacity automatically with Amazon RDS storage autoscaling").
func DBFreeStorageThreshold(allocatedGiB int) float64 {
	return float64(allocatedGiB) * (1 << 30) / 10
}

var dbClassPattern = regexp.MustCompile(`^db\.([a-z])(\d+)([a-z]*)\.(\w+)$`)

// burstableDBMemory is the memory of the db.t3/db.t4g sizes in GiB (RDS
// User Guide, "DB instance classes", hardware specifications).
var burstableDBMemory = map[string]float64{"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}

// dbClassMemoryGiB returns the memory of an RDS class: the burstable sizes
// from their table, general-purpose (m) classes 4 GiB and memory-optimised
// (r) classes 8 GiB per vCPU, with 2 vCPUs for large and 4 per xlarge, as
// the RDS class tables list them.
func dbClassMemoryGiB(class string) (float64, bool) {
	m := dbClassPattern.FindStringSubmatch(class)
	if m == nil {
		return 0, false
	}
	family, size := m[1], m[4]
	if family == "t" && (m[2] == "3" || m[2] == "4") {
		gib, ok := burstableDBMemory[size]
		return gib, ok
	}
	perVCPU := map[string]float64{"m": 4, "r": 8}[family]
	if perVCPU == 0 {
		return 0, false
	}
	vcpus := 0.0
	switch {
	case size == "large":
		vcpus = 2
	case size == "xlarge":
		vcpus = 4
	case strings.HasSuffix(size, "xlarge"):
		n, err := strconv.Atoi(strings.TrimSuffix(size, "xlarge"))
		if err != nil || n < 2 {
			return 0, false
		}
		vcpus = float64(4 * n)
	default:
		return 0, false
	}
	return vcpus * perVCPU, true
}

// DBConnectionsThreshold is the database connections alarm's Threshold:
// 70% of RDS for PostgreSQL's default max_connections,
// LEAST({DBInstanceClassMemory/9531392}, 5000) (RDS User Guide, "Maximum
// number of database connections"), computed on the class's nominal
// memory. DBInstanceClassMemory is that memory less what RDS keeps for the
// operating system (db.t2.small, 2 GiB, reports 198 where the nominal
// memory gives 225), so 70% of the nominal figure is about 80% of the
// real limit.
func DBConnectionsThreshold(class string) (float64, error) {
	gib, ok := dbClassMemoryGiB(class)
	if !ok {
		return 0, fmt.Errorf("no memory known for database class %s", class)
	}
	max := math.Min(math.Floor(gib*(1<<30)/9531392), 5000)
	return math.Floor(0.7 * max), nil
}
