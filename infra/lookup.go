package infra

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/ec2"
	"github.com/pulumi/pulumi-aws/sdk/v6/go/aws/route53"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// canonicalOwner is Canonical's AWS account, the publisher of Ubuntu images.
const canonicalOwner = "099720109477"

// Facts are what the program looks up in the account before declaring
// anything, so a missing zone or image fails the run before it creates a
// single resource.
type Facts struct {
	Partition string
	DNSSuffix string   // the partition's: amazonaws.com, amazonaws.com.cn, ...
	Zones     []string // two availability zones that offer the instance type
	// HostZone is where the single host and its data volume live: one of
	// Zones, matrix:availabilityZone or the first.
	HostZone string
	// DB is the ha topology's database (zero in single).
	DB          DBPlan
	AMI         string
	AMIName     string
	ZoneID      string
	ZoneName    string
	NameServers []string
	Mail        MailDNS // what the zone holds where matrix:email ses publishes
}

func lookUp(ctx *pulumi.Context, cfg Config, opts ...pulumi.InvokeOption) (Facts, error) {
	var f Facts
	var ps Problems
	part, err := aws.GetPartition(ctx, &aws.GetPartitionArgs{}, opts...)
	if err != nil {
		return f, fmt.Errorf("lookup partition: %w", err)
	}
	f.Partition, f.DNSSuffix = part.Partition, part.DnsSuffix
	var all []string
	if f.Zones, all, err = availabilityZones(ctx, cfg, opts...); err != nil {
		ps.Add("aws:region", "%v", err)
	} else {
		if err = offeredIn(ctx, cfg, f.Zones, opts...); err != nil {
			ps.Add(Qualified("instanceType"), "%v", err)
		}
		if f.HostZone, err = hostZone(cfg, f.Zones, all); err != nil {
			ps.Add(Qualified("availabilityZone"), "%v", err)
		}
	}
	if f.AMI, f.AMIName, err = ubuntuImage(ctx, cfg.Arch, opts...); err != nil {
		ps.Add(Qualified("instanceType"), "%v", err)
	}
	if cfg.AMIID != "" {
		if err = pinnedImage(ctx, cfg, opts...); err != nil {
			ps.Add(Qualified("amiId"), "%v", err)
		}
	}
	zone, err := hostedZone(ctx, cfg, opts...)
	if err != nil {
		key := "domain"
		if cfg.HostedZoneID != "" {
			key = "hostedZoneId"
		}
		ps.Add(Qualified(key), "%v", err)
	} else {
		f.ZoneID, f.ZoneName, f.NameServers = zone.ZoneId, strings.TrimSuffix(zone.Name, "."), zone.NameServers
		if cfg.Email == EmailSES {
			if f.Mail, err = lookUpMail(ctx, cfg, f.ZoneID, opts...); err != nil {
				ps.Add(Qualified("email"), "%v", err)
			}
		}
	}
	return f, ps.Err()
}

// availabilityZones picks the region's first two zones (by name) that need
// no opt-in, and lists them all. The choice never depends on other settings: a
// different instance type must not move the subnets, and with them the
// data volume.
func availabilityZones(ctx *pulumi.Context, cfg Config, opts ...pulumi.InvokeOption) (two, all []string, err error) {
	// No state filter: a zone AWS reports impaired or unavailable is
	// exactly when matrix:availabilityZone moves the host away from it,
	// and dropping it from the list would shift both subnets to other
	// zones in the middle of that outage.
	azs, err := aws.GetAvailabilityZones(ctx, &aws.GetAvailabilityZonesArgs{
		Filters: []aws.GetAvailabilityZonesFilter{{Name: "opt-in-status", Values: []string{"opt-in-not-required"}}},
	}, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("looking up availability zones in %s: %w", cfg.Region, err)
	}
	zones := slices.Sorted(slices.Values(azs.Names))
	if len(zones) < 2 {
		return nil, nil, fmt.Errorf("%s has %d availability zone(s) without opt-in; two are needed, pick another region", cfg.Region, len(zones))
	}
	return zones[:2], zones, nil
}

// hostZone resolves matrix:availabilityZone among the VPC's two zones.
// Only those two: the host needs a subnet in its zone, and a third zone
// would move a subnet that the ha topology's load balancer and database
// also use. Two zones are what surviving the loss of one takes.
func hostZone(cfg Config, vpcZones, all []string) (string, error) {
	choices := strings.Join(vpcZones, " or ")
	switch z := cfg.AvailabilityZone; {
	case z == "":
		return vpcZones[0], nil
	case slices.Contains(vpcZones, z):
		return z, nil
	case slices.Contains(all, z):
		return "", fmt.Errorf("%s is a zone of %s, but not one of the two the stack's VPC spans; use %s", z, cfg.Region, choices)
	default:
		return "", fmt.Errorf("%s is not an availability zone of %s available without opt-in (those are %s); use %s", z, cfg.Region, strings.Join(all, ", "), choices)
	}
}

// offeredIn checks that the instance type is offered in both zones, the
// usual reason an instance launch fails in a new region. EC2 answers a
// type it does not have (a typo such as t3.smal) with no offerings, not an
// error, so "offered nowhere" is what catches it.
func offeredIn(ctx *pulumi.Context, cfg Config, zones []string, opts ...pulumi.InvokeOption) error {
	offers, err := ec2.GetInstanceTypeOfferings(ctx, &ec2.GetInstanceTypeOfferingsArgs{
		LocationType: pulumi.StringRef("availability-zone"),
		Filters:      []ec2.GetInstanceTypeOfferingsFilter{{Name: "instance-type", Values: []string{cfg.InstanceType}}},
	}, opts...)
	if err != nil {
		return fmt.Errorf("looking up where %s is offered: %w", cfg.InstanceType, err)
	}
	if len(offers.Locations) == 0 {
		return fmt.Errorf("%s is not offered anywhere in %s: it is not an EC2 instance type, or not one this region has; pick one that aws ec2 describe-instance-type-offerings --region %s lists, such as t3.small", cfg.InstanceType, cfg.Region, cfg.Region)
	}
	var missing []string
	for _, z := range zones {
		if !slices.Contains(offers.Locations, z) {
			missing = append(missing, z)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s is not offered in %v, where the stack's subnets are (%v); pick another type", cfg.InstanceType, missing, zones)
	}
	return nil
}

// pinnedImage checks that matrix:amiId exists in the region and runs on
// the instance type's architecture: an x86_64 image on a Graviton type
// (or the reverse) is refused by RunInstances only once the network and
// the volumes exist. Deprecated images are included, since pinning an
// older image is what the key is for.
func pinnedImage(ctx *pulumi.Context, cfg Config, opts ...pulumi.InvokeOption) error {
	ami, err := ec2.LookupAmi(ctx, &ec2.LookupAmiArgs{
		IncludeDeprecated: pulumi.BoolRef(true),
		Filters:           []ec2.GetAmiFilter{{Name: "image-id", Values: []string{cfg.AMIID}}},
	}, opts...)
	if err != nil {
		return fmt.Errorf("%s is not an image this account can launch in %s (AMI IDs differ per region; copy the image here or use this region's ID), or remove the key to use the newest Ubuntu 24.04: %w", cfg.AMIID, cfg.Region, err)
	}
	switch arch := Arch(ami.Architecture); {
	case arch == cfg.Arch:
	case arch != ArchX86 && arch != ArchARM:
		return fmt.Errorf("%s (%s) is an %s image; pin an %s image for matrix:instanceType %s", cfg.AMIID, ami.Name, ami.Architecture, cfg.Arch, cfg.InstanceType)
	default:
		other := "t3.small"
		if arch == ArchARM {
			other = "t4g.small"
		}
		return fmt.Errorf("%s (%s) is an %s image, but matrix:instanceType %s runs %s; pin an %s image, or pick an %s type such as %s",
			cfg.AMIID, ami.Name, ami.Architecture, cfg.InstanceType, cfg.Arch, cfg.Arch, ami.Architecture, other)
	}
	return nil
}

// ubuntuImage finds the newest Ubuntu 24.04 LTS image for the architecture.
func ubuntuImage(ctx *pulumi.Context, arch Arch, opts ...pulumi.InvokeOption) (id, name string, err error) {
	pattern := "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-" + arch.ubuntuName() + "-server-*"
	ami, err := ec2.LookupAmi(ctx, &ec2.LookupAmiArgs{
		Owners:     []string{canonicalOwner},
		MostRecent: pulumi.BoolRef(true),
		Filters: []ec2.GetAmiFilter{
			{Name: "name", Values: []string{pattern}},
			{Name: "architecture", Values: []string{string(arch)}},
			{Name: "virtualization-type", Values: []string{"hvm"}},
			{Name: "root-device-type", Values: []string{"ebs"}},
		},
	}, opts...)
	if err != nil {
		return "", "", fmt.Errorf("no Ubuntu 24.04 image for %s found (%s): %w", arch, pattern, err)
	}
	return ami.Id, ami.Name, nil
}

// hostedZone returns the configured zone, or the public zone of the domain
// or its nearest parent (chat.example.org may live in example.org).
func hostedZone(ctx *pulumi.Context, cfg Config, opts ...pulumi.InvokeOption) (*route53.LookupZoneResult, error) {
	if cfg.HostedZoneID != "" {
		z, err := route53.LookupZone(ctx, &route53.LookupZoneArgs{ZoneId: pulumi.StringRef(cfg.HostedZoneID)}, opts...)
		if err != nil {
			return nil, fmt.Errorf("hosted zone %s not found: %w", cfg.HostedZoneID, err)
		}
		name := strings.TrimSuffix(z.Name, ".")
		if cfg.Domain != name && !strings.HasSuffix(cfg.Domain, "."+name) {
			return nil, fmt.Errorf("hosted zone %s is %s, which cannot hold records for %s; give the zone of the domain or remove the key", cfg.HostedZoneID, name, cfg.Domain)
		}
		if z.PrivateZone != nil && *z.PrivateZone {
			return nil, fmt.Errorf("hosted zone %s is private; federation needs a public zone", cfg.HostedZoneID)
		}
		return z, nil
	}
	labels := strings.Split(cfg.Domain, ".")
	for i := 0; i+2 <= len(labels); i++ {
		name := strings.Join(labels[i:], ".")
		z, err := route53.LookupZone(ctx, &route53.LookupZoneArgs{Name: pulumi.StringRef(name), PrivateZone: pulumi.BoolRef(false)}, opts...)
		if err == nil {
			return z, nil
		}
	}
	return nil, fmt.Errorf("no public Route 53 hosted zone for %s or its parent domains in this account; create one (and delegate the domain to its name servers) or set matrix:hostedZoneId", cfg.Domain)
}
