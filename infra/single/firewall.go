package single

import (
	"fmt"
	"net/netip"

	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/vpc"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Firewall is the host's security group and its rules.
type Firewall struct {
	Group *ec2.SecurityGroup
	Rules []*vpc.SecurityGroupIngressRule
}

func newFirewall(ctx *pulumi.Context, cfg infra.Config, network *infra.Network, opts ...pulumi.ResourceOption) (*Firewall, error) {
	sg, err := ec2.NewSecurityGroup(ctx, "host", &ec2.SecurityGroupArgs{
		VpcId:       network.VPC.ID(),
		Description: pulumi.String("Matrix homeserver: public ports of the playbook, SSH from the operator"),
		Tags:        infra.NameTag(ctx, "host"),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("firewall: %w", err)
	}
	fw := &Firewall{Group: sg}
	for _, src := range infra.Families(cfg) {
		for _, p := range infra.PublicPorts(cfg) {
			if err := fw.allow(ctx, p, src, opts...); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Access == infra.AccessSSH {
		for _, src := range cfg.SSHAllowedCIDRs {
			if err := fw.allow(ctx, infra.SSHPort, src, opts...); err != nil {
				return nil, err
			}
		}
	}
	for _, dst := range infra.Families(cfg) {
		args := &vpc.SecurityGroupEgressRuleArgs{
			SecurityGroupId: sg.ID(),
			IpProtocol:      pulumi.String("-1"),
			Description:     pulumi.String("all outbound: packages, container images, federation, ACME"),
		}
		infra.SetCIDR(&args.CidrIpv4, &args.CidrIpv6, dst)
		if _, err := vpc.NewSecurityGroupEgressRule(ctx, "out-"+infra.FamilyName(dst), args, opts...); err != nil {
			return nil, fmt.Errorf("firewall: %w", err)
		}
	}
	return fw, nil
}

func (fw *Firewall) allow(ctx *pulumi.Context, p infra.Port, src netip.Prefix, opts ...pulumi.ResourceOption) error {
	args := &vpc.SecurityGroupIngressRuleArgs{
		SecurityGroupId: fw.Group.ID(),
		IpProtocol:      pulumi.String(p.Protocol),
		FromPort:        pulumi.Int(p.From),
		ToPort:          pulumi.Int(p.To),
		Description:     pulumi.String(p.Purpose),
	}
	infra.SetCIDR(&args.CidrIpv4, &args.CidrIpv6, src)
	rule, err := vpc.NewSecurityGroupIngressRule(ctx, infra.RuleName(p, src), args, opts...)
	if err != nil {
		return fmt.Errorf("firewall: %s from %s: %w", p, src, err)
	}
	fw.Rules = append(fw.Rules, rule)
	return nil
}
