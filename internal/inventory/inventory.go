// Package inventory renders what the upstream playbook reads, in its own
// layout: inventory/hosts and inventory/host_vars/<host>/vars.yml, plus the
// known_hosts line and extra-vars files the wrapper writes next to them.
package inventory

import (
	"fmt"
	"net/netip"
	"regexp"
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
}

var (
	hostnamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)
	userPattern     = regexp.MustCompile(`^[a-z_][a-z0-9_-]*$`)
)

// Hosts renders inventory/hosts in the INI form of the upstream examples.
// Every field is checked against a strict pattern first, so nothing
// rendered can break the line's syntax.
func Hosts(h Host) (string, error) {
	if !hostnamePattern.MatchString(h.Name) {
		return "", fmt.Errorf("inventory: host name %q", h.Name)
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
	Registration     string
	PublicIPv4       string // coturn's external address
	GenericSecretKey string // 64 random characters
	PostgresPassword string // random, under 100 characters
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
	}
	switch s.Registration {
	case RegistrationClosed:
	case RegistrationToken:
		v.RegistrationEnabled, v.RegistrationRequiresToken = true, true
	case RegistrationOpen:
		// Synapse refuses open registration without verification unless told
		// explicitly; matrix:registration=open is that explicit choice.
		v.RegistrationEnabled, v.RegistrationUnverified = true, true
	default:
		return Vars{}, fmt.Errorf("inventory: registration mode %q", s.Registration)
	}
	if s.TURN {
		if _, err := netip.ParseAddr(s.PublicIPv4); err != nil {
			return Vars{}, fmt.Errorf("inventory: coturn external address: %w", err)
		}
		v.CoturnExternalIPs = []string{s.PublicIPv4}
	}
	return v, nil
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
	v, err := NewVars(s)
	v.GenericSecretKey, v.PostgresPassword = MaskedValue, MaskedValue
	return v, err
}
