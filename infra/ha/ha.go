package ha

import (
	"fmt"
	"net/netip"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/acm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/autoscaling"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/iam"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/lb"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/rds"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/s3"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ssm"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// albPorts are the load balancer's public listeners.
var albPorts = []infra.Port{
	{Protocol: "tcp", From: infra.ALBHTTPPort, To: infra.ALBHTTPPort, Purpose: "HTTP: redirect to HTTPS"},
	{Protocol: "tcp", From: infra.ALBHTTPSPort, To: infra.ALBHTTPSPort, Purpose: "HTTPS: client API, Element, /.well-known/matrix"},
	{Protocol: "tcp", From: infra.ALBFederationPort, To: infra.ALBFederationPort, Purpose: "Matrix federation API"},
}

// hostPorts are the only ports open on the host, and only to the load
// balancer's security group.
var hostPorts = []infra.Port{
	{Protocol: "tcp", From: infra.TraefikWebPort, To: infra.TraefikWebPort, Purpose: "Traefik plain HTTP entrypoint, from the load balancer"},
	{Protocol: "tcp", From: infra.TraefikFederationPort, To: infra.TraefikFederationPort, Purpose: "Traefik plain federation entrypoint, from the load balancer"},
	{Protocol: "tcp", From: infra.TraefikHealthPort, To: infra.TraefikHealthPort, Purpose: "Traefik internal client API entrypoint, for the target groups' health checks"},
}

// HA is what the ha topology declares beyond the shared network.
type HA struct {
	PrivateSubnets  []*ec2.Subnet
	ALBGroup        *ec2.SecurityGroup
	HostGroup       *ec2.SecurityGroup
	DBGroup         *ec2.SecurityGroup
	Certificate     *acm.Certificate
	Validation      *acm.CertificateValidation
	LoadBalancer    *lb.LoadBalancer
	WebTarget       *lb.TargetGroup
	FedTarget       *lb.TargetGroup
	Listeners       map[int]*lb.Listener
	DB              *infra.Database
	DBPassword      *random.RandomPassword
	MASDBPassword   *random.RandomPassword // nil unless matrix:auth is mas
	Database        *rds.Instance
	MediaBucket     *s3.BucketV2
	BootBucket      *s3.BucketV2
	Tree            *s3.BucketObjectv2
	VarsParameter   *ssm.Parameter
	RedactParameter *ssm.Parameter // every secret the host must mask, one per line
	// SigningKeyParameter keeps Synapse's signing key across hosts.
	SigningKeyParameter *ssm.Parameter
	Role                *iam.Role
	RolePolicy          *iam.RolePolicy
	Profile             *iam.InstanceProfile
	LaunchTemplate      *ec2.LaunchTemplate
	Group               *autoscaling.Group
	// Apply re-runs the playbook on the running host when its inputs
	// change (nil with matrix:provision false).
	Apply  *ssm.Association
	Verify *local.Command
}

// New is an empty ha topology for infra.NewHomeserver to fill.
func New() *HA { return &HA{} }

// Check has nothing beyond the core's checks: the database plan and the
// topology switch are the core's.
func (ha *HA) Check(*pulumi.Context, *infra.Homeserver, ...pulumi.InvokeOption) error { return nil }

// Declare adds the private subnets, the security group graph, the load
// balancer with its certificate and records, the data and the host group.
func (ha *HA) Declare(ctx *pulumi.Context, hs *infra.Homeserver, opts ...pulumi.ResourceOption) error {
	cfg := hs.Config
	var err error
	if ha.PrivateSubnets, err = infra.NewPrivateSubnets(ctx, cfg, hs.Facts, hs.Network, opts...); err != nil {
		return fmt.Errorf("ha: network: %w", err)
	}
	if err = ha.newSecurityGroups(ctx, cfg, hs.Network, opts...); err != nil {
		return fmt.Errorf("ha: firewall: %w", err)
	}
	if err = ha.newLoadBalancer(ctx, cfg, hs.Facts, hs.Network, opts...); err != nil {
		return fmt.Errorf("ha: load balancer: %w", err)
	}
	if hs.Records, err = ha.newRecords(ctx, cfg, hs.Facts, opts...); err != nil {
		return fmt.Errorf("ha: dns: %w", err)
	}
	if err = ha.newData(ctx, cfg, hs.Facts.DB, opts...); err != nil {
		return fmt.Errorf("ha: data: %w", err)
	}
	if hs.Provisioning, err = ha.newHost(ctx, cfg, hs, opts...); err != nil {
		return fmt.Errorf("ha: host: %w", err)
	}
	return nil
}

// newSecurityGroups builds the graph: anyone -> ALB on its listeners, ALB
// -> host on hostPorts, host -> database on infra.PostgresPort. Nothing else
// reaches the host or the database.
func (ha *HA) newSecurityGroups(ctx *pulumi.Context, cfg infra.Config, network *infra.Network, opts ...pulumi.ResourceOption) error {
	group := func(name, desc string) (*ec2.SecurityGroup, error) {
		return ec2.NewSecurityGroup(ctx, name, &ec2.SecurityGroupArgs{
			VpcId:       network.VPC.ID(),
			Description: pulumi.String(desc),
			Tags:        infra.NameTag(ctx, name),
		}, opts...)
	}
	var err error
	if ha.ALBGroup, err = group("alb", "Matrix load balancer: HTTP, HTTPS and federation from anywhere"); err != nil {
		return err
	}
	if ha.HostGroup, err = group("host", "Matrix homeserver host: Traefik and Synapse health from the load balancer only"); err != nil {
		return err
	}
	if ha.DBGroup, err = group("db", "Matrix database: PostgreSQL from the homeserver host only"); err != nil {
		return err
	}
	for _, src := range infra.Families(cfg) {
		for _, p := range albPorts {
			args := &vpc.SecurityGroupIngressRuleArgs{
				SecurityGroupId: ha.ALBGroup.ID(),
				IpProtocol:      pulumi.String(p.Protocol),
				FromPort:        pulumi.Int(p.From),
				ToPort:          pulumi.Int(p.To),
				Description:     pulumi.String(p.Purpose),
			}
			infra.SetCIDR(&args.CidrIpv4, &args.CidrIpv6, src)
			if _, err := vpc.NewSecurityGroupIngressRule(ctx, "alb-"+infra.RuleName(p, src), args, opts...); err != nil {
				return err
			}
		}
	}
	for _, p := range hostPorts {
		ports := fmt.Sprintf("%s-%d", p.Protocol, p.From)
		if _, err := vpc.NewSecurityGroupIngressRule(ctx, "host-in-"+ports+"-from-alb", &vpc.SecurityGroupIngressRuleArgs{
			SecurityGroupId:           ha.HostGroup.ID(),
			ReferencedSecurityGroupId: ha.ALBGroup.ID(),
			IpProtocol:                pulumi.String(p.Protocol),
			FromPort:                  pulumi.Int(p.From),
			ToPort:                    pulumi.Int(p.To),
			Description:               pulumi.String(p.Purpose),
		}, opts...); err != nil {
			return err
		}
		if _, err := vpc.NewSecurityGroupEgressRule(ctx, "alb-out-"+ports+"-to-host", &vpc.SecurityGroupEgressRuleArgs{
			SecurityGroupId:           ha.ALBGroup.ID(),
			ReferencedSecurityGroupId: ha.HostGroup.ID(),
			IpProtocol:                pulumi.String(p.Protocol),
			FromPort:                  pulumi.Int(p.From),
			ToPort:                    pulumi.Int(p.To),
			Description:               pulumi.String(p.Purpose),
		}, opts...); err != nil {
			return err
		}
	}
	if _, err := vpc.NewSecurityGroupIngressRule(ctx, fmt.Sprintf("db-in-tcp-%d-from-host", infra.PostgresPort), &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId:           ha.DBGroup.ID(),
		ReferencedSecurityGroupId: ha.HostGroup.ID(),
		IpProtocol:                pulumi.String("tcp"),
		FromPort:                  pulumi.Int(infra.PostgresPort),
		ToPort:                    pulumi.Int(infra.PostgresPort),
		Description:               pulumi.String("PostgreSQL from the homeserver host"),
	}, opts...); err != nil {
		return err
	}
	// The host fetches packages, images, the playbook, and federates:
	// all outbound. The database opens no connection of its own.
	for _, dst := range infra.Families(cfg) {
		args := &vpc.SecurityGroupEgressRuleArgs{
			SecurityGroupId: ha.HostGroup.ID(),
			IpProtocol:      pulumi.String("-1"),
			Description:     pulumi.String("all outbound: packages, container images, federation, S3, SSM, the database"),
		}
		infra.SetCIDR(&args.CidrIpv4, &args.CidrIpv6, dst)
		if _, err := vpc.NewSecurityGroupEgressRule(ctx, "host-out-"+infra.FamilyName(dst), args, opts...); err != nil {
			return err
		}
	}
	return nil
}

func (ha *HA) newLoadBalancer(ctx *pulumi.Context, cfg infra.Config, facts infra.Facts, network *infra.Network, opts ...pulumi.ResourceOption) error {
	var err error
	if ha.Certificate, ha.Validation, err = infra.NewCertificate(ctx, cfg, facts, infra.CertificateNames(cfg), opts...); err != nil {
		return err
	}
	var subnets pulumi.StringArray
	for _, s := range network.Subnets {
		subnets = append(subnets, s.ID())
	}
	addressType := "ipv4"
	if cfg.IPv6 {
		addressType = "dualstack"
	}
	if ha.LoadBalancer, err = lb.NewLoadBalancer(ctx, "alb", &lb.LoadBalancerArgs{
		LoadBalancerType:         pulumi.String("application"),
		Internal:                 pulumi.Bool(false),
		Subnets:                  subnets,
		SecurityGroups:           pulumi.StringArray{ha.ALBGroup.ID()},
		IpAddressType:            pulumi.String(addressType),
		DropInvalidHeaderFields:  pulumi.Bool(true),
		EnableDeletionProtection: pulumi.Bool(cfg.Protect),
		// Synapse's /sync long-polls for 30 s by default.
		IdleTimeout: pulumi.Int(120),
		Tags:        infra.NameTag(ctx, "alb"),
	}, opts...); err != nil {
		return err
	}
	target := func(name string, port int) (*lb.TargetGroup, error) {
		return lb.NewTargetGroup(ctx, name, &lb.TargetGroupArgs{
			VpcId:      network.VPC.ID(),
			Port:       pulumi.Int(port),
			Protocol:   pulumi.String("HTTP"),
			TargetType: pulumi.String("instance"),
			// Through Traefik to Synapse, the way users' requests go: a
			// host whose Traefik or Synapse is down fails, and the group
			// replaces it. Not the traffic port itself: Traefik routes it
			// by Host header, which a health check cannot set.
			HealthCheck: lb.TargetGroupHealthCheckArgs{
				Enabled:            pulumi.Bool(true),
				Protocol:           pulumi.String("HTTP"),
				Port:               pulumi.String(fmt.Sprint(infra.TraefikHealthPort)),
				Path:               pulumi.String(infra.HealthPath),
				Matcher:            pulumi.String("200"),
				Interval:           pulumi.Int(15),
				Timeout:            pulumi.Int(5),
				HealthyThreshold:   pulumi.Int(2),
				UnhealthyThreshold: pulumi.Int(3),
			},
			DeregistrationDelay: pulumi.Int(30),
			Tags:                infra.NameTag(ctx, name),
		}, opts...)
	}
	if ha.WebTarget, err = target("web", infra.TraefikWebPort); err != nil {
		return err
	}
	if ha.FedTarget, err = target("federation", infra.TraefikFederationPort); err != nil {
		return err
	}
	ha.Listeners = map[int]*lb.Listener{}
	https := func(name string, port int, tg *lb.TargetGroup) error {
		l, err := lb.NewListener(ctx, name, &lb.ListenerArgs{
			LoadBalancerArn: ha.LoadBalancer.Arn,
			Port:            pulumi.Int(port),
			Protocol:        pulumi.String("HTTPS"),
			SslPolicy:       pulumi.String("ELBSecurityPolicy-TLS13-1-2-2021-06"),
			CertificateArn:  ha.Validation.CertificateArn,
			DefaultActions: lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
				Type:           pulumi.String("forward"),
				TargetGroupArn: tg.Arn,
			}},
			Tags: infra.NameTag(ctx, name),
		}, opts...)
		ha.Listeners[port] = l
		return err
	}
	if err := https("https", infra.ALBHTTPSPort, ha.WebTarget); err != nil {
		return err
	}
	if err := https("federation", infra.ALBFederationPort, ha.FedTarget); err != nil {
		return err
	}
	ha.Listeners[infra.ALBHTTPPort], err = lb.NewListener(ctx, "http", &lb.ListenerArgs{
		LoadBalancerArn: ha.LoadBalancer.Arn,
		Port:            pulumi.Int(infra.ALBHTTPPort),
		Protocol:        pulumi.String("HTTP"),
		DefaultActions: lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
			Type: pulumi.String("redirect"),
			Redirect: lb.ListenerDefaultActionRedirectArgs{
				Port:       pulumi.String(fmt.Sprint(infra.ALBHTTPSPort)),
				Protocol:   pulumi.String("HTTPS"),
				StatusCode: pulumi.String("HTTP_301"),
			},
		}},
		Tags: infra.NameTag(ctx, "http"),
	}, opts...)
	return err
}

// newRecords publishes the same names as the single topology, with the
// addresses as aliases of the load balancer (whose addresses change).
func (ha *HA) newRecords(ctx *pulumi.Context, cfg infra.Config, facts infra.Facts, opts ...pulumi.ResourceOption) (map[infra.Record]*route53.Record, error) {
	out := map[infra.Record]*route53.Record{}
	for _, r := range infra.Records(cfg) {
		args := &route53.RecordArgs{
			ZoneId: pulumi.String(facts.ZoneID),
			Name:   pulumi.String(r.Name(cfg.Domain)),
			Type:   pulumi.String(r.Type),
		}
		if r.Type == "CNAME" {
			args.Ttl = pulumi.Int(cfg.DNSTTL)
			args.Records = pulumi.StringArray{pulumi.String(cfg.MatrixHost())}
		} else {
			args.Aliases = route53.RecordAliasArray{route53.RecordAliasArgs{
				Name:                 ha.LoadBalancer.DnsName,
				ZoneId:               ha.LoadBalancer.ZoneId,
				EvaluateTargetHealth: pulumi.Bool(true),
			}}
		}
		label := r.Label
		if label == "" {
			label = "base"
		}
		rec, err := route53.NewRecord(ctx, label+"-"+r.Type, args, opts...)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.Type, r.Name(cfg.Domain), err)
		}
		out[r] = rec
	}
	return out, nil
}

// parameterPath is the SSM parameter prefix of the stack.
func parameterPath(ctx *pulumi.Context) string {
	return "/" + ctx.Project() + "/" + ctx.Stack()
}

// trustedProxies is the range Traefik accepts X-Forwarded-* headers from:
// the VPC, where the load balancer's nodes live.
func trustedProxies(cfg infra.Config) netip.Prefix { return cfg.VPCCIDR }
