package cost

import (
	"math"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/ess"
	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// essInput is what the eks topology hands internal/ess: every component,
// calls when asked for, media on the gp3 StorageClass.
func essInput(calls bool) ess.Input {
	in := ess.Input{
		ServerName: "example.org",
		Hosts:      ess.DefaultHosts("example.org"),
		WellKnown:  true,
		ElementWeb: true,
		Auth:       ess.AuthSynapse,
		Calls:      ess.CallsNone,
		Ingress:    ess.Ingress{CertificateARN: "arn:aws:acm:us-east-1:123456789012:certificate/0f6c2a4e-1b2c-4d5e-8f90-123456789abc", GroupName: "matrix-test"},
		Postgres: ess.Postgres{
			Host: "matrix-test.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com", Port: 5432, SSLMode: "require",
			Synapse: ess.Database{Name: "synapse", User: "synapse", Password: ess.SecretRef{Name: "matrix-postgres", Key: "synapse-password"}},
		},
		Media:      ess.Media{StorageClass: "gp3", Size: "50Gi"},
		SigningKey: ess.SecretRef{Name: "matrix-synapse-signing-key", Key: "signing.key"},
	}
	if calls {
		in.Calls = ess.CallsElementCall
		in.SFU = ess.SFU{PublicIP: "203.0.113.10", EIPAllocationIDs: []string{"eipalloc-0a1b2c3d4e5f60708", "eipalloc-0f1e2d3c4b5a69788"}}
	}
	return in
}

func essValues(t *testing.T, calls bool, operator map[string]any) map[string]any {
	t.Helper()
	v, err := ess.Values(essInput(calls))
	if err != nil {
		t.Fatal(err)
	}
	if v, err = ess.Merge(v, operator); err != nil {
		t.Fatal(err)
	}
	return v
}

func nodeGroup(name string, inputs map[string]any) mock.Resource {
	in := map[string]any{"instanceTypes": []any{"t3.medium"}, "diskSize": 30.0,
		"scalingConfig": map[string]any{"desiredSize": 1.0, "minSize": 1.0, "maxSize": 2.0}}
	for k, v := range inputs {
		in[k] = v
	}
	return res("aws:eks/nodeGroup:NodeGroup", name, in)
}

func storageClass(params map[string]any) mock.Resource {
	return res("kubernetes:storage.k8s.io/v1:StorageClass", "gp3", map[string]any{
		"metadata": map[string]any{"name": "gp3"}, "provisioner": "ebs.csi.aws.com", "parameters": params})
}

func release(chart, version string, values map[string]any) mock.Resource {
	in := map[string]any{"chart": chart, "version": version}
	if values != nil {
		in["values"] = values
	}
	return res("kubernetes:helm.sh/v3:Release", chart, in)
}

// eksStack is what the eks topology declares, in two zones: the cluster,
// a node group per zone, the add-ons and access objects, the subnets
// tagged for the controller's load balancers, the StorageClass, the two
// charts and, with calls, the Elastic IPs of the SFU's NLB.
func eksStack(t *testing.T, calls bool) []mock.Resource {
	t.Helper()
	rs := []mock.Resource{
		res("aws:eks/cluster:Cluster", "cluster", map[string]any{"version": "1.35"}),
		nodeGroup("nodes-a", nil),
		nodeGroup("nodes-b", nil),
		res("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "oidc", nil),
		res("aws:eks/accessEntry:AccessEntry", "admin", nil),
		res("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "admin", nil),
		res("aws:eks/podIdentityAssociation:PodIdentityAssociation", "lbc", nil),
		res("aws:iam/policy:Policy", "lbc", nil),
		res("aws:ec2/subnet:Subnet", "db-c", map[string]any{"availabilityZone": "us-east-1c", "tags": map[string]any{"Name": "db-c"}}), // not tagged for load balancers
		res("pulumi:providers:kubernetes", "cluster", nil),
		res("kubernetes:core/v1:Namespace", "matrix", nil),
		res("kubernetes:core/v1:Secret", "matrix-postgres", nil),
		storageClass(map[string]any{"type": "gp3"}),
		release("aws-load-balancer-controller", "1.13.0", nil),
		release("matrix-stack", MatrixStackVersion, essValues(t, calls, nil)),
	}
	rs = append(rs, elbSubnets()...)
	for _, a := range eksFreeAddons {
		rs = append(rs, res("aws:eks/addon:Addon", a, map[string]any{"addonName": a}))
	}
	if calls {
		rs = append(rs, res("aws:ec2/eip:Eip", "rtc-a", nil), res("aws:ec2/eip:Eip", "rtc-b", nil))
	}
	return rs
}

// elbSubnets are public subnets in two zones, tagged for the AWS Load
// Balancer Controller's internet-facing load balancers.
func elbSubnets() []mock.Resource {
	return []mock.Resource{
		res("aws:ec2/subnet:Subnet", "public-a", map[string]any{"availabilityZone": "us-east-1a", "tags": map[string]any{"kubernetes.io/role/elb": "1"}}),
		res("aws:ec2/subnet:Subnet", "public-b", map[string]any{"availabilityZone": "us-east-1b", "tags": map[string]any{"kubernetes.io/role/elb": "1"}}),
	}
}

func byItem(e Estimate) map[string]Line {
	lines := map[string]Line{}
	for _, l := range e.Lines {
		lines[l.Item] = l
	}
	return lines
}

// TestEKSEstimate prices the eks topology line by line: the control
// plane, each node with its gp2 root volume and public address, the one
// ALB of the chart's Ingresses with an address in each tagged zone, the
// media volume and its snapshots, and with calls the SFU's NLB (whose
// addresses are the Elastic IPs).
func TestEKSEstimate(t *testing.T) {
	s := snapshot(t)
	const r = "us-east-1"
	p := func(key string) float64 { return usd(t, s, r, key) }
	h := float64(HoursPerMonth)
	for _, calls := range []bool{false, true} {
		e, err := FromResources(s, r, eksStack(t, calls))
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Unpriced) > 0 {
			t.Errorf("calls %v: unpriced %v", calls, e.Unpriced)
		}
		want := map[string]float64{
			"EKS control plane":                p(KeyEKSCluster) * h,
			"EKS node t3.medium":               2 * p(InstanceKey("t3.medium")) * h,
			"Node root volume":                 2 * 30 * p(KeyGP2),
			"Public IPv4 of a node":            2 * p(KeyPublicIPv4) * h,
			"Application Load Balancer":        p(KeyALBHour) * h,
			"Load balancer capacity units":     LCUs * p(KeyALBLCU) * h,
			"Public IPv4 of the load balancer": 2 * p(KeyPublicIPv4) * h,
			"Synapse media volume":             50 * p(KeyGP3),
			"Daily snapshots":                  50 * SnapshotShare * p(KeySnapshot),
		}
		if calls {
			want["Network Load Balancer (calls)"] = p(KeyNLBHour) * h
			want["Load balancer capacity units (calls)"] = CallNLCUs * p(KeyNLBNLCU) * h
			want["Elastic IP"] = 2 * p(KeyPublicIPv4) * h
		}
		lines := byItem(e)
		var total float64
		for item, w := range want {
			total += w
			if l, ok := lines[item]; !ok || math.Abs(l.Monthly-w) > 1e-9 {
				t.Errorf("calls %v: %s = %+v, want $%.4f", calls, item, l, w)
			}
		}
		if len(lines) != len(want) || math.Abs(e.Total()-total) > 1e-9 {
			t.Errorf("calls %v: total $%.4f, want $%.4f:\n%s", calls, e.Total(), total, e.Markdown())
		}
		if l := lines["EKS node t3.medium"]; !strings.HasPrefix(l.Basis, "2 × $") {
			t.Errorf("the nodes of both groups are not one line with their count: %+v", l)
		}
		if l := lines["Node root volume"]; !strings.Contains(l.Basis, "30 GiB gp2") {
			t.Errorf("node volume basis %q", l.Basis)
		}
		if md := e.Markdown(); !strings.Contains(md, "once Kubernetes 1.35 leaves standard support after 2027-03-27 the cluster is billed $0.60 per cluster-hour") {
			t.Errorf("no note on extended support:\n%s", md)
		}
	}
}

// TestEKSTypesHaveRules: every type the eks topology declares has its own
// rule, a price or free with the reason, and the Kubernetes objects that
// make AWS create resources are not free.
func TestEKSTypesHaveRules(t *testing.T) {
	rules := TypeRules()
	priced := []string{
		"aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup", "aws:eks/addon:Addon",
		"aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "kubernetes:helm.sh/v3:Release",
		"kubernetes:core/v1:Service", "kubernetes:networking.k8s.io/v1:Ingress",
		"kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:PersistentVolume", "kubernetes:apps/v1:StatefulSet",
	}
	free := []string{
		"aws:iam/openIdConnectProvider:OpenIdConnectProvider", "aws:eks/accessEntry:AccessEntry",
		"aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "aws:eks/podIdentityAssociation:PodIdentityAssociation",
		"pulumi:providers:kubernetes", "kubernetes:core/v1:Namespace", "kubernetes:core/v1:Secret",
		"kubernetes:storage.k8s.io/v1:StorageClass", "kubernetes:apps/v1:Deployment", "kubernetes:core/v1:ConfigMap",
	}
	for _, typ := range priced {
		if r, ok := rules.For(typ); !ok || r.Price == nil {
			t.Errorf("%s: rule %+v, want a price", typ, r)
		}
	}
	for _, typ := range free {
		if r, ok := rules.For(typ); !ok || r.Price != nil || r.Free == "" {
			t.Errorf("%s: rule %+v, want free with the reason", typ, r)
		}
	}
	for _, typ := range []string{"kubernetes:helm.sh/v4:Chart", "kubernetes:yaml/v2:ConfigGroup", "kubernetes:kustomize/v2:Directory", "aws:eks/fargateProfile:FargateProfile"} {
		if r, ok := rules.For(typ); ok {
			t.Errorf("%s has rule %+v; what it installs is unknown to the estimate", typ, r)
		}
	}
}

// TestUnknownChartFails: a release of a chart without a rule, or of a
// version its rule was not checked against, fails the estimate.
func TestUnknownChartFails(t *testing.T) {
	s := snapshot(t)
	for _, c := range []struct {
		rel  mock.Resource
		want string
	}{
		{release("ingress-nginx", "4.12.0", nil), `installs chart "ingress-nginx", which has no price rule`},
		{release("oci://registry-1.docker.io/bitnamicharts/redis", "20.0.0", nil), `installs chart "redis", which has no price rule`},
		{release("matrix-stack", "27.1.0", map[string]any{}), `installs matrix-stack version "27.1.0", but its price rule was checked against ` + MatrixStackVersion},
		{release("matrix-stack", "", map[string]any{}), `installs matrix-stack version ""`},
	} {
		_, err := FromResources(s, "us-east-1", []mock.Resource{c.rel})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: err %v, want %q", get(c.rel.Inputs, "chart").StringValue(), get(c.rel.Inputs, "version").StringValue(), err, c.want)
		}
	}
	// The packaged chart internal/ess pins is the same chart and version.
	e, err := FromResources(s, "us-east-1", append(elbSubnets(), storageClass(nil),
		release("../shared/ess-helm/matrix-stack-"+MatrixStackVersion+".tgz", "", essValues(t, false, nil))))
	if err != nil || len(e.Unpriced) > 0 || byItem(e)["Synapse media volume"].Monthly == 0 {
		t.Errorf("packaged chart: err %v, unpriced %v\n%s", err, e.Unpriced, e.Markdown())
	}
}

func TestChartRef(t *testing.T) {
	for _, c := range []struct{ chart, version, name, wantVersion string }{
		{"matrix-stack", "26.8.1", "matrix-stack", "26.8.1"},
		{"oci://ghcr.io/element-hq/ess-helm/matrix-stack", "26.8.1", "matrix-stack", "26.8.1"},
		{"../shared/ess-helm/matrix-stack-26.8.1.tgz", "", "matrix-stack", "26.8.1"},
		{"charts/aws-load-balancer-controller-1.13.0-rc.1.tgz", "", "aws-load-balancer-controller", "1.13.0-rc.1"},
		{"charts/local.tgz", "2.0.0", "local", "2.0.0"},
	} {
		if name, v := chartRef(c.chart, c.version); name != c.name || v != c.wantVersion {
			t.Errorf("chartRef(%q, %q) = %q, %q; want %q, %q", c.chart, c.version, name, v, c.name, c.wantVersion)
		}
	}
}

// TestNodeGroupCases: the EKS default disk size, and the node groups the
// rule cannot price reported rather than guessed.
func TestNodeGroupCases(t *testing.T) {
	s := snapshot(t)
	e, err := FromResources(s, "us-east-1", []mock.Resource{
		nodeGroup("default-disk", map[string]any{"diskSize": nil}),
		nodeGroup("none", map[string]any{"scalingConfig": map[string]any{"desiredSize": 0.0}}),
		nodeGroup("lt", map[string]any{"diskSize": nil, "launchTemplate": map[string]any{"id": "lt-0123", "version": "1"}}),
		nodeGroup("spot", map[string]any{"capacityType": "SPOT"}),
		nodeGroup("windows", map[string]any{"amiType": "WINDOWS_CORE_2022_x86_64"}),
		nodeGroup("arm", map[string]any{"amiType": "AL2023_ARM_64_STANDARD", "instanceTypes": []any{"t4g.medium"}}),
		nodeGroup("no-type", map[string]any{"instanceTypes": []any{}}),
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := byItem(e)
	if l := lines["Node root volume"]; !strings.Contains(l.Basis, "20 GiB gp2") || !strings.HasPrefix(l.Basis, "20 GiB") {
		t.Errorf("a node group without diskSize gets EKS's 20 GiB: %+v", l)
	}
	if _, ok := lines["EKS node t4g.medium"]; !ok {
		t.Errorf("an Amazon Linux ARM group is priced: %v", e.Lines)
	}
	if l := lines["EKS node t3.medium"]; strings.Contains(l.Basis, "×") {
		t.Errorf("only the default-disk group has a t3.medium node: %+v", l)
	}
	un := strings.Join(e.Unpriced, "\n")
	for _, w := range []string{"EKS node group lt: a launch template", "EKS node group spot: capacity type SPOT", "EKS node group windows: AMI type WINDOWS", "EKS node group no-type: no instanceTypes"} {
		if !strings.Contains(un, w) {
			t.Errorf("unpriced lacks %q:\n%s", w, un)
		}
	}
	if len(e.Unpriced) != 4 {
		t.Errorf("unpriced %v", e.Unpriced)
	}
}

func TestEKSClusterNotes(t *testing.T) {
	s := snapshot(t)
	e, err := FromResources(s, "eu-central-1", []mock.Resource{
		res("aws:eks/cluster:Cluster", "cluster", map[string]any{"version": "1.33", "upgradePolicy": map[string]any{"supportType": "STANDARD"},
			"computeConfig": map[string]any{"enabled": true}}),
		res("aws:eks/addon:Addon", "x", map[string]any{"addonName": "kubecost_kubecost"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	md := e.Markdown()
	for _, w := range []string{"upgrade policy is STANDARD: EKS upgrades Kubernetes 1.33", "Auto Mode's management fee", `EKS add-on x ("kubecost_kubecost"): not one of the AWS add-ons known to be free`} {
		if !strings.Contains(md, w) {
			t.Errorf("estimate lacks %q:\n%s", w, md)
		}
	}
	if strings.Contains(md, "extended support:") {
		t.Errorf("a STANDARD cluster is never in extended support:\n%s", md)
	}
}

// TestNATGateway prices the gateway's hours and the assumed data it
// processes; where the snapshot lacks the GB price the gap is named.
func TestNATGateway(t *testing.T) {
	s := snapshot(t)
	e, err := FromResources(s, "us-east-1", []mock.Resource{res("aws:ec2/natGateway:NatGateway", "nat", nil)})
	if err != nil {
		t.Fatal(err)
	}
	want := usd(t, s, "us-east-1", KeyNATHour)*HoursPerMonth + NATGB*usd(t, s, "us-east-1", KeyNATGB)
	if math.Abs(e.Total()-want) > 1e-9 || len(e.Lines) != 2 || !strings.Contains(byItem(e)["NAT gateway data processing"].Basis, "~50 GB processed") {
		t.Errorf("total %.4f, want %.4f:\n%s", e.Total(), want, e.Markdown())
	}
	e, err = FromResources(s, "eu-central-1", []mock.Resource{res("aws:ec2/natGateway:NatGateway", "nat", nil)})
	if err != nil || len(e.Unpriced) != 1 || !strings.Contains(e.Unpriced[0], "NAT gateway data processing: vpc:nat-gateway-gb in eu-central-1") {
		t.Errorf("err %v, unpriced %v", err, e.Unpriced)
	}
}

// TestKubernetesObjects: objects the program declares itself are free,
// except those a controller turns into AWS resources, which are named.
func TestKubernetesObjects(t *testing.T) {
	s := snapshot(t)
	e, err := FromResources(s, "us-east-1", []mock.Resource{
		res("kubernetes:core/v1:Service", "web", map[string]any{"spec": map[string]any{"type": "ClusterIP"}}),
		res("kubernetes:core/v1:Service", "udp", map[string]any{"spec": map[string]any{"type": "LoadBalancer"}}),
		res("kubernetes:networking.k8s.io/v1:Ingress", "web", nil),
		res("kubernetes:core/v1:PersistentVolumeClaim", "data", nil),
		res("kubernetes:apps/v1:StatefulSet", "db", map[string]any{"spec": map[string]any{"volumeClaimTemplates": []any{map[string]any{}}}}),
		res("kubernetes:apps/v1:StatefulSet", "cache", map[string]any{"spec": map[string]any{}}),
		res("kubernetes:batch/v1:CronJob", "backup", nil),
		res("kubernetes:helm.sh/v4:Chart", "other", nil),
	})
	if err != nil {
		t.Fatal(err)
	}
	un := strings.Join(e.Unpriced, "\n")
	for _, w := range []string{"Service udp: a Service of type LoadBalancer", "Ingress web: the AWS Load Balancer Controller", "PersistentVolumeClaim data", "StatefulSet db: its volumeClaimTemplates", "kubernetes:helm.sh/v4:Chart other: no price rule"} {
		if !strings.Contains(un, w) {
			t.Errorf("unpriced lacks %q:\n%s", w, un)
		}
	}
	if len(e.Unpriced) != 5 || len(e.Lines) != 0 {
		t.Errorf("lines %v, unpriced %v", e.Lines, e.Unpriced)
	}
}

// TestMatrixStackCases: what the rule reads from the values, and what it
// reports instead of guessing.
func TestMatrixStackCases(t *testing.T) {
	s := snapshot(t)
	estimate := func(values map[string]any, extra ...mock.Resource) Estimate {
		t.Helper()
		rs := append(elbSubnets(), extra...)
		e, err := FromResources(s, "us-east-1", append(rs, release("matrix-stack", MatrixStackVersion, values)))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	gp3 := storageClass(map[string]any{"type": "gp3"})
	set := func(v map[string]any, value any, path ...string) map[string]any {
		m := v
		for _, k := range path[:len(path)-1] {
			if _, ok := m[k].(map[string]any); !ok {
				m[k] = map[string]any{}
			}
			m = m[k].(map[string]any)
		}
		m[path[len(path)-1]] = value
		return v
	}
	for _, c := range []struct {
		name     string
		values   map[string]any
		extra    []mock.Resource
		unpriced string // "" for none
		check    func(lines map[string]Line) bool
	}{
		{name: "gp2 class", values: essValues(t, false, nil), extra: []mock.Resource{storageClass(map[string]any{"type": "gp2"})},
			check: func(l map[string]Line) bool { return strings.Contains(l["Synapse media volume"].Basis, "50 GiB gp2") }},
		{name: "driver default type", values: essValues(t, false, nil), extra: []mock.Resource{storageClass(nil)},
			check: func(l map[string]Line) bool { return strings.Contains(l["Synapse media volume"].Basis, "50 GiB gp3") }},
		{name: "size rounded up to GiB", values: set(essValues(t, false, nil), "1500Mi", "synapse", "media", "storage", "size"), extra: []mock.Resource{gp3},
			check: func(l map[string]Line) bool { return strings.Contains(l["Synapse media volume"].Basis, "2 GiB gp3") }},
		{name: "operator annotation", values: essValues(t, false, map[string]any{"ingress": map[string]any{"annotations": map[string]any{"alb.ingress.kubernetes.io/wafv2-acl-arn": "arn"}}}), extra: []mock.Resource{gp3},
			check: func(l map[string]Line) bool { _, ok := l["Application Load Balancer"]; return ok }},
		{name: "provisioned IOPS", values: essValues(t, false, nil), extra: []mock.Resource{storageClass(map[string]any{"type": "gp3", "iops": "6000"})},
			unpriced: "StorageClass gp3 asks for iops 6000, beyond the baseline"},
		{name: "baseline IOPS", values: essValues(t, false, nil), extra: []mock.Resource{storageClass(map[string]any{"type": "gp3", "iops": "3000", "throughput": "125"})},
			check: func(l map[string]Line) bool { return l["Synapse media volume"].Monthly > 0 }},
		{name: "io2 class", values: essValues(t, false, nil), extra: []mock.Resource{storageClass(map[string]any{"type": "io2"})},
			unpriced: "EBS type io2"},
		{name: "no StorageClass", values: essValues(t, false, nil), unpriced: `the program declares no StorageClass "gp3"`},
		{name: "bad size", values: set(essValues(t, false, nil), "fifty", "synapse", "media", "storage", "size"), extra: []mock.Resource{gp3},
			unpriced: `values.synapse.media.storage.size: "fifty"`},
		{name: "existing claim", values: set(essValues(t, false, nil), "media-2024", "synapse", "media", "storage", "existingClaim"), extra: []mock.Resource{gp3},
			unpriced: `existingClaim "media-2024" is a volume the program does not create`},
		{name: "hookshot encryption", values: essValues(t, false, map[string]any{"hookshot": map[string]any{"enabled": true, "enableEncryption": true}}), extra: []mock.Resource{gp3},
			unpriced: "Hookshot (Helm release matrix-stack): with values.hookshot.enableEncryption"},
		{name: "chart's postgres", values: set(essValues(t, false, nil), true, "postgres", "enabled"), extra: []mock.Resource{gp3},
			unpriced: "the chart's own PostgreSQL"},
		{name: "no group", values: set(essValues(t, false, nil), "", "ingress", "annotations", albGroupName), extra: []mock.Resource{gp3},
			unpriced: "each Ingress would get a load balancer of its own"},
		{name: "no LB type", values: set(essValues(t, true, nil), map[string]any{}, "matrixRTC", "sfu", "exposedServices", "rtcMuxedUdp", "annotations"), extra: []mock.Resource{gp3},
			unpriced: "would make a Classic Load Balancer"},
	} {
		e := estimate(c.values, c.extra...)
		un := strings.Join(e.Unpriced, "\n")
		switch {
		case c.unpriced == "" && un != "":
			t.Errorf("%s: unpriced %s", c.name, un)
		case c.unpriced != "" && !strings.Contains(un, c.unpriced):
			t.Errorf("%s: unpriced %q lacks %q", c.name, un, c.unpriced)
		case c.check != nil && !c.check(byItem(e)):
			t.Errorf("%s:\n%s", c.name, e.Markdown())
		}
	}
	// An internal ALB has no public addresses.
	internal := set(essValues(t, false, nil), "internal", "ingress", "annotations", albScheme)
	if _, ok := byItem(estimate(internal, gp3))["Public IPv4 of the load balancer"]; ok {
		t.Error("an internal ALB priced public addresses")
	}
	// Without Elastic IPs, the NLB has an address in each tagged zone
	// (a second subnet in a zone adds none).
	noEIPs := set(essValues(t, true, nil), "", "matrixRTC", "sfu", "exposedServices", "rtcMuxedUdp", "annotations", nlbEIPs)
	subnet := res("aws:ec2/subnet:Subnet", "a", map[string]any{"availabilityZone": "us-east-1a", "tags": map[string]any{"kubernetes.io/role/elb": ""}})
	if l := byItem(estimate(noEIPs, gp3, subnet))["Public IPv4 of the load balancer"]; !strings.HasPrefix(l.Basis, "2 × 2 public IPv4") {
		t.Errorf("ALB and NLB addresses in two zones: %+v", l)
	}
	// Secrets in the values are read through.
	secret := essValues(t, false, nil)
	secret["synapse"] = resource.MakeSecret(resource.NewPropertyValue(secret["synapse"]))
	if e := estimate(secret, gp3); byItem(e)["Synapse media volume"].Monthly == 0 {
		t.Errorf("secret values:\n%s", e.Markdown())
	}
}

// TestLoadBalancerAddressesNeedSubnets: an internet-facing load balancer
// in no tagged subnet is reported, not priced as zero addresses.
func TestLoadBalancerAddressesNeedSubnets(t *testing.T) {
	s := snapshot(t)
	e, err := FromResources(s, "us-east-1", []mock.Resource{storageClass(nil), release("matrix-stack", MatrixStackVersion, essValues(t, false, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Unpriced) != 1 || !strings.Contains(e.Unpriced[0], "no subnet is tagged kubernetes.io/role/elb") {
		t.Errorf("unpriced %v", e.Unpriced)
	}
}

// TestLoadBalancerZonesFromTagResources: the eks topology tags the shared
// network's subnets with aws:ec2/tag:Tag resources; the load balancer's
// addresses follow the zones of the subnets they tag, and an unknown
// subnet ID (a preview) counts the tag as its zone.
func TestLoadBalancerZonesFromTagResources(t *testing.T) {
	s := snapshot(t)
	subnet := func(name, zone, id string) mock.Resource {
		r := res("aws:ec2/subnet:Subnet", name, map[string]any{"availabilityZone": zone})
		r.ID = id
		return r
	}
	tag := func(name string, id any, key string) mock.Resource {
		return res("aws:ec2/tag:Tag", name, map[string]any{"resourceId": id, "key": key, "value": "1"})
	}
	addresses := func(extra ...mock.Resource) string {
		t.Helper()
		all := append([]mock.Resource{storageClass(nil), release("matrix-stack", MatrixStackVersion, essValues(t, false, nil))}, extra...)
		e, err := FromResources(s, "us-east-1", all)
		if err != nil {
			t.Fatal(err)
		}
		return byItem(e)["Public IPv4 of the load balancer"].Basis
	}
	a, b, c := subnet("a", "us-east-1a", "subnet-a"), subnet("b", "us-east-1b", "subnet-b"), subnet("c", "us-east-1a", "subnet-c")
	if got := addresses(a, b, c, tag("t-a", "subnet-a", "kubernetes.io/role/elb"), tag("t-b", "subnet-b", "kubernetes.io/role/elb")); !strings.HasPrefix(got, "2 public IPv4") {
		t.Errorf("two tagged subnets in two zones: %q", got)
	}
	if got := addresses(a, b, c, tag("t-a", "subnet-a", "kubernetes.io/role/elb"), tag("t-c", "subnet-c", "kubernetes.io/role/elb")); !strings.HasPrefix(got, "1 public IPv4") {
		t.Errorf("two tagged subnets in one zone: %q", got)
	}
	if got := addresses(a, b, tag("t-a", "subnet-a", "kubernetes.io/role/internal-elb"), tag("t-b", "subnet-b", "kubernetes.io/role/elb")); !strings.HasPrefix(got, "1 public IPv4") {
		t.Errorf("an internal-elb tag counted: %q", got)
	}
	unknown := resource.MakeComputed(resource.NewStringProperty(""))
	if got := addresses(tag("t-a", unknown, "kubernetes.io/role/elb"), tag("t-b", unknown, "kubernetes.io/role/elb")); !strings.HasPrefix(got, "2 public IPv4") {
		t.Errorf("tags of subnets not created yet: %q", got)
	}
}

// TestEKSSupportCalendar: a cluster whose Kubernetes version left standard
// support before the snapshot's date is priced at the extended support
// rate; one still in standard support at the standard rate, with the date
// it ends; one the calendar does not know, at the standard rate with a
// note saying so.
func TestEKSSupportCalendar(t *testing.T) {
	s := snapshot(t)
	control := func(version string) (Line, string) {
		t.Helper()
		e, err := FromResources(s, "eu-central-1", []mock.Resource{res("aws:eks/cluster:Cluster", "cluster", map[string]any{"version": version})})
		if err != nil {
			t.Fatal(err)
		}
		return byItem(e)["EKS control plane"], e.Markdown()
	}
	std, ext := s.Regions["eu-central-1"][KeyEKSCluster].USD, s.Regions["eu-central-1"][KeyEKSExtended].USD
	for version, ends := range standardSupportEnds {
		l, md := control(version)
		want := std
		if ends < s.Date {
			want = ext
			if !strings.Contains(l.Basis, "standard support ended "+ends) {
				t.Errorf("%s: basis %q does not say when standard support ended", version, l.Basis)
			}
		} else if !strings.Contains(md, "leaves standard support after "+ends) {
			t.Errorf("%s: no note of the end of standard support:\n%s", version, md)
		}
		if math.Abs(l.Monthly-want*HoursPerMonth) > 0.01 {
			t.Errorf("%s (standard support until %s, snapshot %s): $%.2f a month, want $%.2f", version, ends, s.Date, l.Monthly, want*HoursPerMonth)
		}
	}
	if l, md := control("1.99"); math.Abs(l.Monthly-std*HoursPerMonth) > 0.01 || !strings.Contains(md, "not in internal/cost's support calendar") {
		t.Errorf("unknown version: %+v\n%s", l, md)
	}
}

// TestDefaultKubernetesVersionInStandardSupport: the eks topology's default
// version is in standard support on the snapshot's date, so a new cluster
// is not billed extended support from its first hour.
func TestDefaultKubernetesVersionInStandardSupport(t *testing.T) {
	s := snapshot(t)
	ends, ok := standardSupportEnds[ess.KubeVersion]
	if !ok || ends < s.Date {
		t.Errorf("default Kubernetes %s: standard support ends %q, snapshot %s; raise ess.KubeVersion", ess.KubeVersion, ends, s.Date)
	}
}
