package infra

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/upstream"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Port is one entry of the host's public port table.
type Port struct {
	Protocol string // "tcp" or "udp"
	From, To int
	Purpose  string
	// Service is the upstream variable that enables the service listening
	// there ("" for the homeserver itself, always open).
	Service string
}

func (p Port) String() string {
	if p.From == p.To {
		return fmt.Sprintf("%d/%s", p.From, p.Protocol)
	}
	return fmt.Sprintf("%d-%d/%s", p.From, p.To, p.Protocol)
}

// portTable is the one list of public ports, as the playbook documents them
// for a firewall in front of the host (docs/prerequisites.md, "Ports"; see
// also docs/configuring-playbook-turn.md for coturn and
// docs/configuring-playbook-jitsi.md for Jitsi,
// docs/configuring-playbook-livekit-server.md for LiveKit behind
// matrix:calls). The numbers of the optional services are the pinned roles'
// defaults, which a test keeps equal (coturn:
// coturn_container_stun_*_host_bind_port_*, coturn_turn_udp_min_port/
// max_port; jitsi: jitsi_jvb_rtp_udp_port; livekit_server:
// livekit_server_config_rtc_*_port, livekit_server_config_turn_*_port and
// the turn relay range, with group_vars/matrix_servers' 3479 and 5350).
// LiveKit's embedded TURN is on because the playbook turns it on with its
// own Traefik and SSL (livekit_server_config_turn_enabled); 5350/tcp is
// then Traefik's TCP entrypoint, which terminates TLS for it.
var portTable = []Port{
	{"tcp", 80, 80, "HTTP: ACME HTTP-01 challenges and redirects to HTTPS", ""},
	{"tcp", 443, 443, "HTTPS: client API, Element, /.well-known/matrix", ""},
	{"udp", 443, 443, "HTTP/3 (QUIC) for HTTPS", ""},
	{"tcp", 8448, 8448, "Matrix federation API", ""},
	{"udp", 8448, 8448, "Matrix federation API over HTTP/3", ""},
	{"tcp", 3478, 3478, "TURN over TCP (coturn)", "coturn_enabled"},
	{"udp", 3478, 3478, "TURN over UDP (coturn)", "coturn_enabled"},
	{"tcp", 5349, 5349, "TURN over TLS (coturn)", "coturn_enabled"},
	{"udp", 5349, 5349, "TURN over DTLS (coturn)", "coturn_enabled"},
	{"udp", 49152, 49172, "TURN relay range (coturn)", "coturn_enabled"},
	{"udp", 10000, 10000, "Jitsi video bridge media (JVB RTP)", "jitsi_enabled"},
	{"tcp", 7881, 7881, "LiveKit ICE over TCP (Element Call media)", "livekit_server_enabled"},
	{"udp", 7882, 7882, "LiveKit ICE over UDP, multiplexed (Element Call media)", "livekit_server_enabled"},
	{"udp", 3479, 3479, "LiveKit TURN over UDP", "livekit_server_enabled"},
	{"tcp", 5350, 5350, "LiveKit TURN over TLS (terminated by Traefik)", "livekit_server_enabled"},
	{"udp", 30000, 30020, "LiveKit TURN relay range", "livekit_server_enabled"},
	{"tcp", 113, 113, "identd for IRC networks (Heisenbridge)", "matrix_bridge_heisenbridge_enabled"},
	{"tcp", 25, 25, "SMTP: mail into Matrix rooms (Postmoogle)", "matrix_bridge_postmoogle_enabled"},
	{"tcp", 587, 587, "SMTP submission (Postmoogle)", "matrix_bridge_postmoogle_enabled"},
	{"tcp", 29331, 29331, "mautrix-wsproxy: the Android SMS bridge app's websocket", "matrix_bridge_mautrix_wsproxy_enabled"},
}

// SSHPort is open only with matrix:access ssh, and only to
// matrix:sshAllowedCidrs: Ansible connects there. With ssm nothing is.
var SSHPort = Port{"tcp", 22, 22, "SSH for Ansible and operators", ""}

// PublicPorts returns the ports open to everyone for this configuration:
// the homeserver's, and those of every enabled service that publishes one.
func PublicPorts(cfg Config) []Port {
	var out []Port
	for _, p := range portTable {
		if p.Service == "" || slices.Contains(cfg.PortServices, p.Service) {
			out = append(out, p)
		}
	}
	return out
}

// portServices returns the switches of the port table's services that
// are on, evaluated as the playbook will (Config.enabled).
func (r *reader) portServices(c Config, facts upstream.Facts) []string {
	defaults := enableDefaults(facts)
	var on []string
	for _, p := range portTable {
		if p.Service == "" || slices.Contains(on, p.Service) {
			continue
		}
		enabled, known := c.enabled(p.Service, defaults, 0)
		if !known {
			r.add(playbookVarsKey+"."+p.Service, "the pinned upstream computes it (%v); set it explicitly to true or false so the program knows whether to open %s",
				defaults[p.Service], p)
		}
		if enabled {
			on = append(on, p.Service)
		}
	}
	return on
}

// acmNamesPerCertificate is ACM's default quota of names on one
// certificate ("Domain names per ACM certificate", AWS Certificate Manager
// quotas); the account can raise it, the program cannot know.
const acmNamesPerCertificate = 10

// certificateNames refuses an ha stack whose load balancer certificate
// would need more names than ACM issues on one certificate: the request
// would fail halfway through `pulumi up`.
func (r *reader) certificateNames(c Config) {
	if names := CertificateNames(c); len(names) > acmNamesPerCertificate {
		r.add(playbookVarsKey, "the services it enables need %d names on the load balancer's certificate (%s), and ACM issues at most %d per certificate by default; switch some of them off, or run them in the single topology",
			len(names), strings.Join(names, ", "), acmNamesPerCertificate)
	}
}

// haServiceChecks refuses, in the ha topology, services whose ports an
// Application Load Balancer cannot carry (UDP).
func (r *reader) haServiceChecks(c Config) {
	seen := map[string]bool{}
	for _, p := range portTable {
		if p.Service == "" || p.Protocol != "udp" || seen[p.Service] || !slices.Contains(c.PortServices, p.Service) {
			continue
		}
		seen[p.Service] = true
		if _, owned := c.ownedValue(p.Service); owned {
			continue // matrix:turn is refused by haOnlyChecks with its own words
		}
		r.add(playbookVarsKey+"."+p.Service, "cannot run in the ha topology: it needs %s, and an Application Load Balancer carries no UDP; set it false, or use matrix:topology single", p)
	}
}

var anywhere = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

// Families returns "anywhere" for each IP family the host has.
func Families(cfg Config) []netip.Prefix {
	if cfg.IPv6 {
		return anywhere
	}
	return anywhere[:1]
}

func SetCIDR(v4, v6 *pulumi.StringPtrInput, p netip.Prefix) {
	if p.Addr().Is4() {
		*v4 = pulumi.String(p.String())
	} else {
		*v6 = pulumi.String(p.String())
	}
}

func FamilyName(p netip.Prefix) string {
	if p.Addr().Is4() {
		return "ipv4"
	}
	return "ipv6"
}

// RuleName is stable under reordering of the CIDR list, so editing
// matrix:sshAllowedCidrs replaces only the rules that changed.
func RuleName(p Port, src netip.Prefix) string {
	ports := fmt.Sprintf("%s-%d", p.Protocol, p.From)
	if p.To != p.From {
		ports += fmt.Sprintf("-%d", p.To)
	}
	if src.Bits() == 0 {
		return "in-" + ports + "-" + FamilyName(src)
	}
	cidr := strings.NewReplacer(":", "-", "/", "-", ".", "-").Replace(src.String())
	return "in-" + ports + "-from-" + cidr
}
