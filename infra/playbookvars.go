package infra

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/matrix-on-aws/homeserver/internal/upstream"
)

// PlaybookVars are the operator's own upstream variables
// (matrix:playbookVars), merged into vars.yml beside the ones the program
// renders. Values keep the types the stack file gives them.
type PlaybookVars struct {
	// Values: bool, int64, float64, string, []any or map[string]any.
	Values map[string]any
	// Secret names the variables whose value holds a Pulumi secret: they
	// are masked for reviewers and redacted from what Ansible prints.
	Secret map[string]bool
}

// Names returns the variable names in order.
func (v PlaybookVars) Names() []string {
	names := make([]string, 0, len(v.Values))
	for n := range v.Values {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// SecretValues lists every string (and number) inside the secret
// variables, for the wrapper's redaction.
func (v PlaybookVars) SecretValues() []string {
	var out []string
	for _, n := range v.Names() {
		if v.Secret[n] {
			out = appendLeaves(out, v.Values[n])
		}
	}
	return out
}

func appendLeaves(out []string, v any) []string {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = appendLeaves(out, t[k])
		}
	case []any:
		for _, e := range t {
			out = appendLeaves(out, e)
		}
	case nil, bool:
		// true/false reveal nothing worth redacting and would mangle output.
	default:
		out = append(out, fmt.Sprint(t))
	}
	return out
}

// playbookVarsKey is the config key, and the prefix of its paths.
const playbookVarsKey = "playbookVars"

var varNamePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// playbookVars decodes matrix:playbookVars and refuses, each by name, what
// would not do what the operator means: variables the program renders
// itself, names the pinned upstream does not know, and names it renamed.
func (r *reader) playbookVars(facts upstream.Facts, secretKeys []string, email Email) PlaybookVars {
	pv := PlaybookVars{Values: map[string]any{}, Secret: map[string]bool{}}
	v, ok := r.value(playbookVarsKey)
	if !ok || strings.TrimSpace(v) == "" {
		return pv
	}
	values, err := decodeObject(v)
	if err != nil {
		r.add(playbookVarsKey, "must be an object of upstream playbook variables, e.g. {ntfy_enabled: true}; set one with pulumi config set --path 'matrix:playbookVars.ntfy_enabled' true")
		return pv
	}
	owned := ownedVars()
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		key := playbookVarsKey + "." + name
		rm := fmt.Sprintf("pulumi config rm --path 'matrix:%s'", key)
		if fix, ok := owned[name]; ok && (email == EmailSES || !slices.Contains(relayVars(), name)) {
			r.add(key, "is set by the program: %s; remove it (%s)", fix, rm)
			continue
		}
		if repl, ok := facts.Replacement(name); ok {
			r.add(key, "the pinned upstream playbook renamed or removed it; its replacement: %s (%s, then set the replacement)", repl, rm)
			continue
		}
		if !varNamePattern.MatchString(name) || !facts.Known(name) {
			if guess := facts.Closest(name); guess != "" {
				r.add(key, "the pinned upstream playbook (%s) defines no such variable; did you mean %s? (%s)", shortCommit(facts.Commit), guess, rm)
			} else {
				r.add(key, "the pinned upstream playbook (%s) defines no such variable in its role defaults or group_vars; check the name in its docs (%s)", shortCommit(facts.Commit), rm)
			}
			continue
		}
		pv.Values[name] = values[name]
		pv.Secret[name] = isSecretVar(name, secretKeys)
	}
	return pv
}

func shortCommit(c string) string { return c[:min(len(c), 7)] }

// isSecretVar says whether a secret covers the variable: a path inside
// matrix:playbookVars that leads to it, or, when no path is known (the
// engine reports secrets per key), the whole object.
func isSecretVar(name string, secretKeys []string) bool {
	whole := Qualified(playbookVarsKey)
	paths := false
	for _, k := range secretKeys {
		rest, ok := strings.CutPrefix(k, whole+".")
		if !ok {
			continue
		}
		paths = true
		if after, ok := strings.CutPrefix(rest, name); ok && (after == "" || after[0] == '.' || after[0] == '[') {
			return true
		}
	}
	return !paths && slices.Contains(secretKeys, whole)
}

// decodeObject decodes a JSON object keeping integers as int64, which YAML
// then renders as integers, not 1e+06.
func decodeObject(s string) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var raw map[string]any
	if err := d.Decode(&raw); err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("not an object")
	}
	return normalize(raw).(map[string]any), nil
}

func normalize(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
	}
	return v
}

// ownedVars maps every variable the program renders, or relies on, to the
// key that sets it. A playbookVars entry for one of them would fight the
// program (and its DNS, firewall and secrets), so it is refused with this
// fix. A test keeps it covering every variable vars.yml can hold.
func ownedVars() map[string]string {
	owned := map[string]string{}
	set := func(fix string, names ...string) {
		for _, n := range names {
			owned[n] = fix
		}
	}
	set("it comes with the upstream pin (MIGRATION_VERSION in ansible/upstream.env)", "matrix_playbook_migration_validated_version")
	set("use matrix:domain", "matrix_domain")
	set("the homeserver is always served at matrix.<matrix:domain>, where DNS, certificates and verify expect it; use matrix:domain",
		"matrix_server_fqn_matrix", "matrix_server_fqn_matrix_federation")
	set("the program runs Synapse", "matrix_homeserver_implementation")
	set("the program generates it and keeps it encrypted in the stack's state", "matrix_homeserver_generic_secret_key", "postgres_connection_password")
	set("the program runs the playbook's Traefik", "matrix_playbook_reverse_proxy_type")
	set("use matrix:ipv6", "devture_systemd_docker_base_ipv6_enabled")
	set("use matrix:serveBaseDomain", "matrix_static_files_container_labels_base_domain_enabled")
	set("use matrix:element", "matrix_client_element_enabled")
	set("use matrix:registration (closed, token or open)", "matrix_synapse_enable_registration",
		"matrix_synapse_registration_requires_token", "matrix_synapse_enable_registration_without_verification")
	set("use matrix:turn", "coturn_enabled", "coturn_turn_external_ip_addresses")
	// The switches of the Matrix RTC stack decide LiveKit's ports and the
	// Element Call hostname; node_ip is the host's Elastic IP.
	set("use matrix:calls (none or element-call)", "matrix_element_call_enabled", "matrix_rtc_enabled",
		"livekit_server_enabled", "matrix_livekit_jwt_service_enabled", "livekit_server_config_rtc_node_ip")
	set("use matrix:auth (synapse or mas); the program generates MAS's secrets and, in the ha topology, its database on RDS",
		"matrix_authentication_service_enabled", "matrix_authentication_service_config_secrets_encryption",
		"matrix_authentication_service_key_management_enabled", "matrix_authentication_service_config_secrets_keys",
		"matrix_authentication_service_config_database_host", "matrix_authentication_service_config_database_username",
		"matrix_authentication_service_config_database_password", "matrix_authentication_service_config_database_database",
		"matrix_authentication_service_config_database_ssl_mode",
		"matrix_authentication_service_config_account_password_registration_enabled",
		"matrix_authentication_service_config_account_password_registration_email_required",
		"matrix_authentication_service_config_account_registration_token_required")
	set("use matrix:synapseWorkers (none, one-of-each or specialized-workers); it checks that matrix:instanceType has the memory",
		"matrix_synapse_workers_enabled", "matrix_synapse_workers_preset")
	set("use matrix:adminUser; the program creates that account with a generated password (adminPassword output)",
		"matrix_user_creator_users_additional")
	set("matrix:email ses points the relay at Amazon SES with credentials of its own; use matrix:emailFrom for the sender, or matrix:email none to configure the relay yourself",
		relayVars()...)
	set("the ha topology sets it (matrix:topology): the database is RDS, media is on S3 and Traefik sits behind the load balancer",
		"postgres_enabled", "matrix_synapse_database_host", "matrix_synapse_database_user", "matrix_synapse_database_password",
		"matrix_synapse_database_database", "matrix_synapse_ext_synapse_s3_storage_provider_enabled",
		"matrix_synapse_ext_synapse_s3_storage_provider_config_bucket", "matrix_synapse_ext_synapse_s3_storage_provider_config_region_name",
		"matrix_synapse_ext_synapse_s3_storage_provider_config_endpoint_url", "matrix_synapse_ext_synapse_s3_storage_provider_config_ec2_instance_profile",
		"matrix_synapse_ext_synapse_s3_storage_provider_store_synchronous", "matrix_playbook_ssl_enabled",
		"traefik_config_entrypoint_web_secure_enabled", "traefik_container_web_host_bind_port",
		"traefik_config_entrypoint_web_forwardedHeaders_trustedIPs",
		"matrix_playbook_public_matrix_federation_api_traefik_entrypoint_host_bind_port",
		"matrix_playbook_public_matrix_federation_api_traefik_entrypoint_config_http3_enabled",
		"matrix_playbook_public_matrix_federation_api_traefik_entrypoint_config_custom",
		"matrix_synapse_container_client_api_host_bind_port",
		"matrix_playbook_internal_matrix_client_api_traefik_entrypoint_host_bind_port")
	return owned
}

// relayVars are the exim relay's variables matrix:email ses renders. With
// matrix:email none the program leaves the relay alone, so an operator may
// point it at a smarthost of their own through matrix:playbookVars.
func relayVars() []string {
	return []string{
		"exim_relay_enabled", "exim_relay_sender_address",
		"exim_relay_relay_use", "exim_relay_relay_host_name", "exim_relay_relay_host_port", "exim_relay_relay_protocol",
		"exim_relay_relay_auth", "exim_relay_relay_auth_username", "exim_relay_relay_auth_password",
	}
}

// ownedValue is what the program renders for an owned variable that
// decides whether a service runs, for the services' hostnames and ports.
func (c Config) ownedValue(name string) (any, bool) {
	switch name {
	case "matrix_client_element_enabled":
		return c.Element, true
	case "coturn_enabled":
		return c.TURN, true
	case "matrix_element_call_enabled", "matrix_rtc_enabled", "livekit_server_enabled", "matrix_livekit_jwt_service_enabled":
		return c.Calls.On(), true
	case "matrix_authentication_service_enabled":
		return c.Auth == AuthMAS, true
	case "matrix_synapse_workers_enabled":
		return c.SynapseWorkers != WorkersNone, true
	}
	return nil, false
}

// enableProblems refuses *_enabled values that are not YAML booleans:
// Jinja treats the string "false" as true in a bare `if`, which upstream
// group_vars use.
func (r *reader) enableProblems(pv PlaybookVars) {
	for _, n := range pv.Names() {
		if !strings.HasSuffix(n, "_enabled") {
			continue
		}
		if _, ok := pv.Values[n].(bool); !ok {
			r.add(playbookVarsKey+"."+n, "must be true or false, not %s; write it without quotes in Pulumi.<stack>.yaml, or pulumi config set --path 'matrix:%s.%s' true",
				describe(pv.Values[n], pv.Secret[n]), playbookVarsKey, n)
		}
	}
}

// describe names a value's type without showing a secret.
func describe(v any, secret bool) string {
	kind := fmt.Sprintf("%T", v)
	switch v.(type) {
	case string:
		kind = "a string"
	case int64, float64:
		kind = "a number"
	case []any:
		kind = "a list"
	case map[string]any:
		kind = "an object"
	}
	if secret {
		return kind + " (secret)"
	}
	if s, ok := v.(string); ok {
		return fmt.Sprintf("the string %q", s)
	}
	return kind
}
