package infra

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Network is the VPC the host lives in: public subnets in two zones (the
// single host uses the one of matrix:availabilityZone; the ALB of the ha
// topology needs both).
type Network struct {
	VPC     *ec2.Vpc
	Subnets []*ec2.Subnet
	Gateway *ec2.InternetGateway
	Routes  *ec2.RouteTable
}

func newNetwork(ctx *pulumi.Context, cfg Config, facts Facts, opts ...pulumi.ResourceOption) (*Network, error) {
	vpc, err := ec2.NewVpc(ctx, "vpc", &ec2.VpcArgs{
		CidrBlock:                    pulumi.String(cfg.VPCCIDR.String()),
		AssignGeneratedIpv6CidrBlock: pulumi.Bool(cfg.IPv6),
		EnableDnsSupport:             pulumi.Bool(true),
		EnableDnsHostnames:           pulumi.Bool(true),
		Tags:                         NameTag(ctx, "vpc"),
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	n := &Network{VPC: vpc}
	if n.Gateway, err = ec2.NewInternetGateway(ctx, "igw", &ec2.InternetGatewayArgs{
		VpcId: vpc.ID(),
		Tags:  NameTag(ctx, "igw"),
	}, opts...); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	if n.Routes, err = newPublicRoutes(ctx, cfg, vpc, n.Gateway, opts...); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	for i, zone := range facts.Zones {
		subnet, err := newPublicSubnet(ctx, cfg, vpc, n.Routes, zone, i, opts...)
		if err != nil {
			return nil, fmt.Errorf("network: %w", err)
		}
		n.Subnets = append(n.Subnets, subnet)
	}
	return n, nil
}

// HostSubnet is the public subnet in the single host's zone.
func (n *Network) HostSubnet(facts Facts) *ec2.Subnet {
	return n.Subnets[slices.Index(facts.Zones, facts.HostZone)]
}

func newPublicRoutes(ctx *pulumi.Context, cfg Config, vpc *ec2.Vpc, igw *ec2.InternetGateway, opts ...pulumi.ResourceOption) (*ec2.RouteTable, error) {
	routes := ec2.RouteTableRouteArray{
		ec2.RouteTableRouteArgs{CidrBlock: pulumi.String("0.0.0.0/0"), GatewayId: igw.ID()},
	}
	if cfg.IPv6 {
		routes = append(routes, ec2.RouteTableRouteArgs{Ipv6CidrBlock: pulumi.String("::/0"), GatewayId: igw.ID()})
	}
	return ec2.NewRouteTable(ctx, "public", &ec2.RouteTableArgs{
		VpcId:  vpc.ID(),
		Routes: routes,
		Tags:   NameTag(ctx, "public"),
	}, opts...)
}

func newPublicSubnet(ctx *pulumi.Context, cfg Config, vpc *ec2.Vpc, routes *ec2.RouteTable, zone string, i int, opts ...pulumi.ResourceOption) (*ec2.Subnet, error) {
	v4, err := subnetPrefix(cfg.VPCCIDR, publicSubnetBits(cfg.VPCCIDR), i)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("public-%d", i)
	args := &ec2.SubnetArgs{
		VpcId:            vpc.ID(),
		AvailabilityZone: pulumi.String(zone),
		CidrBlock:        pulumi.String(v4.String()),
		// The instance needs a public address from first boot (cloud-init
		// reaches the Ubuntu mirrors) until the Elastic IP replaces it.
		MapPublicIpOnLaunch: pulumi.Bool(true),
		Tags:                NameTag(ctx, name),
	}
	if cfg.IPv6 {
		args.Ipv6CidrBlock = vpc.Ipv6CidrBlock.ApplyT(func(block string) (string, error) {
			p, err := netip.ParsePrefix(block)
			if err != nil {
				return "", fmt.Errorf("vpc ipv6 block %q: %w", block, err)
			}
			s, err := subnetPrefix(p, 64, i)
			return s.String(), err
		}).(pulumi.StringOutput)
		args.AssignIpv6AddressOnCreation = pulumi.Bool(true)
	}
	subnet, err := ec2.NewSubnet(ctx, name, args, opts...)
	if err != nil {
		return nil, err
	}
	_, err = ec2.NewRouteTableAssociation(ctx, name, &ec2.RouteTableAssociationArgs{
		SubnetId:     subnet.ID(),
		RouteTableId: routes.ID(),
	}, opts...)
	return subnet, err
}

// NameTag gives a resource a Name the console shows; Project, Stack and
// ManagedBy come from the provider's default tags.
func NameTag(ctx *pulumi.Context, role string) pulumi.StringMap {
	return pulumi.StringMap{"Name": pulumi.String(nameOf(ctx, role))}
}

// nameOf is the Name tag of the stack's resource in a role, which the
// program also looks resources up by.
func nameOf(ctx *pulumi.Context, role string) string {
	return fmt.Sprintf("%s-%s-%s", ctx.Project(), ctx.Stack(), role)
}

// privateSubnetOffset places the private subnets after the public ones in
// the VPC range: public are #0 and #1, private #2 and #3.
const privateSubnetOffset = 2

// NewPrivateSubnets adds the database's subnets: one per zone, with a route
// table that has only the VPC's local route, so nothing in them reaches or
// is reached from the internet.
func NewPrivateSubnets(ctx *pulumi.Context, cfg Config, facts Facts, network *Network, opts ...pulumi.ResourceOption) ([]*ec2.Subnet, error) {
	routes, err := ec2.NewRouteTable(ctx, "private", &ec2.RouteTableArgs{
		VpcId: network.VPC.ID(),
		Tags:  NameTag(ctx, "private"),
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
			Tags:             NameTag(ctx, name),
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
