package cost

import (
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	quantity "k8s.io/apimachinery/pkg/api/resource"
)

// MatrixStackVersion is the version of Element's matrix-stack chart whose
// templates the matrix-stack rule was checked against: the rule's tests
// render that version with the values internal/ess derives and check that
// the chart asks AWS for exactly what the rule prices. A release of
// another version fails the estimate until the rule is checked again.
const MatrixStackVersion = "26.8.1"

// chartRule prices what a Helm chart makes AWS create out of band (the
// load balancers and volumes its objects ask the cluster's controllers
// for), which no resource of the program shows.
type chartRule struct {
	versions []string // the versions checked; nil for any
	price    func(x *estimator, release string, values resource.PropertyValue)
	free     string // why the chart creates nothing priced
}

func chartRules() map[string]chartRule {
	return map[string]chartRule{
		"matrix-stack": {versions: []string{MatrixStackVersion}, price: matrixStack},
		"aws-load-balancer-controller": {free: "the controller runs as pods on the nodes; " +
			"the load balancers it makes are priced with the releases whose Ingresses and Services ask for them"},
	}
}

// helmRelease prices a Helm release by its chart's rule. A chart without
// one fails the estimate: what it creates in AWS cannot be known from the
// program, so it must not go unpriced unnoticed.
func helmRelease(x *estimator, r mock.Resource) {
	chart, ok1 := input(r, "chart")
	version, ok2 := input(r, "version")
	if !ok1 || !ok2 {
		x.unpriced("Helm release " + r.Name + ": its chart is unknown until the stack is applied, so what the chart creates in AWS is not priced")
		return
	}
	name, v := chartRef(str(chart), str(version))
	rule, ok := chartRules()[name]
	switch {
	case !ok:
		x.fail(fmt.Errorf("cost: Helm release %s installs chart %q, which has no price rule: add it to chartRules (internal/cost/charts.go), pricing what the chart makes AWS create, or free with the reason", r.Name, name))
	case rule.versions != nil && !slices.Contains(rule.versions, v):
		x.fail(fmt.Errorf("cost: Helm release %s installs %s version %q, but its price rule was checked against %s: check what that version makes AWS create and add it (internal/cost/charts.go)", r.Name, name, v, strings.Join(rule.versions, ", ")))
	case rule.price != nil:
		rule.price(x, r.Name, r.Inputs["values"])
	}
}

// chartRef names the chart and version a release installs. Its chart is
// a name ("matrix-stack"), a repository URL ending in one, or the path of
// a packaged chart, named <name>-<version>.tgz as helm package writes it.
func chartRef(chart, version string) (string, string) {
	name := path.Base(chart)
	base, ok := strings.CutSuffix(name, ".tgz")
	if !ok {
		return name, version
	}
	for i := 0; i+1 < len(base); i++ {
		if base[i] == '-' && base[i+1] >= '0' && base[i+1] <= '9' {
			return base[:i], base[i+1:]
		}
	}
	return base, version
}

// Annotations of the AWS Load Balancer Controller
// (kubernetes-sigs/aws-load-balancer-controller docs/guide/ingress/annotations.md
// and docs/guide/service/annotations.md), as internal/ess sets them.
const (
	albGroupName = "alb.ingress.kubernetes.io/group.name"
	albScheme    = "alb.ingress.kubernetes.io/scheme"
	albSubnets   = "alb.ingress.kubernetes.io/subnets"
	nlbType      = "service.beta.kubernetes.io/aws-load-balancer-type"
	nlbScheme    = "service.beta.kubernetes.io/aws-load-balancer-scheme"
	nlbSubnets   = "service.beta.kubernetes.io/aws-load-balancer-subnets"
	nlbEIPs      = "service.beta.kubernetes.io/aws-load-balancer-eip-allocations"
)

// matrixStack prices what Element's matrix-stack chart makes AWS create
// (checked against its templates by TestMatrixStackRender): one ALB for
// all its Ingresses, which share one group; an NLB for each SFU port
// exposed as a LoadBalancer Service (LiveKit's media with matrix:calls);
// and the EBS volume of Synapse's media claim.
func matrixStack(x *estimator, release string, values resource.PropertyValue) {
	x.chartALB(release, values)
	x.chartNLBs(release, values)
	x.chartVolumes(release, values)
}

// unknownValue says why an item of a release is not priced in a preview.
func unknownValue(item, release, path string) string {
	return fmt.Sprintf("%s (Helm release %s): values.%s is unknown until the stack is applied", item, release, path)
}

func isFalse(v resource.PropertyValue) bool { return v.IsBool() && !v.BoolValue() }
func isTrue(v resource.PropertyValue) bool  { return v.IsBool() && v.BoolValue() }

func (x *estimator) chartALB(release string, values resource.PropertyValue) {
	const item = "Application Load Balancer"
	ann, ok := at(values, "ingress", "annotations")
	if !ok {
		x.unpriced(unknownValue(item, release, "ingress.annotations"))
		return
	}
	// A group name unknown in a preview is still a group.
	if group, ok := at(ann, albGroupName); ok && str(group) == "" {
		x.unpriced(fmt.Sprintf("%s (Helm release %s): values.ingress.annotations[%q] is not set, so each Ingress would get a load balancer of its own", item, release, albGroupName))
		return
	}
	x.hourly(item, KeyALBHour, 1, "%s")
	x.hourly("Load balancer capacity units", KeyALBLCU, LCUs, fmt.Sprintf("~%.1f LCU at %%s", LCUs))
	scheme, ok1 := at(ann, albScheme)
	subnets, ok2 := at(ann, albSubnets)
	switch {
	case !ok1 || !ok2:
		x.unpriced(unknownValue("public IPv4 addresses of the "+item, release, "ingress.annotations"))
	case str(scheme) == "internet-facing": // the controller's default is internal
		x.lbAddresses(item, release, str(subnets))
	}
}

// chartNLBs prices the SFU's exposed services of type LoadBalancer. The
// chart turns MatrixRTC and its SFU on by default, and exposes no service
// as a LoadBalancer unless the values say so.
func (x *estimator) chartNLBs(release string, values resource.PropertyValue) {
	const item = "Network Load Balancer (calls)"
	rtc, ok1 := at(values, "matrixRTC", "enabled")
	sfu, ok2 := at(values, "matrixRTC", "sfu", "enabled")
	services, ok3 := at(values, "matrixRTC", "sfu", "exposedServices")
	switch {
	case !ok1 || !ok2 || !ok3:
		x.unpriced(unknownValue(item, release, "matrixRTC"))
		return
	case isFalse(rtc) || isFalse(sfu) || !services.IsObject():
		return
	}
	for _, name := range slices.Sorted(maps.Keys(services.ObjectValue())) {
		path := "matrixRTC.sfu.exposedServices." + string(name)
		s, _ := known(services.ObjectValue()[name])
		portType, ok1 := at(s, "portType")
		enabled, ok2 := at(s, "enabled")
		ann, ok3 := at(s, "annotations")
		typ, ok4 := at(ann, nlbType)
		switch {
		case !ok1 || !ok2 || !ok3 || !ok4:
			x.unpriced(unknownValue(item, release, path))
			continue
		case str(portType) != "LoadBalancer" || isFalse(enabled):
			continue
		case !enabled.IsBool():
			x.unpriced(fmt.Sprintf("%s (Helm release %s): values.%s.enabled is not set, so the chart's default decides whether it exists", item, release, path))
			continue
		case !slices.Contains([]string{"external", "nlb", "nlb-ip"}, str(typ)):
			x.unpriced(fmt.Sprintf("%s (Helm release %s): values.%s has no %s annotation, so Kubernetes would make a Classic Load Balancer of it", item, release, path, nlbType))
			continue
		}
		x.hourly(item, KeyNLBHour, 1, "%s")
		x.hourly("Load balancer capacity units (calls)", KeyNLBNLCU, CallNLCUs, fmt.Sprintf("~%.1f NLCU at %%s", CallNLCUs))
		scheme, ok1 := at(ann, nlbScheme)
		subnets, ok2 := at(ann, nlbSubnets)
		// With Elastic IPs (even unknown ones, in a preview) its addresses
		// are those, priced as such.
		eips, ok3 := at(ann, nlbEIPs)
		switch {
		case !ok3 || str(eips) != "":
		case !ok1 || !ok2:
			x.unpriced(unknownValue("public IPv4 addresses of the "+item, release, path+".annotations"))
		case str(scheme) == "internet-facing":
			x.lbAddresses(item, release, str(subnets))
		}
	}
}

// lbAddresses prices the public IPv4 addresses of an internet-facing load
// balancer of the AWS Load Balancer Controller: one in each zone it spans.
// Those are the zones of the subnets its annotation names, else of the
// subnets tagged kubernetes.io/role/elb, which the controller discovers
// (kubernetes-sigs/aws-load-balancer-controller docs/deploy/subnet_discovery.md).
func (x *estimator) lbAddresses(item, release, subnets string) {
	n := x.elbZones()
	if subnets != "" {
		n = len(strings.Split(subnets, ","))
	}
	if n == 0 {
		x.unpriced(fmt.Sprintf("public IPv4 addresses of the %s (Helm release %s): no subnet is tagged kubernetes.io/role/elb, so the controller would find none", item, release))
		return
	}
	x.ipv4("Public IPv4 of the load balancer", n)
}

// elbZones counts the availability zones of the subnets tagged for
// internet-facing load balancers, on the subnet itself or by an
// aws:ec2/tag:Tag (how the eks topology tags the shared network's subnets).
func (x *estimator) elbZones() int {
	tagged := map[string]bool{} // subnet IDs tagged by a Tag resource
	zones := map[string]bool{}
	for _, r := range x.all {
		if r.Type != "aws:ec2/tag:Tag" || str(get(r.Inputs, "key")) != elbRoleTag || !elbRoleValue(get(r.Inputs, "value")) {
			continue
		}
		if id := get(r.Inputs, "resourceId"); id.IsString() && id.StringValue() != "" {
			tagged[id.StringValue()] = true
			continue
		}
		// In a preview the subnet's ID is not known yet: the program
		// tags one subnet per zone, so the tag stands for its zone.
		zones["tag:"+r.Name] = true
	}
	for _, r := range x.all {
		if r.Type != "aws:ec2/subnet:Subnet" {
			continue
		}
		tags, _ := input(r, "tags")
		onSubnet := tags.IsObject() && elbRoleValue(tags.ObjectValue()[elbRoleTag])
		if !onSubnet && !(r.ID != "" && tagged[r.ID]) {
			continue
		}
		zone := str(get(r.Inputs, "availabilityZone")) + str(get(r.Inputs, "availabilityZoneId"))
		if zone == "" {
			zone = r.Name
		}
		zones[zone] = true
	}
	return len(zones)
}

// elbRoleTag marks the subnets where the controller places internet-facing
// load balancers; it accepts the value 1 or empty.
const elbRoleTag = "kubernetes.io/role/elb"

func elbRoleValue(v resource.PropertyValue) bool {
	return v.IsString() && (v.StringValue() == "1" || v.StringValue() == "")
}

// chartVolumes prices the volume of Synapse's media claim, and reports
// the chart's other claims (its own PostgreSQL, Hookshot's encryption
// store), which the program turns off or leaves off, unpriced if on.
func (x *estimator) chartVolumes(release string, values resource.PropertyValue) {
	const item = "Synapse media volume"
	pg, ok := at(values, "postgres", "enabled")
	if !ok || !isFalse(pg) {
		x.unpriced(fmt.Sprintf("the chart's own PostgreSQL (Helm release %s): values.postgres.enabled is not false, so it keeps a volume the rule does not price", release))
	}
	hs, ok1 := at(values, "hookshot", "enabled")
	enc, ok2 := at(values, "hookshot", "enableEncryption")
	if !ok1 || !ok2 || (isTrue(hs) && isTrue(enc)) {
		x.unpriced(fmt.Sprintf("Hookshot (Helm release %s): with values.hookshot.enableEncryption it keeps a volume the rule does not price", release))
	}
	storage, ok := at(values, "synapse", "media", "storage")
	claim, ok1 := at(storage, "existingClaim")
	size, ok2 := at(storage, "size")
	class, ok3 := at(storage, "storageClassName")
	defaultClass, ok4 := at(values, "storage", "storageClassName")
	switch {
	case !ok || !ok1 || !ok2 || !ok3 || !ok4:
		x.unpriced(unknownValue(item, release, "synapse.media.storage"))
		return
	case str(claim) != "":
		x.unpriced(fmt.Sprintf("%s (Helm release %s): values.synapse.media.storage.existingClaim %q is a volume the program does not create", item, release, str(claim)))
		return
	}
	gib, err := gibibytes(str(size))
	if err != nil {
		x.unpriced(fmt.Sprintf("%s (Helm release %s): values.synapse.media.storage.size: %v", item, release, err))
		return
	}
	name := str(class)
	if name == "" {
		name = str(defaultClass)
	}
	typ, err := x.volumeType(name)
	switch {
	case err != nil:
		x.unpriced(fmt.Sprintf("%s (Helm release %s): %v", item, release, err))
		return
	case typ == "gp3":
		x.gp3(item, gib)
	case typ == "gp2":
		x.gp2(item, gib)
	default:
		x.unpriced(fmt.Sprintf("%s (Helm release %s): EBS type %s (the snapshot prices gp3 and gp2)", item, release, typ))
		return
	}
	x.snapshots(gib)
}

// gibibytes reads a claim's size, a Kubernetes quantity, as the whole GiB
// the EBS CSI driver rounds a volume up to.
func gibibytes(size string) (float64, error) {
	if size == "" {
		return 0, fmt.Errorf("not set, so the chart's default decides")
	}
	q, err := quantity.ParseQuantity(size)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", size, err)
	}
	if q.Sign() <= 0 {
		return 0, fmt.Errorf("%q is not a size", size)
	}
	return math.Ceil(float64(q.Value()) / (1 << 30)), nil
}

// gp3 baselines, included in its price (docs/parameters.md of
// kubernetes-sigs/aws-ebs-csi-driver gives gp3 3,000 IOPS and 125 MiB/s
// unless the StorageClass asks for more).
const (
	gp3BaselineIOPS       = 3000
	gp3BaselineThroughput = 125
)

// volumeType is the EBS type of the volumes of StorageClass class (the
// cluster's default class when class is empty), read from the program's
// StorageClass: the EBS CSI driver's "type" parameter, gp3 by default
// (kubernetes-sigs/aws-ebs-csi-driver docs/parameters.md).
func (x *estimator) volumeType(class string) (string, error) {
	for _, r := range x.all {
		if r.Type != "kubernetes:storage.k8s.io/v1:StorageClass" {
			continue
		}
		name := str(get(r.Inputs, "metadata", "name"))
		isDefault := str(get(r.Inputs, "metadata", "annotations", "storageclass.kubernetes.io/is-default-class")) == "true"
		if (class != "" && name != class) || (class == "" && !isDefault) {
			continue
		}
		if p := str(get(r.Inputs, "provisioner")); p != "ebs.csi.aws.com" {
			return "", fmt.Errorf("StorageClass %s provisions with %q, not the EBS CSI driver", name, p)
		}
		params := get(r.Inputs, "parameters")
		for k, limit := range map[string]float64{"iops": gp3BaselineIOPS, "throughput": gp3BaselineThroughput, "iopsPerGB": 0} {
			if v, _ := at(params, k); str(v) != "" {
				if n, err := strconv.ParseFloat(str(v), 64); err != nil || n > limit {
					return "", fmt.Errorf("StorageClass %s asks for %s %s, beyond the baseline the snapshot prices", name, k, str(v))
				}
			}
		}
		if t, _ := at(params, "type"); str(t) != "" {
			return str(t), nil
		}
		return "gp3", nil
	}
	if class == "" {
		return "", fmt.Errorf("no StorageClass is named and the program declares no default one, so the volume type is unknown")
	}
	return "", fmt.Errorf("the program declares no StorageClass %q, so the volume type is unknown", class)
}
