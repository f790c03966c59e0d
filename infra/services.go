package infra

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/upstream"
)

// ServedHost is a hostname at which an enabled upstream service is served,
// other than matrix.<domain> itself: it gets a DNS record (and, in ha, a
// place on the certificate and the listener rules).
type ServedHost struct {
	Service string // the upstream's name for it: element, ntfy, jitsi, ...
	Host    string // fully qualified, under matrix:domain
}

// Label is the host's name relative to domain ("ntfy", "chat.team").
func (s ServedHost) Label(domain string) string {
	return strings.TrimSuffix(s.Host, "."+domain)
}

// hostedService is a service with a hostname of its own, in the upstream's
// terms: the switch that enables it, the variables that set its hostname
// (most specific first) and the hostname it gets when none is set.
type hostedService struct {
	name       string
	enabledVar string
	hostVars   []string
	// defaultHost resolves the upstream's default; ok is false when it
	// depends on a variable the program does not evaluate.
	defaultHost func() (host string, ok bool)
}

// hostedServices lists them from the pinned upstream: the services behind
// a matrix_server_fqn_* variable, then the hostnames built as a label in
// front of another hostname ("call.{{ matrix_server_fqn_element }}").
func hostedServices(c Config, facts upstream.Facts) []hostedService {
	var out []hostedService
	fqn := map[string]hostedService{}
	for _, s := range facts.Services() {
		h := hostedService{name: s.Name, enabledVar: s.EnabledVar, hostVars: []string{s.HostnameVar, s.FqnVar},
			defaultHost: func() (string, bool) { return s.DefaultLabel + "." + c.Domain, true }}
		fqn[s.FqnVar] = h
		out = append(out, h)
	}
	// Services the upstream serves by path on the matrix host (MAS at
	// matrix.<domain>/auth) need no record of their own, until the
	// operator moves one to a hostname of its own.
	for _, v := range facts.OnMatrixHost {
		name := strings.TrimSuffix(v, "_hostname")
		if _, moved := c.PlaybookVars.Values[v]; !moved || !facts.Defined(name+"_enabled") {
			continue
		}
		out = append(out, hostedService{name: name, enabledVar: name + "_enabled", hostVars: []string{v},
			defaultHost: func() (string, bool) { return c.MatrixHost(), true }})
	}
	for _, o := range facts.OtherHostnames {
		if o.EnabledVar == "" {
			continue
		}
		m := labelledHost.FindStringSubmatch(o.Value)
		out = append(out, hostedService{name: strings.TrimSuffix(o.HostnameVar, "_hostname"), enabledVar: o.EnabledVar,
			hostVars: []string{o.HostnameVar},
			defaultHost: func() (string, bool) {
				if m == nil {
					return "", false
				}
				if m[2] == "matrix_domain" {
					return m[1] + "." + c.Domain, true
				}
				if base, ok := fqn[m[2]]; ok {
					host, _ := c.hostOf(base)
					return m[1] + "." + host, host != ""
				}
				return "", false
			}})
	}
	return out
}

// labelledHost is an upstream hostname default of the form
// "<label>.{{ variable }}".
var labelledHost = regexp.MustCompile(`^([a-z0-9-]+(?:\.[a-z0-9-]+)*)\.\{\{\s*([a-z0-9_]+)\s*\}\}$`)

// hostOf is a service's hostname: the operator's, else the upstream's
// default; key names the variable that set it ("" for the default).
func (c Config) hostOf(h hostedService) (host, key string) {
	for _, v := range h.hostVars {
		if val, ok := c.PlaybookVars.Values[v]; ok {
			str, _ := val.(string)
			return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(str)), "."), v
		}
	}
	host, _ = h.defaultHost()
	return host, ""
}

// servedHosts derives the hostnames from the services the configuration
// enables, with the upstream's own variables: the service's *_enabled,
// its hostname variable and the matrix_server_fqn_* default it follows.
// A hostname that is not under the domain has no zone here and is refused.
func (r *reader) servedHosts(c Config, facts upstream.Facts) []ServedHost {
	var out []ServedHost
	seen := map[string]string{}
	defaults := enableDefaults(facts)
	for _, s := range hostedServices(c, facts) {
		if !r.serviceEnabled(c, s, defaults) {
			continue
		}
		host, key := r.serviceHost(c, s)
		if host == "" || host == c.MatrixHost() || host == c.Domain {
			// Served on a name that already has its records.
			continue
		}
		if !strings.HasSuffix(host, "."+c.Domain) {
			r.add(key, "%q is not under %s, whose Route 53 zone this stack manages; use a name under %s", host, c.Domain, c.Domain)
			continue
		}
		if msg := domainProblem(host); msg != "" && !strings.HasPrefix(msg, "must be the base domain") {
			r.add(key, "%q %s", host, msg)
			continue
		}
		if other, dup := seen[host]; dup {
			r.add(key, "%q is also the hostname of %s; give each service its own name", host, other)
			continue
		}
		seen[host] = s.name
		out = append(out, ServedHost{Service: s.name, Host: host})
	}
	return out
}

// serviceEnabled evaluates a service's *_enabled as the playbook will.
func (r *reader) serviceEnabled(c Config, s hostedService, defaults map[string]any) bool {
	on, known := c.enabled(s.enabledVar, defaults, 0)
	if !known {
		// Upstream computes it from other variables in a way the program
		// does not evaluate; rather than guess whether a DNS name is
		// needed, ask for an explicit value.
		r.add(playbookVarsKey+"."+s.enabledVar, "the pinned upstream computes it (%v); set it explicitly to true or false so the program knows whether %s needs a DNS record",
			defaults[s.enabledVar], s.name)
	}
	return on
}

// serviceHost is the hostname of an enabled service and the key to name in
// a problem with it; it refuses a hostname it cannot publish.
func (r *reader) serviceHost(c Config, s hostedService) (host, key string) {
	host, v := c.hostOf(s)
	if v == "" {
		if _, ok := s.defaultHost(); !ok {
			r.add(playbookVarsKey+"."+s.hostVars[0], "the pinned upstream builds it from variables the program does not evaluate; set it explicitly (a name under %s) so the program can publish its DNS record", c.Domain)
			return "", ""
		}
		return host, playbookVarsKey + "." + s.enabledVar
	}
	key = playbookVarsKey + "." + v
	val := c.PlaybookVars.Values[v]
	str, isString := val.(string)
	switch {
	case !isString:
		r.add(key, "must be a hostname under %s, not %s", c.Domain, describe(val, false))
		return "", key
	case strings.TrimSpace(str) == "":
		r.add(key, "is empty; give the hostname %s should be served at (under %s), or remove it for the default", s.name, c.Domain)
		return "", key
	case strings.Contains(str, "{{"):
		r.add(key, "%q: give the hostname itself, without Jinja, so the program can publish its DNS record", str)
		return "", key
	}
	return host, key
}

// aliasPattern is a default that only repeats another variable, as in
// livekit_server_enabled: "{{ matrix_rtc_enabled }}".
var aliasPattern = regexp.MustCompile(`^\{\{\s*([a-z0-9_]+)\s*(\|\s*bool\s*)?\}\}$`)

// enabled evaluates an *_enabled variable: the operator's value, else the
// program's, else the pinned default, following defaults that merely name
// another variable. known is false for a default computed otherwise.
// A variable with no recorded default (matrix_rtc_enabled) is off, as the
// upstream's literal defaults of such switches are.
func (c Config) enabled(variable string, defaults map[string]any, depth int) (on, known bool) {
	if v, ok := c.PlaybookVars.Values[variable]; ok {
		b, _ := v.(bool) // non-booleans are refused by enableProblems
		return b, true
	}
	if v, ok := c.ownedValue(variable); ok {
		return v.(bool), true
	}
	switch d := defaults[variable].(type) {
	case nil:
		return false, true
	case bool:
		return d, true
	case string:
		if m := aliasPattern.FindStringSubmatch(d); m != nil && depth < 8 {
			return c.enabled(m[1], defaults, depth+1)
		}
	}
	return false, false
}

// enableDefaults are the pinned defaults of the switches the program
// evaluates: services with a hostname, and services with a port.
func enableDefaults(facts upstream.Facts) map[string]any {
	out := map[string]any{}
	for _, s := range facts.Services() {
		out[s.EnabledVar] = s.EnabledDefault
	}
	for _, p := range facts.Ports {
		out[p.EnabledVar] = p.EnabledDefault
	}
	return out
}

// removedKeyFixes says what replaced a key the program no longer reads.
func removedKeyFixes(facts upstream.Facts, raw map[string]string) map[string]string {
	fix := map[string]string{}
	if v, ok := raw[Qualified("extraSubdomains")]; ok {
		fix["extraSubdomains"] = "was removed: DNS names now follow the services the playbook runs, so a name can no longer point at nothing" +
			extraSubdomainHints(facts, v) + "; remove it with pulumi config rm matrix:extraSubdomains"
	}
	return fix
}

// extraSubdomainHints names, for each label an old stack listed, the
// variable that enables the service served there.
func extraSubdomainHints(facts upstream.Facts, v string) string {
	labels, err := decodeList(v)
	if err != nil {
		return ""
	}
	var hints []string
	for _, l := range labels {
		l = strings.ToLower(strings.TrimSpace(l))
		hint := fmt.Sprintf("%s: no upstream service is served there", l)
		for _, s := range facts.Services() {
			if s.DefaultLabel == l {
				hint = fmt.Sprintf("%s: set matrix:playbookVars.%s true", l, s.EnabledVar)
				break
			}
		}
		hints = append(hints, hint)
	}
	if len(hints) == 0 {
		return ""
	}
	return " (" + strings.Join(hints, "; ") + ")"
}
