package mock

import (
	"fmt"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Existing is what an account holds before the program runs, as far as the
// program looks it up: data volumes and RDS instances. New accounts hold
// nothing (the default).
type Existing struct {
	Volumes     []ExistingVolume
	DBInstances []string // identifiers
	Records     []ExistingRecord
}

// ExistingVolume is one EBS volume with its tags.
type ExistingVolume struct {
	ID   string
	Tags map[string]string
}

// existing holds each Cloud's pre-existing resources (a Cloud is built by
// New; this keeps that constructor and its struct as they are).
var existing sync.Map // *Cloud -> Existing

// SetExisting makes the account hold e before the program runs.
func (c *Cloud) SetExisting(e Existing) { existing.Store(c, e) }

func (c *Cloud) existingResources() Existing {
	if e, ok := existing.Load(c); ok {
		return e.(Existing)
	}
	return Existing{}
}

// ebsVolumes answers ec2's DescribeVolumes as the getEbsVolumes data source
// does: every volume matching all filters (tag:<key> filters and
// volume-id), an empty list when none does.
func (c *Cloud) ebsVolumes(region string, args resource.PropertyMap) (resource.PropertyMap, error) {
	ids := []any{}
	for _, v := range c.existingResources().Volumes {
		if matchesFilters(args, func(name string) (string, bool) {
			if key, ok := strings.CutPrefix(name, "tag:"); ok {
				val, has := v.Tags[key]
				return val, has
			}
			if name == "volume-id" {
				return v.ID, true
			}
			return "", false
		}) {
			ids = append(ids, v.ID)
		}
	}
	return resource.NewPropertyMapFromMap(props{"ids": ids, "id": region}), nil
}

// dbInstances answers the rds getInstances data source for its
// db-instance-id filter.
func (c *Cloud) dbInstances(region string, args resource.PropertyMap) (resource.PropertyMap, error) {
	ids, arns := []any{}, []any{}
	for _, id := range c.existingResources().DBInstances {
		if matchesFilters(args, func(name string) (string, bool) {
			if name == "db-instance-id" {
				return id, true
			}
			return "", false
		}) {
			ids = append(ids, id)
			arns = append(arns, fmt.Sprintf("arn:aws:rds:%s:%s:db:%s", region, Account, id))
		}
	}
	return resource.NewPropertyMapFromMap(props{"instanceIdentifiers": ids, "instanceArns": arns, "id": region}), nil
}

// matchesFilters applies every filter of an invoke; an attribute the
// resource does not have, or a filter the mock does not know, matches
// nothing, as AWS answers unknown filters with an error.
func matchesFilters(args resource.PropertyMap, attr func(name string) (string, bool)) bool {
	fs, ok := args["filters"]
	if !ok || !fs.IsArray() {
		return true
	}
	for _, f := range fs.ArrayValue() {
		name := str(f.ObjectValue(), "name")
		val, has := attr(name)
		if !has {
			return false
		}
		match := false
		for _, want := range f.ObjectValue()["values"].ArrayValue() {
			if want.StringValue() == val {
				match = true
			}
		}
		if !match {
			return false
		}
	}
	return true
}

// albZones are the canonical hosted zones of Application Load Balancers,
// which alias records name (AWS's "Elastic Load Balancing endpoints").
var albZones = map[string]string{
	"us-east-1": "Z35SXDOTRQ7X7K", "us-west-2": "Z1H1FL5HABSF5", "eu-west-1": "Z32O12XQLNTSW2",
	"eu-central-1": "Z215JYRZR1TBD5", "eu-north-1": "Z23TAZGPD8O9U1",
}

// createHA answers the resource types the ha topology declares.
func (c *Cloud) createHA(typ, name string, in resource.PropertyMap, region string, h func(int) string) (string, resource.PropertyMap, bool) {
	elb := func(kind, rest string) string {
		return fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:%s/%s", region, Account, kind, rest)
	}
	switch typ {
	case "aws:acm/certificate:Certificate":
		names := []string{str(in, "domainName")}
		if sans, ok := in["subjectAlternativeNames"]; ok && sans.IsArray() {
			for _, s := range sans.ArrayValue() {
				names = append(names, s.StringValue())
			}
		}
		var dvos []any
		for _, n := range names {
			token := hexID(32, "acm", n, h(8))
			dvos = append(dvos, props{
				"domainName":          n,
				"resourceRecordName":  "_" + token + "." + n + ".",
				"resourceRecordType":  "CNAME",
				"resourceRecordValue": "_" + hexID(32, "acm-value", n, h(8)) + "." + hexID(10, "acm", region) + ".acm-validations.aws.",
			})
		}
		id := fmt.Sprintf("arn:aws:acm:%s:%s:certificate/%s", region, Account, uuidOf(h))
		return id, resource.NewPropertyMapFromMap(props{"arn": id, "domainValidationOptions": dvos, "status": "PENDING_VALIDATION"}), true
	case "aws:acm/certificateValidation:CertificateValidation":
		return str(in, "certificateArn"), resource.NewPropertyMapFromMap(props{"certificateArn": str(in, "certificateArn")}), true
	case "aws:lb/loadBalancer:LoadBalancer":
		lbName := name + "-" + h(7)
		suffix := "app/" + lbName + "/" + h(16)
		zone, ok := albZones[region]
		if !ok {
			zone = "Z" + strings.ToUpper(h(13))
		}
		id := elb("loadbalancer", suffix)
		return id, resource.NewPropertyMapFromMap(props{
			"arn": id, "arnSuffix": suffix, "name": lbName, "zoneId": zone,
			"dnsName": fmt.Sprintf("%s-%d.%s.elb.amazonaws.com", lbName, 1000000000+int(hexNum(h(8)))%1000000000, region),
		}), true
	case "aws:lb/targetGroup:TargetGroup":
		tgName := name + "-" + h(7)
		suffix := "targetgroup/" + tgName + "/" + h(16)
		id := elb("targetgroup", tgName+"/"+h(16))
		return id, resource.NewPropertyMapFromMap(props{"arn": id, "arnSuffix": suffix, "name": tgName}), true
	case "aws:lb/listener:Listener":
		id := elb("listener", "app/alb/"+h(16)+"/"+h(24)[8:])
		return id, resource.NewPropertyMapFromMap(props{"arn": id}), true
	case "aws:rds/subnetGroup:SubnetGroup":
		n := name + "-" + h(7)
		return n, resource.NewPropertyMapFromMap(props{"name": n, "arn": fmt.Sprintf("arn:aws:rds:%s:%s:subgrp:%s", region, Account, n)}), true
	case "aws:rds/instance:Instance":
		ident := str(in, "identifier")
		if ident == "" {
			ident = name + "-" + h(7)
		}
		host := fmt.Sprintf("%s.c%s.%s.rds.amazonaws.com", ident, h(11), region)
		port := num(in, "port")
		if port == 0 {
			port = 5432
		}
		resID := "db-" + strings.ToUpper(h(26))
		return resID, resource.NewPropertyMapFromMap(props{
			"address": host, "endpoint": fmt.Sprintf("%s:%d", host, port), "port": port,
			"identifier": ident, "resourceId": resID, "hostedZoneId": "Z1RLNUO7B9Q6NB",
			"arn": fmt.Sprintf("arn:aws:rds:%s:%s:db:%s", region, Account, ident),
		}), true
	case "aws:s3/bucketV2:BucketV2":
		bucket := str(in, "bucket")
		if bucket == "" {
			bucket = name + "-" + h(7)
		}
		return bucket, resource.NewPropertyMapFromMap(props{
			"bucket": bucket, "arn": "arn:aws:s3:::" + bucket, "region": region,
			"bucketDomainName":         bucket + ".s3.amazonaws.com",
			"bucketRegionalDomainName": bucket + ".s3." + region + ".amazonaws.com",
		}), true
	case "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
		"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
		"aws:s3/bucketVersioningV2:BucketVersioningV2":
		return str(in, "bucket"), resource.PropertyMap{}, true
	case "aws:s3/bucketObjectv2:BucketObjectv2":
		return str(in, "key"), resource.NewPropertyMapFromMap(props{"etag": h(32), "versionId": h(32)}), true
	case "aws:ssm/parameter:Parameter":
		n := str(in, "name")
		return n, resource.NewPropertyMapFromMap(props{
			"arn": fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", region, Account, strings.TrimPrefix(n, "/")), "version": 1,
		}), true
	case "aws:ssm/association:Association":
		id := uuidOf(h)
		return id, resource.NewPropertyMapFromMap(props{"associationId": id, "arn": fmt.Sprintf("arn:aws:ssm:%s:%s:association/%s", region, Account, id)}), true
	case "aws:iam/rolePolicy:RolePolicy":
		return name + "-" + h(7), resource.NewPropertyMapFromMap(props{"name": name + "-" + h(7)}), true
	case "aws:iam/instanceProfile:InstanceProfile":
		n := name + "-" + h(7)
		return n, resource.NewPropertyMapFromMap(props{"name": n, "arn": fmt.Sprintf("arn:aws:iam::%s:instance-profile/%s", Account, n), "uniqueId": "AIPA" + strings.ToUpper(h(17))}), true
	case "aws:ec2/launchTemplate:LaunchTemplate":
		id := "lt-0" + h(16)
		return id, resource.NewPropertyMapFromMap(props{"arn": arnString("ec2", region, "launch-template/"+id), "latestVersion": 1, "defaultVersion": 1}), true
	case "aws:autoscaling/group:Group":
		n := str(in, "name")
		if n == "" {
			n = name + "-" + h(7)
		}
		return n, resource.NewPropertyMapFromMap(props{
			"name": n, "arn": fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", region, Account, uuidOf(h), n),
		}), true
	}
	return "", nil, false
}

func arnString(service, region, rest string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, region, Account, rest)
}

func uuidOf(h func(int) string) string {
	x := h(32)
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func hexNum(s string) uint64 {
	var n uint64
	fmt.Sscanf(s, "%x", &n)
	return n
}
