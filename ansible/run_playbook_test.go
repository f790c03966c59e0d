package ansible_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/matrix-on-aws/homeserver/internal/sshtest"
	"github.com/matrix-on-aws/homeserver/internal/upstreamtest"
)

// readHostFile reads a file the stand-in wrote on the "host": as root
// there, readable by root only, so through sudo when the tests do not run as
// root.
func readHostFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrPermission) && os.Geteuid() != 0 {
		return exec.Command("sudo", "-n", "cat", "--", path).Output()
	}
	return data, err
}

// The ansible-core Debian ships (2.14) is older than what the real pin asks
// for; the stand-in needs no more than this.
const testCoreMin = "2.14.0"

func recordTags(records []upstreamtest.Record) []string {
	var tags []string
	for _, r := range records {
		tags = append(tags, r.Tag)
	}
	return tags
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := readHostFile(path)
	if err != nil {
		t.Fatalf("the stand-in did not record %s: %v", filepath.Base(path), err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func TestUpstreamRunEndToEnd(t *testing.T) {
	r := newRig(t)
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
	checkout := filepath.Join(r.cacheDir, "upstream")
	role := filepath.Join(checkout, "roles", "galaxy", upstreamtest.RoleName)

	// First run: clone, install the roles, set up.
	res := r.run(t, nil, "--playbook", "upstream", "--tags", "setup-all,ensure-matrix-users-created")
	if res.code != 0 {
		t.Fatalf("setup run failed with %d", res.code)
	}
	r.checkClean(t, res)
	if !res.sawRun || len(res.tmpDirs) == 0 || len(res.sockDirs) == 0 {
		t.Fatalf("the watcher saw ansible-playbook running: %v, temporary directories: %v, control socket directories: %v; the checks proved nothing", res.sawRun, res.tmpDirs, res.sockDirs)
	}
	if !strings.Contains(res.output, "installing the roles of "+up.Head) {
		t.Errorf("first run did not install the roles")
	}
	if _, err := os.Stat(filepath.Join(role, "tasks", "main.yml")); err != nil {
		t.Errorf("role not installed in roles/galaxy/: %v", err)
	}
	records := upstreamtest.Records(t, r.hostDir)
	if got, want := recordTags(records), []string{"setup-all", "ensure-matrix-users-created"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tags that ran = %v, want %v", got, want)
	}
	for _, rec := range records {
		// Logged in as the current user (root here) over sshd, then sudo.
		if rec.UID != "0" || rec.SudoUser != r.sshd.User {
			t.Errorf("%s ran as uid %s with sudo_user %s, want uid 0 through sudo by %s (become)", rec.Tag, rec.UID, rec.SudoUser, r.sshd.User)
		}
	}
	vars := readYAML(t, filepath.Join(r.hostDir, "setup-all-vars.yml"))
	if vars["matrix_domain"] != "example.org" || vars["postgres_connection_password"] != r.vars["postgres_connection_password"] {
		t.Errorf("setup-all received %v, not vars.yml's values", vars)
	}

	// Second run, same pin: no ansible-galaxy install. A file planted in the
	// installed role would not survive one (--force replaces the role).
	marker := filepath.Join(role, "planted-by-test")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res = r.run(t, nil, "--playbook", "upstream", "--tags", "start")
	if res.code != 0 {
		t.Fatalf("start run failed with %d", res.code)
	}
	r.checkClean(t, res)
	if strings.Contains(res.output, "installing the roles") || !strings.Contains(res.output, "are installed already") {
		t.Errorf("second run with the same pin installed the roles again")
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the installed role was replaced although the pin did not change: %v", err)
	}
	if got, want := recordTags(upstreamtest.Records(t, r.hostDir)), []string{"setup-all", "ensure-matrix-users-created", "start"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tags that ran = %v, want %v (setup, then start)", got, want)
	}

	// register-user with its variables from MATRIX_EXTRA_VARS.
	password := randomSecret(t, "pw-")
	r.secrets = append(r.secrets, password)
	extra, err := yaml.Marshal(map[string]string{"username": "alice", "password": password, "admin": "yes"})
	if err != nil {
		t.Fatal(err)
	}
	res = r.run(t, map[string]string{"MATRIX_EXTRA_VARS": string(extra)}, "--playbook", "upstream", "--tags", "register-user", "--extra-vars-env")
	if res.code != 0 {
		t.Fatalf("register-user run failed with %d", res.code)
	}
	r.checkClean(t, res)
	user := readYAML(t, filepath.Join(r.hostDir, "register-user.yml"))
	if user["username"] != "alice" || user["password"] != password || user["admin"] != "yes" {
		t.Errorf("register-user received %v, not the extra vars", user)
	}

	// A new pin: fetched, checked out, roles installed again.
	next := up.NewCommit(t, "Next upstream release")
	r.writePin(t, up.URL, next, testCoreMin, upstreamtest.Collection)
	res = r.run(t, nil, "--playbook", "upstream", "--tags", "self-check")
	if res.code != 0 {
		t.Fatalf("self-check run after moving the pin failed with %d", res.code)
	}
	r.checkClean(t, res)
	if !strings.Contains(res.output, "installing the roles of "+next) {
		t.Errorf("the roles were not installed again after the pin changed")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the installed role was not replaced after the pin changed")
	}
	head, err := exec.Command("git", "-C", checkout, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(head)); got != next {
		t.Errorf("checkout at %s, want the new pin %s", got, next)
	}
	if got, want := recordTags(upstreamtest.Records(t, r.hostDir)), []string{"setup-all", "ensure-matrix-users-created", "start", "register-user", "self-check"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tags that ran = %v, want %v", got, want)
	}
}

func TestWrongPinnedCommitFailsClearly(t *testing.T) {
	r := newRig(t)
	up := upstreamtest.New(t)
	wrong := strings.Repeat("0123456789", 4)
	r.writePin(t, up.URL, wrong, testCoreMin, upstreamtest.Collection)

	res := r.run(t, nil, "--playbook", "upstream", "--tags", "setup-all")
	if res.code != 1 {
		t.Fatalf("exit status %d, want 1", res.code)
	}
	r.checkClean(t, res)
	for _, want := range []string{"is at " + up.Head, "the pin requires " + wrong, up.URL} {
		if !strings.Contains(res.output, want) {
			t.Errorf("output does not say %q", want)
		}
	}
	if recs := upstreamtest.Records(t, r.hostDir); len(recs) != 0 {
		t.Errorf("the playbook ran despite the wrong pin: %v", recs)
	}
}

func TestUnpinnedHostKeyIsRefused(t *testing.T) {
	r := newRig(t)
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
	// The key of another server, pinned for this one's address.
	other := sshtest.Start(t)
	r.knownHosts = strings.Replace(r.sshd.KnownHosts, r.sshd.HostKey, other.HostKey, 1)

	res := r.run(t, nil, "--playbook", "upstream", "--tags", "setup-all")
	if res.code == 0 {
		t.Fatalf("the run succeeded against a host whose key is not the pinned one")
	}
	r.checkClean(t, res)
	if !strings.Contains(res.output, "REMOTE HOST IDENTIFICATION HAS CHANGED") && !strings.Contains(res.output, "Host key verification failed") {
		t.Errorf("the failure is not about the host key")
	}
	if recs := upstreamtest.Records(t, r.hostDir); len(recs) != 0 {
		t.Errorf("tasks ran on a host with the wrong key: %v", recs)
	}

	// No known_hosts entry at all is refused too (no prompt, no trust on
	// first use).
	r.knownHosts = "# nothing pinned"
	res = r.run(t, nil, "--playbook", "upstream", "--tags", "setup-all")
	if res.code == 0 {
		t.Fatalf("the run succeeded against a host whose key is not pinned")
	}
	r.checkClean(t, res)
	if !strings.Contains(res.output, "Host key verification failed") {
		t.Errorf("the failure is not about the host key")
	}
}

func TestControllerChecksFailClearly(t *testing.T) {
	r := newRig(t)
	up := upstreamtest.New(t)

	t.Run("ansible-core too old", func(t *testing.T) {
		r.writePin(t, up.URL, up.Head, "99.1.0", upstreamtest.Collection)
		res := r.run(t, nil, "--playbook", "upstream", "--tags", "setup-all")
		if res.code != 1 {
			t.Fatalf("exit status %d, want 1", res.code)
		}
		for _, want := range []string{"is too old", ">= 99.1.0", "pipx install"} {
			if !strings.Contains(res.output, want) {
				t.Errorf("output does not say %q", want)
			}
		}
		r.checkClean(t, res)
	})
	t.Run("collection missing", func(t *testing.T) {
		r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection, "community.absent", "community.gone>=1.2.3")
		res := r.run(t, nil, "--playbook", "prepare", "--tags", "prepare")
		if res.code != 1 {
			t.Fatalf("exit status %d, want 1", res.code)
		}
		for _, want := range []string{
			"community.absent is not installed; install it with: ansible-galaxy collection install community.absent\n",
			"community.gone is not installed; install it with: ansible-galaxy collection install 'community.gone:>=1.2.3'\n",
		} {
			if !strings.Contains(res.output, want) {
				t.Errorf("output does not say %q", want)
			}
		}
		if strings.Contains(res.output, upstreamtest.Collection+" is not installed") {
			t.Errorf("an installed collection is reported missing")
		}
		r.checkClean(t, res)
	})
	t.Run("git missing", func(t *testing.T) {
		r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
		// A PATH with what the wrapper needs up to the check, but no git.
		bin := filepath.Join(t.TempDir(), "bin")
		if err := os.Mkdir(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, tool := range []string{"bash", "dirname", "sed", "ansible-playbook", "ansible-galaxy"} {
			path, err := exec.LookPath(tool)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(path, filepath.Join(bin, tool)); err != nil {
				t.Fatal(err)
			}
		}
		res := r.run(t, map[string]string{"PATH": bin}, "--playbook", "upstream", "--tags", "setup-all")
		if res.code != 1 || !strings.Contains(res.output, "git not found") {
			t.Errorf("exit status %d, want 1 with a message that git is missing", res.code)
		}
	})
	t.Run("malformed pin", func(t *testing.T) {
		if err := os.WriteFile(r.pinFile, []byte("UPSTREAM_REPO=$(touch /tmp/x)\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res := r.run(t, nil, "--playbook", "upstream", "--tags", "setup-all")
		if res.code != 1 || !strings.Contains(res.output, "characters a pin does not allow") {
			t.Errorf("exit status %d, want 1 with a message about the pin", res.code)
		}
	})
	if recs := upstreamtest.Records(t, r.hostDir); len(recs) != 0 {
		t.Errorf("tasks ran although the controller checks failed: %v", recs)
	}
	if _, err := os.Stat(filepath.Join(r.cacheDir, "upstream")); err == nil {
		t.Errorf("the upstream was fetched although the controller checks failed")
	}
}

func TestUsageErrors(t *testing.T) {
	requireAnsible(t)
	for _, args := range [][]string{
		{},
		{"--tags", "start"},
		{"--playbook", "other", "--tags", "start"},
		{"--playbook", "upstream"},
		{"--playbook", "upstream", "--tags", "start;reboot"},
		{"--playbook", "upstream", "--tags", "start", "--password", "x"},
	} {
		cmd := exec.Command(wrapperPath(t), args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		exitErr, ok := err.(*exec.ExitError)
		if !ok || exitErr.ExitCode() != 2 {
			t.Errorf("run-playbook %v: %v, want exit status 2\n%s", args, err, out)
			continue
		}
		if !strings.Contains(string(out), "usage: run-playbook") {
			t.Errorf("run-playbook %v does not show the usage:\n%s", args, out)
		}
	}
}

// TestInterruptedRunCleansUp: TERM (what a cancelled pulumi up sends) stops
// ansible and removes the temporary files at once.
func TestInterruptedRunCleansUp(t *testing.T) {
	r := newRig(t)
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
	var stopped time.Time
	res := r.runDuring(t, nil, func(wrapper int) {
		waiting := filepath.Join(r.hostDir, "waiting")
		deadline := time.Now().Add(time.Minute)
		for {
			if _, err := os.Stat(waiting); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("the stand-in never started waiting")
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		stopped = time.Now()
		if err := syscall.Kill(wrapper, syscall.SIGTERM); err != nil {
			t.Errorf("signal: %v", err)
		}
	}, "--playbook", "upstream", "--tags", "standin-wait")
	if took := time.Since(stopped); took > 20*time.Second {
		t.Errorf("the wrapper took %v to stop after TERM", took)
	}
	if res.code != 143 {
		t.Errorf("exit status %d, want 143 (TERM)", res.code)
	}
	if len(res.sockDirs) == 0 {
		t.Errorf("the watcher saw no ssh connection of the run; the clean-up check proves nothing")
	}
	r.checkClean(t, res)
	// No ansible process of this run is left behind.
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := processesMentioning(r.tmpDir)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("processes left behind: %v", left)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOutputIsRedacted: a failing task that shows the password on its
// command line, as the upstream register-user does, reaches the output
// with the password masked, and the failure still fails the run.
func TestOutputIsRedacted(t *testing.T) {
	r := newRig(t)
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
	password := randomSecret(t, "pw-")
	extra, err := yaml.Marshal(map[string]any{"username": "alice", "password": password, "admin": "yes", "standin_user_exists": true})
	if err != nil {
		t.Fatal(err)
	}
	res := r.run(t, map[string]string{
		"MATRIX_EXTRA_VARS": string(extra),
		"MATRIX_REDACT":     password + "\n" + r.secrets[0],
	}, "--playbook", "upstream", "--tags", "register-user", "--extra-vars-env")
	if res.code == 0 {
		t.Fatalf("the failing task did not fail the run:\n%s", res.output)
	}
	if strings.Contains(res.output, password) {
		t.Errorf("the password reached the output:\n%s", res.output)
	}
	if !strings.Contains(res.output, "- alice\n    - [secret]") && !strings.Contains(res.output, "false alice [secret]") {
		t.Errorf("the failing command line is not shown masked:\n%s", res.output)
	}
}

// TestLocalConnection runs the wrapper as a host configuring itself: no
// key, no known_hosts, ansible_connection=local on the host line.
func TestLocalConnection(t *testing.T) {
	r := newRig(t)
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
	r.localSudo = true
	hosts := fmt.Sprintf("[matrix_servers]\n%s ansible_connection=local ansible_become=true ansible_become_user=root ansible_python_interpreter=/usr/bin/python3\n", hostname)
	env := map[string]string{
		"MATRIX_CONNECTION":      "local",
		"MATRIX_INVENTORY_HOSTS": hosts,
		"MATRIX_SSH_PRIVATE_KEY": "",
		"MATRIX_SSH_KNOWN_HOSTS": "",
	}
	res := r.run(t, env, "--playbook", "upstream", "--tags", "setup-all")
	if res.code != 0 {
		t.Fatalf("local run failed with %d:\n%s", res.code, res.output)
	}
	if got := recordTags(upstreamtest.Records(t, r.hostDir)); !reflect.DeepEqual(got, []string{"setup-all"}) {
		t.Errorf("tags that ran = %v", got)
	}
	env["MATRIX_INVENTORY_HOSTS"] = r.hosts()
	if res := r.run(t, env, "--playbook", "upstream", "--tags", "setup-all"); res.code != 1 || !strings.Contains(res.output, "needs ansible_connection=local") {
		t.Errorf("local mode with an ssh host line: code %d\n%s", res.code, res.output)
	}
}

// TestAgentWhenNoKey: without a private key the wrapper uses the running
// ssh-agent, and without either it refuses to start.
func TestAgentWhenNoKey(t *testing.T) {
	r := newRig(t)
	up := upstreamtest.New(t)
	r.writePin(t, up.URL, up.Head, testCoreMin, upstreamtest.Collection)
	res := r.run(t, map[string]string{"MATRIX_SSH_PRIVATE_KEY": "", "SSH_AUTH_SOCK": ""}, "--playbook", "upstream", "--tags", "self-check")
	if res.code != 1 || !strings.Contains(res.output, "no ssh-agent is running") {
		t.Errorf("no key, no agent: code %d\n%s", res.code, res.output)
	}
	agent := startAgent(t, r.sshd.PrivateKey)
	res = r.run(t, map[string]string{"MATRIX_SSH_PRIVATE_KEY": "", "SSH_AUTH_SOCK": agent}, "--playbook", "upstream", "--tags", "self-check")
	if res.code != 0 {
		t.Fatalf("run through the agent failed with %d:\n%s", res.code, res.output)
	}
}

// startAgent runs an ssh-agent holding key and returns its socket.
func startAgent(t *testing.T, key []byte) string {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("ssh-agent: %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for i := 0; i < 50; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	keyFile := filepath.Join(dir, "id")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		t.Fatal(err)
	}
	add := exec.Command("ssh-add", keyFile)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	return sock
}
