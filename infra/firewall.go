package infra

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Port is one entry of the host's public port table.
type Port struct {
	Protocol string // "tcp" or "udp"
	From, To int
	Purpose  string
	TURN     bool // opened only with matrix:turn
}

func (p Port) String() string {
	if p.From == p.To {
		return fmt.Sprintf("%d/%s", p.From, p.Protocol)
	}
	return fmt.Sprintf("%d-%d/%s", p.From, p.To, p.Protocol)
}

// portTable is the one list of public ports, as the playbook documents them
// for a firewall in front of the host (docs/prerequisites.md, "Ports"; see
// also docs/configuring-playbook-turn.md for coturn).
var portTable = []Port{
	{"tcp", 80, 80, "HTTP: ACME HTTP-01 challenges and redirects to HTTPS", false},
	{"tcp", 443, 443, "HTTPS: client API, Element, /.well-known/matrix", false},
	{"udp", 443, 443, "HTTP/3 (QUIC) for HTTPS", false},
	{"tcp", 8448, 8448, "Matrix federation API", false},
	{"udp", 8448, 8448, "Matrix federation API over HTTP/3", false},
	{"tcp", 3478, 3478, "TURN over TCP (coturn)", true},
	{"udp", 3478, 3478, "TURN over UDP (coturn)", true},
	{"tcp", 5349, 5349, "TURN over TLS (coturn)", true},
	{"udp", 5349, 5349, "TURN over DTLS (coturn)", true},
	{"udp", 49152, 49172, "TURN relay range (coturn)", true},
}

// sshPort is open only to matrix:sshAllowedCidrs: Ansible connects there.
var sshPort = Port{"tcp", 22, 22, "SSH for Ansible and operators", false}

// PublicPorts returns the ports open to everyone for this configuration.
func PublicPorts(cfg Config) []Port {
	var out []Port
	for _, p := range portTable {
		if !p.TURN || cfg.TURN {
			out = append(out, p)
		}
	}
	return out
}

// Firewall is the host's security group and its rules.
type Firewall struct {
	Group *ec2.SecurityGroup
	Rules []*vpc.SecurityGroupIngressRule
}

var anywhere = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

func newFirewall(ctx *pulumi.Context, cfg Config, network *Network, opts ...pulumi.ResourceOption) (*Firewall, error) {
	sg, err := ec2.NewSecurityGroup(ctx, "host", &ec2.SecurityGroupArgs{
		VpcId:       network.VPC.ID(),
		Description: pulumi.String("Matrix homeserver: public ports of the playbook, SSH from the operator"),
		Tags:        nameTag(ctx, "host"),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("firewall: %w", err)
	}
	fw := &Firewall{Group: sg}
	for _, src := range families(cfg) {
		for _, p := range PublicPorts(cfg) {
			if err := fw.allow(ctx, p, src, opts...); err != nil {
				return nil, err
			}
		}
	}
	for _, src := range cfg.SSHAllowedCIDRs {
		if err := fw.allow(ctx, sshPort, src, opts...); err != nil {
			return nil, err
		}
	}
	for _, dst := range families(cfg) {
		args := &vpc.SecurityGroupEgressRuleArgs{
			SecurityGroupId: sg.ID(),
			IpProtocol:      pulumi.String("-1"),
			Description:     pulumi.String("all outbound: packages, container images, federation, ACME"),
		}
		setCIDR(&args.CidrIpv4, &args.CidrIpv6, dst)
		if _, err := vpc.NewSecurityGroupEgressRule(ctx, "out-"+familyName(dst), args, opts...); err != nil {
			return nil, fmt.Errorf("firewall: %w", err)
		}
	}
	return fw, nil
}

func (fw *Firewall) allow(ctx *pulumi.Context, p Port, src netip.Prefix, opts ...pulumi.ResourceOption) error {
	args := &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId: fw.Group.ID(),
		IpProtocol:      pulumi.String(p.Protocol),
		FromPort:        pulumi.Int(p.From),
		ToPort:          pulumi.Int(p.To),
		Description:     pulumi.String(p.Purpose),
	}
	setCIDR(&args.CidrIpv4, &args.CidrIpv6, src)
	rule, err := vpc.NewSecurityGroupIngressRule(ctx, ruleName(p, src), args, opts...)
	if err != nil {
		return fmt.Errorf("firewall: %s from %s: %w", p, src, err)
	}
	fw.Rules = append(fw.Rules, rule)
	return nil
}

// families returns "anywhere" for each IP family the host has.
func families(cfg Config) []netip.Prefix {
	if cfg.IPv6 {
		return anywhere
	}
	return anywhere[:1]
}

func setCIDR(v4, v6 *pulumi.StringPtrInput, p netip.Prefix) {
	if p.Addr().Is4() {
		*v4 = pulumi.String(p.String())
	} else {
		*v6 = pulumi.String(p.String())
	}
}

func familyName(p netip.Prefix) string {
	if p.Addr().Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// ruleName is stable under reordering of the CIDR list, so editing
// matrix:sshAllowedCidrs replaces only the rules that changed.
func ruleName(p Port, src netip.Prefix) string {
	ports := fmt.Sprintf("%s-%d", p.Protocol, p.From)
	if p.To != p.From {
		ports += fmt.Sprintf("-%d", p.To)
	}
	if src.Bits() == 0 {
		return "in-" + ports + "-" + familyName(src)
	}
	cidr := strings.NewReplacer(":", "-", "/", "-", ".", "-").Replace(src.String())
	return "in-" + ports + "-from-" + cidr
}
