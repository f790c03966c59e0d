package infra_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/internal/mock"
	"github.com/matrix-on-aws/homeserver/internal/synth"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// refused runs raw against a fresh account and returns the error; it
// fails the test if anything but the provider was declared first.
func refused(t *testing.T, dryRun bool, raw map[string]string) error {
	t.Helper()
	cloud := mock.New(map[string]string{"example.org": "Z1"})
	_, err := synth.Run(synth.Options{Project: "matrix", Stack: "test", Config: raw, DryRun: dryRun, Cloud: cloud})
	for _, r := range cloud.Resources() {
		if r.Type != provType {
			t.Errorf("%s %s declared before the lookups failed", r.Type, r.Name)
		}
	}
	return err
}

// TestInstanceTypeNotOffered: a type EC2 does not have passes the offline
// checks (it looks like one) and is refused by the offerings lookup, as
// against AWS, naming the key.
func TestInstanceTypeNotOffered(t *testing.T) {
	for _, m := range modes {
		t.Run(m.Name, func(t *testing.T) {
			err := refused(t, m.DryRun, config("matrix:instanceType", "zz9.banana"))
			wantProblem(t, err, "matrix:instanceType", "zz9.banana is not offered anywhere in eu-central-1: it is not an EC2 instance type, or not one this region has; pick one that aws ec2 describe-instance-type-offerings --region eu-central-1 lists, such as t3.small")
		})
	}
}

// TestSynthShowsInstanceTypeProblem runs the command an operator runs.
func TestSynthShowsInstanceTypeProblem(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/synth")
	}
	cmd := exec.Command("go", "run", "./cmd/synth", "--config", "matrix:instanceType=zz9.banana")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "matrix:instanceType: zz9.banana is not offered anywhere in eu-central-1") {
		t.Errorf("stderr does not name the key:\n%s", stderr.String())
	}
}

// TestPinnedAMIMustMatchInstanceType: the pinned image is looked up by ID,
// and one for the other architecture, of another region or of no one is
// refused before anything is declared.
func TestPinnedAMIMustMatchInstanceType(t *testing.T) {
	const x86, arm, i386 = "ami-0123456789abcdef0", "ami-0fedcba9876543210", "ami-0aaaaaaaaaaaaaaaa"
	for _, m := range modes {
		t.Run(m.Name, func(t *testing.T) {
			err := refused(t, m.DryRun, config("matrix:amiId", x86, "matrix:instanceType", "t4g.small"))
			wantProblem(t, err, "matrix:amiId", x86+" (ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240423) is an x86_64 image, but matrix:instanceType t4g.small runs arm64; pin an arm64 image, or pick an x86_64 type such as t3.small")
			err = refused(t, m.DryRun, config("matrix:amiId", arm, "matrix:instanceType", "t3.small"))
			wantProblem(t, err, "matrix:amiId", arm+" (ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20240423) is an arm64 image, but matrix:instanceType t3.small runs x86_64; pin an x86_64 image, or pick an arm64 type such as t4g.small")
			err = refused(t, m.DryRun, config("matrix:amiId", i386))
			wantProblem(t, err, "matrix:amiId", i386+" (debian-12-i386-20240423) is an i386 image; pin an x86_64 image for matrix:instanceType t3.small")
			// The lookup's own error ends the message; the engine words it
			// differently in the two modes.
			err = refused(t, m.DryRun, config("matrix:amiId", x86, "aws:region", "us-east-1"))
			if msg := err.Error(); !strings.Contains(msg, "matrix:amiId: "+x86+" is not an image this account can launch in us-east-1 (AMI IDs differ per region; copy the image here or use this region's ID), or remove the key to use the newest Ubuntu 24.04: ") ||
				!strings.Contains(msg, "Your query returned no results") {
				t.Errorf("image of another region: %v", err)
			}

			res := run(t, m.DryRun, config("matrix:amiId", arm, "matrix:instanceType", "t4g.small"))
			if got := get(res.Cloud.Find(instType)[0].Inputs, "ami"); !got.IsString() || got.StringValue() != arm {
				t.Errorf("matching pinned image: ami %v", got)
			}
		})
	}
}

// TestResourceOptions pins the resource options the engine acts on, which
// no input shows: what it keeps secret, what it will not delete, what it
// replaces and in which order.
func TestResourceOptions(t *testing.T) {
	for _, m := range modes {
		for _, topology := range []string{"single", "ha"} {
			for _, protect := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/protect=%v", m.Name, topology, protect), func(t *testing.T) {
					raw := config("matrix:protect", fmt.Sprint(protect))
					if topology == "ha" {
						raw["matrix:topology"], raw["matrix:sshAllowedCidrs"] = "ha", "[]"
					}
					res := run(t, m.DryRun, raw)

					// Ansible's and cmd/verify's output may hold what the
					// redaction missed; the state must keep it encrypted.
					cmds := res.Cloud.Find("command:local:Command")
					if len(cmds) == 0 {
						t.Fatal("no local commands")
					}
					for _, c := range cmds {
						for _, k := range []string{"stdout", "stderr"} {
							if !slices.Contains(c.AdditionalSecretOutputs, k) {
								t.Errorf("command %s: %s is not an additional secret output (%v)", c.Name, k, c.AdditionalSecretOutputs)
							}
							if v := c.Outputs[resource.PropertyKey(k)]; !m.DryRun && !v.IsSecret() {
								t.Errorf("command %s: %s output is not secret: %v", c.Name, k, v)
							}
						}
					}

					// What holds the homeserver's data is protected and
					// outlives the stack exactly when matrix:protect says.
					data := map[string]string{"single": volType, "ha": "aws:rds/instance:Instance"}[topology]
					for _, r := range res.Cloud.Find(data) {
						if r.Protect != protect || r.RetainOnDelete != protect {
							t.Errorf("%s %s: protect %v retainOnDelete %v, want %v", r.Type, r.Name, r.Protect, r.RetainOnDelete, protect)
						}
					}
					if topology == "ha" {
						for _, r := range res.Cloud.Find("aws:s3/bucketV2:BucketV2") {
							want := protect && r.Name == "media"
							if r.Protect != want || r.RetainOnDelete != want {
								t.Errorf("bucket %s: protect %v retainOnDelete %v, want %v", r.Name, r.Protect, r.RetainOnDelete, want)
							}
						}
						return
					}

					// With matrix:protect Pulumi protects the instance, the
					// data volume and their attachment (an unconfirmed
					// replace or destroy stops there, TestProtectStopsPulumi);
					// only the volume is retained on delete. Anything else
					// protected would block a replacement the program needs.
					protectable := func(typ string) bool {
						return typ == volType || typ == instType || typ == "aws:ec2/volumeAttachment:VolumeAttachment"
					}
					for _, r := range res.Cloud.Resources() {
						if (r.Protect && !protectable(r.Type)) || (r.RetainOnDelete && r.Type != volType) {
							t.Errorf("%s %s: protect %v retainOnDelete %v", r.Type, r.Name, r.Protect, r.RetainOnDelete)
						}
					}
					// A replaced attachment must let go of the volume before
					// the new one takes it; the image is read at creation.
					if att := res.Cloud.Find("aws:ec2/volumeAttachment:VolumeAttachment"); len(att) != 1 || !att[0].DeleteBeforeReplace {
						t.Errorf("volume attachment %+v", att)
					}
					if inst := res.Cloud.Find(instType)[0]; !slices.Equal(inst.IgnoreChanges, []string{"ami"}) {
						t.Errorf("instance ignoreChanges %v", inst.IgnoreChanges)
					}
				})
			}
		}
	}
}
