package mock

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Existing is what an account holds before the program runs, as far as the
// program looks it up: data volumes, their snapshots and RDS instances.
// New accounts hold nothing (the default).
type Existing struct {
	Volumes     []ExistingVolume
	Snapshots   []ExistingSnapshot
	DBInstances []string // identifiers of instances as DBs describes them, without tags
	DBs         []ExistingDB
	Records     []ExistingRecord
}

// ExistingVolume is one EBS volume with its tags.
type ExistingVolume struct {
	ID   string
	Tags map[string]string
	// Zone is its availability zone; "" stands for the region's first
	// zone, where a stack without matrix:availabilityZone puts it.
	Zone       string
	SnapshotID string // what it was created from, "" for an empty volume
	Size       int    // GiB; 0 stands for 20, the default data volume
}

// ExistingSnapshot is one EBS snapshot.
type ExistingSnapshot struct {
	ID, VolumeID string
	Size         int    // GiB of the volume it copies
	State        string // "" stands for completed
	Tags         map[string]string
}

// ExistingDB is one RDS instance.
type ExistingDB struct {
	ID   string
	Tags map[string]string
	// BackupRetentionDays of automated backups; 0 stands for 7, the
	// program's default. NoBackups makes it 0.
	BackupRetentionDays int
	NoBackups           bool
}

func (e Existing) dbs() []ExistingDB {
	out := slices.Clone(e.DBs)
	for _, id := range e.DBInstances {
		out = append(out, ExistingDB{ID: id})
	}
	return out
}

func (d ExistingDB) retention() int {
	switch {
	case d.NoBackups:
		return 0
	case d.BackupRetentionDays == 0:
		return 7
	}
	return d.BackupRetentionDays
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

// filterValue is the volume's value for a DescribeVolumes filter name:
// tag:<key> and volume-id, the filters the program uses.
func (v ExistingVolume) filterValue(name string) (string, bool) {
	if key, ok := strings.CutPrefix(name, "tag:"); ok {
		val, has := v.Tags[key]
		return val, has
	}
	if name == "volume-id" {
		return v.ID, true
	}
	return "", false
}

// ebsVolumes answers ec2's DescribeVolumes as the getEbsVolumes data source
// does: every volume matching all filters (tag:<key> filters and
// volume-id), an empty list when none does.
func (c *Cloud) ebsVolumes(region string, args resource.PropertyMap) (resource.PropertyMap, error) {
	ids := []any{}
	for _, v := range c.existingResources().Volumes {
		if matchesFilters(args, v.filterValue) {
			ids = append(ids, v.ID)
		}
	}
	return resource.NewPropertyMapFromMap(props{"ids": ids, "id": region}), nil
}

// dbInstances answers the rds getInstances data source for its
// db-instance-id filter and its tags, each of which must match.
func (c *Cloud) dbInstances(region string, args resource.PropertyMap) (resource.PropertyMap, error) {
	ids, arns := []any{}, []any{}
	for _, db := range c.existingResources().dbs() {
		if matchesFilters(args, func(name string) (string, bool) {
			if name == "db-instance-id" {
				return db.ID, true
			}
			return "", false
		}) && hasTags(args, db.Tags) {
			ids = append(ids, db.ID)
			arns = append(arns, fmt.Sprintf("arn:aws:rds:%s:%s:db:%s", region, Account, db.ID))
		}
	}
	return resource.NewPropertyMapFromMap(props{"instanceIdentifiers": ids, "instanceArns": arns, "id": region}), nil
}

// hasTags says whether tags hold every pair of the invoke's tags argument.
func hasTags(args resource.PropertyMap, tags map[string]string) bool {
	want, ok := args["tags"]
	if !ok || !want.IsObject() {
		return true
	}
	for k, v := range want.ObjectValue() {
		if got, has := tags[string(k)]; !has || got != v.StringValue() {
			return false
		}
	}
	return true
}

// dbInstance answers the rds getInstance data source (DescribeDBInstances
// of one identifier): the instance, or DBInstanceNotFound.
func (c *Cloud) dbInstance(region string, args resource.PropertyMap) (resource.PropertyMap, error) {
	id := str(args, "dbInstanceIdentifier")
	for _, db := range c.existingResources().dbs() {
		if db.ID != id {
			continue
		}
		host := fmt.Sprintf("%s.c%s.%s.rds.amazonaws.com", id, hexID(11, "db", id), region)
		tags := props{}
		for k, v := range db.Tags {
			tags[k] = v
		}
		return resource.NewPropertyMapFromMap(props{
			"tags": tags,
			"id":   id, "dbInstanceIdentifier": id, "address": host, "endpoint": host + ":5432", "port": 5432,
			"engine": "postgres", "backupRetentionPeriod": db.retention(), "masterUsername": "synapse",
			"dbInstanceArn": fmt.Sprintf("arn:aws:rds:%s:%s:db:%s", region, Account, id),
		}), nil
	}
	return nil, fmt.Errorf("mock: couldn't find resource (DBInstanceNotFound: DBInstance %s not found)", id)
}

// volume answers the ebs getVolume data source: exactly one volume matching
// the filters, else the data source's errors.
func (c *Cloud) volume(region string, args resource.PropertyMap) (resource.PropertyMap, error) {
	var found []ExistingVolume
	for _, v := range c.existingResources().Volumes {
		if matchesFilters(args, v.filterValue) {
			found = append(found, v)
		}
	}
	switch {
	case len(found) == 0:
		return nil, fmt.Errorf("mock: Your query returned no results. Please change your search criteria and try again")
	case len(found) > 1:
		return nil, fmt.Errorf("mock: Your query returned more than one result. Please try a more specific search criteria, or set `most_recent` attribute to true")
	}
	v := found[0]
	zone, size := v.Zone, v.Size
	if zone == "" {
		zone = region + "a"
	}
	if size == 0 {
		size = 20
	}
	tags := props{}
	for k, t := range v.Tags {
		tags[k] = t
	}
	return resource.NewPropertyMapFromMap(props{
		"id": v.ID, "volumeId": v.ID, "availabilityZone": zone, "snapshotId": v.SnapshotID, "size": size,
		"encrypted": true, "volumeType": "gp3", "tags": tags, "arn": arnString("ec2", region, "volume/"+v.ID),
	}), nil
}

// snapshot answers the ebs getSnapshot data source for snapshotIds.
func (c *Cloud) snapshot(region string, args resource.PropertyMap) (resource.PropertyMap, error) {
	var want []string
	if ids, ok := args["snapshotIds"]; ok && ids.IsArray() {
		for _, id := range ids.ArrayValue() {
			want = append(want, id.StringValue())
		}
	}
	for _, s := range c.existingResources().Snapshots {
		if !slices.Contains(want, s.ID) {
			continue
		}
		state := s.State
		if state == "" {
			state = "completed"
		}
		return resource.NewPropertyMapFromMap(props{
			"id": s.ID, "snapshotId": s.ID, "volumeId": s.VolumeID, "volumeSize": s.Size, "state": state,
			"encrypted": true, "ownerId": Account, "arn": arnString("ec2", region, "snapshot/"+s.ID),
		}), nil
	}
	return nil, fmt.Errorf("mock: Your query returned no results. Please change your search criteria and try again")
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

// checkDBInstance refuses an RDS instance as CreateDBInstance and
// RestoreDBInstanceToPointInTime would (values unknown in a preview count
// as given): a new instance needs its master user and password; a restore
// names exactly one source, which must exist and keep backups, and exactly
// one of a time or the latest restorable time, inside the source's backup
// window, under an identifier of its own.
func (c *Cloud) checkDBInstance(in resource.PropertyMap) error {
	given := func(m resource.PropertyMap, k string) bool {
		v, ok := m[resource.PropertyKey(k)]
		return ok && !v.IsNull() && !(v.IsString() && v.StringValue() == "") && !(v.IsBool() && !v.BoolValue())
	}
	ident := str(in, "identifier")
	pitr := in["restoreToPointInTime"]
	if pitr.IsSecret() {
		pitr = pitr.SecretValue().Element
	}
	if !pitr.IsObject() {
		for _, k := range []string{"engine", "instanceClass", "username", "password"} {
			if !given(in, k) {
				return fmt.Errorf("mock: CreateDBInstance %s: InvalidParameterValue: %s is required", ident, k)
			}
		}
		return nil
	}
	p := pitr.ObjectValue()
	if src := str(p, "sourceDbInstanceIdentifier"); src != "" && src == ident {
		return fmt.Errorf("mock: RestoreDBInstanceToPointInTime: DBInstanceAlreadyExists: %s is the source's own identifier", ident)
	}
	for _, db := range c.existingResources().dbs() {
		if db.ID == ident {
			return nil // restored before: an update reads it, nothing is restored again
		}
	}
	var sources []string
	for _, k := range []string{"sourceDbInstanceIdentifier", "sourceDbiResourceId", "sourceDbInstanceAutomatedBackupsArn"} {
		if given(p, k) {
			sources = append(sources, k)
		}
	}
	if len(sources) != 1 {
		return fmt.Errorf("mock: RestoreDBInstanceToPointInTime %s: InvalidParameterCombination: give exactly one source, not %v", ident, sources)
	}
	if given(p, "restoreTime") == given(p, "useLatestRestorableTime") {
		return fmt.Errorf("mock: RestoreDBInstanceToPointInTime %s: InvalidParameterCombination: give exactly one of restoreTime and useLatestRestorableTime", ident)
	}
	if given(in, "snapshotIdentifier") || given(in, "replicateSourceDb") {
		return fmt.Errorf("mock: RestoreDBInstanceToPointInTime %s: restoreToPointInTime conflicts with snapshotIdentifier and replicateSourceDb", ident)
	}
	src := str(p, "sourceDbInstanceIdentifier")
	if src == "" {
		return nil // by resource ID or backup ARN: retained backups, which the fake account does not hold
	}
	for _, db := range c.existingResources().dbs() {
		if db.ID != src {
			continue
		}
		if db.retention() == 0 {
			return fmt.Errorf("mock: RestoreDBInstanceToPointInTime %s: InvalidDBInstanceState: %s has no automated backups", ident, src)
		}
		if t := str(p, "restoreTime"); t != "" {
			at, err := time.Parse(time.RFC3339, t)
			now := time.Now()
			switch {
			case err != nil:
				return fmt.Errorf("mock: RestoreDBInstanceToPointInTime %s: InvalidParameterValue: restoreTime %q: %v", ident, t, err)
			case at.After(now) || at.Before(now.Add(-time.Duration(db.retention())*24*time.Hour)):
				return fmt.Errorf("mock: RestoreDBInstanceToPointInTime %s: InvalidRestoreFault: %s is outside the restorable window of %s", ident, t, src)
			}
		}
		return nil
	}
	return fmt.Errorf("mock: RestoreDBInstanceToPointInTime %s: DBInstanceNotFound: %s", ident, src)
}
