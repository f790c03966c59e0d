package ansible_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/sshtest"
	"github.com/matrix-on-aws/homeserver/internal/upstreamtest"
)

const (
	ssmTarget = "i-0123456789abcdef0"
	ssmRegion = "eu-central-1"
)

// ssmEnv are the AWS_* variables ansible, and through ssh the aws
// process, may be started with in ssm mode.
var ssmEnv = regexp.MustCompile(`^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE|REGION|DEFAULT_REGION|CONFIG_FILE|SHARED_CREDENTIALS_FILE|CA_BUNDLE|ROLE_ARN|ROLE_SESSION_NAME|WEB_IDENTITY_TOKEN_FILE|CONTAINER_CREDENTIALS_RELATIVE_URI|CONTAINER_CREDENTIALS_FULL_URI|CONTAINER_AUTHORIZATION_TOKEN|CONTAINER_AUTHORIZATION_TOKEN_FILE|EC2_METADATA_DISABLED|STS_REGIONAL_ENDPOINTS|RETRY_MODE|MAX_ATTEMPTS|USE_FIPS_ENDPOINT)$`)

// fakeAWS stands for the AWS CLI and its Session Manager plugin: an aws
// that accepts exactly the session ssh's ProxyCommand asks for (the
// instance, the AWS-StartSSHSession document, port 22 in the region),
// records its arguments and AWS_* environment in calls, and then joins its
// stdin and stdout to the test's sshd on loopback, as the session joins
// them to the instance's port 22. It returns the directory to put first
// on PATH.
type fakeAWS struct {
	dir   string
	calls string
}

func newFakeAWS(t *testing.T, r *rig, plugin bool) fakeAWS {
	t.Helper()
	python := ""
	for _, d := range filepath.SplitList(systemPath()) {
		if p := filepath.Join(d, "python3"); isExecutable(p) {
			python = p
			break
		}
	}
	if python == "" {
		t.Fatal("python3 not found (apt install python3)")
	}
	f := fakeAWS{dir: filepath.Join(r.dir, "aws-bin"), calls: filepath.Join(r.dir, "aws-calls.jsonl")}
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal([]string{"ssm", "start-session", "--target", ssmTarget, "--document-name", "AWS-StartSSHSession", "--parameters", "portNumber=22", "--region", ssmRegion})
	script := fmt.Sprintf(`#!%s
import json, os, socket, sys, threading
args = sys.argv[1:]
with open(%q, "a") as f:
    f.write(json.dumps({"argv": args, "env": sorted(k for k in os.environ if k.startswith("AWS_"))}) + "\n")
if args != json.loads(%q):
    sys.stderr.write("fake aws: unexpected arguments %%r\n" %% (args,))
    sys.exit(252)
s = socket.create_connection(("127.0.0.1", %d))
def upstream():
    while True:
        b = os.read(0, 65536)
        if not b:
            s.shutdown(socket.SHUT_WR)
            return
        s.sendall(b)
threading.Thread(target=upstream, daemon=True).start()
while True:
    b = s.recv(65536)
    if not b:
        break
    os.write(1, b)
`, python, f.calls, string(want), r.sshd.Port)
	if err := os.WriteFile(filepath.Join(f.dir, "aws"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if plugin {
		if err := os.WriteFile(filepath.Join(f.dir, "session-manager-plugin"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// path is PATH with the fakes first, then the ansible shims.
func (f fakeAWS) path(r *rig, t *testing.T) string {
	return f.dir + string(os.PathListSeparator) + r.ansibleShims(t) + string(os.PathListSeparator) + systemPath()
}

// systemPath is this machine's PATH without the directories holding a
// real aws or session-manager-plugin: the fakes stand for them, and a
// missing one must be missing.
func systemPath() string {
	var keep []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if !isExecutable(filepath.Join(d, "aws")) && !isExecutable(filepath.Join(d, "session-manager-plugin")) {
			keep = append(keep, d)
		}
	}
	return strings.Join(keep, string(os.PathListSeparator))
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode().Perm()&0o111 != 0
}

type awsCall struct {
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
}

func (f fakeAWS) read(t *testing.T) []awsCall {
	t.Helper()
	data, err := os.ReadFile(f.calls)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var calls []awsCall
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var c awsCall
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("%s: %v", f.calls, err)
		}
		calls = append(calls, c)
	}
	return calls
}

// ssmHosts is the inventory of an ssm stack: the address is one nothing
// listens on (TEST-NET-2), so a run that works went through the session.
func (r *rig) ssmHosts() string {
	return fmt.Sprintf("[matrix_servers]\n%s ansible_host=198.51.100.7 ansible_ssh_user=%s ansible_become=true ansible_become_user=root ansible_python_interpreter=/usr/bin/python3\n",
		hostname, r.sshd.User)
}

func ssmInputs(r *rig, f fakeAWS, t *testing.T) map[string]string {
	return map[string]string{
		"PATH":                    f.path(r, t),
		ansible.EnvConnection:     ansible.ConnectionSSM,
		ansible.EnvSSMTarget:      ssmTarget,
		ansible.EnvSSMRegion:      ssmRegion,
		ansible.EnvInventoryHosts: r.ssmHosts(),
		// The key is pinned under the instance ID, the session's target.
		ansible.EnvSSHKnownHosts: ssmTarget + " " + r.sshd.HostKey,
		// The caller's AWS identity reaches aws; an endpoint does not.
		"AWS_ACCESS_KEY_ID":     "AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_PROFILE":           "matrix-deploy",
		"AWS_ENDPOINT_URL":      "http://127.0.0.1:9/",
	}
}

// TestSSMRunEndToEnd: with MATRIX_CONNECTION=ssm, Ansible reaches the
// host through the session (aws as ssh's ProxyCommand), checks the host
// key pinned under the instance ID, and nothing secret is in any process's
// arguments or environment (the rig's strace record).
func TestSSMRunEndToEnd(t *testing.T) {
	r := newRig(t)
	r.allowEnv = ssmEnv
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
	f := newFakeAWS(t, r, true)

	res := r.run(t, ssmInputs(r, f, t), "--playbook", "upstream", "--tags", "setup-all")
	if res.code != 0 {
		t.Fatalf("ssm run failed with %d", res.code)
	}
	r.checkClean(t, res)
	if got := recordTags(upstreamtest.Records(t, r.hostDir)); !slices.Equal(got, []string{"setup-all"}) {
		t.Errorf("tags that ran = %v", got)
	}
	calls := f.read(t)
	if len(calls) == 0 {
		t.Fatal("aws was never started: the run did not go through the session")
	}
	for _, c := range calls {
		for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"} {
			if !slices.Contains(c.Env, v) {
				t.Errorf("aws was started without %s: %v", v, c.Env)
			}
		}
		if slices.Contains(c.Env, "AWS_ENDPOINT_URL") {
			t.Errorf("aws was started with the caller's AWS_ENDPOINT_URL")
		}
	}
}

// TestSSMWrongHostKeyIsRefused: the session reaches a host whose key is
// not the one pinned for the instance: ssh refuses it, nothing runs.
func TestSSMWrongHostKeyIsRefused(t *testing.T) {
	r := newRig(t)
	r.allowEnv = ssmEnv
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
	f := newFakeAWS(t, r, true)
	other := sshtest.Start(t)
	for name, known := range map[string]string{
		"another key":     ssmTarget + " " + other.HostKey,
		"another name":    "i-0fedcba9876543210 " + r.sshd.HostKey,
		"the address key": "198.51.100.7 " + r.sshd.HostKey,
	} {
		t.Run(name, func(t *testing.T) {
			in := ssmInputs(r, f, t)
			in[ansible.EnvSSHKnownHosts] = known
			res := r.run(t, in, "--playbook", "upstream", "--tags", "setup-all")
			if res.code == 0 {
				t.Fatalf("the run succeeded against a host whose key is not pinned for %s", ssmTarget)
			}
			r.checkClean(t, res)
			if !strings.Contains(res.output, "REMOTE HOST IDENTIFICATION HAS CHANGED") && !strings.Contains(res.output, "Host key verification failed") {
				t.Errorf("the failure is not about the host key")
			}
			if recs := upstreamtest.Records(t, r.hostDir); len(recs) != 0 {
				t.Errorf("tasks ran on a host with the wrong key: %v", recs)
			}
		})
	}
}

// TestSSMToolsMissing: without the AWS CLI or its Session Manager plugin
// the wrapper stops before Ansible, naming the command that installs each.
func TestSSMToolsMissing(t *testing.T) {
	r := newRig(t)
	r.allowEnv = ssmEnv
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
	awsInstall := "curl -fsSL https://awscli.amazonaws.com/awscli-exe-linux-"
	pluginInstall := "session-manager-plugin.deb -o session-manager-plugin.deb && sudo dpkg -i session-manager-plugin.deb"
	for _, tc := range []struct {
		name          string
		aws, plugin   bool
		want, notWant []string
	}{
		{"neither", false, false, []string{awsInstall, pluginInstall}, nil},
		{"no plugin", true, false, []string{pluginInstall}, []string{awsInstall}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeAWS(t, r, tc.plugin)
			if !tc.aws {
				if err := os.Remove(filepath.Join(f.dir, "aws")); err != nil {
					t.Fatal(err)
				}
			}
			defer os.RemoveAll(f.dir)
			for _, args := range [][]string{{"--playbook", "upstream", "--tags", "setup-all"}, {ansible.FirstContactFlag}} {
				in := ssmInputs(r, f, t)
				in[ansible.EnvSSHUser] = r.sshd.User
				r.stdin = "true"
				res := r.run(t, in, args...)
				r.stdin = ""
				if res.code != 1 {
					t.Fatalf("%v: exit status %d, want 1", args, res.code)
				}
				r.checkClean(t, res)
				if recs := upstreamtest.Records(t, r.hostDir); len(recs) != 0 {
					t.Errorf("%v: the playbook ran: %v", args, recs)
				}
				for _, w := range tc.want {
					if !strings.Contains(res.output, w) {
						t.Errorf("%v: the output does not name %q", args, w)
					}
				}
				for _, w := range tc.notWant {
					if strings.Contains(res.output, w) {
						t.Errorf("%v: the output names %q, which is installed", args, w)
					}
				}
			}
		})
	}
}

// TestSSMFirstContact runs --first-contact as wait-ready does: the script
// on stdin runs on the host with the instance ID on its stdin, and the key
// it prints comes out on stdout, alone, only when it is the key ssh saw.
func TestSSMFirstContact(t *testing.T) {
	r := newRig(t)
	r.allowEnv = ssmEnv
	f := newFakeAWS(t, r, true)
	other := sshtest.Start(t)
	script := func(key string) string {
		return fmt.Sprintf("IFS= read -r expected\n[ \"$expected\" = %s ] || { echo \"expected $expected\" >&2; exit 1; }\necho '%s first-contact'", ssmTarget, key)
	}
	for _, tc := range []struct {
		name, script string
		ok           bool
		want         string
	}{
		{"the host's key", script(r.sshd.HostKey), true, ""},
		{"another key", script(other.HostKey), false, "is not the key ssh saw"},
		{"not a key", "echo hello", false, "something other than one ED25519 host key"},
		{"two lines", fmt.Sprintf("echo '%s'; echo '%s'", r.sshd.HostKey, r.sshd.HostKey), false, "something other than one ED25519 host key"},
		{"script fails", "exit 3", false, "exit status 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ssmInputs(r, f, t)
			in[ansible.EnvSSHUser] = r.sshd.User
			delete(in, ansible.EnvSSHKnownHosts)
			r.stdin = tc.script
			res := r.run(t, in, ansible.FirstContactFlag)
			r.stdin = ""
			r.checkClean(t, res)
			if !tc.ok {
				if res.code == 0 || res.stdout != "" || !strings.Contains(res.output, tc.want) {
					t.Errorf("exit %d, stdout %q, output without %q", res.code, res.stdout, tc.want)
				}
				return
			}
			if res.code != 0 {
				t.Fatalf("first contact failed with %d", res.code)
			}
			if res.stdout != r.sshd.HostKey+"\n" {
				t.Errorf("stdout %q, want the host key %q alone", res.stdout, r.sshd.HostKey)
			}
		})
	}
}

// TestAWSEnvironmentOnlyWithSSM: with ssh, the caller's AWS credentials
// do not reach Ansible (checkClean flags any AWS_* variable).
func TestAWSEnvironmentOnlyWithSSM(t *testing.T) {
	r := newRig(t)
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
	res := r.run(t, map[string]string{"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		"--playbook", "upstream", "--tags", "setup-all")
	if res.code != 0 || !res.sawRun {
		t.Fatalf("ssh run failed with %d", res.code)
	}
	r.checkClean(t, res)
}
