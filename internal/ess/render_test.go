package ess

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/matrix-on-aws/homeserver/internal/chartrender"
)

// The renders below use the pinned chart from ../shared/ess-helm (or
// $MATRIX_ESS_CHART); it is loaded once per test binary.
var loadOnce = sync.OnceValues(func() (*chart.Chart, error) {
	path, err := ChartPath()
	if err != nil {
		return nil, err
	}
	return LoadChart(path)
})

func pinnedChart(t testing.TB) *chart.Chart {
	t.Helper()
	c, err := loadOnce()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	testARN      = "arn:aws:acm:eu-west-1:123456789012:certificate/0f6c2a4e-1b2c-4d5e-8f90-123456789abc"
	testPublicIP = "203.0.113.10"
)

func exampleInput() Input {
	return Input{
		ServerName: "example.org",
		Hosts:      DefaultHosts("example.org"),
		WellKnown:  true,
		ElementWeb: true,
		Auth:       AuthSynapse,
		Calls:      CallsNone,
		Ingress:    Ingress{CertificateARN: testARN, GroupName: "matrix-prod"},
		Postgres: Postgres{
			Host: "matrix-prod.c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com", Port: 5432, SSLMode: "require",
			Synapse: Database{Name: "synapse", User: "synapse", Password: SecretRef{Name: "matrix-postgres", Key: "synapse-password"}},
			MAS:     Database{Name: "mas", User: "mas", Password: SecretRef{Name: "matrix-postgres", Key: "mas-password"}},
		},
		Media:      Media{StorageClass: "gp3", Size: "50Gi"},
		SigningKey: SecretRef{Name: "matrix-synapse-signing-key", Key: "signing.key"},
		MASKeys:    MASKeys{Secret: "matrix-mas-keys", Encryption: "encryption", RSA: "rsa.pem", ECDSA: "ecdsa-p256.pem"},
		SFU:        SFU{PublicIP: testPublicIP, EIPAllocationIDs: []string{"eipalloc-0a1b2c3d4e5f60708", "eipalloc-0f1e2d3c4b5a69788"}},
	}
}

// configuration is one point of the matrix the tests and the benchmark
// render.
type configuration struct {
	name     string
	in       Input
	operator map[string]any // matrix:helmValues
}

func configurations() []configuration {
	minimal := exampleInput()
	mas := exampleInput()
	mas.Auth = AuthMAS
	rtc := exampleInput()
	rtc.Calls = CallsElementCall
	full := exampleInput()
	full.Auth, full.Calls = AuthMAS, CallsElementCall
	full.Workers = map[string]int{"synchrotron": 3, "federation-sender": 2, "event-persister": 2, "media-repository": 1, "mas-helper": 1}
	noWeb := exampleInput()
	noWeb.ElementWeb, noWeb.WellKnown = false, false
	noWeb.Workers = map[string]int{"federation-sender": 1, "sso-login": 1}
	return []configuration{
		{name: "minimal", in: minimal},
		{name: "mas", in: mas},
		{name: "rtc", in: rtc},
		{name: "full-workers", in: full},
		{name: "no-web-no-wellknown", in: noWeb},
		{name: "escape-hatch", in: full, operator: map[string]any{
			"ingress": map[string]any{"annotations": map[string]any{
				"alb.ingress.kubernetes.io/wafv2-acl-arn": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/matrix/1",
				albSSLPolicy: "ELBSecurityPolicy-TLS13-1-3-2021-06",
			}},
			"elementWeb": map[string]any{"replicas": 2},
			"synapse": map[string]any{
				"workers":   map[string]any{"synchrotron": map[string]any{"resources": map[string]any{"requests": map[string]any{"memory": "1Gi"}}}},
				"resources": map[string]any{"limits": map[string]any{"memory": "8Gi"}},
			},
		}},
	}
}

// render derives, merges, renders and strictly decodes one configuration.
func render(t testing.TB, c configuration) []chartrender.Object {
	t.Helper()
	values, err := Values(c.in)
	if err != nil {
		t.Fatal(err)
	}
	if values, err = Merge(values, c.operator); err != nil {
		t.Fatal(err)
	}
	ms, err := chartrender.Render(context.Background(), pinnedChart(t), values, RenderOptions())
	if err != nil {
		t.Fatal(err)
	}
	objs, err := chartrender.NewDecoder().Decode(ms)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestRenderMatrix(t *testing.T) {
	for _, c := range configurations() {
		t.Run(c.name, func(t *testing.T) {
			objs := render(t, c)
			t.Logf("%d manifests", len(objs))
			checkIngresses(t, c, objs)
			checkWorkers(t, c.in, objs)
			checkPostgres(t, c.in, objs)
			checkKeptKeys(t, c.in, objs)
			checkSFU(t, c.in, objs)
			checkMedia(t, c.in, objs)
			if c.operator != nil {
				checkOperatorValues(t, objs)
			}
		})
	}
}

func typed[T runtime.Object](objs []chartrender.Object) []T {
	var out []T
	for _, o := range objs {
		if t, ok := o.Object.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

func expectedHosts(in Input) []string {
	hosts := []string{in.Hosts.Synapse}
	if in.ElementWeb {
		hosts = append(hosts, in.Hosts.ElementWeb)
	}
	if in.WellKnown {
		hosts = append(hosts, in.ServerName)
	}
	if in.Auth == AuthMAS {
		hosts = append(hosts, in.Hosts.MAS, in.Hosts.Admin)
	}
	if in.Calls == CallsElementCall {
		hosts = append(hosts, in.Hosts.RTC)
	}
	slices.Sort(hosts)
	return hosts
}

// Every host gets exactly one Ingress, all of them in the one ALB group,
// with class alb, the ACM certificate and HTTPS; operator annotations
// arrive on top.
func checkIngresses(t *testing.T, c configuration, objs []chartrender.Object) {
	t.Helper()
	var hosts []string
	for _, ing := range typed[*networkingv1.Ingress](objs) {
		for _, r := range ing.Spec.Rules {
			hosts = append(hosts, r.Host)
		}
		if class := ing.Spec.IngressClassName; class == nil || *class != "alb" {
			t.Errorf("Ingress %s: ingressClassName %v, want alb", ing.Name, ptrString(class))
		}
		want := map[string]string{
			albCertificate:  c.in.Ingress.CertificateARN,
			albGroupName:    c.in.Ingress.GroupName,
			albScheme:       "internet-facing",
			albTargetType:   "ip",
			albSSLRedirect:  "443",
			albSuccessCodes: "200-499",
		}
		if c.operator != nil {
			want["alb.ingress.kubernetes.io/wafv2-acl-arn"] = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/matrix/1"
			want[albSSLPolicy] = "ELBSecurityPolicy-TLS13-1-3-2021-06"
		}
		for k, v := range want {
			if got := ing.Annotations[k]; got != v {
				t.Errorf("Ingress %s: annotation %s = %q, want %q", ing.Name, k, got, v)
			}
		}
		var ports []map[string]int
		if err := json.Unmarshal([]byte(ing.Annotations[albListenPorts]), &ports); err != nil || !slices.ContainsFunc(ports, func(p map[string]int) bool { return p["HTTPS"] == 443 }) {
			t.Errorf("Ingress %s: listen-ports %q does not open HTTPS 443 (%v)", ing.Name, ing.Annotations[albListenPorts], err)
		}
		for _, tls := range ing.Spec.TLS {
			if tls.SecretName != "" {
				t.Errorf("Ingress %s: TLS Secret %q; the ALB's ACM certificate terminates TLS", ing.Name, tls.SecretName)
			}
		}
	}
	slices.Sort(hosts)
	if want := expectedHosts(c.in); !slices.Equal(hosts, want) {
		t.Errorf("Ingress hosts %v, want one Ingress rule per host %v", hosts, want)
	}
}

func ptrString(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return strconv.Quote(*s)
}

// Each configured worker type runs as its own workload with the replicas
// asked for, and no other worker type runs.
func checkWorkers(t *testing.T, in Input, objs []chartrender.Object) {
	t.Helper()
	got := map[string]int{}
	record := func(labels map[string]string, replicas *int32) {
		name, ok := strings.CutPrefix(labels["app.kubernetes.io/name"], "synapse-")
		if ok && labels["app.kubernetes.io/component"] == "matrix-server" && replicas != nil {
			got[name] = int(*replicas)
		}
	}
	for _, s := range typed[*appsv1.StatefulSet](objs) {
		record(s.Labels, s.Spec.Replicas)
	}
	for _, d := range typed[*appsv1.Deployment](objs) {
		record(d.Labels, d.Spec.Replicas)
	}
	want := map[string]int{"main": 1}
	maps.Copy(want, in.Workers)
	if !maps.Equal(got, want) {
		t.Errorf("Synapse processes and replicas %v, want %v", got, want)
	}
}

// The PostgreSQL passwords reach the pods only from the Secret the program
// creates: the chart mounts it and reads the key at start-up. No value in
// any manifest is a password, and the chart's own database is gone.
func checkPostgres(t *testing.T, in Input, objs []chartrender.Object) {
	t.Helper()
	dbs := []Database{in.Postgres.Synapse}
	if in.Auth == AuthMAS {
		dbs = append(dbs, in.Postgres.MAS)
	}
	for _, db := range dbs {
		mounted := false
		for _, o := range objs {
			spec := podSpec(o.Object)
			if spec == nil {
				continue
			}
			for _, v := range spec.Volumes {
				if v.Secret != nil && v.Secret.SecretName == db.Password.Name {
					mounted = true
				}
			}
			for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
				for _, e := range c.Env {
					if strings.Contains(strings.ToUpper(e.Name), "PASSWORD") && e.Value != "" && !strings.Contains(e.Value, "/secrets/"+db.Password.Name+"/") {
						t.Errorf("%s: env %s = %q is not read from the Secret", o.Source, e.Name, e.Value)
					}
				}
			}
		}
		if !mounted {
			t.Errorf("no pod mounts Secret %s holding %s's password", db.Password.Name, db.Name)
		}
		if !slices.ContainsFunc(objs, func(o chartrender.Object) bool {
			cm, ok := o.Object.(*corev1.ConfigMap)
			return ok && slices.ContainsFunc(slices.Collect(maps.Values(cm.Data)), func(d string) bool {
				return strings.Contains(d, "/secrets/"+db.Password.Name+"/"+db.Password.Key) || strings.Contains(d, "SYNAPSE_POSTGRES_PASSWORD")
			})
		}) {
			t.Errorf("no configuration reads %s's password from /secrets/%s/%s", db.Name, db.Password.Name, db.Password.Key)
		}
	}
	for _, s := range typed[*appsv1.StatefulSet](objs) {
		if s.Labels["app.kubernetes.io/name"] == "postgres" {
			t.Errorf("the chart's own PostgreSQL %s runs beside RDS", s.Name)
		}
	}
}

// Synapse signs with the key the program keeps, and MAS encrypts and signs
// with its: their pods mount those Secrets, and the chart's init job
// generates none of them.
func checkKeptKeys(t *testing.T, in Input, objs []chartrender.Object) {
	t.Helper()
	mounts := func(component, secret string) {
		t.Helper()
		n := 0
		for _, o := range objs {
			spec := podSpec(o.Object)
			if spec == nil || !strings.HasPrefix(o.Object.(metav1.Object).GetLabels()["app.kubernetes.io/name"], component) {
				continue
			}
			n++
			if !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Secret != nil && v.Secret.SecretName == secret }) {
				t.Errorf("%s does not mount the Secret %s", o.Object.(metav1.Object).GetName(), secret)
			}
		}
		if n == 0 {
			t.Errorf("no %s workload rendered", component)
		}
	}
	kept := []string{"SYNAPSE_SIGNING_KEY"}
	mounts("synapse", in.SigningKey.Name)
	if in.Auth == AuthMAS {
		kept = append(kept, "MAS_ENCRYPTION_SECRET", "MAS_RSA_PRIVATE_KEY", "MAS_ECDSA_PRIME256V1_PRIVATE_KEY")
		mounts("matrix-authentication-service", in.MASKeys.Secret)
	}
	for _, o := range objs {
		j, ok := o.Object.(*batchv1.Job)
		if !ok {
			continue
		}
		for _, c := range slices.Concat(j.Spec.Template.Spec.InitContainers, j.Spec.Template.Spec.Containers) {
			for _, k := range kept {
				if slices.ContainsFunc(c.Args, func(a string) bool { return strings.Contains(a, k) }) {
					t.Errorf("%s: container %s generates %s, which the program keeps", o.Source, c.Name, k)
				}
			}
		}
	}
}

func podSpec(o runtime.Object) *corev1.PodSpec {
	switch w := o.(type) {
	case *appsv1.Deployment:
		return &w.Spec.Template.Spec
	case *appsv1.StatefulSet:
		return &w.Spec.Template.Spec
	}
	return nil
}

// With calls, LiveKit's muxed UDP port is one LoadBalancer Service that the
// AWS Load Balancer Controller provisions as an internet-facing NLB with
// the Elastic IPs, health-checked on the SFU container's own HTTP port;
// LiveKit advertises the Elastic IP.
func checkSFU(t *testing.T, in Input, objs []chartrender.Object) {
	t.Helper()
	var lbs []*corev1.Service
	for _, s := range typed[*corev1.Service](objs) {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer || s.Spec.Type == corev1.ServiceTypeNodePort {
			lbs = append(lbs, s)
		}
	}
	if in.Calls != CallsElementCall {
		if len(lbs) > 0 {
			t.Errorf("without calls, %d Services are exposed outside the cluster", len(lbs))
		}
		return
	}
	if len(lbs) != 1 {
		t.Fatalf("%d Services exposed outside the cluster, want the SFU's UDP one only", len(lbs))
	}
	s := lbs[0]
	if s.Spec.Type != corev1.ServiceTypeLoadBalancer || len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Protocol != corev1.ProtocolUDP || s.Spec.Ports[0].NodePort != 0 {
		t.Errorf("Service %s: %s %+v, want a LoadBalancer with one UDP port and no node port", s.Name, s.Spec.Type, s.Spec.Ports)
	}
	pod := sfuPod(t, objs)
	sfu := pod.Containers[0]
	want := map[string]string{
		nlbType:       "external",
		nlbTargetType: "ip",
		nlbScheme:     "internet-facing",
		nlbEIPs:       strings.Join(in.SFU.EIPAllocationIDs, ","),
		nlbHealthPort: strconv.Itoa(int(containerPort(t, sfu, "http"))),
		nlbHealthPath: sfu.ReadinessProbe.HTTPGet.Path,
	}
	for k, v := range want {
		if got := s.Annotations[k]; got != v {
			t.Errorf("Service %s: annotation %s = %q, want %q", s.Name, k, got, v)
		}
	}
	// The chart renders LiveKit's node_ip from NODE_IP in init containers.
	var nodeIPs []string
	for _, c := range slices.Concat(pod.InitContainers, pod.Containers) {
		for _, e := range c.Env {
			if e.Name == "NODE_IP" {
				nodeIPs = append(nodeIPs, e.Value)
			}
		}
	}
	if len(nodeIPs) == 0 || slices.ContainsFunc(nodeIPs, func(ip string) bool { return ip != in.SFU.PublicIP }) {
		t.Errorf("the SFU advertises %v, want %s", nodeIPs, in.SFU.PublicIP)
	}
}

func sfuPod(t *testing.T, objs []chartrender.Object) corev1.PodSpec {
	t.Helper()
	for _, d := range typed[*appsv1.Deployment](objs) {
		if d.Labels["app.kubernetes.io/name"] == "matrix-rtc-sfu" {
			return d.Spec.Template.Spec
		}
	}
	t.Fatal("no SFU Deployment")
	return corev1.PodSpec{}
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port %s", c.Name, name)
	return 0
}

// Media lives on one EBS-backed claim of the asked size and class.
func checkMedia(t *testing.T, in Input, objs []chartrender.Object) {
	t.Helper()
	pvcs := typed[*corev1.PersistentVolumeClaim](objs)
	if len(pvcs) != 1 {
		t.Fatalf("%d PersistentVolumeClaims, want Synapse's media only", len(pvcs))
	}
	p := pvcs[0]
	if p.Spec.StorageClassName == nil || *p.Spec.StorageClassName != in.Media.StorageClass || p.Spec.Resources.Requests.Storage().String() != in.Media.Size {
		t.Errorf("PVC %s: class %v, size %s; want %s, %s", p.Name, p.Spec.StorageClassName, p.Spec.Resources.Requests.Storage(), in.Media.StorageClass, in.Media.Size)
	}
}

// The operator's own values reach the workloads.
func checkOperatorValues(t *testing.T, objs []chartrender.Object) {
	t.Helper()
	for _, d := range typed[*appsv1.Deployment](objs) {
		if d.Labels["app.kubernetes.io/name"] == "element-web" && *d.Spec.Replicas != 2 {
			t.Errorf("Element Web runs %d replicas, matrix:helmValues.elementWeb.replicas says 2", *d.Spec.Replicas)
		}
	}
	for _, s := range typed[*appsv1.StatefulSet](objs) {
		if s.Labels["app.kubernetes.io/name"] == "synapse-main" {
			if got := s.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String(); got != "8Gi" {
				t.Errorf("Synapse's memory limit is %s, matrix:helmValues.synapse.resources says 8Gi", got)
			}
		}
	}
}

// BenchmarkRender measures deriving, rendering and strictly decoding each
// configuration, and reports its number of manifests.
//
//	go test ./internal/ess -run '^$' -bench Render -benchtime 5x
func BenchmarkRender(b *testing.B) {
	pinnedChart(b)
	for _, c := range configurations() {
		b.Run(c.name, func(b *testing.B) {
			var n int
			for b.Loop() {
				n = len(render(b, c))
			}
			b.ReportMetric(float64(n), "manifests")
		})
	}
}
