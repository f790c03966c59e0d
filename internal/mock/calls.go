package mock

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Call implements pulumi.MockResourceMonitor for invokes.
func (c *Cloud) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	c.mu.Lock()
	c.calls = append(c.calls, args.Token)
	c.mu.Unlock()
	region := c.region(args.Provider)
	if err := endpoint(args.Token, region); err != nil {
		return nil, err
	}
	switch args.Token {
	case "aws:index/getPartition:getPartition":
		partition, suffix := partitionOf(region)
		return resource.NewPropertyMapFromMap(props{"partition": partition, "dnsSuffix": suffix, "id": partition}), nil
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(props{"name": region, "id": region}), nil
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		return availabilityZones(region, args.Args, c.Impaired), nil
	case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
		return c.offerings(region, args.Args), nil
	case "aws:ec2/getAmi:getAmi":
		if ids := filterValues(args.Args, "image-id"); ids != nil {
			return imageByID(region, ids, args.Args)
		}
		return ubuntuImage(region, args.Args)
	case "aws:route53/getZone:getZone":
		return c.zone(args.Args)
	case "aws:route53/getRecords:getRecords":
		return c.records(args.Args)
	case "aws:ebs/getEbsVolumes:getEbsVolumes":
		return c.ebsVolumes(region, args.Args)
	case "aws:rds/getInstances:getInstances":
		return c.dbInstances(region, args.Args)
	case "aws:rds/getInstance:getInstance":
		return c.dbInstance(region, args.Args)
	case "aws:ebs/getVolume:getVolume":
		return c.volume(region, args.Args)
	case "aws:ebs/getSnapshot:getSnapshot":
		return c.snapshot(region, args.Args)
	case "aws:lb/getLoadBalancer:getLoadBalancer":
		return loadBalancer(region, args.Args)
	}
	return nil, fmt.Errorf("mock: no answer for invoke %s", args.Token)
}

// Regions are the regions the fake AWS has, as "AWS Regions" in the AWS
// documentation lists them for the commercial, China and GovCloud
// partitions. The list is the mock's own, not infra's: the fake cloud is
// what infra's list is checked against.
var Regions = []string{
	"af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
	"ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1",
	"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3",
	"il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1",
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"cn-north-1", "cn-northwest-1", "us-gov-east-1", "us-gov-west-1",
}

// endpoint fails an invoke that needs an AWS API in a region that does not
// exist, as the provider does: it skips region validation by default, so
// the call goes out and dies resolving the endpoint's name. The partition
// and region data sources are answered by the provider itself.
func endpoint(token, region string) error {
	if slices.Contains(Regions, region) || token == "aws:index/getPartition:getPartition" || token == "aws:index/getRegion:getRegion" {
		return nil
	}
	service, _, _ := strings.Cut(strings.TrimPrefix(token, "aws:"), "/")
	return fmt.Errorf("mock: operation error %s: request send failed, dial tcp: lookup %s.%s.amazonaws.com: no such host", service, service, region)
}

// partitionOf answers as the provider's partition lookup does for a
// region: China and GovCloud are partitions of their own, and China's DNS
// suffix differs (AWS documents both in its endpoints reference).
func partitionOf(region string) (partition, dnsSuffix string) {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn", "amazonaws.com.cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov", "amazonaws.com"
	}
	return "aws", "amazonaws.com"
}

// zonesOf lists a region's zones as AWS does: three standard zones and a
// Local Zone that needs opt-in.
func zonesOf(region string) (names, optIn []string) {
	for _, s := range []string{"a", "b", "c"} {
		names = append(names, region+s)
		optIn = append(optIn, "opt-in-not-required")
	}
	return append(names, region+"-lax-1a"), append(optIn, "opted-in")
}

func availabilityZones(region string, args resource.PropertyMap, impaired []string) resource.PropertyMap {
	names, optIn := zonesOf(region)
	want := filterValues(args, "opt-in-status")
	state := str(args, "state")
	var out []any
	for i, n := range names {
		zoneState := "available"
		if slices.Contains(impaired, n) {
			zoneState = "impaired"
		}
		if state != "" && state != zoneState {
			continue
		}
		if want == nil || slices.Contains(want, optIn[i]) {
			out = append(out, n)
		}
	}
	return resource.NewPropertyMapFromMap(props{"names": out, "id": region})
}

// instanceTypes is the fake EC2's catalogue: family -> sizes, a subset of
// the EC2 instance type tables (https://aws.amazon.com/ec2/instance-types/)
// large enough for every type the tests and the stacks use. EC2 answers a
// type it does not have with no offerings, not an error.
var instanceTypes = map[string][]string{
	"t2": burstable, "t3": burstable, "t3a": burstable, "t4g": burstable,
	"t1": {"micro"}, "m1": {"small", "medium", "large", "xlarge"}, "c1": {"medium", "xlarge"},
	"a1": {"medium", "large", "xlarge", "2xlarge", "4xlarge", "metal"},
	"m5": general, "m5a": general, "m6i": general, "m6a": general, "m6g": general, "m7i": general,
	"m7a": general, "m7g": general, "m7gd": general, "m8g": general,
	"c5": general, "c5n": general, "c6i": general, "c6g": general, "c6gn": append([]string{"medium"}, general...),
	"c7i": general, "c7g": general, "r5": general, "r6i": general, "r6g": general, "r7i": general,
	"r7g": general, "r8g": general, "g4dn": {"xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "metal"},
	"im4gn": {"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge"}, "mac2": {"metal"},
}

var (
	burstable = []string{"nano", "micro", "small", "medium", "large", "xlarge", "2xlarge"}
	general   = []string{"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "metal"}
)

func instanceTypeExists(t string) bool {
	family, size, ok := strings.Cut(t, ".")
	return ok && slices.Contains(instanceTypes[family], size)
}

func (c *Cloud) offerings(region string, args resource.PropertyMap) resource.PropertyMap {
	types := filterValues(args, "instance-type")
	var locs, typs []any
	for _, t := range types {
		if !instanceTypeExists(t) {
			continue
		}
		names, _ := zonesOf(region)
		for _, n := range names {
			if suffixes, ok := c.Offerings[t]; ok && !slices.Contains(suffixes, strings.TrimPrefix(n, region)) {
				continue
			}
			locs, typs = append(locs, n), append(typs, t)
		}
	}
	return resource.NewPropertyMapFromMap(props{"locations": locs, "instanceTypes": typs, "id": region})
}

// ubuntuImage answers an AMI query only if it is the query for Canonical's
// Ubuntu 24.04 images, so a wrong owner, name or architecture fails as it
// would against AWS.
func ubuntuImage(region string, args resource.PropertyMap) (resource.PropertyMap, error) {
	owners := args["owners"]
	if !owners.IsArray() || len(owners.ArrayValue()) != 1 || owners.ArrayValue()[0].StringValue() != "099720109477" {
		return nil, fmt.Errorf("mock: Your query returned no results (owners must be Canonical's)")
	}
	names, archs := filterValues(args, "name"), filterValues(args, "architecture")
	if len(names) != 1 || len(archs) != 1 {
		return nil, fmt.Errorf("mock: Your query returned no results")
	}
	arch := archs[0]
	name := ubuntuName(arch)
	if ok, _ := path.Match(names[0], name); !ok || name == "" {
		return nil, fmt.Errorf("mock: Your query returned no results (%s, %s)", names[0], arch)
	}
	id := "ami-0" + hexID(16, region, name)
	return resource.NewPropertyMapFromMap(props{
		"id": id, "imageId": id, "name": name, "architecture": arch,
		"ownerId": "099720109477", "rootDeviceType": "ebs", "virtualizationType": "hvm",
	}), nil
}

// Image is an AMI the fake account can launch.
type Image struct {
	ID, Region, Name, Architecture string
}

// PinnedImages are older images every fake account can launch, for tests
// that pin matrix:amiId: one per architecture in eu-central-1, where the
// tests run. Canonical's current images (ubuntuImage) are found by ID too.
var PinnedImages = []Image{
	{"ami-0123456789abcdef0", "eu-central-1", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240423", "x86_64"},
	{"ami-0fedcba9876543210", "eu-central-1", "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20240423", "arm64"},
	{"ami-0aaaaaaaaaaaaaaaa", "eu-central-1", "debian-12-i386-20240423", "i386"},
}

// imageByID answers getAmi for an image-id filter as DescribeImages does:
// the image if it exists in the region, else no results, which the data
// source turns into an error.
func imageByID(region string, ids []string, args resource.PropertyMap) (resource.PropertyMap, error) {
	images := slices.Clone(PinnedImages)
	for _, arch := range []string{"x86_64", "arm64"} {
		name := ubuntuName(arch)
		images = append(images, Image{"ami-0" + hexID(16, region, name), region, name, arch})
	}
	for _, im := range images {
		if len(ids) == 1 && im.ID == ids[0] && im.Region == region {
			return resource.NewPropertyMapFromMap(props{
				"id": im.ID, "imageId": im.ID, "name": im.Name, "architecture": im.Architecture,
				"ownerId": "099720109477", "rootDeviceType": "ebs", "virtualizationType": "hvm",
			}), nil
		}
	}
	return nil, fmt.Errorf("mock: Your query returned no results. Please change your search criteria and try again (image-id %v in %s)", ids, region)
}

// ubuntuName is the name of Canonical's current Ubuntu 24.04 image for an
// architecture, or "" when there is none.
func ubuntuName(arch string) string {
	image, ok := map[string]string{"x86_64": "amd64", "arm64": "arm64"}[arch]
	if !ok {
		return ""
	}
	return "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-" + image + "-server-20261020"
}

func (c *Cloud) zone(args resource.PropertyMap) (resource.PropertyMap, error) {
	name, zoneID := str(args, "name"), str(args, "zoneId")
	for n, id := range c.Zones {
		if (name != "" && strings.TrimSuffix(name, ".") == n) || (zoneID != "" && zoneID == id) {
			var ns []any
			for i := range 4 {
				ns = append(ns, fmt.Sprintf("ns-%d.awsdns-%s.%s", 100+i, hexID(2, id, fmt.Sprint(i)), []string{"com", "net", "org", "co.uk"}[i]))
			}
			return resource.NewPropertyMapFromMap(props{
				"id": id, "zoneId": id, "name": n, "nameServers": ns,
				"privateZone": false, "arn": "arn:aws:route53:::hostedzone/" + id,
			}), nil
		}
	}
	return nil, fmt.Errorf("mock: no matching Route 53 Hosted Zone found")
}

// filterValues returns the values of the named filter, or nil without one.
func filterValues(args resource.PropertyMap, name string) []string {
	fs, ok := args["filters"]
	if !ok || !fs.IsArray() {
		return nil
	}
	for _, f := range fs.ArrayValue() {
		if !f.IsObject() || str(f.ObjectValue(), "name") != name {
			continue
		}
		var out []string
		for _, v := range f.ObjectValue()["values"].ArrayValue() {
			out = append(out, v.StringValue())
		}
		return out
	}
	return nil
}
