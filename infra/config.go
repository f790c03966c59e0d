package infra

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/matrix-on-aws/homeserver/internal/stackfile"
	"github.com/matrix-on-aws/homeserver/internal/upstream"
	"golang.org/x/crypto/ssh"
)

// decodeList decodes a JSON array of strings, which is how Pulumi stores a
// YAML list from the stack file.
func decodeList(v string) ([]string, error) {
	var items []string
	err := json.Unmarshal([]byte(v), &items)
	return items, err
}

// Registration says who may create accounts on the homeserver.
type Registration string

const (
	RegistrationClosed Registration = "closed"
	RegistrationToken  Registration = "token"
	RegistrationOpen   Registration = "open"
)

// Calls says which group call stack the playbook runs (matrix:calls).
type Calls string

const (
	CallsNone Calls = "none"
	// CallsElementCall is the upstream's Element Call frontend with the
	// Matrix RTC stack (LiveKit Server and the LiveKit JWT service), as
	// docs/configuring-playbook-element-call.md of the pinned playbook
	// sets it up: matrix_element_call_enabled and matrix_rtc_enabled.
	CallsElementCall Calls = "element-call"
)

// On says whether a call stack runs.
func (c Calls) On() bool { return c != "" && c != CallsNone }

// Topology is how the homeserver is laid out on AWS (docs/topologies.md).
type Topology string

const (
	TopologySingle Topology = "single"
	TopologyHA     Topology = "ha"
)

// Access is how Ansible and operators reach a single host.
type Access string

const (
	// AccessSSM runs SSH inside an AWS Systems Manager Session Manager
	// session (document AWS-StartSSHSession) to the instance ID: the host
	// opens no inbound port at all, and AWS, not the network path, decides
	// which instance answers.
	AccessSSM Access = "ssm"
	// AccessSSH connects to 22/tcp of the Elastic IP, open to
	// matrix:sshAllowedCidrs only.
	AccessSSH Access = "ssh"
)

// Config is the validated configuration of one stack.
type Config struct {
	Region                string
	Domain                string
	HostedZoneID          string
	Access                Access
	SSHAllowedCIDRs       []netip.Prefix
	AllowSSHFromAnywhere  bool
	SSHPublicKey          string
	InstanceType          string
	Arch                  Arch
	AMIID                 string
	RootVolumeGiB         int
	DataVolumeGiB         int
	SnapshotRetentionDays int
	IPv6                  bool
	ServeBaseDomain       bool
	Element               bool
	TURN                  bool
	Calls                 Calls
	Registration          Registration
	Auth                  Auth
	SynapseWorkers        string // WorkersNone or an upstream preset name
	PlaybookVars          PlaybookVars
	ServedHosts           []ServedHost
	PortServices          []string // switches of the port table's services that are on
	DNSTTL                int
	VPCCIDR               netip.Prefix
	Protect               bool
	Provision             bool
	AdminUser             string
	Verify                bool
	Topology              Topology
	EKS                   EKS // the eks topology's keys; zero in the others
	DBInstanceClass       string
	DBMultiAZ             bool
	DBAllocatedGiB        int
	DBBackupRetentionDays int
	AllowTopologyChange   bool
	AlertEmail            string // "": no alerting
	Email                 Email
	EmailFrom             string // the sender address; set whenever Email is ses
	EmailDMARC            bool
	// AvailabilityZone is matrix:availabilityZone as given ("" for the
	// first of the VPC's zones); lookUp resolves it into Facts.HostZone.
	AvailabilityZone     string
	DataVolumeSnapshotID string
	DBRestore            *DBRestore // nil: no restore
}

// MatrixHost is the name the homeserver answers on; the playbook derives
// the same name from matrix_domain.
func (c Config) MatrixHost() string { return "matrix." + c.Domain }

// ElementHost is where the playbook serves Element Web ("" when it does
// not): matrix_server_fqn_element, which matrix:playbookVars may move.
func (c Config) ElementHost() string {
	for _, s := range c.ServedHosts {
		if s.Service == "element" {
			return s.Host
		}
	}
	return ""
}

// ElementCallHost is where the playbook serves the Element Call web app
// ("" when it does not): matrix_element_call_hostname, by default
// call.<the Element host>.
func (c Config) ElementCallHost() string {
	for _, s := range c.ServedHosts {
		if s.Service == "matrix_element_call" {
			return s.Host
		}
	}
	return ""
}

// EngineConfig returns the stack's configuration as the Pulumi engine hands
// it to the program (JSON in PULUMI_CONFIG). The SDK offers no way to list
// config keys, and listing them is how misspelt keys are caught.
func EngineConfig() (map[string]string, error) {
	raw := map[string]string{}
	if s := os.Getenv("PULUMI_CONFIG"); s != "" {
		if err := json.Unmarshal([]byte(s), &raw); err != nil {
			return nil, fmt.Errorf("config: reading PULUMI_CONFIG: %w", err)
		}
	}
	return raw, nil
}

// EngineSecretKeys returns the keys the engine marks secret
// (PULUMI_CONFIG_SECRET_KEYS). The engine marks a whole object secret when
// any value inside it is, so for matrix:playbookVars the stack file in dir
// is read to find which variables hold the secure values; when it cannot
// be read, every variable in the object counts as secret.
func EngineSecretKeys(dir, stack string) ([]string, error) {
	var keys []string
	if s := os.Getenv("PULUMI_CONFIG_SECRET_KEYS"); s != "" {
		if err := json.Unmarshal([]byte(s), &keys); err != nil {
			return nil, fmt.Errorf("config: reading PULUMI_CONFIG_SECRET_KEYS: %w", err)
		}
	}
	if !slices.Contains(keys, Qualified(playbookVarsKey)) {
		return keys, nil
	}
	if sf, err := stackfile.Load(dir, Namespace, stack); err == nil {
		for _, p := range sf.SecretPaths {
			if strings.HasPrefix(p, Qualified(playbookVarsKey)+".") {
				keys = append(keys, p)
			}
		}
	}
	return keys, nil
}

// ParseConfig validates raw config values (as Pulumi stores them: strings,
// with lists and objects as JSON) and returns every problem at once.
// secretKeys are the keys, or paths inside them, that hold Pulumi secrets
// ("matrix:playbookVars" or "matrix:playbookVars.<name>").
func ParseConfig(raw map[string]string, secretKeys ...string) (Config, error) {
	facts, err := upstream.Load()
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	r := reader{raw: raw}
	r.rejectUnknown(removedKeyFixes(facts, raw))
	c := Config{
		Region:                r.region(),
		Domain:                r.domain(),
		HostedZoneID:          r.hostedZoneID(),
		Access:                r.access(),
		AllowSSHFromAnywhere:  r.boolean("allowSshFromAnywhere"),
		SSHPublicKey:          r.sshPublicKey(),
		AMIID:                 r.amiID(),
		RootVolumeGiB:         r.integer("rootVolumeGiB", 8, 16384, "the Ubuntu image needs 8 GiB; gp3 allows up to 16384"),
		DataVolumeGiB:         r.integer("dataVolumeGiB", 1, 16384, "gp3 volumes hold 1 to 16384 GiB"),
		SnapshotRetentionDays: r.integer("snapshotRetentionDays", 1, 1000, "Data Lifecycle Manager keeps 1 to 1000 days"),
		IPv6:                  r.boolean("ipv6"),
		ServeBaseDomain:       r.boolean("serveBaseDomain"),
		Element:               r.boolean("element"),
		TURN:                  r.boolean("turn"),
		Calls:                 r.calls(),
		Registration:          r.registration(),
		DNSTTL:                r.integer("dnsTtl", 30, 172800, "use 30 to 172800 seconds"),
		VPCCIDR:               r.vpcCIDR(),
		Protect:               r.boolean("protect"),
		Provision:             r.boolean("provision"),
		AdminUser:             r.adminUser(),
		Verify:                r.boolean("verify"),
		Topology:              r.topology(),
		DBInstanceClass:       r.dbInstanceClass(),
		DBMultiAZ:             r.boolean("dbMultiAz"),
		DBAllocatedGiB:        r.integer("dbAllocatedGiB", 20, 65536, "RDS gp3 storage for PostgreSQL holds 20 to 65536 GiB"),
		DBBackupRetentionDays: r.integer("dbBackupRetentionDays", 1, 35, "RDS keeps automated backups 1 to 35 days (0 would turn them off)"),
		AllowTopologyChange:   r.boolean("allowTopologyChange"),
		DataVolumeSnapshotID:  r.snapshotID(),
	}
	c.Email, c.EmailFrom, c.EmailDMARC = r.email(c.Domain, c.Region)
	c.AvailabilityZone = r.availabilityZone(c.Region)
	c.DBRestore = r.dbRestore(c.Topology, time.Now())
	c.InstanceType, c.Arch = r.instanceType()
	c.Auth = r.auth()
	c.SynapseWorkers = r.synapseWorkers(c.InstanceType)
	switch {
	case c.Topology == TopologyHA:
		r.haOnlyChecks(c)
	case c.Topology == TopologyEKS:
		r.eksChecks(&c, secretKeys)
	case c.Access == AccessSSM:
		r.ssmOnlyChecks(c)
	case c.Access == AccessSSH:
		c.SSHAllowedCIDRs = r.sshCIDRs(c.AllowSSHFromAnywhere, c.IPv6)
	}
	c.PlaybookVars = r.playbookVars(facts, secretKeys, c.Email)
	r.enableProblems(c.PlaybookVars)
	if c.Domain != "" {
		c.ServedHosts = r.servedHosts(c, facts)
	}
	c.PortServices = r.portServices(c, facts)
	r.mailFromFree(c)
	if c.Topology == TopologyHA {
		r.haServiceChecks(c)
		r.certificateNames(c)
	}
	c.AlertEmail = r.alertEmail(c)
	if err := r.Problems.Err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// reader turns raw strings into typed values, recording Problems instead of
// stopping at the first one.
type reader struct {
	raw      map[string]string
	Problems Problems
}

// Qualified is name as a key of this project: matrix:<name>.
func Qualified(name string) string { return Namespace + ":" + name }

func (r *reader) add(name, format string, args ...any) {
	r.Problems.Add(Qualified(name), format, args...)
}

// value returns the raw value, or the table default rendered the way
// Pulumi would store it.
func (r *reader) value(name string) (string, bool) {
	if v, ok := r.raw[Qualified(name)]; ok {
		return v, true
	}
	k, ok := lookupKey(name)
	if !ok {
		panic("infra: unknown config key " + name) // a programming error, caught by tests
	}
	switch d := k.Default.(type) {
	case nil:
		return "", false
	case []string, map[string]any:
		b, _ := json.Marshal(d)
		return string(b), true
	default:
		return fmt.Sprint(d), true
	}
}

func (r *reader) rejectUnknown(removed map[string]string) {
	var names []string
	for _, k := range Keys() {
		names = append(names, k.Name)
	}
	var unknown []string
	for key := range r.raw {
		name, ok := strings.CutPrefix(key, Namespace+":")
		if ok && !slices.Contains(names, name) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		if fix, ok := removed[name]; ok {
			r.add(name, "%s", fix)
			continue
		}
		if guess := closest(name, names); guess != "" {
			r.add(name, "unknown key; did you mean %s? (pulumi config rm %s, then set %s)", Qualified(guess), Qualified(name), Qualified(guess))
			continue
		}
		r.add(name, "unknown key; the known keys are listed in Pulumi.yaml and the README (remove it with pulumi config rm %s)", Qualified(name))
	}
}

func (r *reader) boolean(name string) bool {
	v, _ := r.value(name)
	b, err := strconv.ParseBool(v)
	if err != nil {
		r.add(name, "%q is not a boolean; use true or false", v)
	}
	return b
}

func (r *reader) integer(name string, lo, hi int, why string) int {
	v, _ := r.value(name)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	switch {
	case errors.Is(err, strconv.ErrRange):
		// A whole number, only too long for an int.
		r.add(name, "%s is out of range; %s", strings.TrimSpace(v), why)
	case err != nil:
		r.add(name, "%q is not a whole number; use a number from %d to %d", v, lo, hi)
	case n < lo || n > hi:
		r.add(name, "%d is out of range; %s", n, why)
	}
	return n
}

// list decodes a JSON array of strings, which is how Pulumi stores a YAML
// list from the stack file.
func (r *reader) list(name, example string) ([]string, bool) {
	v, ok := r.value(name)
	if !ok {
		return nil, false
	}
	items, err := decodeList(v)
	if err != nil {
		r.add(name, "must be a list of strings, e.g. %s (pulumi config set --path '%s[0]' ...)", example, Qualified(name))
		return nil, false
	}
	return items, true
}

var regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)

// awsRegions are the regions of the partitions the homeserver can run in,
// as AWS lists them in "AWS Regions" (https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html)
// and the SDKs' partitions.json (aws-sdk-go-v2, internal/endpoints/awsrulesfn):
// the commercial partition, China and GovCloud. The isolated partitions
// (aws-iso*) are left out: they have no internet to federate with. A name
// outside the list fails in AWS anyway, but late and obscurely: the
// provider skips region validation, and every call then dies resolving
// ec2.<region>.amazonaws.com. When AWS opens a region, add it here.
var awsRegions = []string{
	"af-south-1",
	"ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-south-1", "ap-south-2",
	"ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
	"ca-central-1", "ca-west-1",
	"eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3",
	"il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1",
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"cn-north-1", "cn-northwest-1",
	"us-gov-east-1", "us-gov-west-1",
}

func (r *reader) region() string {
	v := strings.TrimSpace(r.raw["aws:region"])
	switch {
	case v == "":
		r.Problems.Add("aws:region", "required; set the AWS region to deploy into, e.g. pulumi config set aws:region eu-central-1")
	case !regionPattern.MatchString(v):
		r.Problems.Add("aws:region", "%q is not an AWS region name such as eu-central-1", v)
	case !slices.Contains(awsRegions, v):
		if guess := closest(v, awsRegions); guess != "" {
			r.Problems.Add("aws:region", "%q is not an AWS region; did you mean %s? (aws ec2 describe-regions --all-regions lists them)", v, guess)
		} else {
			r.Problems.Add("aws:region", "%q is not an AWS region; use one such as eu-central-1 (aws ec2 describe-regions --all-regions lists them)", v)
		}
	}
	return v
}

var labelPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func (r *reader) domain() string {
	v, ok := r.value("domain")
	if !ok || strings.TrimSpace(v) == "" {
		r.add("domain", "required; set the base domain users will have in their IDs, e.g. pulumi config set matrix:domain example.org")
		return ""
	}
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(v)), ".")
	if msg := domainProblem(d); msg != "" {
		r.add("domain", "%q %s", v, msg)
		return ""
	}
	return d
}

// domainProblem explains why d cannot be a Matrix server name, or returns "".
func domainProblem(d string) string {
	switch {
	case isIPLiteral(d):
		return "is an IP address; use a domain name, whose Route 53 zone the stack can publish records in"
	case strings.Contains(d, "://"):
		return "must be a bare domain without a scheme; drop the http(s)://"
	case strings.Contains(d, "/"):
		return "must be a bare domain without a path; drop everything from the first /"
	case strings.Contains(d, ":"):
		return "must be a bare domain without a port; the playbook serves 443 and 8448 itself"
	case strings.Contains(d, "@"):
		return "must be a bare domain, not a user ID or e-mail address"
	case strings.HasPrefix(d, "matrix."):
		return "must be the base domain, not the matrix. host: user IDs would become @alice:matrix.example.org; set example.org and the program creates matrix.example.org"
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "must have at least two labels, e.g. example.org"
	}
	// element.<domain> is the longest name derived from it and must fit 253.
	if len("element.")+len(d) > 253 {
		return "is too long; element.<domain> must fit in 253 characters"
	}
	for _, l := range labels {
		if !labelPattern.MatchString(l) {
			return fmt.Sprintf("has an invalid label %q; labels are 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen", l)
		}
	}
	if _, err := strconv.Atoi(labels[len(labels)-1]); err == nil {
		return "is an IP address or ends in a numeric label; use a domain name"
	}
	return ""
}

// isIPLiteral says whether s is an IPv6 (or IPv4) address, bracketed or
// not, with or without a port: IPv6 addresses contain colons, which would
// otherwise read as a port.
func isIPLiteral(s string) bool {
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return strings.Contains(s, ":")
	}
	_, err := netip.ParseAddrPort(s)
	return err == nil
}

var zoneIDPattern = regexp.MustCompile(`^Z[A-Z0-9]{1,32}$`)

func (r *reader) hostedZoneID() string {
	v, _ := r.value("hostedZoneId")
	v = strings.TrimPrefix(strings.TrimSpace(v), "/hostedzone/")
	if v != "" && !zoneIDPattern.MatchString(v) {
		r.add("hostedZoneId", "%q is not a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ; remove the key to look the zone up from matrix:domain", v)
		return ""
	}
	return v
}

func (r *reader) sshCIDRs(anywhereAllowed, ipv6 bool) []netip.Prefix {
	items, ok := r.list("sshAllowedCidrs", `["203.0.113.7/32"]`)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		r.add("sshAllowedCidrs", `required; list the addresses that may reach SSH, at least the machine that runs pulumi up (Ansible connects over SSH), e.g. pulumi config set --path 'matrix:sshAllowedCidrs[0]' 203.0.113.7/32`)
		return nil
	}
	var out []netip.Prefix
	written := map[netip.Prefix]string{} // how the operator wrote each source
	for _, item := range items {
		p, msg := parseSSHCIDR(item, ipv6)
		if msg != "" {
			r.add("sshAllowedCidrs", "%q %s", item, msg)
			continue
		}
		if slices.Contains(out, p) {
			r.add("sshAllowedCidrs", "%q is listed twice; remove the duplicate", item)
			continue
		}
		out, written[p] = append(out, p), item
	}
	// The policy rule ssh-not-from-anywhere applies the same check to the
	// rules the program declares.
	Problems := CheckSSHSources(out, anywhereAllowed)
	for _, p := range Problems {
		if p.Prefix.IsValid() {
			r.add("sshAllowedCidrs", "%q %s", written[p.Prefix], p.Message)
		} else {
			r.add("sshAllowedCidrs", "%s", p.Message)
		}
	}
	if len(Problems) > 0 {
		return nil
	}
	return out
}

func parseSSHCIDR(s string, ipv6 bool) (netip.Prefix, string) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		if a, aerr := netip.ParseAddr(strings.TrimSpace(s)); aerr == nil {
			return netip.Prefix{}, fmt.Sprintf("is an address, not a CIDR; write %s/%d", a, a.BitLen())
		}
		return netip.Prefix{}, "is not a CIDR; write an address with a prefix length such as 203.0.113.7/32 or 2001:db8::/64"
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Sprintf("has host bits set; write %s", p.Masked())
	}
	if p.Addr().Is6() && !ipv6 {
		return netip.Prefix{}, "is IPv6 but matrix:ipv6 is false, so the host has no IPv6 address; remove it or enable matrix:ipv6"
	}
	return p, ""
}

func (r *reader) sshPublicKey() string {
	v, _ := r.value("sshPublicKey")
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	key, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(v))
	switch {
	case err != nil:
		r.add("sshPublicKey", "is not an OpenSSH public key (the one line in ~/.ssh/id_ed25519.pub); remove the key to have one generated")
	case len(strings.TrimSpace(string(rest))) > 0:
		r.add("sshPublicKey", "holds more than one key; give exactly one")
	case !slices.Contains([]string{ssh.KeyAlgoED25519, ssh.KeyAlgoRSA, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521}, key.Type()):
		r.add("sshPublicKey", "has type %s, which EC2 key pairs do not accept; use an ed25519, RSA or ECDSA key", key.Type())
	}
	return v
}

func (r *reader) instanceType() (string, Arch) {
	v, _ := r.value("instanceType")
	v = strings.ToLower(strings.TrimSpace(v))
	arch, msg := classifyInstanceType(v)
	if msg != "" {
		r.add("instanceType", "%q %s", v, msg)
	}
	return v, arch
}

func (r *reader) registration() Registration {
	return oneOf(r, "registration", "a registration mode", "closed (default), token or open",
		RegistrationClosed, RegistrationToken, RegistrationOpen)
}

func (r *reader) calls() Calls {
	if c := oneOf(r, "calls", "a call stack", "none (default) or element-call", CallsNone, CallsElementCall); c != "" {
		return c
	}
	return CallsNone
}

func (r *reader) vpcCIDR() netip.Prefix {
	v, _ := r.value("vpcCidr")
	p, err := netip.ParsePrefix(strings.TrimSpace(v))
	switch {
	case err != nil || !p.Addr().Is4():
		r.add("vpcCidr", "%q is not an IPv4 CIDR; use a private range such as 10.42.0.0/16", v)
	case p != p.Masked():
		r.add("vpcCidr", "%q has host bits set; write %s", v, p.Masked())
	case p.Bits() < 16 || p.Bits() > 24:
		r.add("vpcCidr", "%q must be between /16 (the largest AWS allows) and /24 (room for two subnets)", v)
	case !p.Addr().IsPrivate():
		r.add("vpcCidr", "%q is not a private range; use one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16", v)
	default:
		return p
	}
	return netip.Prefix{}
}

// localpartPattern is the Matrix spec's grammar for user ID localparts.
var localpartPattern = regexp.MustCompile(`^[a-z0-9._=/+-]{1,64}$`)

func (r *reader) adminUser() string {
	v, _ := r.value("adminUser")
	v = strings.TrimSpace(v)
	if !localpartPattern.MatchString(v) {
		r.add("adminUser", "%q is not a Matrix localpart; use lower-case letters, digits and . _ = - / + only, e.g. admin (not @admin:example.org)", v)
	}
	return v
}

func (r *reader) topology() Topology {
	return oneOf(r, "topology", "a topology", "single (default), ha or eks", TopologySingle, TopologyHA, TopologyEKS)
}

var dbInstanceClassPattern = regexp.MustCompile(`^db\.[a-z0-9]+\.[a-z0-9]+$`)

func (r *reader) dbInstanceClass() string {
	v, _ := r.value("dbInstanceClass")
	v = strings.ToLower(strings.TrimSpace(v))
	if !dbInstanceClassPattern.MatchString(v) {
		r.add("dbInstanceClass", "%q is not an RDS instance class such as db.t4g.micro", v)
	}
	return v
}

func (r *reader) access() Access {
	return oneOf(r, "access", "an access mode", "ssm (default: SSH through AWS Systems Manager, no port 22) or ssh (port 22 from matrix:sshAllowedCidrs)",
		AccessSSM, AccessSSH)
}

// oneOf reads a key whose value is one of a fixed set, in any case and
// with surrounding space; anything else is refused naming what to use,
// and reads as "".
func oneOf[T ~string](r *reader, key, what, use string, allowed ...T) T {
	v, _ := r.value(key)
	if t := T(strings.ToLower(strings.TrimSpace(v))); slices.Contains(allowed, t) {
		return t
	}
	r.add(key, "%q is not %s; use %s", v, what, use)
	return ""
}

// ssmOnlyChecks refuses the SSH firewall settings when the host opens no
// port 22. Ignoring them would be quieter, but an operator who lists an
// address there expects port 22 to be open to it: a stack written before
// matrix:access existed says ssh that way, and must choose.
func (r *reader) ssmOnlyChecks(c Config) {
	if items, ok := r.list("sshAllowedCidrs", "[]"); ok && len(items) > 0 {
		r.add("sshAllowedCidrs", "is set, but matrix:access is ssm, which opens no port 22 (Ansible reaches the host through AWS Systems Manager); remove it (pulumi config rm matrix:sshAllowedCidrs), or keep SSH on port 22 with pulumi config set matrix:access ssh")
	}
	if c.AllowSSHFromAnywhere {
		r.add("allowSshFromAnywhere", "is true, but matrix:access is ssm, which opens no port 22; remove it (pulumi config rm matrix:allowSshFromAnywhere), or use pulumi config set matrix:access ssh")
	}
}

// haOnlyChecks rejects what the ha topology cannot honour: its hosts have
// no SSH (they are reached through SSM) and its load balancer carries no
// UDP, so no TURN and no LiveKit media.
func (r *reader) haOnlyChecks(c Config) {
	if c.TURN {
		r.add("turn", "TURN cannot run in the ha topology: an Application Load Balancer carries no UDP; set matrix:turn false, or use matrix:topology single")
	}
	if c.Calls.On() {
		// LiveKit's media (ICE over UDP 7882 and TCP 7881) and its TURN
		// relay go to the host's own address: an ALB carries no UDP, and
		// clients reach the SFU at the one node_ip it advertises.
		r.add("calls", "%s cannot run in the ha topology: LiveKit's media needs UDP (7882/udp, 3479/udp, 30000-30020/udp) straight to the host, and an Application Load Balancer carries no UDP; set matrix:calls none, or use matrix:topology single", c.Calls)
	}
	if items, ok := r.list("sshAllowedCidrs", "[]"); ok && len(items) > 0 {
		r.add("sshAllowedCidrs", "must be empty in the ha topology: its host has no SSH and is reached through SSM Session Manager; remove the key (pulumi config rm matrix:sshAllowedCidrs)")
	}
	if c.AvailabilityZone != "" {
		r.add("availabilityZone", "is not used in the ha topology: its Auto Scaling Group spans both zones and replaces a host in the surviving one; remove it (pulumi config rm matrix:availabilityZone)")
	}
	if c.DataVolumeSnapshotID != "" {
		r.add("dataVolumeSnapshotId", "is not used in the ha topology: it has no data volume (PostgreSQL is on RDS, media on S3; see docs/runbook-ha-restore.md); remove it (pulumi config rm matrix:dataVolumeSnapshotId)")
	}
	if c.AllowSSHFromAnywhere {
		r.add("allowSshFromAnywhere", "is not used in the ha topology: its host has no SSH and is reached through SSM Session Manager; remove it (pulumi config rm matrix:allowSshFromAnywhere)")
	}
	if c.Access == AccessSSH {
		r.add("access", "ssh is not available in the ha topology: its host has no SSH and is reached through SSM Session Manager; remove the key (pulumi config rm matrix:access)")
	}
	if strings.TrimSpace(r.raw[Qualified("sshPublicKey")]) != "" {
		r.add("sshPublicKey", "is not used in the ha topology: its host has no SSH and is reached through SSM Session Manager; remove it (pulumi config rm matrix:sshPublicKey)")
	}
}

var amiPattern = regexp.MustCompile(`^ami-[0-9a-f]{8}([0-9a-f]{9})?$`)

func (r *reader) amiID() string {
	return r.optionalID("amiId", amiPattern, "is not an AMI ID such as ami-0123456789abcdef0; remove the key to use the newest Ubuntu 24.04")
}

// optionalID reads an AWS resource ID that may be left empty; a value
// that is not one of its kind is refused with msg and reads as "".
func (r *reader) optionalID(key string, pattern *regexp.Regexp, msg string) string {
	v, _ := r.value(key)
	v = strings.TrimSpace(v)
	if v != "" && !pattern.MatchString(v) {
		r.add(key, "%q %s", v, msg)
		return ""
	}
	return v
}

// alertEmail validates matrix:alertEmail: one bare mailbox SNS can deliver
// to, in a partition whose health-check metrics the alarms can reach.
func (r *reader) alertEmail(c Config) string {
	v, _ := r.value("alertEmail")
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	if msg := emailProblem(v); msg != "" {
		r.add("alertEmail", "%q %s", v, msg)
		return ""
	}
	if _, ok := healthCheckRegion(c.Region); !ok && c.Region != "" {
		r.add("alertEmail", "alerting needs Route 53 health-check metrics, which CloudWatch publishes in us-east-1 of the aws partition only; %s cannot reach them. Remove the key (pulumi config rm matrix:alertEmail)", c.Region)
	}
	if c.Topology == TopologyHA && c.DBInstanceClass != "" {
		if _, ok := dbClassMemoryGiB(c.DBInstanceClass); !ok {
			r.add("dbInstanceClass", "%q is not a class whose memory alerting knows (db.t3, db.t4g, db.m*, db.r* of a size such as large or 2xlarge), and the database connections alarm's threshold follows from it; use such a class, or remove matrix:alertEmail", c.DBInstanceClass)
		}
	}
	return v
}

// emailProblem explains why v cannot be the alert address, or returns "".
func emailProblem(v string) string {
	if strings.ContainsAny(v, ",; \t") {
		return "holds more than one address or spaces; give one address (a mailing list reaches several people)"
	}
	addr, err := mail.ParseAddress(v)
	switch {
	case err != nil:
		return "is not an e-mail address; give one mailbox such as ops@example.org, or remove the key to turn alerting off"
	case addr.Name != "" || addr.Address != v:
		return "has a display name or angle brackets; give the bare address, e.g. ops@example.org"
	case len(v) > 254:
		return "is longer than the 254 characters an address may have"
	}
	_, domain, _ := strings.Cut(addr.Address, "@")
	labels := strings.Split(strings.ToLower(domain), ".")
	_, numeric := strconv.Atoi(labels[len(labels)-1])
	valid := len(labels) >= 2 && numeric != nil
	for _, l := range labels {
		valid = valid && labelPattern.MatchString(l)
	}
	if !valid {
		return fmt.Sprintf("has no domain name after the @ (%q); SNS delivers to a domain such as example.org", domain)
	}
	return ""
}
