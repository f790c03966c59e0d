package single_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/infra"
	"github.com/matrix-on-aws/homeserver/internal/synthtest"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

const eipAssocType = "aws:ec2/eipAssociation:EipAssociation"

// TestFirstContactWaitsForAssociation: wait-ready opens its SSH connection
// to the Elastic IP only after the address is associated with the instance
// it is about to trust. Depending on the EIP and the instance alone lets it
// run while, on a replacement, the address still reaches the old host.
func TestFirstContactWaitsForAssociation(t *testing.T) {
	for _, m := range modes {
		t.Run(m.Name, func(t *testing.T) {
			res := run(t, m.DryRun, sshConfig())
			assocs := res.Cloud.Find(eipAssocType)
			if len(assocs) != 1 {
				t.Fatalf("%d elastic IP associations, want 1", len(assocs))
			}
			wait := synthtest.Commands(res.Cloud)["wait-ready"]
			// The association and the EIP share the name "ip": only the
			// type in the URN tells them apart.
			var found bool
			for _, urn := range wait.DependsOn {
				found = found || strings.HasSuffix(urn, "$"+eipAssocType+"::"+assocs[0].Name)
			}
			if !found {
				t.Errorf("wait-ready does not depend on the elastic IP association: %v", wait.DependsOn)
			}
			// The association binds this stack's address to this stack's host.
			ip := res.Cloud.Find(eipType)[0]
			if !m.DryRun {
				if got := get(assocs[0].Inputs, "instanceId").StringValue(); got != res.Outputs["instanceId"].Value.(string) {
					t.Errorf("association instanceId %q, instance %v", got, res.Outputs["instanceId"].Value)
				}
				if got := get(assocs[0].Inputs, "allocationId").StringValue(); got != get(ip.Outputs, "allocationId").StringValue() {
					t.Errorf("association allocationId %q, EIP %v", got, get(ip.Outputs, "allocationId"))
				}
				// The expected instance is the one the stack declares.
				if got, want := get(wait.Inputs, "stdin").StringValue(), res.Outputs["instanceId"].Value.(string)+"\n"; got != want {
					t.Errorf("wait-ready stdin %q, want %q", got, want)
				}
			}
		})
	}
}

// TestFirstContactRefusesAnotherHost runs wait-ready's own script, as
// recorded on the resource, under sh and bash with stand-ins for curl (the
// instance metadata), cloud-init and the host key: it prints the key only
// when the host that answers is the instance the stack expects.
func TestFirstContactRefusesAnotherHost(t *testing.T) {
	res := run(t, false, sshConfig())
	wait := synthtest.Commands(res.Cloud)["wait-ready"]
	script := get(wait.Inputs, "create").StringValue()
	stdin := get(wait.Inputs, "stdin").StringValue()
	want := res.Outputs["instanceId"].Value.(string)
	if !strings.HasPrefix(want, "i-") {
		t.Fatalf("instance ID %q", want)
	}

	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAK root@matrix"
	stubs := map[string]string{
		// IMDSv2: a token for a PUT, the instance ID only with that token.
		"curl": `case "$*" in
*"-X PUT"*"/latest/api/token"*"X-aws-ec2-metadata-token-ttl-seconds: 60"*)
	[ -z "$IMDS_DOWN" ] || exit 7; echo TOKEN42 ;;
*"X-aws-ec2-metadata-token: TOKEN42"*"/latest/meta-data/instance-id"*)
	printf %s "$IMDS_ID" ;;
*) exit 22 ;;
esac`,
		"cloud-init": `echo "$*" >>"$LOG/cloud-init"; echo "status: done"`,
		// cat stands in for the host key file only.
		"cat": `if [ "$1" = /etc/ssh/ssh_host_ed25519_key.pub ]; then echo "$HOST_KEY"; else exec ` + realPath(t, "cat") + ` "$@"; fi`,
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	type outcome struct {
		ok             bool
		stdout, stderr string
		cloudInit      bool
	}
	runScript := func(t *testing.T, shell, in string, env ...string) outcome {
		t.Helper()
		log := t.TempDir()
		cmd := exec.Command(shell, "-c", script)
		cmd.Stdin = strings.NewReader(in)
		cmd.Env = append(os.Environ(), append([]string{"PATH=" + bin + ":" + os.Getenv("PATH"), "LOG=" + log, "HOST_KEY=" + hostKey}, env...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil {
			if _, exit := err.(*exec.ExitError); !exit {
				t.Fatal(err)
			}
		}
		_, statErr := os.Stat(filepath.Join(log, "cloud-init"))
		return outcome{err == nil, stdout.String(), stderr.String(), statErr == nil}
	}

	var shells []string
	for _, s := range []string{"sh", "bash"} {
		if _, err := exec.LookPath(s); err == nil {
			shells = append(shells, s)
		}
	}
	if len(shells) == 0 {
		t.Skip("no shell")
	}
	other := "i-0" + strings.Repeat("f", len(want)-3)
	for _, shell := range shells {
		t.Run(shell, func(t *testing.T) {
			got := runScript(t, shell, stdin, "IMDS_ID="+want)
			if !got.ok || strings.TrimSpace(got.stdout) != hostKey || !got.cloudInit {
				t.Errorf("the expected instance: ok %v, cloud-init waited %v, stdout %q, stderr %q", got.ok, got.cloudInit, got.stdout, got.stderr)
			}

			for _, tc := range []struct {
				name, in string
				env      []string
				stderr   string
			}{
				// The old host, still holding the address during a replacement.
				{"another instance", stdin, []string{"IMDS_ID=" + other}, fmt.Sprintf("reaches instance %s, not %s", other, want)},
				// A prefix or a longer ID is another instance too.
				{"a prefix of the ID", stdin, []string{"IMDS_ID=" + want[:len(want)-1]}, "not " + want},
				{"no metadata", stdin, []string{"IMDS_ID=" + want, "IMDS_DOWN=1"}, "no instance metadata token"},
				{"nothing expected", "", []string{"IMDS_ID=" + want}, "no expected instance ID"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					got := runScript(t, shell, tc.in, tc.env...)
					if got.ok {
						t.Error("the script succeeded")
					}
					// No key on stdout: nothing for known_hosts to pin.
					if got.stdout != "" {
						t.Errorf("stdout %q", got.stdout)
					}
					if !strings.Contains(got.stderr, tc.stderr) {
						t.Errorf("stderr %q, want it to say %q", got.stderr, tc.stderr)
					}
					if got.cloudInit {
						t.Error("it went on to wait for cloud-init on a host it refused")
					}
				})
			}
		})
	}
}

func realPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("no %s", name)
	}
	return p
}

// TestProtectStopsPulumi: with matrix:protect the engine itself refuses to
// replace or delete the instance, its data volume and the attachment
// between them (the resource option protect); disableApiTermination alone
// does not, as the provider switches it off before it terminates. Without
// matrix:protect none of them is protected, so a replacement goes through.
func TestProtectStopsPulumi(t *testing.T) {
	for _, m := range modes {
		for _, protect := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/protect=%v", m.Name, protect), func(t *testing.T) {
				res := run(t, m.DryRun, config("matrix:protect", fmt.Sprint(protect)))
				for _, typ := range []string{instType, volType, "aws:ec2/volumeAttachment:VolumeAttachment"} {
					found := res.Cloud.Find(typ)
					if len(found) != 1 {
						t.Fatalf("%d %s", len(found), typ)
					}
					if found[0].Protect != protect {
						t.Errorf("%s %s: protect %v, want %v", typ, found[0].Name, found[0].Protect, protect)
					}
				}
				inst := res.Cloud.Find(instType)[0]
				if got := get(inst.Inputs, "disableApiTermination"); !got.IsBool() || got.BoolValue() != protect {
					t.Errorf("disableApiTermination %v, want %v", got, protect)
				}
				// The instance is protected, never retained: a retained
				// instance would run on, unmanaged, after a destroy.
				if inst.RetainOnDelete {
					t.Error("instance retained on delete")
				}
			})
		}
	}
}

// TestFirstContactThroughSession: with matrix:access ssm (the default),
// wait-ready runs the wrapper, which reaches the instance by its ID
// through Session Manager and sends it FirstContactScript; the key it
// prints is pinned under the instance ID, the name ssh checks
// (HostKeyAlias), and every step gets the same target.
func TestFirstContactThroughSession(t *testing.T) {
	res := run(t, false, config())
	cmds := synthtest.Commands(res.Cloud)
	id := res.Outputs["instanceId"].Value.(string)
	wait := cmds["wait-ready"]
	if got := get(wait.Inputs, "stdin").StringValue(); got != infra.FirstContactScript {
		t.Errorf("wait-ready sends %q", got)
	}
	for _, name := range []string{"wait-ready", "prepare", "playbook"} {
		env := get(cmds[name].Inputs, "environment").ObjectValue()
		for k, want := range map[string]string{ansible.EnvConnection: "ssm", ansible.EnvSSMTarget: id, ansible.EnvSSMRegion: "eu-central-1"} {
			if got := plainStr(env[resource.PropertyKey(k)]); got != want {
				t.Errorf("%s: %s=%q, want %q", name, k, got, want)
			}
		}
		if name == "wait-ready" {
			if got := plainStr(env[resource.PropertyKey(ansible.EnvSSHUser)]); got != infra.SSHUser {
				t.Errorf("wait-ready: %s=%q", ansible.EnvSSHUser, got)
			}
			continue
		}
		known := plainStr(env[resource.PropertyKey(ansible.EnvSSHKnownHosts)])
		if hostKey := plainStr(get(wait.Outputs, "stdout")); !strings.HasPrefix(known, id+" ") || !strings.Contains(known, strings.Fields(hostKey)[1]) {
			t.Errorf("%s: known_hosts %q, want the key wait-ready printed (%q) under %s", name, known, hostKey, id)
		}
	}
}

// plainStr is a string value, secret or not.
func plainStr(v resource.PropertyValue) string {
	if v.IsSecret() {
		v = v.SecretValue().Element
	}
	return strOf(v)
}
