package cost

import (
	"fmt"
	"slices"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Why the eks topology's own types cost nothing by themselves.
const (
	// The AWS containers blog's post on EKS pricing (the "eks" source of
	// prices.json): the cluster price "covers the cost to run the
	// Kubernetes control plane. You pay for the AWS resources ... that you
	// create to run your Kubernetes worker nodes or support other cluster
	// functions."
	eksFree        = "part of the EKS cluster, which is billed by the cluster-hour only"
	kubernetesFree = "a Kubernetes object, stored in the cluster's control plane (priced by the cluster-hour); its pods run on the nodes (priced with the node groups)"
)

// eksFreeAddons are the AWS-published EKS add-ons: they have no charge of
// their own (EKS bills the cluster-hour and the AWS resources created) and
// run as pods on the nodes. The EBS CSI driver creates volumes only for
// the claims the program or a chart makes, priced there. A marketplace
// add-on may carry a fee, so any other name is reported unpriced.
var eksFreeAddons = []string{"vpc-cni", "coredns", "kube-proxy", "aws-ebs-csi-driver", "eks-pod-identity-agent"}

func eksRules() TypeRuleSet {
	const iam = "IAM has no charge"
	return TypeRuleSet{
		"aws:eks/cluster:Cluster":                                 {Price: eksCluster},
		"aws:eks/nodeGroup:NodeGroup":                             {Price: eksNodeGroup},
		"aws:eks/addon:Addon":                                     {Price: eksAddon},
		"aws:eks/accessEntry:AccessEntry":                         free(eksFree + " (cluster access through IAM)"),
		"aws:eks/accessPolicyAssociation:AccessPolicyAssociation": free(eksFree + " (cluster access through IAM)"),
		"aws:eks/podIdentityAssociation:PodIdentityAssociation":   free(eksFree + " (IAM roles for pods)"),
		"aws:iam/openIdConnectProvider:OpenIdConnectProvider":     free(iam),
		"aws:iam/policy:Policy":                                   free(iam),
		"aws:ec2/natGateway:NatGateway":                           {Price: natGateway},
		"pulumi:providers:kubernetes":                             free("the Kubernetes provider of the program"),

		// Kubernetes objects are free (TypeRuleSet.For) except those that
		// make the cluster's controllers create AWS resources out of band.
		"kubernetes:helm.sh/v3:Release":             {Price: helmRelease},
		"kubernetes:core/v1:Service":                {Price: kubernetesService},
		"kubernetes:networking.k8s.io/v1:Ingress":   {Price: outOfBand("the AWS Load Balancer Controller makes an Application Load Balancer of it")},
		"kubernetes:core/v1:PersistentVolumeClaim":  {Price: outOfBand("the EBS CSI driver makes a volume of it")},
		"kubernetes:core/v1:PersistentVolume":       {Price: outOfBand("a volume")},
		"kubernetes:apps/v1:StatefulSet":            {Price: statefulSet},
		"kubernetes:storage.k8s.io/v1:StorageClass": free("a Kubernetes object; the volumes of its class are priced with the claims that make them"),
	}
}

// kubernetesObject reports whether typ is a Kubernetes object of
// pulumi-kubernetes, which TypeRuleSet.For prices as free when no rule
// names it. Helm, YAML and Kustomize components are not: what they
// install is decided by files the estimate cannot see, so each needs a
// rule (as helm.sh/v3:Release has).
func kubernetesObject(typ string) bool {
	rest, ok := strings.CutPrefix(typ, "kubernetes:")
	if !ok {
		return false
	}
	for _, p := range []string{"helm.sh/", "yaml/", "kustomize/"} {
		if strings.HasPrefix(rest, p) {
			return false
		}
	}
	return true
}

// known unwraps secrets and known outputs; ok is false for a value that
// is unknown until the stack is applied (a preview).
func known(v resource.PropertyValue) (resource.PropertyValue, bool) {
	for {
		switch {
		case v.IsComputed():
			return v, false
		case v.IsOutput():
			o := v.OutputValue()
			if !o.Known {
				return v, false
			}
			v = o.Element
		case v.IsSecret():
			v = v.SecretValue().Element
		default:
			return v, true
		}
	}
}

// at walks path through objects. A missing step gives a null value; ok
// is false when a step is unknown until apply.
func at(v resource.PropertyValue, path ...string) (resource.PropertyValue, bool) {
	v, ok := known(v)
	for _, p := range path {
		if !ok {
			return v, false
		}
		if !v.IsObject() {
			return resource.NewNullProperty(), true
		}
		v, ok = known(v.ObjectValue()[resource.PropertyKey(p)])
	}
	return v, ok
}

func input(r mock.Resource, path ...string) (resource.PropertyValue, bool) {
	return at(resource.NewObjectProperty(r.Inputs), path...)
}

// standardSupportEnds is the last day of EKS standard support of each
// Kubernetes minor version, 14 months after its release on EKS (EKS User
// Guide, "Understand the Kubernetes version lifecycle on EKS"), as
// endoflife.date/amazon-eks lists them (read 2026-11-22). A cluster whose
// version is past it on the snapshot's date is billed the extended
// support rate unless its upgrade policy is STANDARD.
var standardSupportEnds = map[string]string{
	"1.29": "2025-03-23",
	"1.30": "2025-07-23",
	"1.31": "2025-11-26",
	"1.32": "2026-03-23",
	"1.33": "2026-07-29",
	"1.34": "2026-12-02",
	"1.35": "2027-03-27",
}

func eksCluster(x *estimator, r mock.Resource) {
	if v, _ := input(r, "computeConfig", "enabled"); v.IsBool() && v.BoolValue() {
		x.unpriced("EKS cluster " + r.Name + ": Auto Mode's management fee on each instance it launches")
	}
	version := str(get(r.Inputs, "version"))
	ends, known := standardSupportEnds[version]
	// EXTENDED is the API's default.
	if str(get(r.Inputs, "upgradePolicy", "supportType")) == "STANDARD" {
		x.hourly("EKS control plane", KeyEKSCluster, 1, "%s per cluster, standard support")
		x.noteText(fmt.Sprintf("the EKS cluster's upgrade policy is STANDARD: EKS upgrades Kubernetes %s when its standard support ends, so extended support is never billed", version))
		return
	}
	if known && ends < x.s.Date {
		x.hourly("EKS control plane", KeyEKSExtended, 1, "%s per cluster, extended support: Kubernetes "+version+"'s standard support ended "+ends+"; upgrade (docs/runbook-eks.md)")
		return
	}
	x.hourly("EKS control plane", KeyEKSCluster, 1, "%s per cluster, standard support")
	switch {
	case known:
		x.note(KeyEKSExtended, "EKS extended support: once Kubernetes "+version+" leaves standard support after "+ends+" the cluster is billed %s per cluster-hour in all until it is upgraded (upgradePolicy.supportType STANDARD makes EKS upgrade it instead)", 1)
	default:
		x.note(KeyEKSExtended, "EKS extended support: Kubernetes "+version+" is not in internal/cost's support calendar; once it leaves standard support the cluster is billed %s per cluster-hour in all until it is upgraded", 1)
	}
}

// eksNodeGroup prices a managed node group of desiredSize Linux on-demand
// nodes, each with its root volume and a public IPv4 address (the eks
// topology's nodes run in public subnets, without a NAT gateway).
//
// Without a launch template EKS makes one whose root volume is diskSize
// GiB (20 by default for Linux: the CreateNodegroup API reference) of gp2:
// the EKS documentation does not name the type (aws/containers-roadmap
// #1497 asks for it), but AWS's public roadmap issue #1417 (open) states
// that managed nodes get gp2 volumes unless a launch template says
// otherwise, and AWS Support confirmed the same on a Kubernetes 1.33 node
// group in April 2026 (bottlerocket-os/bottlerocket #4799).
func eksNodeGroup(x *estimator, r mock.Resource) {
	item := "EKS node group " + r.Name
	if lt, _ := input(r, "launchTemplate"); !lt.IsNull() {
		x.unpriced(item + ": a launch template decides its nodes' volumes; the rule prices node groups without one")
		return
	}
	if c := str(get(r.Inputs, "capacityType")); c != "" && c != "ON_DEMAND" {
		x.unpriced(item + ": capacity type " + c + " (the snapshot has on-demand prices)")
		return
	}
	if ami := str(get(r.Inputs, "amiType")); ami != "" && !strings.HasPrefix(ami, "AL2") {
		x.unpriced(item + ": AMI type " + ami + " (the rule prices Amazon Linux nodes with one root volume)")
		return
	}
	types, ok1 := input(r, "instanceTypes")
	size, ok2 := input(r, "scalingConfig", "desiredSize")
	disk, ok3 := input(r, "diskSize")
	if !ok1 || !ok2 || !ok3 {
		x.unpriced(item + ": its instance type, desired size or disk size is unknown until the stack is applied")
		return
	}
	if !types.IsArray() || len(types.ArrayValue()) == 0 || !types.ArrayValue()[0].IsString() {
		x.unpriced(item + ": no instanceTypes (EKS's default type then applies)")
		return
	}
	// EKS launches the first type it can; the group's price is the first's.
	typ := types.ArrayValue()[0].StringValue()
	gib := 20.0
	if disk.IsNumber() {
		gib = disk.NumberValue()
	}
	for range int(number(size)) {
		x.hourly("EKS node "+typ, InstanceKey(typ), 1, "%s, Linux on demand")
		x.gp2("Node root volume", gib)
		x.ipv4("Public IPv4 of a node", 1)
	}
}

func eksAddon(x *estimator, r mock.Resource) {
	name := str(get(r.Inputs, "addonName"))
	if !slices.Contains(eksFreeAddons, name) {
		x.unpriced(fmt.Sprintf("EKS add-on %s (%q): not one of the AWS add-ons known to be free (%s)", r.Name, name, strings.Join(eksFreeAddons, ", ")))
	}
}

func natGateway(x *estimator, r mock.Resource) {
	x.hourly("NAT gateway", KeyNATHour, 1, "%s")
	x.monthly("NAT gateway data processing", KeyNATGB, NATGB, fmt.Sprintf("~%d GB processed at %%s/GB", NATGB))
}

// outOfBand is the rule of a Kubernetes object declared by the program
// (not a chart) that a controller turns into an AWS resource: it is
// reported unpriced until a rule prices it.
func outOfBand(what string) func(*estimator, mock.Resource) {
	return func(x *estimator, r mock.Resource) {
		x.unpriced(fmt.Sprintf("%s %s: %s, which the estimate does not price", r.Type, r.Name, what))
	}
}

func kubernetesService(x *estimator, r mock.Resource) {
	if t := str(get(r.Inputs, "spec", "type")); t == "LoadBalancer" {
		outOfBand("a Service of type LoadBalancer gets a load balancer")(x, r)
	}
}

func statefulSet(x *estimator, r mock.Resource) {
	if v := get(r.Inputs, "spec", "volumeClaimTemplates"); v.IsArray() && len(v.ArrayValue()) > 0 {
		outOfBand("its volumeClaimTemplates make a volume for each replica")(x, r)
	}
}
