package infra_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostMetadataOptions: the single host's instance metadata takes
// session tokens only (IMDSv2) and answers one hop, so no container on the
// host (none needs the instance's credentials there) can reach it through
// Docker's bridge.
func TestHostMetadataOptions(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			inst := run(t, m.dryRun, config()).Cloud.Find(instType)[0]
			md := get(inst.Inputs, "metadataOptions").ObjectValue()
			if got := md["httpTokens"]; !got.IsString() || got.StringValue() != "required" {
				t.Errorf("httpTokens %v, want required", got)
			}
			if got := md["httpPutResponseHopLimit"]; !got.IsNumber() || got.NumberValue() != 1 {
				t.Errorf("httpPutResponseHopLimit %v, want 1", got)
			}
			if got := md["httpEndpoint"]; !got.IsString() || got.StringValue() != "enabled" {
				t.Errorf("httpEndpoint %v, want enabled", got)
			}
		})
	}
}

// TestSSHCommandKeyFileMode runs the sshCommand output with stand-ins for
// pulumi and ssh, under a permissive umask and over a stale world-readable
// key file: the key must never sit in a file others may read, not even
// until a later chmod.
func TestSSHCommandKeyFileMode(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	res := run(t, false, sshConfig())
	command := res.Outputs["sshCommand"].Value.(string)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// pulumi records the mode of the file its output goes to while it
	// writes the key; ssh records its arguments and the key's final mode.
	stubs := map[string]string{
		"pulumi": `stat -c %a matrix-ssh.key >"$LOG/pulumi-mode"; echo "$*" >"$LOG/pulumi-args"; echo "-----BEGIN OPENSSH PRIVATE KEY-----"`,
		"ssh":    `stat -c %a matrix-ssh.key >"$LOG/ssh-mode"; echo "$*" >"$LOG/ssh-args"`,
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "matrix-ssh.key"), []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", "umask 022\n"+command)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "LOG="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v (command %q)", name, err, command)
		}
		return strings.TrimSpace(string(b))
	}
	if got := read("pulumi-mode"); got != "600" {
		t.Errorf("the key is written into a file of mode %s, want 600 from the start", got)
	}
	if got := read("ssh-mode"); got != "600" {
		t.Errorf("ssh gets a key file of mode %s, want 600", got)
	}
	if got := read("pulumi-args"); got != "stack output sshPrivateKey --show-secrets" {
		t.Errorf("pulumi %s", got)
	}
	if got, want := read("ssh-args"), "-i matrix-ssh.key ubuntu@"+res.Outputs["publicIpv4"].Value.(string); got != want {
		t.Errorf("ssh %s, want %s", got, want)
	}
	if key, _ := os.ReadFile(filepath.Join(work, "matrix-ssh.key")); !strings.HasPrefix(string(key), "-----BEGIN OPENSSH") {
		t.Errorf("key file holds %q", key)
	}
}
