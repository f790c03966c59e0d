// Package ess derives the values of Element's ESS Community Helm chart
// (matrix-stack, pinned in chart.go) for the eks topology, and merges the
// operator's own chart values (matrix:helmValues) over them, refusing the
// values the program owns.
//
// What the eks topology will call, once infra/ is split per topology, all
// before it declares any resource (a render takes about a second, see
// BenchmarkRender):
//
//	in := ess.Input{...}                         // from the stack config and the AWS resources it declares
//	derived, err := ess.Values(in)               // mistakes in Input, all at once
//	values, err := ess.Merge(derived, operator)  // every refused matrix:helmValues.<path>, all at once
//	path, err := ess.ChartPath()
//	chart, err := ess.LoadChart(path)            // checks the pinned digest
//	ms, err := chartrender.Render(ctx, chart, values, ess.RenderOptions()) // the chart's schema and validation template
//	_, err = chartrender.NewDecoder().Decode(ms) // strict Kubernetes API types
//
// then installs the same archive with the same values as a helm.v3.Release
// in the namespace and under the release name of RenderOptions, on a
// cluster of KubeVersion running the AWS Load Balancer Controller (class
// alb) and the EBS CSI driver (StorageClass Media.StorageClass). It creates
// the Secret(s) named by Input.Postgres.*.Password itself, from the RDS
// passwords: the values only reference them, and the chart mounts them as
// files (it uses no secretKeyRef), so no password is in the values, the
// release or its manifests.
package ess

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Auth says who authenticates users.
type Auth string

const (
	AuthSynapse Auth = "synapse" // Synapse's own password logins
	AuthMAS     Auth = "mas"     // Matrix Authentication Service (OIDC-native)
)

// Calls says which calling stack runs.
type Calls string

const (
	CallsNone        Calls = "none"
	CallsElementCall Calls = "element-call" // MatrixRTC: LiveKit SFU + its JWT service
)

// Input is what the eks topology knows from the stack config and from the
// AWS resources it declares.
type Input struct {
	ServerName string // matrix:domain, the server name in user IDs
	Hosts      Hosts
	// WellKnown serves /.well-known/matrix/* on ServerName itself
	// (matrix:serveBaseDomain).
	WellKnown  bool
	ElementWeb bool // matrix:element
	Auth       Auth
	Calls      Calls
	Ingress    Ingress
	Postgres   Postgres
	// Workers are the Synapse worker types to run, with their replica
	// counts; absent types do not run. See WorkerTypes.
	Workers map[string]int
	Media   Media
	SFU     SFU // used when Calls is CallsElementCall
	// SigningKey is the Secret holding Synapse's signing key, in
	// Synapse's key file format. The program makes it once and keeps it
	// with the stack: the chart would generate one into a Secret of its
	// own, and a rebuilt cluster would give the server a new identity in
	// federation.
	SigningKey SecretRef
	// MASKeys hold MAS's encryption secret and signing keys, used with
	// AuthMAS. Kept with the stack for the same reason: the chart would
	// generate them, and after a rebuild MAS could not decrypt what its
	// database holds, and every session it signed would end.
	MASKeys MASKeys
}

// MASKeys name the keys of one Secret: the encryption secret (64 hex
// digits) and the RSA and ECDSA P-256 private keys (PEM), which MAS reads
// as files.
type MASKeys struct {
	Secret                 string
	Encryption, RSA, ECDSA string
}

// Hosts are the fully qualified hostnames of the components served over
// HTTPS; each needs a DNS record and a name on the certificate.
type Hosts struct {
	Synapse    string
	ElementWeb string
	MAS        string // used with AuthMAS
	Admin      string // Element Admin, used with AuthMAS
	RTC        string // used with CallsElementCall
}

// DefaultHosts names the components under domain as the program does.
func DefaultHosts(domain string) Hosts {
	return Hosts{
		Synapse:    "matrix." + domain,
		ElementWeb: "element." + domain,
		MAS:        "account." + domain,
		Admin:      "admin." + domain,
		RTC:        "rtc." + domain,
	}
}

// Ingress is how the AWS Load Balancer Controller exposes the hosts: one
// internet-facing ALB shared by every Ingress of the release, terminating
// TLS with an ACM certificate.
type Ingress struct {
	CertificateARN string // ACM certificate covering every host
	// GroupName joins the chart's Ingresses into one ALB
	// (alb.ingress.kubernetes.io/group.name); without it each Ingress
	// would get a load balancer of its own.
	GroupName string
	// LoadBalancerName fixes the ALB's name, so the program finds it to
	// point the DNS records at it (alb.ingress.kubernetes.io/load-balancer-name,
	// at most 32 characters); empty lets the controller choose.
	LoadBalancerName string
	// DualStack gives the ALB IPv6 too, for AAAA records.
	DualStack bool
}

// ChartRepository is where the pinned chart is published (OCI).
const ChartRepository = "oci://ghcr.io/element-hq/ess-helm"

// Postgres is the external PostgreSQL server (RDS) of Synapse and MAS.
type Postgres struct {
	Host string
	Port int
	// SSLMode is libpq's sslmode: "require" encrypts; "verify-full"
	// would also need the RDS CA bundle mounted in every pod that connects,
	// which the chart does not do.
	SSLMode string
	Synapse Database
	MAS     Database // used with AuthMAS
}

// Database is one component's database and the Secret holding its password.
type Database struct {
	Name     string
	User     string
	Password SecretRef
}

// SecretRef points at a key of a Kubernetes Secret in the release's
// namespace.
type SecretRef struct {
	Name string
	Key  string
}

// Media is where Synapse keeps uploaded media: a PersistentVolumeClaim,
// which on EKS is an EBS volume (the chart has no S3 media store).
type Media struct {
	StorageClass string // e.g. "gp3", a StorageClass of the EBS CSI driver
	Size         string // Kubernetes quantity, e.g. "50Gi"
}

// SFU is how LiveKit's media (RTP over one muxed UDP port) reaches clients:
// a Service of type LoadBalancer, provisioned as an NLB by the AWS Load
// Balancer Controller. LiveKit advertises one public address in its ICE
// candidates, so the NLB gets Elastic IPs and LiveKit is told which one.
type SFU struct {
	PublicIP string // the Elastic IP LiveKit advertises
	// EIPAllocationIDs, one per subnet of the NLB, in subnet order; one
	// of them holds PublicIP.
	EIPAllocationIDs []string
}

// Values derives the chart's values from in. Every problem with in is
// reported at once.
func Values(in Input) (map[string]any, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	v := map[string]any{
		"serverName": in.ServerName,
		"ingress":    ingress(in.Ingress),
		"storage":    map[string]any{"storageClassName": in.Media.StorageClass},
		// The chart's own single-pod PostgreSQL is replaced by RDS.
		"postgres":   map[string]any{"enabled": false},
		"synapse":    synapse(in),
		"elementWeb": component(in.ElementWeb, in.Hosts.ElementWeb),
		// Served at ServerName itself: the chart takes no host for it.
		"wellKnownDelegation":         map[string]any{"enabled": in.WellKnown},
		"matrixAuthenticationService": mas(in),
		// Element Admin signs in with OAuth 2.0, which only MAS offers
		// (element-hq/element-admin's README; the chart does not say).
		"elementAdmin": component(in.Auth == AuthMAS, in.Hosts.Admin),
		"matrixRTC":    matrixRTC(in),
	}
	return v, nil
}

// ALB annotations (kubernetes-sigs/aws-load-balancer-controller,
// docs/guide/ingress/annotations.md).
const (
	albScheme       = "alb.ingress.kubernetes.io/scheme"
	albTargetType   = "alb.ingress.kubernetes.io/target-type"
	albListenPorts  = "alb.ingress.kubernetes.io/listen-ports"
	albSSLRedirect  = "alb.ingress.kubernetes.io/ssl-redirect"
	albCertificate  = "alb.ingress.kubernetes.io/certificate-arn"
	albGroupName    = "alb.ingress.kubernetes.io/group.name"
	albSSLPolicy    = "alb.ingress.kubernetes.io/ssl-policy"
	albSuccessCodes = "alb.ingress.kubernetes.io/success-codes"
	albName         = "alb.ingress.kubernetes.io/load-balancer-name"
	albAddressType  = "alb.ingress.kubernetes.io/ip-address-type"
	ingressClassALB = "alb"
)

func ingress(in Ingress) map[string]any {
	v := ingressValues(in)
	a := v["annotations"].(map[string]any)
	if in.LoadBalancerName != "" {
		a[albName] = in.LoadBalancerName
	}
	if in.DualStack {
		a[albAddressType] = "dualstack"
	}
	return v
}

func ingressValues(in Ingress) map[string]any {
	return map[string]any{
		"className": ingressClassALB,
		// TLS ends at the ALB with the ACM certificate: the chart's tls
		// block then lists the hosts without a Secret, which the controller
		// ignores in favour of certificate-arn.
		"tlsEnabled": true,
		"annotations": map[string]any{
			albScheme:      "internet-facing",
			albTargetType:  "ip", // pods directly: no NodePorts to open
			albListenPorts: `[{"HTTP": 80}, {"HTTPS": 443}]`,
			albSSLRedirect: "443",
			albCertificate: in.CertificateARN,
			albGroupName:   in.GroupName,
			// TLS 1.3 and 1.2 only; the operator may choose another.
			albSSLPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
			// Which pods receive traffic is decided by their readiness
			// (the chart's probes) through the Service endpoints the
			// controller registers. The ALB's own check of "/" only needs
			// the pod to answer HTTP: behind one Ingress the chart mixes
			// backends whose "/" answers 200, a redirect or 404.
			albSuccessCodes: "200-499",
		},
	}
}

func component(enabled bool, host string) map[string]any {
	c := map[string]any{"enabled": enabled}
	if enabled {
		c["ingress"] = map[string]any{"host": host}
	}
	return c
}

func postgres(pg Postgres, db Database) map[string]any {
	return map[string]any{
		"host":     pg.Host,
		"port":     pg.Port,
		"sslMode":  pg.SSLMode,
		"database": db.Name,
		"user":     db.User,
		// A reference only: the chart mounts the Secret's key.
		"password": map[string]any{"secret": db.Password.Name, "secretKey": db.Password.Key},
	}
}

func synapse(in Input) map[string]any {
	workers := map[string]any{}
	for _, t := range slices.Sorted(maps.Keys(in.Workers)) {
		workers[t] = map[string]any{"enabled": true, "replicas": in.Workers[t]}
	}
	return map[string]any{
		"enabled":  true,
		"ingress":  map[string]any{"host": in.Hosts.Synapse},
		"postgres": postgres(in.Postgres, in.Postgres.Synapse),
		"workers":  workers,
		// A reference only: the chart mounts the Secret's key.
		"signingKey": map[string]any{"secret": in.SigningKey.Name, "secretKey": in.SigningKey.Key},
		"media": map[string]any{"storage": map[string]any{
			"storageClassName": in.Media.StorageClass,
			"size":             in.Media.Size,
		}},
	}
}

func mas(in Input) map[string]any {
	m := component(in.Auth == AuthMAS, in.Hosts.MAS)
	if in.Auth == AuthMAS {
		m["postgres"] = postgres(in.Postgres, in.Postgres.MAS)
		ref := func(key string) map[string]any { return map[string]any{"secret": in.MASKeys.Secret, "secretKey": key} }
		m["encryptionSecret"] = ref(in.MASKeys.Encryption)
		m["privateKeys"] = map[string]any{"rsa": ref(in.MASKeys.RSA), "ecdsaPrime256v1": ref(in.MASKeys.ECDSA)}
	}
	return m
}

// NLB annotations of the AWS Load Balancer Controller
// (docs/guide/service/annotations.md). The chart sets no
// loadBalancerClass, so the controller is selected by the type annotation.
const (
	nlbType            = "service.beta.kubernetes.io/aws-load-balancer-type"
	nlbTargetType      = "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"
	nlbScheme          = "service.beta.kubernetes.io/aws-load-balancer-scheme"
	nlbEIPs            = "service.beta.kubernetes.io/aws-load-balancer-eip-allocations"
	nlbAttributes      = "service.beta.kubernetes.io/aws-load-balancer-attributes"
	nlbHealthProtocol  = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol"
	nlbHealthPort      = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port"
	nlbHealthPath      = "service.beta.kubernetes.io/aws-load-balancer-healthcheck-path"
	sfuHTTPPort        = 7880 // the SFU container's "http" port in the chart's sfu_deployment.yaml; tested
	sfuReadinessPath   = "/"  // the SFU's readinessProbe path in the same template; tested
	matrixRTCMuxedPort = 30002
)

func matrixRTC(in Input) map[string]any {
	if in.Calls != CallsElementCall {
		return map[string]any{"enabled": false}
	}
	return map[string]any{
		"enabled": true,
		"ingress": map[string]any{"host": in.Hosts.RTC},
		"sfu": map[string]any{
			"enabled": true,
			// STUN would find the NAT gateway's address, not the NLB's.
			"useStunToDiscoverPublicIP": false,
			"manualIP":                  in.SFU.PublicIP,
			"exposedServices": map[string]any{
				"rtcMuxedUdp": map[string]any{
					"enabled":  true,
					"portType": "LoadBalancer",
					"port":     matrixRTCMuxedPort,
					// The NLB reaches pod IPs; no node port is needed.
					"nodePort":    "",
					"annotations": nlbAnnotations(in.SFU),
				},
				// LiveKit's ICE/TCP fallback would need the same public
				// address as UDP, which a second Service (a second NLB)
				// cannot have.
				"rtcTcp": map[string]any{"enabled": false},
			},
		},
	}
}

func nlbAnnotations(s SFU) map[string]any {
	return map[string]any{
		nlbType:       "external",
		nlbTargetType: "ip",
		nlbScheme:     "internet-facing",
		nlbEIPs:       strings.Join(s.EIPAllocationIDs, ","),
		// LiveKit advertises one address, the EIP of one zone; traffic to
		// it must reach the SFU pod whatever zone it runs in.
		nlbAttributes: "load_balancing.cross_zone.enabled=true",
		// A UDP target group cannot be health-checked over UDP: check
		// LiveKit's HTTP port, as the chart's readiness probe does.
		nlbHealthProtocol: "http",
		nlbHealthPort:     strconv.Itoa(sfuHTTPPort),
		nlbHealthPath:     sfuReadinessPath,
	}
}

func (in Input) check() error {
	var p []string
	need := func(ok bool, field, why string) {
		if !ok {
			p = append(p, field+" "+why)
		}
	}
	need(in.ServerName != "", "ServerName", "is required")
	need(in.Hosts.Synapse != "", "Hosts.Synapse", "is required")
	need(!in.ElementWeb || in.Hosts.ElementWeb != "", "Hosts.ElementWeb", "is required when ElementWeb is on")
	need(in.Auth == AuthSynapse || in.Auth == AuthMAS, "Auth", fmt.Sprintf("must be %q or %q, not %q", AuthSynapse, AuthMAS, in.Auth))
	need(in.Calls == CallsNone || in.Calls == CallsElementCall, "Calls", fmt.Sprintf("must be %q or %q, not %q", CallsNone, CallsElementCall, in.Calls))
	need(in.Ingress.CertificateARN != "", "Ingress.CertificateARN", "is required")
	need(in.Ingress.GroupName != "", "Ingress.GroupName", "is required")
	need(in.Postgres.Host != "" && in.Postgres.Port > 0, "Postgres.Host/Port", "are required")
	p = append(p, in.Postgres.Synapse.check("Postgres.Synapse")...)
	if in.Auth == AuthMAS {
		need(in.Hosts.MAS != "" && in.Hosts.Admin != "", "Hosts.MAS/Admin", "are required with AuthMAS")
		p = append(p, in.Postgres.MAS.check("Postgres.MAS")...)
		k := in.MASKeys
		need(k.Secret != "" && k.Encryption != "" && k.RSA != "" && k.ECDSA != "", "MASKeys", "needs the Secret and its keys (Encryption, RSA, ECDSA) with AuthMAS")
	}
	if in.Calls == CallsElementCall {
		need(in.Hosts.RTC != "", "Hosts.RTC", "is required with CallsElementCall")
		need(in.SFU.PublicIP != "" && len(in.SFU.EIPAllocationIDs) > 0, "SFU.PublicIP/EIPAllocationIDs", "are required with CallsElementCall")
	}
	need(in.Media.Size != "", "Media.Size", "is required")
	need(in.SigningKey.Name != "" && in.SigningKey.Key != "", "SigningKey", "needs the Secret reference (Name, Key)")
	p = append(p, CheckWorkers(in.Workers)...)
	if len(p) > 0 {
		return errors.New("ess: invalid input:\n- " + strings.Join(p, "\n- "))
	}
	return nil
}

func (d Database) check(field string) []string {
	if d.Name == "" || d.User == "" || d.Password.Name == "" || d.Password.Key == "" {
		return []string{field + " needs Name, User and a Password Secret reference (Name, Key)"}
	}
	return nil
}
