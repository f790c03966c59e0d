package ansible_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/matrix-on-aws/homeserver/ansible"
	"github.com/matrix-on-aws/homeserver/internal/sshtest"
	"github.com/matrix-on-aws/homeserver/internal/upstreamtest"
)

const (
	hostname   = "matrix.example.org"
	runTimeout = 3 * time.Minute
)

// requireAnsible fails the test when the controller tools are missing.
func requireAnsible(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"ansible-playbook", "ansible-galaxy", "ansible-inventory", "git", "sudo"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: these tests run the real thing; install it, e.g. apt-get install ansible-core git sudo openssh-server openssh-client", tool)
		}
	}
}

func wrapperPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(ansible.Wrapper)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func randomSecret(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// rig is one host (a real sshd on 127.0.0.1) and everything the wrapper
// needs to provision it.
type rig struct {
	sshd        *sshtest.Server
	dir         string // the test's scratch directory
	hostDir     string // where the stand-in records what ran, on the "host"
	pinFile     string
	cacheDir    string
	tmpDir      string // TMPDIR of the wrapper: its temporary directory goes here
	home        string
	collections string // ANSIBLE_COLLECTIONS_PATH holding the fixture collection
	knownHosts  string
	vars        map[string]any
	secrets     []string // must never show up in output or process arguments
}

func newRig(t *testing.T) *rig {
	t.Helper()
	requireAnsible(t)
	dir := t.TempDir()
	r := &rig{
		sshd:        sshtest.Start(t),
		dir:         dir,
		hostDir:     filepath.Join(dir, "host"),
		pinFile:     filepath.Join(dir, "upstream.env"),
		cacheDir:    filepath.Join(dir, "cache"),
		tmpDir:      filepath.Join(dir, "tmp"),
		home:        filepath.Join(dir, "home"),
		collections: upstreamtest.Collections(t),
	}
	for _, d := range []string{r.hostDir, r.tmpDir, r.home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r.knownHosts = r.sshd.KnownHosts
	pgPassword := randomSecret(t, "pg-")
	r.vars = map[string]any{
		"matrix_playbook_migration_validated_version": upstreamtest.MigrationVersion,
		"matrix_domain":                    "example.org",
		"matrix_homeserver_implementation": "synapse",
		"postgres_connection_password":     pgPassword,
		"standin_host_dir":                 r.hostDir,
	}
	// A line from the middle of the private key stands for all of it.
	keyLines := strings.Split(strings.TrimSpace(string(r.sshd.PrivateKey)), "\n")
	if len(keyLines) < 3 {
		t.Fatalf("unexpected private key shape: %d lines", len(keyLines))
	}
	r.secrets = []string{pgPassword, keyLines[len(keyLines)/2]}
	return r
}

// writePin writes the test's pin file for the given upstream commit.
func (r *rig) writePin(t *testing.T, repo, commit, coreMin string, collections ...string) {
	t.Helper()
	p := ansible.Pin{
		Repo:                repo,
		Commit:              commit,
		MigrationVersion:    upstreamtest.MigrationVersion,
		AnsibleCoreMin:      coreMin,
		RequiredCollections: collections,
	}
	if _, err := ansible.ParsePin(p.Env()); err != nil {
		t.Fatalf("test pin is invalid: %v", err)
	}
	if err := os.WriteFile(r.pinFile, p.Env(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hosts renders inventory/hosts the way the upstream documents it.
func (r *rig) hosts() string {
	return fmt.Sprintf("[matrix_servers]\n%s ansible_host=%s ansible_port=%d ansible_ssh_user=%s ansible_become=true ansible_become_user=root ansible_python_interpreter=/usr/bin/python3\n",
		hostname, r.sshd.Host, r.sshd.Port, r.sshd.User)
}

func (r *rig) varsYAML(t *testing.T) string {
	t.Helper()
	out, err := yaml.Marshal(r.vars)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// result is what one run of the wrapper did.
type result struct {
	code     int
	output   string
	leaks    []string // processes that had a secret in their arguments or environment
	sawRun   bool     // the watcher saw ansible-playbook running
	tmpDirs  []string // temporary directories of the wrapper seen while it ran
	sockDirs []string // its directories for ssh control sockets, seen in its ssh commands
	badPerms []string // files in them readable by others than the owner
}

// run runs the wrapper with the rig's inputs in its environment, plus env
// (which may override them), watching all processes while it runs.
func (r *rig) run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return r.runDuring(t, env, nil, args...)
}

// runDuring is run, calling during (when not nil) while the wrapper runs.
func (r *rig) runDuring(t *testing.T, env map[string]string, during func(*exec.Cmd), args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	wrapper := wrapperPath(t)
	inputs := map[string]string{
		ansible.EnvInventoryHostname: hostname,
		ansible.EnvInventoryHosts:    r.hosts(),
		ansible.EnvInventoryVars:     r.varsYAML(t),
		ansible.EnvSSHPrivateKey:     string(r.sshd.PrivateKey),
		ansible.EnvSSHKnownHosts:     r.knownHosts,
		ansible.EnvPinFile:           r.pinFile,
		ansible.EnvCacheDir:          r.cacheDir,
	}
	for k, v := range env {
		inputs[k] = v
	}
	cmd := exec.CommandContext(ctx, wrapper, args...)
	path := os.Getenv("PATH")
	if p, ok := env["PATH"]; ok {
		path = p
		delete(inputs, "PATH")
	}
	cmd.Env = []string{
		"PATH=" + path,
		"HOME=" + r.home,
		"LC_ALL=C.UTF-8",
		"TMPDIR=" + r.tmpDir,
		"ANSIBLE_COLLECTIONS_PATH=" + r.collections,
		// The tests log in as the user running them, root on CI, and become
		// root: ansible skips become for the same user unless told not to.
		// On a real host (ubuntu -> root) become always goes through sudo.
		"ANSIBLE_BECOME_ALLOW_SAME_USER=True",
	}
	for k, v := range inputs {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", wrapper, err)
	}

	var res result
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := watcher{secrets: r.secrets, wrapper: wrapper, wrapperPID: cmd.Process.Pid, tmpDir: r.tmpDir, self: os.Getpid(), seen: make(map[string]bool)}
		for {
			w.scan(&res)
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	if during != nil {
		during(cmd)
	}
	err := cmd.Wait()
	close(stop)
	wg.Wait()

	res.output = out.String()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	default:
		t.Fatalf("run %s: %v\n%s", wrapper, err, res.output)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within %v:\n%s", wrapper, strings.Join(args, " "), runTimeout, res.output)
	}
	t.Logf("run-playbook %s -> %d\n%s", strings.Join(args, " "), res.code, res.output)
	return res
}

// watcher looks at every process for the secrets, and at the wrapper's
// temporary directory.
type watcher struct {
	secrets    []string
	wrapper    string
	wrapperPID int // the wrapper's process (first /usr/bin/env, then bash)
	tmpDir     string
	self       int
	seen       map[string]bool
}

func (w *watcher) scan(res *result) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == w.self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue // gone already
		}
		args := strings.ReplaceAll(string(cmdline), "\x00", " ")
		if strings.Contains(args, "ansible-playbook") {
			res.sawRun = true
		}
		// The ssh processes of this run name its known_hosts file (in its
		// temporary directory under the rig's TMPDIR) and its control
		// socket directory.
		if strings.Contains(args, w.tmpDir) {
			for _, d := range controlDir.FindAllString(args, -1) {
				if !w.seen[d] {
					w.seen[d] = true
					res.sockDirs = append(res.sockDirs, d)
				}
			}
		}
		for _, s := range w.secrets {
			if strings.Contains(args, s) {
				res.leaks = append(res.leaks, fmt.Sprintf("pid %d arguments: %.200s", pid, args))
			}
		}
		// The wrapper itself (and its forks, which share its arguments) was
		// started with the secrets in its environment; nothing else may have
		// them there. A fork that is exec'ing shows empty arguments for a
		// moment; the executable is read before the environment because exec
		// replaces the environment no later than the executable.
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if pid == w.wrapperPID || filepath.Base(exe) == "bash" && (strings.Contains(args, w.wrapper) || args == "") {
			continue
		}
		environ, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, s := range w.secrets {
			if bytes.Contains(environ, []byte(s)) {
				res.leaks = append(res.leaks, fmt.Sprintf("pid %d environment: %.200s", pid, args))
			}
		}
	}

	dirs, _ := filepath.Glob(filepath.Join(w.tmpDir, "matrix-ansible.*"))
	for _, d := range dirs {
		if !w.seen[d] {
			w.seen[d] = true
			res.tmpDirs = append(res.tmpDirs, d)
		}
		_ = filepath.WalkDir(d, func(path string, entry fs.DirEntry, err error) error {
			if err != nil {
				return nil // removed while walking
			}
			info, err := entry.Info()
			if err != nil || info.Mode()&os.ModeSocket != 0 {
				return nil
			}
			if info.Mode().Perm()&0o077 != 0 {
				bad := fmt.Sprintf("%s %v", path, info.Mode().Perm())
				if !w.seen[bad] {
					w.seen[bad] = true
					res.badPerms = append(res.badPerms, bad)
				}
			}
			return nil
		})
	}
}

// checkClean fails the test when the run leaked a secret or left its
// temporary directory behind.
func (r *rig) checkClean(t *testing.T, res result) {
	t.Helper()
	for _, l := range res.leaks {
		t.Errorf("secret visible in a process: %s", l)
	}
	for _, s := range r.secrets {
		if strings.Contains(res.output, s) {
			t.Errorf("secret %.6s... appears in the output", s)
		}
	}
	for _, p := range res.badPerms {
		t.Errorf("temporary file readable by others: %s", p)
	}
	left, err := os.ReadDir(r.tmpDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind in TMPDIR: %s", e.Name())
	}
	for _, d := range res.sockDirs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("left behind: %s", d)
		}
	}
}

// controlDir matches the wrapper's directories for ssh control sockets.
var controlDir = regexp.MustCompile(`/tmp/matrix-ssh\.[A-Za-z0-9]+`)

var recapChanged = regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(hostname) + `\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// recap returns ok and changed of the host from the PLAY RECAP.
func recap(t *testing.T, output string) (ok, changed int) {
	t.Helper()
	m := recapChanged.FindStringSubmatch(output)
	if m == nil {
		t.Fatalf("no PLAY RECAP line for %s in the output", hostname)
	}
	ok, _ = strconv.Atoi(m[1])
	changed, _ = strconv.Atoi(m[2])
	return ok, changed
}

// processesMentioning returns the command lines of the processes whose
// arguments contain s.
func processesMentioning(s string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if args := strings.ReplaceAll(string(cmdline), "\x00", " "); strings.Contains(args, s) {
			found = append(found, e.Name()+": "+args)
		}
	}
	return found
}
