package infra

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/inventory"
	"gopkg.in/yaml.v3"
)

// FuzzParseConfig checks that no input makes validation panic and that
// every rejection names a key the operator can act on. What it accepts is
// checked with properties that use none of the parser's helpers, so that a
// wrong helper cannot vouch for itself: the config survives a round trip
// through raw values, the domain is the input's normalised form and is
// what vars.yml renders, and the CIDRs are what net/netip reads in the
// input, within the bounds the documentation gives.
//
//	go test ./infra -run '^$' -fuzz FuzzParseConfig -fuzztime 30s
func FuzzParseConfig(f *testing.F) {
	f.Add("example.org", `["203.0.113.7/32"]`, "t3.small", "closed", "false", "matrix:turn", "true")
	f.Add("matrix.example.org", `["0.0.0.0/0"]`, "t3.micro", "open", "true", "matrix:dnsTtl", "5")
	f.Add("Exa_mple.org.", `["::/0","2001:db8::/64"]`, "t4g.small", "token", "yes", "matrix:playbookVars", `{"ntfy_enabled":"yes","ntfy_hostname":"a.b"}`)
	f.Add("https://x.y:80/z", `[1,2]`, "mac2.metal", "", "", "matrix:vpcCidr", "10.0.0.0/8")
	f.Add(" Example.ORG. ", `[" 2001:db8::/48 ","198.51.100.0/24"]`, "M5.Large", "Token", "true", "matrix:playbookVars", `{"ntfy_enabled":true,"matrix_synapse_max_upload_size_mb":1.5}`)
	f.Add("example.org", `[]`, "t3.small", "closed", "false", "matrix:topology", "ha")
	f.Add("example.org", `["203.0.113.7/32"]`, "t3.small", "closed", "false", "matrix:calls", " Element-Call ")
	f.Add("example.org", `["203.0.113.7/32"]`, "t3.small", "closed", "false", "matrix:availabilityZone", "EU-CENTRAL-1B")
	f.Add("example.org", `["203.0.113.7/32"]`, "t3.small", "closed", "false", "matrix:dbRestore", `{"time":"latest"}`)
	// Just broader than the bounds: refused without allowSshFromAnywhere.
	f.Add("example.org", `["2001:db8::/31"]`, "t3.small", "closed", "false", "matrix:ipv6", "true")
	f.Add("example.org", `["10.0.0.0/7"]`, "t3.small", "closed", "false", "matrix:ipv6", "true")
	f.Add("example.org", `["203.0.113.7/32"]`, "t3.small", "closed", "false", "matrix:alertEmail", " Ops <ops@Example.org> ")
	f.Add("Example.org", `["203.0.113.7/32"]`, "t3.small", "closed", "false", "matrix:email", " SES ")
	f.Fuzz(func(t *testing.T, domain, cidrs, itype, registration, anywhere, extraKey, extraValue string) {
		raw := map[string]string{
			"aws:region":                  "eu-central-1",
			"matrix:domain":               domain,
			"matrix:sshAllowedCidrs":      cidrs,
			"matrix:instanceType":         itype,
			"matrix:registration":         registration,
			"matrix:allowSshFromAnywhere": anywhere,
			extraKey:                      extraValue,
		}
		cfg, err := ParseConfig(raw)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error without Problems: %v", err)
			}
			for _, p := range ce.Problems {
				// A playbookVars problem names the variable inside the key.
				key, _, _ := strings.Cut(p.Key, ".")
				if _, known := raw[key]; !known && !isKnownKey(key) {
					t.Fatalf("problem names no key of the input or the table: %q", p)
				}
				if strings.TrimSpace(p.Message) == "" {
					t.Fatalf("problem without a message: %q", p)
				}
			}
			return
		}
		checkRoundTrip(t, cfg)
		checkDomain(t, raw["matrix:domain"], cfg)
		checkCIDRs(t, raw, cfg)
	})
}

// checkRoundTrip renders an accepted config back to the raw values Pulumi
// would hand the program and parses them again: the same Config must come
// back, so nothing is lost or changed by normalisation on a second pass.
func checkRoundTrip(t *testing.T, cfg Config) {
	t.Helper()
	raw := rawConfig(t, cfg)
	again, err := ParseConfig(raw)
	if err != nil {
		t.Fatalf("the accepted config, rendered back, is refused: %v\n%v", err, raw)
	}
	if !reflect.DeepEqual(again, cfg) {
		t.Fatalf("round trip changed the config:\n got %+v\nwant %+v\n raw %v", again, cfg, raw)
	}
}

// restoreValue renders matrix:dbRestore as Pulumi stores the object.
func restoreValue(d *DBRestore) string {
	if d == nil {
		return "{}"
	}
	m := map[string]any{"time": "latest"}
	if !d.Latest {
		m["time"] = d.Time.Format(time.RFC3339)
	}
	if d.Source != "" {
		m["sourceDbInstanceIdentifier"] = d.Source
	}
	return jsonValue(m)
}

// rawConfig renders every key of the table from cfg, as strings the way
// Pulumi stores them (lists and objects as JSON).
func rawConfig(t *testing.T, cfg Config) map[string]string {
	t.Helper()
	cidrs := []string{}
	for _, p := range cfg.SSHAllowedCIDRs {
		cidrs = append(cidrs, p.String())
	}
	list, err := json.Marshal(cidrs)
	if err != nil {
		t.Fatal(err)
	}
	b := strconv.FormatBool
	n := strconv.Itoa
	raw := map[string]string{
		"aws:region":                    cfg.Region,
		"matrix:domain":                 cfg.Domain,
		"matrix:hostedZoneId":           cfg.HostedZoneID,
		"matrix:access":                 string(cfg.Access),
		"matrix:sshAllowedCidrs":        string(list),
		"matrix:allowSshFromAnywhere":   b(cfg.AllowSSHFromAnywhere),
		"matrix:sshPublicKey":           cfg.SSHPublicKey,
		"matrix:instanceType":           cfg.InstanceType,
		"matrix:amiId":                  cfg.AMIID,
		"matrix:rootVolumeGiB":          n(cfg.RootVolumeGiB),
		"matrix:dataVolumeGiB":          n(cfg.DataVolumeGiB),
		"matrix:snapshotRetentionDays":  n(cfg.SnapshotRetentionDays),
		"matrix:ipv6":                   b(cfg.IPv6),
		"matrix:serveBaseDomain":        b(cfg.ServeBaseDomain),
		"matrix:element":                b(cfg.Element),
		"matrix:turn":                   b(cfg.TURN),
		"matrix:calls":                  string(cfg.Calls),
		"matrix:registration":           string(cfg.Registration),
		"matrix:auth":                   string(cfg.Auth),
		"matrix:synapseWorkers":         cfg.SynapseWorkers,
		"matrix:playbookVars":           jsonValue(cfg.PlaybookVars.Values),
		"matrix:dnsTtl":                 n(cfg.DNSTTL),
		"matrix:vpcCidr":                cfg.VPCCIDR.String(),
		"matrix:provision":              b(cfg.Provision),
		"matrix:adminUser":              cfg.AdminUser,
		"matrix:verify":                 b(cfg.Verify),
		"matrix:protect":                b(cfg.Protect),
		"matrix:topology":               string(cfg.Topology),
		"matrix:clusterApiAllowedCidrs": jsonValue(append([]string{}, cfg.EKS.APIAllowedCIDRs...)),
		"matrix:kubernetesVersion":      cfg.EKS.KubernetesVersion,
		"matrix:eksNodesPerZone":        n(cfg.EKS.NodesPerZone),
		"matrix:eksWorkers":             jsonValue(workersOrEmpty(cfg.EKS.Workers)),
		"matrix:helmValues":             jsonValue(valuesOrEmpty(cfg.EKS.HelmValues)),
		"matrix:dbInstanceClass":        cfg.DBInstanceClass,
		"matrix:dbMultiAz":              b(cfg.DBMultiAZ),
		"matrix:dbAllocatedGiB":         n(cfg.DBAllocatedGiB),
		"matrix:dbBackupRetentionDays":  n(cfg.DBBackupRetentionDays),
		"matrix:allowTopologyChange":    b(cfg.AllowTopologyChange),
		"matrix:alertEmail":             cfg.AlertEmail,
		"matrix:email":                  string(cfg.Email),
		"matrix:emailFrom":              cfg.EmailFrom,
		"matrix:emailDmarc":             b(cfg.EmailDMARC),
		"matrix:availabilityZone":       cfg.AvailabilityZone,
		"matrix:dataVolumeSnapshotId":   cfg.DataVolumeSnapshotID,
		"matrix:dbRestore":              restoreValue(cfg.DBRestore),
	}
	// A key added to the table must be rendered here too, or the round
	// trip would only test its default.
	for _, k := range Keys() {
		if _, ok := raw[Namespace+":"+k.Name]; !ok {
			t.Fatalf("rawConfig does not render matrix:%s", k.Name)
		}
	}
	return raw
}

// jsonValue renders a playbook variable's value as JSON that decodes to the
// same Go type: a float keeps a fraction or exponent, or it would come back
// as an integer.
func jsonValue(v any) string {
	switch t := v.(type) {
	case float64:
		s := strconv.FormatFloat(t, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return s
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = jsonValue(e)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			name, _ := json.Marshal(k)
			parts[i] = string(name) + ":" + jsonValue(t[k])
		}
		return "{" + strings.Join(parts, ",") + "}"
	default:
		b, err := json.Marshal(t)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
}

// checkDomain: the accepted domain is the input lower-cased, trimmed of
// spaces and one trailing dot, a name DNS can hold, and what vars.yml
// renders as matrix_domain.
func checkDomain(t *testing.T, input string, cfg Config) {
	t.Helper()
	want := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(input)), ".")
	if cfg.Domain != want {
		t.Fatalf("domain %q from input %q, want %q", cfg.Domain, input, want)
	}
	labels := strings.Split(cfg.Domain, ".")
	if len(labels) < 2 || len("element.")+len(cfg.Domain) > 253 || labels[0] == "matrix" {
		t.Fatalf("accepted domain %q", cfg.Domain)
	}
	for _, l := range labels {
		if len(l) < 1 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			t.Fatalf("accepted domain %q with label %q", cfg.Domain, l)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				t.Fatalf("accepted domain %q with %q in a label", cfg.Domain, c)
			}
		}
	}
	if _, err := strconv.Atoi(labels[len(labels)-1]); err == nil {
		t.Fatalf("accepted domain %q with a numeric top-level label", cfg.Domain)
	}
	pin, err := ansible.LoadPin()
	if err != nil {
		t.Fatal(err)
	}
	s := InventorySettings(cfg, pin)
	s.PublicIPv4 = "192.0.2.10" // TURN and LiveKit need the host's address, which only a deployment knows
	v, err := inventory.MaskedVars(s)
	if err != nil {
		t.Fatalf("vars.yml of an accepted config: %v", err)
	}
	text, err := v.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var rendered struct {
		Domain string `yaml:"matrix_domain"`
	}
	if err := yaml.Unmarshal([]byte(text), &rendered); err != nil {
		t.Fatal(err)
	}
	if rendered.Domain != want {
		t.Fatalf("vars.yml renders matrix_domain %q, want %q", rendered.Domain, want)
	}
}

// checkCIDRs: every accepted SSH source is one net/netip reads in the
// input, with no host bits, of the family the host has, and no broader
// than the documented bounds (IPv4 /8, IPv6 /32) unless
// allowSshFromAnywhere says so; the VPC range is private IPv4, /16 to /24.
func checkCIDRs(t *testing.T, raw map[string]string, cfg Config) {
	t.Helper()
	var input []string
	if s, ok := raw["matrix:sshAllowedCidrs"]; ok {
		if err := json.Unmarshal([]byte(s), &input); err != nil {
			t.Fatalf("accepted sshAllowedCidrs %q, which is not a JSON list of strings: %v", s, err)
		}
	}
	listed := map[netip.Prefix]bool{}
	for _, s := range input {
		if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
			listed[p] = true
		}
	}
	if cfg.Topology == TopologyHA && len(cfg.SSHAllowedCIDRs) > 0 {
		t.Fatalf("ha accepted SSH sources %v", cfg.SSHAllowedCIDRs)
	}
	for _, p := range cfg.SSHAllowedCIDRs {
		again, err := netip.ParsePrefix(p.String())
		if err != nil || again != p || p != p.Masked() || !listed[p] {
			t.Fatalf("accepted SSH source %v (reparsed %v, %v), input %q", p, again, err, input)
		}
		if p.Addr().Is6() && !cfg.IPv6 {
			t.Fatalf("accepted IPv6 source %v without IPv6", p)
		}
		bound := 8
		if p.Addr().Is6() {
			bound = 32
		}
		if p.Bits() < bound && !cfg.AllowSSHFromAnywhere {
			t.Fatalf("accepted %v, broader than /%d, without allowSshFromAnywhere", p, bound)
		}
	}
	v := cfg.VPCCIDR
	if again, err := netip.ParsePrefix(v.String()); err != nil || again != v || v != v.Masked() ||
		!v.Addr().Is4() || v.Bits() < 16 || v.Bits() > 24 || !v.Addr().IsPrivate() {
		t.Fatalf("accepted VPC range %v", v)
	}
	if cfg.Arch == "" {
		t.Fatalf("accepted instance type %q without an architecture", cfg.InstanceType)
	}
}

func isKnownKey(key string) bool {
	if key == "aws:region" {
		return true
	}
	name, ok := strings.CutPrefix(key, Namespace+":")
	_, known := lookupKey(name)
	return ok && known
}

func workersOrEmpty(w map[string]int) map[string]int {
	if w == nil {
		return map[string]int{}
	}
	return w
}

func valuesOrEmpty(v map[string]any) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	return v
}
