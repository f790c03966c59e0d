package inventory

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
		"matrix domain":  func(s *Settings) { s.Domain = "matrix.example.org" },
		"short key":      func(s *Settings) { s.GenericSecretKey = "short" },
		"long password":  func(s *Settings) { s.PostgresPassword = strings.Repeat("p", 100) },
		"no migration":   func(s *Settings) { s.MigrationVersion = "" },
		"registration":   func(s *Settings) { s.Registration = "invite" },
		"turn no adress": func(s *Settings) { s.TURN, s.PublicIPv4 = true, "" },
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
	s.TURN, s.Registration = true, RegistrationToken
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
