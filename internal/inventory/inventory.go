// Package inventory renders what the upstream playbook reads, in its own
// layout: inventory/hosts and inventory/host_vars/<host>/vars.yml, plus the
// known_hosts line and extra-vars files the wrapper writes next to them.
package inventory

import (
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Group is the inventory group the upstream setup.yml targets.
const Group = "matrix_servers"

// Host is the one host of the inventory.
type Host struct {
	Name    string // inventory hostname: matrix.<domain>
	Address string // ansible_host: the Elastic IP
	User    string // SSH user with passwordless sudo
	// Local makes Ansible configure the machine it runs on
	// (ansible_connection=local, as the ha topology's hosts do themselves);
	// Address and User must then be empty.
	Local bool
}

var (
	hostnamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)
	userPattern     = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)
	// EC2 instance IDs have 8 (older) or 17 hex digits; region names are
	// like eu-central-1 or us-gov-west-1. run-playbook checks the same.
	instanceIDPattern = regexp.MustCompile(`^i-[0-9a-f]{8}([0-9a-f]{9})?$`)
	regionPattern     = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// CheckSSMTarget refuses anything but an EC2 instance ID and a region
// name: both end up in the ssh ProxyCommand, which a shell runs.
func CheckSSMTarget(instanceID, region string) error {
	if !instanceIDPattern.MatchString(instanceID) {
		return fmt.Errorf("inventory: %q is not an EC2 instance ID", instanceID)
	}
	if !regionPattern.MatchString(region) {
		return fmt.Errorf("inventory: %q is not an AWS region", region)
	}
	return nil
}

// Hosts renders inventory/hosts in the INI form of the upstream examples.
// Every field is checked against a strict pattern first, so nothing
// rendered can break the line's syntax.
func Hosts(h Host) (string, error) {
	if !hostnamePattern.MatchString(h.Name) {
		return "", fmt.Errorf("inventory: host name %q", h.Name)
	}
	if h.Local {
		if h.Address != "" || h.User != "" {
			return "", fmt.Errorf("inventory: local host %s must have no address or ssh user", h.Name)
		}
		return fmt.Sprintf("[%s]\n%s ansible_connection=local ansible_become=true ansible_become_user=root ansible_python_interpreter=/usr/bin/python3\n",
			Group, h.Name), nil
	}
	if _, err := netip.ParseAddr(h.Address); err != nil {
		return "", fmt.Errorf("inventory: address of %s: %w", h.Name, err)
	}
	if !userPattern.MatchString(h.User) {
		return "", fmt.Errorf("inventory: ssh user %q", h.User)
	}
	return fmt.Sprintf("[%s]\n%s ansible_host=%s ansible_ssh_user=%s ansible_become=true ansible_become_user=root ansible_python_interpreter=/usr/bin/python3\n",
		Group, h.Name, h.Address, h.User), nil
}

// Registration modes, as matrix:registration spells them.
const (
	RegistrationClosed = "closed"
	RegistrationToken  = "token"
	RegistrationOpen   = "open"
)

// Settings are the stack's choices that reach the playbook.
type Settings struct {
	Domain           string // base domain, never matrix.<domain>
	MigrationVersion string // from the pin
	IPv6             bool
	ServeBaseDomain  bool
	Element          bool
	TURN             bool
	// ElementCall runs Element Call and the Matrix RTC stack (LiveKit
	// Server, LiveKit JWT service) behind it.
	ElementCall      bool
	Registration     string
	PublicIPv4       string // coturn's and LiveKit's external address
	GenericSecretKey string // 64 random characters
	PostgresPassword string // random, under 100 characters
	AdminUser        string // localpart of the admin account the playbook creates
	AdminPassword    string // its initial password
	// Extra are the operator's own upstream variables (matrix:playbookVars),
	// rendered after the program's; ExtraSecret names those holding secrets.
	Extra       map[string]any
	ExtraSecret map[string]bool
	// Email, when set, points the playbook's exim relay at an SMTP relay
	// with credentials (matrix:email ses).
	Email *EmailSettings
	// HA, when set, switches the playbook to an external PostgreSQL, media
	// on S3 and Traefik behind a load balancer (the ha topology).
	HA *HASettings
	// MAS, when set, runs the Matrix Authentication Service.
	MAS *MASSettings
	// WorkersPreset names the upstream's Synapse worker preset; empty runs
	// Synapse as one process.
	WorkersPreset string
}

// HASettings are what the ha topology hands the playbook: where the
// database and the media bucket are, and the ports Traefik and Synapse
// listen on behind the load balancer.
type HASettings struct {
	DatabaseHost     string
	DatabaseUser     string
	DatabasePassword string
	DatabaseName     string
	MediaBucket      string
	MediaRegion      string
	MediaEndpoint    string // https://s3.<region>.amazonaws.com
	WebPort          int    // Traefik's plain HTTP entrypoint on the host
	FederationPort   int    // Traefik's plain federation entrypoint on the host
	HealthPort       int    // Traefik's internal client API entrypoint on the host, for the health checks
	TrustedCIDR      string // the only source of X-Forwarded-* headers Traefik trusts
	// MASDatabasePassword is the password of MAS's own role on the same
	// database server (required when MAS runs).
	MASDatabasePassword string
}

// EmailSettings are the relay the playbook's exim relay delivers through
// (roles/galaxy/exim_relay: exim_relay_relay_*), and the sender address.
type EmailSettings struct {
	SenderAddress string
	RelayHost     string
	RelayPort     int // STARTTLS ("smtp", the role's default protocol)
	Username      string
	Password      string
}

// Vars is vars.yml with the variable names of the pinned playbook. Field
// order is the order of the upstream examples/vars.yml, then our toggles.
type Vars struct {
	MigrationValidatedVersion string `yaml:"matrix_playbook_migration_validated_version"`
	Domain                    string `yaml:"matrix_domain"`
	HomeserverImplementation  string `yaml:"matrix_homeserver_implementation"`
	GenericSecretKey          string `yaml:"matrix_homeserver_generic_secret_key"`
	ReverseProxyType          string `yaml:"matrix_playbook_reverse_proxy_type"`
	DockerIPv6                bool   `yaml:"devture_systemd_docker_base_ipv6_enabled"`
	PostgresPassword          string `yaml:"postgres_connection_password"`

	BaseDomainServing         bool     `yaml:"matrix_static_files_container_labels_base_domain_enabled"`
	ElementEnabled            bool     `yaml:"matrix_client_element_enabled"`
	RegistrationEnabled       bool     `yaml:"matrix_synapse_enable_registration"`
	RegistrationRequiresToken bool     `yaml:"matrix_synapse_registration_requires_token"`
	RegistrationUnverified    bool     `yaml:"matrix_synapse_enable_registration_without_verification"`
	CoturnEnabled             bool     `yaml:"coturn_enabled"`
	CoturnExternalIPs         []string `yaml:"coturn_turn_external_ip_addresses,omitempty"`
	// Element Call and the Matrix RTC stack it needs
	// (docs/configuring-playbook-element-call.md): both switches, so that
	// neither follows the other's default. LiveKit advertises node_ip to
	// clients as its media address: the Elastic IP, known here, rather than
	// whatever a STUN lookup at start returns. Left out when off, where the
	// upstream's defaults (false) hold and matrix:playbookVars cannot
	// change them: stacks without calls render the vars.yml they did before.
	ElementCallEnabled bool   `yaml:"matrix_element_call_enabled,omitempty"`
	RTCEnabled         bool   `yaml:"matrix_rtc_enabled,omitempty"`
	LiveKitNodeIP      string `yaml:"livekit_server_config_rtc_node_ip,omitempty"`

	// The ha topology: external PostgreSQL (docs/configuring-playbook-
	// external-postgres.md), media on S3 (docs/configuring-playbook-synapse-
	// s3-storage-provider.md) and Traefik fronted by a load balancer
	// (docs/configuring-playbook-own-webserver.md). All absent in single.
	PostgresEnabled               *bool             `yaml:"postgres_enabled,omitempty"`
	SynapseDatabaseHost           string            `yaml:"matrix_synapse_database_host,omitempty"`
	SynapseDatabaseUser           string            `yaml:"matrix_synapse_database_user,omitempty"`
	SynapseDatabasePassword       string            `yaml:"matrix_synapse_database_password,omitempty"`
	SynapseDatabaseDatabase       string            `yaml:"matrix_synapse_database_database,omitempty"`
	S3ProviderEnabled             *bool             `yaml:"matrix_synapse_ext_synapse_s3_storage_provider_enabled,omitempty"`
	S3ProviderBucket              string            `yaml:"matrix_synapse_ext_synapse_s3_storage_provider_config_bucket,omitempty"`
	S3ProviderRegion              string            `yaml:"matrix_synapse_ext_synapse_s3_storage_provider_config_region_name,omitempty"`
	S3ProviderEndpoint            string            `yaml:"matrix_synapse_ext_synapse_s3_storage_provider_config_endpoint_url,omitempty"`
	S3ProviderInstanceProfile     *bool             `yaml:"matrix_synapse_ext_synapse_s3_storage_provider_config_ec2_instance_profile,omitempty"`
	S3ProviderStoreSynchronous    *bool             `yaml:"matrix_synapse_ext_synapse_s3_storage_provider_store_synchronous,omitempty"`
	SSLEnabled                    *bool             `yaml:"matrix_playbook_ssl_enabled,omitempty"`
	TraefikWebSecureEnabled       *bool             `yaml:"traefik_config_entrypoint_web_secure_enabled,omitempty"`
	TraefikWebHostBindPort        string            `yaml:"traefik_container_web_host_bind_port,omitempty"`
	TraefikWebTrustedIPs          []string          `yaml:"traefik_config_entrypoint_web_forwardedHeaders_trustedIPs,omitempty"`
	FederationHostBindPort        string            `yaml:"matrix_playbook_public_matrix_federation_api_traefik_entrypoint_host_bind_port,omitempty"`
	FederationHTTP3Enabled        *bool             `yaml:"matrix_playbook_public_matrix_federation_api_traefik_entrypoint_config_http3_enabled,omitempty"`
	FederationEntrypointCustom    *EntrypointConfig `yaml:"matrix_playbook_public_matrix_federation_api_traefik_entrypoint_config_custom,omitempty"`
	InternalClientAPIHostBindPort string            `yaml:"matrix_playbook_internal_matrix_client_api_traefik_entrypoint_host_bind_port,omitempty"`

	// Synapse workers (docs/configuring-playbook-synapse.md, "Load
	// balancing with workers"); absent when Synapse runs as one process.
	WorkersEnabled bool   `yaml:"matrix_synapse_workers_enabled,omitempty"`
	WorkersPreset  string `yaml:"matrix_synapse_workers_preset,omitempty"`

	// The Matrix Authentication Service (docs/configuring-playbook-matrix-
	// authentication-service.md); all absent when Synapse authenticates.
	MASEnabled                 bool     `yaml:"matrix_authentication_service_enabled,omitempty"`
	MASEncryption              string   `yaml:"matrix_authentication_service_config_secrets_encryption,omitempty"`
	MASKeyManagement           *bool    `yaml:"matrix_authentication_service_key_management_enabled,omitempty"`
	MASKeys                    []MASKey `yaml:"matrix_authentication_service_config_secrets_keys,omitempty"`
	MASPasswordRegistration    *bool    `yaml:"matrix_authentication_service_config_account_password_registration_enabled,omitempty"`
	MASRegistrationEmail       *bool    `yaml:"matrix_authentication_service_config_account_password_registration_email_required,omitempty"`
	MASRegistrationTokenNeeded *bool    `yaml:"matrix_authentication_service_config_account_registration_token_required,omitempty"`
	MASDatabaseHost            string   `yaml:"matrix_authentication_service_config_database_host,omitempty"`
	MASDatabaseUsername        string   `yaml:"matrix_authentication_service_config_database_username,omitempty"`
	MASDatabasePassword        string   `yaml:"matrix_authentication_service_config_database_password,omitempty"`
	MASDatabaseDatabase        string   `yaml:"matrix_authentication_service_config_database_database,omitempty"`
	MASDatabaseSSLMode         string   `yaml:"matrix_authentication_service_config_database_ssl_mode,omitempty"`

	// The admin account, created declaratively by the playbook's
	// matrix-user-creator role with the ensure-matrix-users-created tag
	// (docs/registering-users.md): no separate register-user run, and the
	// password travels inside vars.yml, never on a command line.
	Users []User `yaml:"matrix_user_creator_users_additional,omitempty"`

	// Extra holds matrix:playbookVars, which the program checked against
	// the pinned upstream and against the names above, and the relay's
	// settings (RelayVars).
	Extra map[string]any `yaml:",inline"`
}

// RelayVars point the exim relay at a smarthost (matrix:email ses): EC2
// blocks outbound port 25, so upstream's direct delivery never arrives.
// They reach vars.yml through Vars.Extra rather than as fields of Vars:
// with matrix:email none an operator may set them in matrix:playbookVars,
// and yaml.v3 refuses an inline map that shares a name with a field.
type RelayVars struct {
	Enabled       bool   `yaml:"exim_relay_enabled"`
	SenderAddress string `yaml:"exim_relay_sender_address"`
	Use           bool   `yaml:"exim_relay_relay_use"`
	HostName      string `yaml:"exim_relay_relay_host_name"`
	HostPort      int    `yaml:"exim_relay_relay_host_port"`
	Protocol      string `yaml:"exim_relay_relay_protocol"`
	Auth          bool   `yaml:"exim_relay_relay_auth"`
	AuthUsername  string `yaml:"exim_relay_relay_auth_username"`
	AuthPassword  string `yaml:"exim_relay_relay_auth_password"`
}

// User is one entry of matrix_user_creator_users_additional.
type User struct {
	Username        string `yaml:"username"`
	InitialPassword string `yaml:"initial_password"`
	InitialType     string `yaml:"initial_type"`
}

// EntrypointConfig is the part of a Traefik entrypoint's configuration the
// ha topology sets.
type EntrypointConfig struct {
	ForwardedHeaders ForwardedHeaders `yaml:"forwardedHeaders"`
}

// ForwardedHeaders says whose X-Forwarded-* headers Traefik believes.
type ForwardedHeaders struct {
	TrustedIPs []string `yaml:"trustedIPs"`
}

// NewVars maps the stack's settings onto the playbook's variables.
func NewVars(s Settings) (Vars, error) {
	switch {
	case s.Domain == "" || strings.HasPrefix(s.Domain, "matrix."):
		return Vars{}, fmt.Errorf("inventory: matrix_domain must be the base domain, got %q", s.Domain)
	case len(s.GenericSecretKey) != 64:
		return Vars{}, fmt.Errorf("inventory: the generic secret key must have 64 characters, has %d", len(s.GenericSecretKey))
	case s.PostgresPassword == "" || len(s.PostgresPassword) >= 100:
		return Vars{}, fmt.Errorf("inventory: the postgres password must have 1 to 99 characters, has %d", len(s.PostgresPassword))
	case s.MigrationVersion == "":
		return Vars{}, fmt.Errorf("inventory: no migration version")
	}
	v := Vars{
		MigrationValidatedVersion: s.MigrationVersion,
		Domain:                    s.Domain,
		HomeserverImplementation:  "synapse",
		GenericSecretKey:          s.GenericSecretKey,
		ReverseProxyType:          "playbook-managed-traefik",
		DockerIPv6:                s.IPv6,
		PostgresPassword:          s.PostgresPassword,
		BaseDomainServing:         s.ServeBaseDomain,
		ElementEnabled:            s.Element,
		CoturnEnabled:             s.TURN,
		ElementCallEnabled:        s.ElementCall,
		RTCEnabled:                s.ElementCall,
	}
	if s.AdminUser != "" {
		if s.AdminPassword == "" {
			return Vars{}, fmt.Errorf("inventory: the admin user %s has no password", s.AdminUser)
		}
		v.Users = []User{{Username: s.AdminUser, InitialPassword: s.AdminPassword, InitialType: "admin"}}
	}
	switch {
	case s.MAS != nil:
		// MAS takes registration over (applyMAS); the upstream refuses
		// Synapse's own registration beside it.
	case s.Registration == RegistrationClosed:
	case s.Registration == RegistrationToken:
		v.RegistrationEnabled, v.RegistrationRequiresToken = true, true
	case s.Registration == RegistrationOpen:
		// Synapse refuses open registration without verification unless told
		// explicitly; matrix:registration=open is that explicit choice.
		v.RegistrationEnabled, v.RegistrationUnverified = true, true
	default:
		return Vars{}, fmt.Errorf("inventory: registration mode %q", s.Registration)
	}
	if s.WorkersPreset != "" {
		v.WorkersEnabled, v.WorkersPreset = true, s.WorkersPreset
	}
	if s.MAS != nil {
		if err := v.applyMAS(*s.MAS, s.Registration); err != nil {
			return Vars{}, err
		}
	}
	if s.HA != nil {
		if err := v.applyHA(s); err != nil {
			return Vars{}, err
		}
	}
	if s.TURN {
		if _, err := netip.ParseAddr(s.PublicIPv4); err != nil {
			return Vars{}, fmt.Errorf("inventory: coturn external address: %w", err)
		}
		v.CoturnExternalIPs = []string{s.PublicIPv4}
	}
	if s.ElementCall {
		if a, err := netip.ParseAddr(s.PublicIPv4); err != nil || !a.Is4() {
			return Vars{}, fmt.Errorf("inventory: LiveKit node address %q: want the host's public IPv4 address", s.PublicIPv4)
		}
		v.LiveKitNodeIP = s.PublicIPv4
	}
	rendered := v.renderedNames()
	if s.Email != nil {
		relay, err := relayVars(*s.Email)
		if err != nil {
			return Vars{}, err
		}
		v.Extra = relay
		for name := range relay {
			rendered = append(rendered, name)
		}
	}
	if err := v.addExtra(s.Extra, rendered); err != nil {
		return Vars{}, err
	}
	return v, nil
}

// relayVars renders the relay's settings as vars.yml entries.
func relayVars(e EmailSettings) (map[string]any, error) {
	local, domain, ok := strings.Cut(e.SenderAddress, "@")
	switch {
	case !ok || local == "" || !hostnamePattern.MatchString(strings.ToLower(domain)):
		return nil, fmt.Errorf("inventory: email: sender address %q", e.SenderAddress)
	case !hostnamePattern.MatchString(e.RelayHost):
		return nil, fmt.Errorf("inventory: email: relay host %q", e.RelayHost)
	case e.RelayPort < 1 || e.RelayPort > 65535:
		return nil, fmt.Errorf("inventory: email: relay port %d", e.RelayPort)
	case e.Username == "" || e.Password == "":
		return nil, fmt.Errorf("inventory: email: the relay has no credentials")
	}
	return toMap(RelayVars{
		Enabled: true, SenderAddress: e.SenderAddress,
		Use: true, HostName: e.RelayHost, HostPort: e.RelayPort, Protocol: "smtp",
		Auth: true, AuthUsername: e.Username, AuthPassword: e.Password,
	})
}

// toMap turns a struct into the map its YAML form decodes to.
func toMap(v any) (map[string]any, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	return m, nil
}

// addExtra merges the operator's variables; none may be one the program
// renders (the config refuses them first, this keeps the file unambiguous).
func (v *Vars) addExtra(extra map[string]any, owned []string) error {
	if len(extra) == 0 {
		return nil
	}
	if v.Extra == nil {
		v.Extra = map[string]any{}
	}
	for name, val := range extra {
		if slices.Contains(owned, name) {
			return fmt.Errorf("inventory: %s is rendered by the program and cannot be set again", name)
		}
		v.Extra[name] = val
	}
	return nil
}

// applyHA switches the playbook to the ha topology's external services.
func (v *Vars) applyHA(s Settings) error {
	h := s.HA
	if s.TURN {
		return fmt.Errorf("inventory: TURN needs UDP, which the ha topology's load balancer does not carry")
	}
	if s.ElementCall {
		return fmt.Errorf("inventory: LiveKit's media needs UDP, which the ha topology's load balancer does not carry")
	}
	trusted, err := netip.ParsePrefix(h.TrustedCIDR)
	if err != nil {
		return fmt.Errorf("inventory: trusted proxy range: %w", err)
	}
	for name, val := range map[string]string{
		"database host": h.DatabaseHost, "database user": h.DatabaseUser, "database password": h.DatabasePassword,
		"database name": h.DatabaseName, "media bucket": h.MediaBucket, "media region": h.MediaRegion, "media endpoint": h.MediaEndpoint,
	} {
		if val == "" {
			return fmt.Errorf("inventory: ha: the %s is empty", name)
		}
	}
	for name, port := range map[string]int{"web": h.WebPort, "federation": h.FederationPort, "health": h.HealthPort} {
		if port < 1 || port > 65535 {
			return fmt.Errorf("inventory: ha: %s port %d", name, port)
		}
	}
	if !strings.HasPrefix(h.MediaEndpoint, "https://") {
		return fmt.Errorf("inventory: ha: media endpoint %q is not an https URL", h.MediaEndpoint)
	}
	yes, no := true, false
	// Reachable from the VPC (the load balancer's security group decides
	// who in it): Traefik and Synapse bind all addresses of the host.
	bind := func(port int) string { return fmt.Sprintf("0.0.0.0:%d", port) }
	v.PostgresEnabled = &no
	v.SynapseDatabaseHost, v.SynapseDatabaseUser = h.DatabaseHost, h.DatabaseUser
	v.SynapseDatabasePassword, v.SynapseDatabaseDatabase = h.DatabasePassword, h.DatabaseName
	// Upload before answering the client: a lost host loses no media.
	v.S3ProviderEnabled, v.S3ProviderInstanceProfile, v.S3ProviderStoreSynchronous = &yes, &yes, &yes
	v.S3ProviderBucket, v.S3ProviderRegion, v.S3ProviderEndpoint = h.MediaBucket, h.MediaRegion, h.MediaEndpoint
	v.SSLEnabled, v.TraefikWebSecureEnabled, v.FederationHTTP3Enabled = &yes, &no, &no
	v.TraefikWebHostBindPort, v.FederationHostBindPort = bind(h.WebPort), bind(h.FederationPort)
	v.InternalClientAPIHostBindPort = bind(h.HealthPort)
	v.TraefikWebTrustedIPs = []string{trusted.String()}
	v.FederationEntrypointCustom = &EntrypointConfig{ForwardedHeaders{TrustedIPs: []string{trusted.String()}}}
	if s.MAS != nil {
		return v.applyMASDatabase(*h)
	}
	return nil
}

// YAML renders vars.yml.
func (v Vars) YAML() (string, error) {
	b, err := yaml.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("inventory: vars.yml: %w", err)
	}
	return "---\n" + string(b), nil
}

// KnownHosts pins the host key learned at first contact for every name
// Ansible may use for the host.
func KnownHosts(names []string, hostKey string) (string, error) {
	f := strings.Fields(hostKey)
	if len(f) < 2 || !strings.HasPrefix(f[0], "ssh-") && !strings.HasPrefix(f[0], "ecdsa-") {
		return "", fmt.Errorf("inventory: %q is not an OpenSSH host public key", hostKey)
	}
	for _, n := range names {
		if !hostnamePattern.MatchString(n) && !isAddr(n) {
			return "", fmt.Errorf("inventory: known_hosts name %q", n)
		}
	}
	return strings.Join(names, ",") + " " + f[0] + " " + f[1] + "\n", nil
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// ExtraVars renders a YAML file for ansible-playbook --extra-vars @file.
func ExtraVars(vars map[string]string) (string, error) {
	b, err := yaml.Marshal(vars)
	if err != nil {
		return "", fmt.Errorf("inventory: extra vars: %w", err)
	}
	return string(b), nil
}

// MaskedValue replaces secrets in what reviewers see.
const MaskedValue = "[secret]"

// MaskedVars renders the variables for reviewers: every secret replaced by
// MaskedValue, so they need not exist yet.
func MaskedVars(s Settings) (Vars, error) {
	s.GenericSecretKey, s.PostgresPassword = strings.Repeat("x", 64), "x"
	if s.AdminUser != "" {
		s.AdminPassword = "x"
	}
	if s.HA != nil {
		ha := *s.HA
		ha.DatabasePassword = "x"
		if s.MAS != nil {
			ha.MASDatabasePassword = "x"
		}
		s.HA = &ha
	}
	if s.Email != nil {
		e := *s.Email
		e.Username, e.Password = "x", "x"
		s.Email = &e
	}
	if s.MAS != nil {
		s.MAS = maskedMAS(*s.MAS)
	}
	extra := map[string]any{}
	for name, val := range s.Extra {
		extra[name] = val
		if s.ExtraSecret[name] {
			extra[name] = MaskedValue
		}
	}
	s.Extra = extra
	v, err := NewVars(s)
	v.GenericSecretKey, v.PostgresPassword = MaskedValue, MaskedValue
	for i := range v.Users {
		v.Users[i].InitialPassword = MaskedValue
	}
	if s.HA != nil {
		v.SynapseDatabasePassword = MaskedValue
	}
	if s.Email != nil && err == nil {
		v.Extra["exim_relay_relay_auth_username"], v.Extra["exim_relay_relay_auth_password"] = MaskedValue, MaskedValue
	}
	v.maskMAS()
	return v, err
}

// renderedNames lists the variables this vars.yml renders: every field
// without omitempty, and the others that are set.
func (v Vars) renderedNames() []string {
	var names []string
	t, val := reflect.TypeOf(v), reflect.ValueOf(v)
	for i := range t.NumField() {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" || t.Field(i).Name == "Extra" {
			continue
		}
		if opts != "omitempty" || !val.Field(i).IsZero() {
			names = append(names, name)
		}
	}
	return names
}

// VariableNames lists every playbook variable vars.yml can hold, for
// checking them against the upstream when the pin moves (cmd/upstreamvars).
func VariableNames() []string {
	var names []string
	for _, t := range []reflect.Type{reflect.TypeOf(Vars{}), reflect.TypeOf(RelayVars{})} {
		for i := range t.NumField() {
			if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" && t.Field(i).Name != "Extra" {
				names = append(names, name)
			}
		}
	}
	return names
}
