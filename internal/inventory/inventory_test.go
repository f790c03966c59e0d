package inventory

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/upstream"
	"gopkg.in/yaml.v3"
)

func settings() Settings {
	return Settings{
		Domain: "example.org", MigrationVersion: "v2026.05.18.0", IPv6: true,
		ServeBaseDomain: true, Element: true, Registration: RegistrationClosed,
		PublicIPv4: "203.0.113.10", GenericSecretKey: strings.Repeat("k", 64), PostgresPassword: "pgpass",
	}
}

func TestHosts(t *testing.T) {
	got, err := Hosts(Host{Name: "matrix.example.org", Address: "203.0.113.10", User: "ubuntu"})
	if err != nil {
		t.Fatal(err)
	}
	want := "[matrix_servers]\nmatrix.example.org ansible_host=203.0.113.10 ansible_ssh_user=ubuntu ansible_become=true ansible_become_user=root ansible_python_interpreter=/usr/bin/python3\n"
	if got != want {
		t.Errorf("hosts:\n%s\nwant:\n%s", got, want)
	}
	for _, h := range []Host{
		{Name: "matrix.example.org\nevil", Address: "203.0.113.10", User: "ubuntu"},
		{Name: "matrix.example.org", Address: "203.0.113.10 ansible_connection=local", User: "ubuntu"},
		{Name: "matrix.example.org", Address: "203.0.113.10", User: "ubuntu become_user=x"},
	} {
		if _, err := Hosts(h); err == nil {
			t.Errorf("accepted %+v", h)
		}
	}
}

func TestVarsRejects(t *testing.T) {
	for name, mutate := range map[string]func(*Settings){
		"matrix domain":   func(s *Settings) { s.Domain = "matrix.example.org" },
		"short key":       func(s *Settings) { s.GenericSecretKey = "short" },
		"long password":   func(s *Settings) { s.PostgresPassword = strings.Repeat("p", 100) },
		"no migration":    func(s *Settings) { s.MigrationVersion = "" },
		"registration":    func(s *Settings) { s.Registration = "invite" },
		"turn no adress":  func(s *Settings) { s.TURN, s.PublicIPv4 = true, "" },
		"calls no adress": func(s *Settings) { s.ElementCall, s.PublicIPv4 = true, "" },
		"calls ipv6":      func(s *Settings) { s.ElementCall, s.PublicIPv4 = true, "2001:db8::1" },
	} {
		s := settings()
		mutate(&s)
		if _, err := NewVars(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMaskedVarsHoldNoSecret(t *testing.T) {
	v, err := MaskedVars(settings())
	if err != nil {
		t.Fatal(err)
	}
	y, _ := v.YAML()
	if strings.Contains(y, "xxxx") || strings.Count(y, MaskedValue) != 2 {
		t.Errorf("masked vars:\n%s", y)
	}
}

func TestKnownHosts(t *testing.T) {
	got, err := KnownHosts([]string{"203.0.113.10", "matrix.example.org"}, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJvGDR root@host\n")
	if err != nil {
		t.Fatal(err)
	}
	if got != "203.0.113.10,matrix.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJvGDR\n" {
		t.Errorf("known_hosts %q", got)
	}
	if _, err := KnownHosts([]string{"203.0.113.10"}, ""); err == nil {
		t.Error("accepted an empty host key")
	}
}

// TestAnsibleReadsTheLayout writes the rendered files in the upstream
// layout and asks the real ansible-inventory what it sees.
func TestAnsibleReadsTheLayout(t *testing.T) {
	if _, err := exec.LookPath("ansible-inventory"); err != nil {
		t.Fatal("ansible-inventory not found: install ansible-core (./scripts/test does)")
	}
	dir := t.TempDir()
	hosts, err := Hosts(Host{Name: "matrix.example.org", Address: "203.0.113.10", User: "ubuntu"})
	if err != nil {
		t.Fatal(err)
	}
	s := settings()
	s.TURN, s.ElementCall, s.Registration = true, true, RegistrationToken
	v, err := NewVars(s)
	if err != nil {
		t.Fatal(err)
	}
	vars, err := v.YAML()
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "inventory", "hosts"), hosts)
	write(t, filepath.Join(dir, "inventory", "host_vars", "matrix.example.org", "vars.yml"), vars)
	cmd := exec.Command("ansible-inventory", "-i", filepath.Join(dir, "inventory", "hosts"), "--list")
	cmd.Env = append(os.Environ(), "ANSIBLE_INVENTORY_UNPARSED_FAILED=True")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory: %v\n%s", err, out)
	}
	var inv struct {
		Meta struct {
			Hostvars map[string]map[string]any `json:"hostvars"`
		} `json:"_meta"`
		Servers struct {
			Hosts []string `json:"hosts"`
		} `json:"matrix_servers"`
	}
	if err := json.Unmarshal(out, &inv); err != nil {
		t.Fatal(err)
	}
	if len(inv.Servers.Hosts) != 1 || inv.Servers.Hosts[0] != "matrix.example.org" {
		t.Fatalf("matrix_servers hosts %v", inv.Servers.Hosts)
	}
	hv := inv.Meta.Hostvars["matrix.example.org"]
	var want map[string]any
	if err := yaml.Unmarshal([]byte(vars), &want); err != nil {
		t.Fatal(err)
	}
	want["ansible_host"], want["ansible_ssh_user"], want["ansible_become_user"] = "203.0.113.10", "ubuntu", "root"
	for k, w := range want {
		if g, ok := hv[k]; !ok || jsonString(g) != jsonString(w) {
			t.Errorf("hostvar %s = %v, want %v", k, g, w)
		}
	}
	if hv["ansible_become"] != true && hv["ansible_become"] != "true" {
		t.Errorf("ansible_become = %v", hv["ansible_become"])
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLocalHost(t *testing.T) {
	got, err := Hosts(Host{Name: "matrix.example.org", Local: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "[matrix_servers]\nmatrix.example.org ansible_connection=local ansible_become=true ansible_become_user=root ansible_python_interpreter=/usr/bin/python3\n"
	if got != want {
		t.Errorf("hosts:\n%s\nwant:\n%s", got, want)
	}
	for _, h := range []Host{
		{Name: "matrix.example.org", Local: true, Address: "203.0.113.10"},
		{Name: "matrix.example.org", Local: true, User: "ubuntu"},
		{Name: "matrix.example.org evil=1", Local: true},
	} {
		if _, err := Hosts(h); err == nil {
			t.Errorf("accepted %+v", h)
		}
	}
}

func haSettings() Settings {
	s := settings()
	s.HA = &HASettings{
		DatabaseHost: "matrix-ha.cabc.eu-central-1.rds.amazonaws.com", DatabaseUser: "synapse", DatabasePassword: "dbpass",
		DatabaseName: "synapse", MediaBucket: "media-1234567", MediaRegion: "eu-central-1",
		MediaEndpoint: "https://s3.eu-central-1.amazonaws.com", WebPort: 81, FederationPort: 8449, HealthPort: 8008,
		TrustedCIDR: "10.42.0.0/16",
	}
	return s
}

// haVarNames are the variables the ha topology sets. That each is defined
// at the pinned upstream commit is checked against internal/upstream's
// facts of that commit: here for these names (TestHAVars), and for every
// rendered name by cmd/upstreamvars (TestCommittedFactsAndRenderedNames),
// the check to run when the pin moves.
var haVarNames = map[string]any{
	"postgres_enabled":                                                                     false,
	"matrix_synapse_database_host":                                                         "matrix-ha.cabc.eu-central-1.rds.amazonaws.com",
	"matrix_synapse_database_user":                                                         "synapse",
	"matrix_synapse_database_password":                                                     "dbpass",
	"matrix_synapse_database_database":                                                     "synapse",
	"matrix_synapse_ext_synapse_s3_storage_provider_enabled":                               true,
	"matrix_synapse_ext_synapse_s3_storage_provider_config_bucket":                         "media-1234567",
	"matrix_synapse_ext_synapse_s3_storage_provider_config_region_name":                    "eu-central-1",
	"matrix_synapse_ext_synapse_s3_storage_provider_config_endpoint_url":                   "https://s3.eu-central-1.amazonaws.com",
	"matrix_synapse_ext_synapse_s3_storage_provider_config_ec2_instance_profile":           true,
	"matrix_synapse_ext_synapse_s3_storage_provider_store_synchronous":                     true,
	"matrix_playbook_ssl_enabled":                                                          true,
	"traefik_config_entrypoint_web_secure_enabled":                                         false,
	"traefik_container_web_host_bind_port":                                                 "0.0.0.0:81",
	"traefik_config_entrypoint_web_forwardedHeaders_trustedIPs":                            []any{"10.42.0.0/16"},
	"matrix_playbook_public_matrix_federation_api_traefik_entrypoint_host_bind_port":       "0.0.0.0:8449",
	"matrix_playbook_public_matrix_federation_api_traefik_entrypoint_config_http3_enabled": false,
	"matrix_playbook_public_matrix_federation_api_traefik_entrypoint_config_custom": map[string]any{
		"forwardedHeaders": map[string]any{"trustedIPs": []any{"10.42.0.0/16"}},
	},
	// The load balancer's health checks reach Synapse through Traefik's
	// internal entrypoint; Synapse itself binds no host port.
	"matrix_playbook_internal_matrix_client_api_traefik_entrypoint_host_bind_port": "0.0.0.0:8008",
}

func renderMap(t *testing.T, s Settings, masked bool) map[string]any {
	t.Helper()
	v, err := NewVars(s)
	if masked {
		v, err = MaskedVars(s)
	}
	if err != nil {
		t.Fatal(err)
	}
	text, err := v.YAML()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(text), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHAVars(t *testing.T) {
	single := renderMap(t, settings(), false)
	ha := renderMap(t, haSettings(), false)
	facts, err := upstream.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ha["matrix_synapse_container_client_api_host_bind_port"]; ok {
		t.Error("ha binds Synapse's client API on the host: the load balancer's health check could go around Traefik")
	}
	for name, want := range haVarNames {
		if !facts.Known(name) {
			t.Errorf("%s is not defined at the pinned upstream commit %s", name, facts.Commit)
		}
		if _, ok := single[name]; ok {
			t.Errorf("single renders %s", name)
		}
		got, _ := json.Marshal(ha[name])
		w, _ := json.Marshal(want)
		if string(got) != string(w) {
			t.Errorf("%s = %s, want %s", name, got, w)
		}
	}
	// Everything else is what single renders.
	for name, v := range single {
		if g, _ := json.Marshal(ha[name]); string(g) != func() string { b, _ := json.Marshal(v); return string(b) }() {
			t.Errorf("%s differs between single and ha: %v vs %v", name, v, ha[name])
		}
	}
	if len(ha) != len(single)+len(haVarNames) {
		t.Errorf("ha renders %d variables, want %d", len(ha), len(single)+len(haVarNames))
	}
	masked := renderMap(t, haSettings(), true)
	if masked["matrix_synapse_database_password"] != MaskedValue || masked["matrix_synapse_database_host"] != haVarNames["matrix_synapse_database_host"] {
		t.Errorf("masked: password %v host %v", masked["matrix_synapse_database_password"], masked["matrix_synapse_database_host"])
	}
}

func TestHAVarsRejections(t *testing.T) {
	for name, mutate := range map[string]func(*Settings){
		"turn":         func(s *Settings) { s.TURN = true },
		"calls":        func(s *Settings) { s.ElementCall = true },
		"no db host":   func(s *Settings) { s.HA.DatabaseHost = "" },
		"no password":  func(s *Settings) { s.HA.DatabasePassword = "" },
		"bad cidr":     func(s *Settings) { s.HA.TrustedCIDR = "vpc" },
		"port":         func(s *Settings) { s.HA.WebPort = 0 },
		"http":         func(s *Settings) { s.HA.MediaEndpoint = "http://s3.eu-central-1.amazonaws.com" },
		"empty bucket": func(s *Settings) { s.HA.MediaBucket = "" },
	} {
		s := haSettings()
		mutate(&s)
		if _, err := NewVars(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestCheckSSMTarget: only an instance ID and a region name reach the
// wrapper, which puts them into ssh's ProxyCommand.
func TestCheckSSMTarget(t *testing.T) {
	for _, tc := range []struct {
		id, region string
		ok         bool
	}{
		{"i-0123456789abcdef0", "eu-central-1", true},
		{"i-01234567", "us-gov-west-1", true},
		{"i-0123456789abcdef", "eu-central-1", false},
		{"i-0123456789ABCDEF0", "eu-central-1", false},
		{"i-0123456789abcdef0;id", "eu-central-1", false},
		{"mi-0123456789abcdef0", "eu-central-1", false},
		{"i-0123456789abcdef0", "eu-central-1 --profile x", false},
		{"i-0123456789abcdef0", "", false},
	} {
		if err := CheckSSMTarget(tc.id, tc.region); (err == nil) != tc.ok {
			t.Errorf("CheckSSMTarget(%q, %q) = %v, want ok %v", tc.id, tc.region, err, tc.ok)
		}
	}
}
