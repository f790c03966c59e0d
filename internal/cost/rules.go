package cost

import "slices"

// Rule says where one price of the snapshot is in the AWS price list: the
// offer (service), the product it prices, and the unit its price is per.
// cmd/pricelist extracts exactly these from the offer files, and the
// estimate reads exactly these keys: Rules is the one list of both.
type Rule struct {
	Key     string // snapshot key, e.g. "ec2:t3.small"
	Service string // offer code, e.g. "AmazonEC2"
	Family  string // the product's productFamily
	// UsageType is the product's usagetype without the region prefix AWS
	// puts before it outside us-east-1 ("EUC1-BoxUsage:t3.small").
	UsageType string
	Attrs     map[string]string // further product attributes that must match
	// Unit is the price dimension's unit, checked on refresh and on load;
	// empty where no offer file at hand showed it.
	Unit string
	// Global prices are the same everywhere (Route 53): the offer has no
	// regional files and lists them once, under a "global" location.
	Global bool
}

// Instance types priced; instanceType (infra/keys.go) accepts others, which
// the estimate reports as unpriced.
var InstanceTypes = []string{
	"t3.small", "t3.medium", "t3.large",
	"t3a.small", "t3a.medium", "t3a.large",
	"t4g.small", "t4g.medium", "t4g.large",
}

// DBInstanceClasses are the RDS classes priced (PostgreSQL, Single-AZ).
var DBInstanceClasses = []string{"db.t4g.micro", "db.t4g.small", "db.t4g.medium"}

// Snapshot keys the estimate reads besides the per-type ones.
const (
	KeyGP3             = "ebs:gp3"
	KeyGP2             = "ebs:gp2"
	KeySnapshot        = "ebs:snapshot"
	KeyPublicIPv4      = "vpc:public-ipv4"
	KeyNATHour         = "vpc:nat-gateway-hour"
	KeyNATGB           = "vpc:nat-gateway-gb"
	KeyALBHour         = "elb:alb-hour"
	KeyALBLCU          = "elb:alb-lcu"
	KeyNLBHour         = "elb:nlb-hour"
	KeyNLBNLCU         = "elb:nlb-nlcu"
	KeyEKSCluster      = "eks:cluster-hour"
	KeyEKSExtended     = "eks:cluster-hour-extended"
	KeyRDSGP3          = "rds:gp3"
	KeyS3Standard      = "s3:standard"
	KeySSMAdvanced     = "ssm:advanced-parameter"
	KeyAlarm           = "cloudwatch:alarm"
	KeySNSEmail        = "sns:email"
	KeySESEmail        = "ses:email"
	KeyDataOut         = "transfer:internet-out"
	KeyCPUCreditT3     = "ec2:cpu-credit:t3"
	KeyHostedZone      = "route53:hosted-zone"
	KeyDNSQueries      = "route53:queries"
	KeyHealthAWS       = "route53:health-check-aws"
	KeyHealthNonAWS    = "route53:health-check-non-aws"
	KeyHealthOptAWS    = "route53:health-check-option-aws"
	KeyHealthOptNonAWS = "route53:health-check-option-non-aws"
)

// InstanceKey is the snapshot key of an EC2 instance type's hour.
func InstanceKey(typ string) string { return "ec2:" + typ }

// RDSKey is the snapshot key of a PostgreSQL Single-AZ instance hour.
func RDSKey(class string) string { return "rds:postgresql:" + class }

// Rules lists every price of the snapshot. The attributes are those of the
// price list's products (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/reading-service-price-list-file-for-services.html).
func Rules() []Rule {
	var rules []Rule
	for _, t := range InstanceTypes {
		rules = append(rules, Rule{Key: InstanceKey(t), Service: "AmazonEC2", Family: "Compute Instance", UsageType: "BoxUsage:" + t, Unit: "Hrs",
			// Linux, shared tenancy, no preinstalled software, on demand
			// (not the "UnusedCapacityReservation" twin of each SKU).
			Attrs: map[string]string{"instanceType": t, "operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA",
				"capacitystatus": "Used", "licenseModel": "No License required", "operation": "RunInstances"}})
	}
	for _, c := range DBInstanceClasses {
		rules = append(rules, Rule{Key: RDSKey(c), Service: "AmazonRDS", Family: "Database Instance", UsageType: "InstanceUsage:" + c, Unit: "Hrs",
			Attrs: map[string]string{"instanceType": c, "databaseEngine": "PostgreSQL", "deploymentOption": "Single-AZ"}})
	}
	// Not a Local Zone's or an Outpost's load balancer.
	region := map[string]string{"locationType": "AWS Region"}
	return append(rules,
		Rule{Key: KeyGP3, Service: "AmazonEC2", Family: "Storage", UsageType: "EBS:VolumeUsage.gp3", Unit: "GB-Mo", Attrs: map[string]string{"volumeApiName": "gp3"}},
		// The root volumes of EKS managed nodes without a launch template
		// (types_eks.go).
		Rule{Key: KeyGP2, Service: "AmazonEC2", Family: "Storage", UsageType: "EBS:VolumeUsage.gp2", Unit: "GB-Mo", Attrs: map[string]string{"volumeApiName": "gp2"}},
		Rule{Key: KeySnapshot, Service: "AmazonEC2", Family: "Storage Snapshot", UsageType: "EBS:SnapshotUsage", Unit: "GB-Mo"},
		Rule{Key: KeyCPUCreditT3, Service: "AmazonEC2", Family: "CPU Credits", UsageType: "CPUCredits:t3", Unit: "vCPU-Hours", Attrs: map[string]string{"operatingSystem": "Linux"}},
		Rule{Key: KeyNATHour, Service: "AmazonEC2", Family: "NAT Gateway", UsageType: "NatGateway-Hours", Unit: "Hrs"},
		Rule{Key: KeyNATGB, Service: "AmazonEC2", Family: "NAT Gateway", UsageType: "NatGateway-Bytes", Unit: "GB"},
		Rule{Key: KeyPublicIPv4, Service: "AmazonVPC", UsageType: "PublicIPv4:InUseAddress", Unit: "Hrs"},
		Rule{Key: KeyALBHour, Service: "AWSELB", Family: "Load Balancer-Application", UsageType: "LoadBalancerUsage", Unit: "Hrs", Attrs: region},
		Rule{Key: KeyALBLCU, Service: "AWSELB", Family: "Load Balancer-Application", UsageType: "LCUUsage", Unit: "LCU-Hrs", Attrs: region},
		Rule{Key: KeyNLBHour, Service: "AWSELB", Family: "Load Balancer-Network", UsageType: "LoadBalancerUsage", Unit: "Hrs", Attrs: region},
		Rule{Key: KeyNLBNLCU, Service: "AWSELB", Family: "Load Balancer-Network", UsageType: "LCUUsage", Attrs: region},
		Rule{Key: KeyEKSCluster, Service: "AmazonEKS", Family: "Compute", UsageType: "AmazonEKS-Hours:perCluster"},
		Rule{Key: KeyEKSExtended, Service: "AmazonEKS", Family: "Compute", UsageType: "AmazonEKS-Hours:extendedSupport"},
		Rule{Key: KeyRDSGP3, Service: "AmazonRDS", Family: "Database Storage", UsageType: "RDS:GP3-Storage", Unit: "GB-Mo",
			Attrs: map[string]string{"deploymentOption": "Single-AZ", "databaseEngine": "Any"}},
		Rule{Key: KeyS3Standard, Service: "AmazonS3", Family: "Storage", UsageType: "TimedStorage-ByteHrs", Unit: "GB-Mo", Attrs: map[string]string{"volumeType": "Standard"}},
		Rule{Key: KeySSMAdvanced, Service: "AWSSystemsManager", Family: "AWS Systems Manager", UsageType: "PS-Advanced-Param-Tier1"},
		Rule{Key: KeyAlarm, Service: "AmazonCloudWatch", Family: "Alarm", UsageType: "CW:AlarmMonitorUsage", Attrs: map[string]string{"alarmType": "Standard"}},
		Rule{Key: KeySNSEmail, Service: "AmazonSNS", Family: "Message Delivery", UsageType: "DeliveryAttempts-SMTP", Unit: "Notifications", Attrs: map[string]string{"endpointType": "SMTP"}},
		Rule{Key: KeySESEmail, Service: "AmazonSES", UsageType: "Recipients"},
		Rule{Key: KeyDataOut, Service: "AWSDataTransfer", Family: "Data Transfer", UsageType: "DataTransfer-Out-Bytes", Unit: "GB", Attrs: map[string]string{"transferType": "AWS Outbound", "toLocation": "External"}},
		Rule{Key: KeyHostedZone, Service: "AmazonRoute53", Family: "DNS Zone", UsageType: "HostedZone", Global: true},
		Rule{Key: KeyDNSQueries, Service: "AmazonRoute53", Family: "DNS Query", UsageType: "DNS-Queries", Global: true},
		Rule{Key: KeyHealthAWS, Service: "AmazonRoute53", Family: "DNS Health Check", UsageType: "Health-Check-AWS", Global: true},
		Rule{Key: KeyHealthNonAWS, Service: "AmazonRoute53", Family: "DNS Health Check", UsageType: "Health-Check-Non-AWS", Global: true},
		Rule{Key: KeyHealthOptAWS, Service: "AmazonRoute53", Family: "DNS Health Check", UsageType: "Health-Check-Option-AWS", Global: true},
		Rule{Key: KeyHealthOptNonAWS, Service: "AmazonRoute53", Family: "DNS Health Check", UsageType: "Health-Check-Option-Non-AWS", Global: true},
	)
}

// Services are the offers the rules read, in order.
func Services(rules []Rule) []string {
	var out []string
	for _, r := range rules {
		if !slices.Contains(out, r.Service) {
			out = append(out, r.Service)
		}
	}
	return out
}
