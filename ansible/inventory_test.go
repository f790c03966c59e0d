package ansible_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestRenderedInventoryParses: an inventory in the upstream's layout, as the
// Pulumi program renders it, is read by ansible-inventory with the host in
// matrix_servers and its vars.yml applied.
func TestRenderedInventoryParses(t *testing.T) {
	requireAnsible(t)
	dir := t.TempDir()
	hosts := "[matrix_servers]\n" + hostname + " ansible_host=192.0.2.10 ansible_ssh_user=ubuntu ansible_become=true ansible_become_user=root ansible_python_interpreter=/usr/bin/python3\n"
	vars, err := yaml.Marshal(map[string]any{
		"matrix_playbook_migration_validated_version": "v2026.05.18.0",
		"matrix_domain":                            "example.org",
		"matrix_homeserver_implementation":         "synapse",
		"matrix_homeserver_generic_secret_key":     strings.Repeat("k", 64),
		"matrix_playbook_reverse_proxy_type":       "playbook-managed-traefik",
		"devture_systemd_docker_base_ipv6_enabled": true,
		"postgres_connection_password":             "p'a\"s: s#{{",
		"coturn_turn_external_ip_addresses":        []string{"192.0.2.10"},
	})
	if err != nil {
		t.Fatal(err)
	}
	varsDir := filepath.Join(dir, "host_vars", hostname)
	if err := os.MkdirAll(varsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(varsDir, "vars.yml"), vars, 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("ansible-inventory", "-i", filepath.Join(dir, "hosts"), "--list")
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "ANSIBLE_CONFIG=ansible.cfg")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory: %v\n%s", err, out)
	}
	var inv struct {
		Meta struct {
			HostVars map[string]map[string]any `json:"hostvars"`
		} `json:"_meta"`
		MatrixServers struct {
			Hosts []string `json:"hosts"`
		} `json:"matrix_servers"`
	}
	if err := json.Unmarshal(out, &inv); err != nil {
		t.Fatalf("ansible-inventory output: %v\n%s", err, out)
	}
	if len(inv.MatrixServers.Hosts) != 1 || inv.MatrixServers.Hosts[0] != hostname {
		t.Errorf("matrix_servers hosts = %v, want [%s]", inv.MatrixServers.Hosts, hostname)
	}
	hv := inv.Meta.HostVars[hostname]
	for key, want := range map[string]any{
		"ansible_host":                             "192.0.2.10",
		"ansible_ssh_user":                         "ubuntu",
		"ansible_become_user":                      "root",
		"matrix_domain":                            "example.org",
		"postgres_connection_password":             "p'a\"s: s#{{",
		"devture_systemd_docker_base_ipv6_enabled": true,
	} {
		if hv[key] != want {
			t.Errorf("hostvars[%s] = %#v, want %#v", key, hv[key], want)
		}
	}
	if ips, _ := hv["coturn_turn_external_ip_addresses"].([]any); len(ips) != 1 || ips[0] != "192.0.2.10" {
		t.Errorf("coturn_turn_external_ip_addresses = %#v", hv["coturn_turn_external_ip_addresses"])
	}
}

// TestWatcherSeesSecrets: the process watcher the leak checks rely on does
// find a secret in a process's arguments and in its environment.
func TestWatcherSeesSecrets(t *testing.T) {
	secret := randomSecret(t, "w-")
	inArgs := exec.Command("sh", "-c", "sleep 30", secret)
	inEnv := exec.Command("sleep", "30")
	inEnv.Env = []string{"TOKEN=" + secret}
	for _, c := range []*exec.Cmd{inArgs, inEnv} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		c := c
		t.Cleanup(func() {
			_ = c.Process.Kill()
			_ = c.Wait()
		})
	}
	w := watcher{secrets: []string{secret}, wrapper: "/nonexistent/run-playbook", tmpDir: t.TempDir(), self: os.Getpid(), seen: map[string]bool{}}
	var res result
	w.scan(&res)
	var args, env bool
	for _, l := range res.leaks {
		args = args || strings.Contains(l, "arguments")
		env = env || strings.Contains(l, "environment")
	}
	if !args || !env {
		t.Errorf("watcher found arguments: %v, environment: %v; leaks: %v", args, env, res.leaks)
	}
}
