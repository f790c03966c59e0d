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
	switch args.Token {
	case "aws:index/getPartition:getPartition":
		return resource.NewPropertyMapFromMap(props{"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}), nil
	case "aws:index/getRegion:getRegion":
		return resource.NewPropertyMapFromMap(props{"name": region, "id": region}), nil
	case "aws:index/getAvailabilityZones:getAvailabilityZones":
		return availabilityZones(region, args.Args), nil
	case "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
		return c.offerings(region, args.Args), nil
	case "aws:ec2/getAmi:getAmi":
		return ubuntuImage(region, args.Args)
	case "aws:route53/getZone:getZone":
		return c.zone(args.Args)
	case "aws:ebs/getEbsVolumes:getEbsVolumes":
		return c.ebsVolumes(region, args.Args)
	case "aws:rds/getInstances:getInstances":
		return c.dbInstances(region, args.Args)
	}
	return nil, fmt.Errorf("mock: no answer for invoke %s", args.Token)
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

func availabilityZones(region string, args resource.PropertyMap) resource.PropertyMap {
	names, optIn := zonesOf(region)
	want := filterValues(args, "opt-in-status")
	var out []any
	for i, n := range names {
		if want == nil || slices.Contains(want, optIn[i]) {
			out = append(out, n)
		}
	}
	return resource.NewPropertyMapFromMap(props{"names": out, "id": region})
}

func (c *Cloud) offerings(region string, args resource.PropertyMap) resource.PropertyMap {
	types := filterValues(args, "instance-type")
	var locs, typs []any
	for _, t := range types {
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
	image := map[string]string{"x86_64": "amd64", "arm64": "arm64"}[arch]
	name := "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-" + image + "-server-20261020"
	if ok, _ := path.Match(names[0], name); !ok || image == "" {
		return nil, fmt.Errorf("mock: Your query returned no results (%s, %s)", names[0], arch)
	}
	id := "ami-0" + hexID(16, region, name)
	return resource.NewPropertyMapFromMap(props{
		"id": id, "imageId": id, "name": name, "architecture": arch,
		"ownerId": "099720109477", "rootDeviceType": "ebs", "virtualizationType": "hvm",
	}), nil
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
