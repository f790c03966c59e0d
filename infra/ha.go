package infra

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

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

// Ports of the ha topology, defined once: the security groups, the load
// balancer's listeners and target groups and the rendered playbook
// variables all read them from here.
const (
	// TraefikWebPort is Traefik's plain HTTP entrypoint on the host
	// (traefik_container_web_host_bind_port); the ALB's 443 forwards here.
	TraefikWebPort = 81
	// TraefikFederationPort is the plain federation entrypoint on the host
	// (matrix_playbook_public_matrix_federation_api_traefik_entrypoint_host_bind_port);
	// the ALB's 8448 forwards here.
	TraefikFederationPort = 8449
	// TraefikHealthPort is Traefik's internal client API entrypoint
	// (matrix-internal-matrix-client-api) bound on the host
	// (matrix_playbook_internal_matrix_client_api_traefik_entrypoint_host_bind_port).
	// The target groups' health checks use it: of Traefik's entrypoints it
	// is the one whose routes to Synapse match on the path alone, and a
	// health check cannot send the Host header the other entrypoints route
	// by. A check through it fails when either Traefik or Synapse is down,
	// where a check of Synapse's own port missed a dead Traefik.
	TraefikHealthPort = 8008
	// PostgresPort is where RDS listens.
	PostgresPort = 5432

	albHTTPPort       = 80
	albHTTPSPort      = 443
	albFederationPort = 8448

	// HealthPath is what the health checks ask for: a client API request
	// that needs no account, which Traefik routes to Synapse (its internal
	// entrypoint carries /_matrix only, not Synapse's bare /health).
	HealthPath = "/_matrix/client/versions"
	// DatabaseUser and DatabaseName are what Synapse connects as and to.
	DatabaseUser = "synapse"
	DatabaseName = "synapse"
)

// albPorts are the load balancer's public listeners.
var albPorts = []Port{
	{"tcp", albHTTPPort, albHTTPPort, "HTTP: redirect to HTTPS", ""},
	{"tcp", albHTTPSPort, albHTTPSPort, "HTTPS: client API, Element, /.well-known/matrix", ""},
	{"tcp", albFederationPort, albFederationPort, "Matrix federation API", ""},
}

// hostPorts are the only ports open on the host, and only to the load
// balancer's security group.
var hostPorts = []Port{
	{"tcp", TraefikWebPort, TraefikWebPort, "Traefik plain HTTP entrypoint, from the load balancer", ""},
	{"tcp", TraefikFederationPort, TraefikFederationPort, "Traefik plain federation entrypoint, from the load balancer", ""},
	{"tcp", TraefikHealthPort, TraefikHealthPort, "Traefik internal client API entrypoint, for the target groups' health checks", ""},
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

func newHA(ctx *pulumi.Context, cfg Config, hs *Homeserver, opts ...pulumi.ResourceOption) (*HA, error) {
	ha := &HA{}
	var err error
	if ha.PrivateSubnets, err = newPrivateSubnets(ctx, cfg, hs.Facts, hs.Network, opts...); err != nil {
		return nil, fmt.Errorf("ha: network: %w", err)
	}
	if err = ha.newSecurityGroups(ctx, cfg, hs.Network, opts...); err != nil {
		return nil, fmt.Errorf("ha: firewall: %w", err)
	}
	if err = ha.newLoadBalancer(ctx, cfg, hs.Facts, hs.Network, opts...); err != nil {
		return nil, fmt.Errorf("ha: load balancer: %w", err)
	}
	if hs.Records, err = ha.newRecords(ctx, cfg, hs.Facts, opts...); err != nil {
		return nil, fmt.Errorf("ha: dns: %w", err)
	}
	if err = ha.newData(ctx, cfg, hs.Facts.DB, opts...); err != nil {
		return nil, fmt.Errorf("ha: data: %w", err)
	}
	if hs.Provisioning, err = ha.newHost(ctx, cfg, hs, opts...); err != nil {
		return nil, fmt.Errorf("ha: host: %w", err)
	}
	return ha, nil
}

// privateSubnetOffset places the private subnets after the public ones in
// the VPC range: public are #0 and #1, private #2 and #3.
const privateSubnetOffset = 2

// newPrivateSubnets adds the database's subnets: one per zone, with a route
// table that has only the VPC's local route, so nothing in them reaches or
// is reached from the internet.
func newPrivateSubnets(ctx *pulumi.Context, cfg Config, facts Facts, network *Network, opts ...pulumi.ResourceOption) ([]*ec2.Subnet, error) {
	routes, err := ec2.NewRouteTable(ctx, "private", &ec2.RouteTableArgs{
		VpcId: network.VPC.ID(),
		Tags:  nameTag(ctx, "private"),
	}, opts...)
	if err != nil {
		return nil, err
	}
	var out []*ec2.Subnet
	for i, zone := range facts.Zones {
		v4, err := subnetPrefix(cfg.VPCCIDR, publicSubnetBits(cfg.VPCCIDR), privateSubnetOffset+i)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("private-%d", i)
		subnet, err := ec2.NewSubnet(ctx, name, &ec2.SubnetArgs{
			VpcId:            network.VPC.ID(),
			AvailabilityZone: pulumi.String(zone),
			CidrBlock:        pulumi.String(v4.String()),
			Tags:             nameTag(ctx, name),
		}, opts...)
		if err != nil {
			return nil, err
		}
		if _, err := ec2.NewRouteTableAssociation(ctx, name, &ec2.RouteTableAssociationArgs{
			SubnetId:     subnet.ID(),
			RouteTableId: routes.ID(),
		}, opts...); err != nil {
			return nil, err
		}
		out = append(out, subnet)
	}
	return out, nil
}

// newSecurityGroups builds the graph: anyone -> ALB on its listeners, ALB
// -> host on hostPorts, host -> database on PostgresPort. Nothing else
// reaches the host or the database.
func (ha *HA) newSecurityGroups(ctx *pulumi.Context, cfg Config, network *Network, opts ...pulumi.ResourceOption) error {
	group := func(name, desc string) (*ec2.SecurityGroup, error) {
		return ec2.NewSecurityGroup(ctx, name, &ec2.SecurityGroupArgs{
			VpcId:       network.VPC.ID(),
			Description: pulumi.String(desc),
			Tags:        nameTag(ctx, name),
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
	for _, src := range families(cfg) {
		for _, p := range albPorts {
			args := &vpc.SecurityGroupIngressRuleArgs{
				SecurityGroupId: ha.ALBGroup.ID(),
				IpProtocol:      pulumi.String(p.Protocol),
				FromPort:        pulumi.Int(p.From),
				ToPort:          pulumi.Int(p.To),
				Description:     pulumi.String(p.Purpose),
			}
			setCIDR(&args.CidrIpv4, &args.CidrIpv6, src)
			if _, err := vpc.NewSecurityGroupIngressRule(ctx, "alb-"+ruleName(p, src), args, opts...); err != nil {
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
	if _, err := vpc.NewSecurityGroupIngressRule(ctx, fmt.Sprintf("db-in-tcp-%d-from-host", PostgresPort), &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId:           ha.DBGroup.ID(),
		ReferencedSecurityGroupId: ha.HostGroup.ID(),
		IpProtocol:                pulumi.String("tcp"),
		FromPort:                  pulumi.Int(PostgresPort),
		ToPort:                    pulumi.Int(PostgresPort),
		Description:               pulumi.String("PostgreSQL from the homeserver host"),
	}, opts...); err != nil {
		return err
	}
	// The host fetches packages, images, the playbook, and federates:
	// all outbound. The database opens no connection of its own.
	for _, dst := range families(cfg) {
		args := &vpc.SecurityGroupEgressRuleArgs{
			SecurityGroupId: ha.HostGroup.ID(),
			IpProtocol:      pulumi.String("-1"),
			Description:     pulumi.String("all outbound: packages, container images, federation, S3, SSM, the database"),
		}
		setCIDR(&args.CidrIpv4, &args.CidrIpv6, dst)
		if _, err := vpc.NewSecurityGroupEgressRule(ctx, "host-out-"+familyName(dst), args, opts...); err != nil {
			return err
		}
	}
	return nil
}

// CertificateNames are the names the load balancer's certificate covers:
// every name Records publishes.
func CertificateNames(cfg Config) []string {
	var out []string
	for _, r := range Records(cfg) {
		name := r.Name(cfg.Domain)
		if !containsString(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func (ha *HA) newLoadBalancer(ctx *pulumi.Context, cfg Config, facts Facts, network *Network, opts ...pulumi.ResourceOption) error {
	names := CertificateNames(cfg)
	var sans pulumi.StringArray
	for _, n := range names[1:] {
		sans = append(sans, pulumi.String(n))
	}
	var err error
	ha.Certificate, err = acm.NewCertificate(ctx, "tls", &acm.CertificateArgs{
		DomainName:              pulumi.String(names[0]),
		SubjectAlternativeNames: sans,
		ValidationMethod:        pulumi.String("DNS"),
		Tags:                    nameTag(ctx, "tls"),
	}, opts...)
	if err != nil {
		return err
	}
	var fqdns pulumi.StringArray
	for _, name := range names {
		opt := ha.Certificate.DomainValidationOptions.ApplyT(func(all []acm.CertificateDomainValidationOption) (acm.CertificateDomainValidationOption, error) {
			for _, o := range all {
				if o.DomainName != nil && *o.DomainName == name {
					return o, nil
				}
			}
			return acm.CertificateDomainValidationOption{}, fmt.Errorf("certificate has no validation record for %s", name)
		}).(acm.CertificateDomainValidationOptionOutput)
		rec, err := route53.NewRecord(ctx, "validation-"+recordLabel(name, cfg.Domain), &route53.RecordArgs{
			ZoneId:         pulumi.String(facts.ZoneID),
			Name:           opt.ResourceRecordName().Elem(),
			Type:           opt.ResourceRecordType().Elem(),
			Records:        pulumi.StringArray{opt.ResourceRecordValue().Elem()},
			Ttl:            pulumi.Int(60),
			AllowOverwrite: pulumi.Bool(true),
		}, opts...)
		if err != nil {
			return fmt.Errorf("validation record of %s: %w", name, err)
		}
		fqdns = append(fqdns, rec.Fqdn)
	}
	if ha.Validation, err = acm.NewCertificateValidation(ctx, "tls", &acm.CertificateValidationArgs{
		CertificateArn:        ha.Certificate.Arn,
		ValidationRecordFqdns: fqdns,
	}, opts...); err != nil {
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
		Tags:        nameTag(ctx, "alb"),
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
				Port:               pulumi.String(fmt.Sprint(TraefikHealthPort)),
				Path:               pulumi.String(HealthPath),
				Matcher:            pulumi.String("200"),
				Interval:           pulumi.Int(15),
				Timeout:            pulumi.Int(5),
				HealthyThreshold:   pulumi.Int(2),
				UnhealthyThreshold: pulumi.Int(3),
			},
			DeregistrationDelay: pulumi.Int(30),
			Tags:                nameTag(ctx, name),
		}, opts...)
	}
	if ha.WebTarget, err = target("web", TraefikWebPort); err != nil {
		return err
	}
	if ha.FedTarget, err = target("federation", TraefikFederationPort); err != nil {
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
			Tags: nameTag(ctx, name),
		}, opts...)
		ha.Listeners[port] = l
		return err
	}
	if err := https("https", albHTTPSPort, ha.WebTarget); err != nil {
		return err
	}
	if err := https("federation", albFederationPort, ha.FedTarget); err != nil {
		return err
	}
	ha.Listeners[albHTTPPort], err = lb.NewListener(ctx, "http", &lb.ListenerArgs{
		LoadBalancerArn: ha.LoadBalancer.Arn,
		Port:            pulumi.Int(albHTTPPort),
		Protocol:        pulumi.String("HTTP"),
		DefaultActions: lb.ListenerDefaultActionArray{lb.ListenerDefaultActionArgs{
			Type: pulumi.String("redirect"),
			Redirect: lb.ListenerDefaultActionRedirectArgs{
				Port:       pulumi.String(fmt.Sprint(albHTTPSPort)),
				Protocol:   pulumi.String("HTTPS"),
				StatusCode: pulumi.String("HTTP_301"),
			},
		}},
		Tags: nameTag(ctx, "http"),
	}, opts...)
	return err
}

// recordLabel names a DNS name's resources: its label under the domain, or
// "base" for the domain itself.
func recordLabel(name, domain string) string {
	if name == domain {
		return "base"
	}
	return strings.TrimSuffix(name, "."+domain)
}

// newRecords publishes the same names as the single topology, with the
// addresses as aliases of the load balancer (whose addresses change).
func (ha *HA) newRecords(ctx *pulumi.Context, cfg Config, facts Facts, opts ...pulumi.ResourceOption) (map[Record]*route53.Record, error) {
	out := map[Record]*route53.Record{}
	for _, r := range Records(cfg) {
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

var nonIdentifier = regexp.MustCompile(`[^a-z0-9]+`)

// DBIdentifier is the stack's RDS instance identifier, also what the
// topology-switch check looks for: letters, digits and single hyphens,
// starting with a letter, at most 63 characters.
func DBIdentifier(project, stack string) string {
	id := strings.Trim(nonIdentifier.ReplaceAllString(strings.ToLower(project+"-"+stack), "-"), "-")
	if id == "" || id[0] < 'a' || id[0] > 'z' {
		id = "m-" + id
	}
	if len(id) > 63 {
		id = strings.TrimRight(id[:63], "-")
	}
	return id
}

// parameterPath is the SSM parameter prefix of the stack.
func parameterPath(ctx *pulumi.Context) string {
	return "/" + ctx.Project() + "/" + ctx.Stack()
}

// trustedProxies is the range Traefik accepts X-Forwarded-* headers from:
// the VPC, where the load balancer's nodes live.
func trustedProxies(cfg Config) netip.Prefix { return cfg.VPCCIDR }
