package single_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/infra"
)

// TestHostMetadataOptions: the single host's instance metadata takes
// session tokens only (IMDSv2) and answers one hop, so no container on the
// host (none needs the instance's credentials there) can reach it through
// Docker's bridge.
func TestHostMetadataOptions(t *testing.T) {
	for _, m := range modes {
		t.Run(m.Name, func(t *testing.T) {
			inst := run(t, m.DryRun, config()).Cloud.Find(instType)[0]
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

func TestHost(t *testing.T) {
	for _, m := range modes {
		for _, protect := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/protect=%v", m.Name, protect), func(t *testing.T) {
				res := run(t, m.DryRun, config("matrix:protect", fmt.Sprint(protect), "matrix:rootVolumeGiB", "30", "matrix:dataVolumeGiB", "50"))
				inst := res.Cloud.Find(instType)[0]
				if got := get(inst.Inputs, "metadataOptions", "httpTokens").StringValue(); got != "required" {
					t.Errorf("IMDS tokens %q, want required (IMDSv2)", got)
				}
				root := get(inst.Inputs, "rootBlockDevice").ObjectValue()
				if !get(root, "encrypted").BoolValue() || get(root, "volumeType").StringValue() != "gp3" || get(root, "volumeSize").NumberValue() != 30 {
					t.Errorf("root device %v", root)
				}
				if get(inst.Inputs, "disableApiTermination").BoolValue() != protect {
					t.Errorf("termination protection %v, want %v", get(inst.Inputs, "disableApiTermination"), protect)
				}
				if !slices.Contains(inst.IgnoreChanges, "ami") {
					t.Errorf("instance ignoreChanges %v: a newer AMI would replace the host", inst.IgnoreChanges)
				}
				if att := res.Cloud.Find("aws:ec2/volumeAttachment:VolumeAttachment")[0]; !att.DeleteBeforeReplace {
					t.Error("the data volume attachment is not deleted before it is replaced; a new host could not attach the volume")
				}
				if get(inst.Inputs, "ami").StringValue() != res.Homeserver.Facts.AMI || !strings.HasPrefix(res.Homeserver.Facts.AMI, "ami-0") {
					t.Errorf("instance AMI %v, looked up %q", get(inst.Inputs, "ami"), res.Homeserver.Facts.AMI)
				}
				ud := get(inst.Inputs, "userData").StringValue()
				if !strings.HasPrefix(ud, "#cloud-config\n") || !strings.Contains(ud, "fqdn: matrix.example.org") || strings.Contains(ud, "packages") || strings.Contains(ud, "runcmd") {
					t.Errorf("user data does more than name the host:\n%s", ud)
				}
				vol := res.Cloud.Find(volType)[0]
				if !get(vol.Inputs, "encrypted").BoolValue() || get(vol.Inputs, "type").StringValue() != "gp3" || get(vol.Inputs, "size").NumberValue() != 50 {
					t.Errorf("data volume %v", vol.Inputs)
				}
				if get(vol.Inputs, "availabilityZone").StringValue() != res.Homeserver.Facts.Zones[0] {
					t.Errorf("data volume in %v, host subnet in %s", get(vol.Inputs, "availabilityZone"), res.Homeserver.Facts.Zones[0])
				}
				if vol.Protect != protect || vol.RetainOnDelete != protect {
					t.Errorf("data volume protect=%v retain=%v, want %v", vol.Protect, vol.RetainOnDelete, protect)
				}
				att := res.Cloud.Find("aws:ec2/volumeAttachment:VolumeAttachment")[0]
				if get(att.Inputs, "deviceName").StringValue() != infra.DataDevice {
					t.Errorf("attached at %v", get(att.Inputs, "deviceName"))
				}
				if len(res.Cloud.Find("aws:ec2/eipAssociation:EipAssociation")) != 1 {
					t.Error("elastic IP not associated")
				}
			})
		}
	}
}

func TestSnapshotsAndRecovery(t *testing.T) {
	res := run(t, false, config("matrix:snapshotRetentionDays", "14"))
	pol := res.Cloud.Find("aws:dlm/lifecyclePolicy:LifecyclePolicy")[0].Inputs
	sched := get(pol, "policyDetails", "schedules").ArrayValue()[0].ObjectValue()
	if get(sched, "retainRule", "interval").NumberValue() != 14 || get(sched, "retainRule", "intervalUnit").StringValue() != "DAYS" {
		t.Errorf("retain rule %v", get(sched, "retainRule"))
	}
	if get(sched, "createRule", "interval").NumberValue() != 24 {
		t.Errorf("create rule %v", get(sched, "createRule"))
	}
	target := get(pol, "policyDetails", "targetTags").ObjectValue()
	vol := res.Cloud.Find(volType)[0].Inputs
	for k, v := range target {
		if get(vol, "tags", string(k)).StringValue() != v.StringValue() {
			t.Errorf("policy targets %s=%v, the data volume is not tagged so", k, v)
		}
	}
	if len(target) == 0 {
		t.Error("policy has no target tags")
	}
	alarm := res.Cloud.Find("aws:cloudwatch/metricAlarm:MetricAlarm")[0].Inputs
	if get(alarm, "metricName").StringValue() != "StatusCheckFailed_System" ||
		get(alarm, "alarmActions").ArrayValue()[0].StringValue() != "arn:aws:automate:eu-central-1:ec2:recover" ||
		get(alarm, "dimensions", "InstanceId").StringValue() != res.Outputs["instanceId"].Value {
		t.Errorf("recovery alarm %v", alarm)
	}
}

func TestPinnedAMI(t *testing.T) {
	res := run(t, false, config("matrix:amiId", "ami-0123456789abcdef0"))
	inst := res.Cloud.Find(instType)[0]
	if get(inst.Inputs, "ami").StringValue() != "ami-0123456789abcdef0" || slices.Contains(inst.IgnoreChanges, "ami") {
		t.Errorf("pinned AMI: ami %v, ignoreChanges %v", get(inst.Inputs, "ami"), inst.IgnoreChanges)
	}
	if res.Outputs["amiId"].Value != "ami-0123456789abcdef0" || res.Outputs["latestAmiId"].Value != res.Homeserver.Facts.AMI {
		t.Errorf("outputs amiId %v latestAmiId %v", res.Outputs["amiId"].Value, res.Outputs["latestAmiId"].Value)
	}
}

func TestGivenPublicKey(t *testing.T) {
	pub := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIJvGDR4Dkbc3USWRXrEcdqhHfyZ2sxG6i6A8B5hcCYm operator@laptop"
	res := run(t, false, sshConfig("matrix:sshPublicKey", pub))
	if n := len(res.Cloud.Find(keyType)); n != 0 {
		t.Errorf("%d keys generated although one was given", n)
	}
	if _, ok := res.Outputs["sshPrivateKey"]; ok {
		t.Error("sshPrivateKey exported although no key was generated")
	}
	if got := get(res.Cloud.Find("aws:ec2/keyPair:KeyPair")[0].Inputs, "publicKey").StringValue(); got != pub {
		t.Errorf("key pair holds %q", got)
	}
	if res.Outputs["sshCommand"].Value != "ssh ubuntu@"+res.Outputs["publicIpv4"].Value.(string) {
		t.Errorf("ssh command %v", res.Outputs["sshCommand"].Value)
	}
}
